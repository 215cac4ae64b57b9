"""The moderated-publication workflow that catalog solutions and case studies share (design rule 5).

A record is written as a draft, submitted, and published by a moderator (or sent back with a reason);
published records can be archived. An edit to a published record does not touch what the public sees:
it waits in ``pending`` (the full proposed content) with its own ``pending_state`` until a moderator
approves it. Moderators never review records of an organization they belong to (four eyes).

The tables keep their own columns (a mixin could not reproduce each table's indexes, and the schema is
the migrations'): ``Moderated`` names what the steps read and write. Each step changes the record's
moderation columns and returns a ``Step`` that says what happened, for the caller's audit event; the
caller writes its content, facets or links. Callers hold the record first
(``allmende.core.records.hold_checked``), so the checks see the latest committed version.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.audit import Actor, record_for
from allmende.core.problems import Conflict, Forbidden
from allmende.core.types import utcnow


class ModerationState(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    changes_requested = "changes_requested"
    published = "published"
    archived = "archived"


# Everyone may read these (plain strings: they go into SQL as they are).
PUBLIC_STATES = (ModerationState.published.value, ModerationState.archived.value)
PENDING = "pending"  # the state audits name for a published record's pending edit


class Publishable(Protocol):
    """What any publishable record has (guides too, which are published without review)."""

    uuid: UUID
    state: str
    published_at: datetime | None


class Moderated(Publishable, Protocol):
    """The columns a moderated table has (``solution``, ``case_study``)."""

    moderation_reason: str | None
    pending: dict[str, Any] | None
    pending_state: str | None

    @property
    def etag(self) -> str: ...


class Reviewer(Protocol):
    """What the workflow asks of the caller (the accounts package's Principal)."""

    @property
    def is_moderator(self) -> bool: ...

    def require_moderator(self) -> None: ...

    def belongs_to(self, organization_id: int | None) -> bool: ...

    def is_editor_of(self, organization_id: int | None) -> bool: ...


# --- who ---------------------------------------------------------------------------------------------


def may_see_drafts(viewer: Reviewer, owner_id: int | None) -> bool:
    """Unpublished records, pending edits and moderation reasons: moderators and the owner's members."""
    return viewer.is_moderator or viewer.belongs_to(owner_id)


def is_visible(viewer: Reviewer, record: Moderated, owner_id: int | None) -> bool:
    return record.state in PUBLIC_STATES or may_see_drafts(viewer, owner_id)


def may_review(reviewer: Reviewer, owner_id: int | None) -> bool:
    """Four eyes: moderators review, but not the records of an organization they belong to."""
    return reviewer.is_moderator and not reviewer.belongs_to(owner_id)


R = TypeVar("R", bound=Moderated)


@dataclass(frozen=True)
class OwnerRules(Generic[R]):
    """The rules above bound to the organization that owns a kind of record (a solution's provider, a
    case study's author): each package's ``policies`` module names its owner once and exports these."""

    owner: Callable[[R], int | None]

    def can_see_drafts(self, viewer: Reviewer, record: R) -> bool:
        return may_see_drafts(viewer, self.owner(record))

    def may_see(self, viewer: Reviewer, record: R) -> bool:
        return is_visible(viewer, record, self.owner(record))

    def may_edit(self, viewer: Reviewer, record: R) -> bool:
        """The owner's editors change the record (moderators review it, they do not write it)."""
        return viewer.is_editor_of(self.owner(record))

    def may_moderate(self, viewer: Reviewer, record: R) -> bool:
        """Publish, request changes: moderators, but not for their own organization (four eyes)."""
        return may_review(viewer, self.owner(record))

    def may_archive(self, viewer: Reviewer, record: R) -> bool:
        return viewer.is_moderator or self.may_edit(viewer, record)


def is_editable(record: Moderated) -> bool:
    """Not under review (the record or its pending edit) and not archived."""
    if record.state in (ModerationState.submitted, ModerationState.archived):
        return False
    return not (record.state == ModerationState.published and record.pending_state == ModerationState.submitted)


# --- the steps ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """What a step did: the audit action (without the record type), the states it went between."""

    action: str
    from_state: str
    to_state: str
    reason: str | None = None


def mark_published(record: Publishable) -> Step:
    """The record goes public; a record published before keeps its first publication date."""
    step = Step("publish", record.state, ModerationState.published.value)
    record.state = ModerationState.published.value
    record.published_at = record.published_at or utcnow()
    return step


@dataclass(frozen=True)
class Workflow:
    """The workflow for one table: names its audit events and its messages."""

    record_type: str  # audit events are "<record_type>.<action>"
    noun: str  # "solution", "case study"
    plural: str  # "solutions", "case studies"

    def audit(self, session: AsyncSession, actor: Actor | None, record: Moderated, step: Step) -> None:
        record_for(
            session,
            actor,
            action=f"{self.record_type}.{step.action}",
            record_type=self.record_type,
            record_uuid=record.uuid,
            from_state=step.from_state,
            to_state=step.to_state,
            reason=step.reason,
        )

    def require_reviewer(self, reviewer: Reviewer, owner_id: int | None) -> None:
        reviewer.require_moderator()
        if not may_review(reviewer, owner_id):
            raise Forbidden(f"moderators cannot review {self.plural} of their own organization")

    def check_editable(self, record: Moderated) -> bool:
        """Refuse an edit while the record (or its edit) is under review or archived. True when the
        edit goes to ``pending`` because the record is published."""
        state = ModerationState(record.state)
        if not is_editable(record):
            if state is ModerationState.published:
                raise Conflict("the pending edit is under review; wait for the moderators", field="state")
            raise Conflict(f"a {state.value} {self.noun} cannot be edited", field="state")
        return state is ModerationState.published

    @staticmethod
    def working_copy(record: Moderated) -> dict[str, Any] | None:
        """The pending edit an editor continues, if the record is published and has one."""
        if record.state == ModerationState.published and record.pending:
            return dict(record.pending)
        return None

    @staticmethod
    def edit(record: Moderated, pending: dict[str, Any] | None) -> Step:
        """After the caller validated the new content: a published record keeps it as its pending edit
        (``pending``); for any other the caller writes the content into the columns itself."""
        state = ModerationState(record.state)
        if state is ModerationState.published:
            if pending is None:
                raise ValueError("an edit of a published record needs its pending content")
            record.pending = pending
            record.pending_state = record.pending_state or ModerationState.draft.value
            return Step("edit_pending", state.value, PENDING)
        return Step("edit", state.value, state.value)

    def submit(self, record: Moderated) -> Step:
        state = ModerationState(record.state)
        if state is ModerationState.published and record.pending is not None:
            if record.pending_state == ModerationState.submitted:
                raise Conflict("the edit is submitted already", field="state")
            record.pending_state = ModerationState.submitted.value
            return Step("submit_edit", PENDING, ModerationState.submitted.value)
        if state in (ModerationState.draft, ModerationState.changes_requested):
            record.state = ModerationState.submitted.value
            return Step("submit", state.value, ModerationState.submitted.value)
        raise Conflict(f"a {state.value} {self.noun} without a pending edit cannot be submitted", field="state")

    async def publish(self, record: Moderated, apply_pending: Callable[[dict[str, Any]], Awaitable[None]]) -> Step:
        """Publish a submitted record, or approve a published record's submitted edit: then
        ``apply_pending`` writes the approved content into the columns (and may refuse it)."""
        state = ModerationState(record.state)
        if (
            state is ModerationState.published
            and record.pending_state == ModerationState.submitted
            and record.pending is not None
        ):
            await apply_pending(record.pending)
            record.pending = None
            record.pending_state = None
            step = Step("approve_edit", ModerationState.submitted.value, ModerationState.published.value)
        elif state is ModerationState.submitted:
            step = mark_published(record)
        else:
            raise Conflict(
                f"only submitted {self.plural} or edits can be published; this one is {state.value}", field="state"
            )
        record.moderation_reason = None
        return step

    def request_changes(self, record: Moderated, reason: str) -> Step:
        state = ModerationState(record.state)
        if state is ModerationState.published and record.pending_state == ModerationState.submitted:
            record.pending_state = ModerationState.changes_requested.value
            action = "request_changes_edit"
        elif state is ModerationState.submitted:
            record.state = ModerationState.changes_requested.value
            action = "request_changes"
        else:
            raise Conflict(
                f"changes can be requested only for submitted {self.plural}; this one is {state.value}", field="state"
            )
        record.moderation_reason = reason
        return Step(action, ModerationState.submitted.value, ModerationState.changes_requested.value, reason)

    def archive(self, record: Moderated, reason: str | None, *, keep_pending: bool = False) -> Step:
        """Take a published record out of the public lists; its pending edit goes with it unless the
        caller keeps it (case studies always have)."""
        if record.state != ModerationState.published:
            raise Conflict(f"only published {self.plural} can be archived; this one is {record.state}", field="state")
        record.state = ModerationState.archived.value
        if not keep_pending:
            record.pending = None
            record.pending_state = None
        return Step("archive", ModerationState.published.value, ModerationState.archived.value, reason)

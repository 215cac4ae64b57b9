"""Writing: create and edit solutions, and their moderation lifecycle (submit, publish, request changes,
archive, delete a draft), with the facet rows that follow the published content.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.core import moderation
from allmende.core.audit import record_for
from allmende.core.problems import Conflict, Forbidden, InvalidInput
from allmende.core.records import claim_slug, hold_checked
from allmende.core.types import utcnow
from marketplace import policies
from marketplace.models import Solution, SolutionFacet, SolutionState
from marketplace.schemas import SolutionCreate, SolutionFields, is_open_source
from marketplace.services.common import CONTENT_FIELDS, FACET_FIELDS, WORKFLOW, _validated
from marketplace.services.reading import editable_content
from marketplace.services.vocabularies import check_terms, vocabulary_index


async def _provider_for(session: AsyncSession, principal: Principal, provider_slug: str | None) -> Organization:
    if provider_slug is None:
        if principal.token is None:
            raise InvalidInput("name the provider organization", field="provider")
        provider = await session.get(Organization, principal.token.organization_id)
        assert provider is not None
    else:
        provider = await accounts.get_organization(session, provider_slug)
    if not policies.may_draft_for(principal, provider.id):
        principal.require_authenticated()
        raise Forbidden("only editors of the provider organization create its solutions")
    return provider


def _apply_content(solution: Solution, content: SolutionFields) -> None:
    for name, value in content.stored().items():
        setattr(solution, name, value)
    solution.is_open_source = is_open_source(solution.license)


def _audit(
    session: AsyncSession,
    principal: Principal | None,
    solution: Solution,
    action: str,
    from_state: str | None,
    to_state: str | None,
    reason: str | None = None,
) -> None:
    record_for(
        session,
        principal,
        action=action,
        record_type="solution",
        record_uuid=solution.uuid,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
    )


async def create_solution(session: AsyncSession, principal: Principal, data: SolutionCreate) -> Solution:
    principal.require_authenticated()
    provider = await _provider_for(session, principal, data.provider)
    content = SolutionFields.model_validate(data.model_dump(include=set(CONTENT_FIELDS)))
    check_terms(content.stored(), await vocabulary_index(session))
    slug = await claim_slug(session, Solution, data.slug, data.name)
    if (
        data.external_id
        and (
            await session.exec(
                select(Solution.id).where(Solution.provider_id == provider.id, Solution.external_id == data.external_id)
            )
        ).first()
    ):
        raise Conflict(f"external id '{data.external_id}' is used already", field="external_id")
    solution = Solution(
        slug=slug,
        provider_id=provider.id or 0,
        external_id=data.external_id,
        name=content.name,
        summary=content.summary,
        kind=content.kind,
    )
    _apply_content(solution, content)
    session.add(solution)
    await session.flush()
    _audit(session, principal, solution, "solution.create", None, SolutionState.draft)
    return solution


def _require_editor(principal: Principal, solution: Solution) -> None:
    principal.require_authenticated()
    if not policies.may_edit(principal, solution):
        if policies.may_draft(principal, solution):
            raise Forbidden("your membership waits for a moderator's verification; until then you write drafts only")
        raise Forbidden("only editors of the provider organization change this solution")


def _require_drafter(principal: Principal, solution: Solution) -> None:
    principal.require_authenticated()
    if not policies.may_draft(principal, solution):
        raise Forbidden("only editors of the provider organization change this solution")


async def update_solution(
    session: AsyncSession, principal: Principal, solution: Solution, changes: dict[str, Any], if_match: str | None
) -> Solution:
    """Edit a draft in place; an edit to a published solution becomes its pending version."""
    _require_drafter(principal, solution)
    await hold_checked(session, solution, if_match)
    external_id = changes.pop("external_id", solution.external_id)
    is_live = WORKFLOW.check_editable(solution)
    base = editable_content(solution)
    base = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in base.items()}
    merged = _validated(base | changes)
    check_terms(merged.stored(), await vocabulary_index(session))
    if external_id != solution.external_id:
        if (
            external_id
            and (
                await session.exec(
                    select(Solution.id).where(
                        Solution.provider_id == solution.provider_id,
                        Solution.external_id == external_id,
                        Solution.id != solution.id,
                    )
                )
            ).first()
        ):
            raise Conflict(f"external id '{external_id}' is used already", field="external_id")
        solution.external_id = external_id
    if not is_live:
        _apply_content(solution, merged)
    step = WORKFLOW.edit(solution, merged.model_dump(mode="json") if is_live else None)
    WORKFLOW.audit(session, principal, solution, step)
    await session.flush()
    return solution


async def submit(session: AsyncSession, principal: Principal, solution: Solution, if_match: str | None) -> Solution:
    _require_editor(principal, solution)
    await hold_checked(session, solution, if_match, required=False)
    step = WORKFLOW.submit(solution)
    solution.submitted_at = utcnow()  # the moderators' queue is oldest first
    WORKFLOW.audit(session, principal, solution, step)
    await session.flush()
    return solution


async def publish(session: AsyncSession, principal: Principal, solution: Solution, if_match: str | None) -> Solution:
    WORKFLOW.require_reviewer(principal, solution.provider_id)
    await hold_checked(session, solution, if_match, required=False)

    async def apply_pending(pending: dict[str, Any]) -> None:
        _apply_content(solution, _validated(pending))

    step = await WORKFLOW.publish(solution, apply_pending)
    WORKFLOW.audit(session, principal, solution, step)
    await sync_facets(session, solution)
    await session.flush()
    return solution


async def request_changes(
    session: AsyncSession, principal: Principal, solution: Solution, reason: str, if_match: str | None
) -> Solution:
    WORKFLOW.require_reviewer(principal, solution.provider_id)
    await hold_checked(session, solution, if_match, required=False)
    WORKFLOW.audit(session, principal, solution, WORKFLOW.request_changes(solution, reason))
    await session.flush()
    return solution


async def archive(
    session: AsyncSession, principal: Principal, solution: Solution, reason: str | None, if_match: str | None
) -> Solution:
    principal.require_authenticated()
    if not policies.may_archive(principal, solution):
        raise Forbidden("only moderators and editors of the provider archive a solution")
    await hold_checked(session, solution, if_match, required=False)
    step = WORKFLOW.archive(solution, reason)
    await session.exec(delete(SolutionFacet).where(col(SolutionFacet.solution_id) == solution.id))
    WORKFLOW.audit(session, principal, solution, step)
    await session.flush()
    return solution


async def delete_draft(session: AsyncSession, principal: Principal, solution: Solution, if_match: str | None) -> None:
    _require_drafter(principal, solution)
    await hold_checked(session, solution, if_match, required=False)
    if solution.published_at is not None or solution.state in moderation.PUBLIC_STATES:
        raise Conflict("only drafts that were never published can be deleted; archive published ones", field="state")
    solution.deleted_at = utcnow()
    _audit(session, principal, solution, "solution.delete", solution.state, "deleted")
    await session.flush()


async def sync_facets(session: AsyncSession, solution: Solution) -> None:
    """Rewrite the facet rows of a published solution from its public content."""
    await session.exec(delete(SolutionFacet).where(col(SolutionFacet.solution_id) == solution.id))
    if solution.state != SolutionState.published.value:
        return
    for field_name in FACET_FIELDS:
        for term in getattr(solution, field_name) or []:
            session.add(SolutionFacet(solution_id=solution.id or 0, vocabulary=field_name, term=term))

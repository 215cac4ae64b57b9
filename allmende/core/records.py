"""Global identity of shared records and the transactional change log (design rules 2 and 3).

Every shared record carries a UUID, its origin instance, a version that rises with each change,
``updated_at`` and a tombstone (``deleted_at``) instead of a hard delete. A ``before_flush`` hook
bumps the version and appends one change-log entry per change, in the same transaction.

Sequence numbers come from a single counter row that each writing transaction increments and keeps
locked until it commits. That serialises writers of shared records, which buys two properties the
derived stores rely on: numbers have no gaps (a rolled-back transaction also rolls back its increment),
and commit order equals sequence order, so a consumer that has read up to N never later finds an
entry below N appear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session, declared_attr
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.problems import Conflict
from allmende.core.text import slugify
from allmende.core.types import UTCDateTime, utcnow
from allmende.core.versions import check_optional_version, check_version, etag

Operation = Literal["create", "update", "delete"]


def version_checked(column: str) -> Any:
    """``__mapper_args__`` for optimistic concurrency on ``column``, which the code raises itself.

    SQLAlchemy then writes every UPDATE as ``… WHERE <column> = <the value read>``. If it matches no row,
    another transaction committed a change in between (on PostgreSQL the UPDATE waits for that commit,
    then finds the old value gone), and the flush raises StaleDataError: the whole transaction rolls
    back and ``Database``'s sessions report a 412 (``allmende.core.db``).
    """

    @declared_attr.directive
    def __mapper_args__(cls: Any) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c[column], "version_id_generator": False}

    return __mapper_args__


class SharedRecord(SQLModel):
    """Mixin for records that can be shared across instances."""

    __record_type__: ClassVar[str]

    uuid: UUID = Field(default_factory=uuid4, unique=True, index=True, nullable=False)
    # None means this instance; a peer's base URL for read-only copies received by federation.
    origin: str | None = Field(default=None, max_length=255)
    version: int = Field(default=0, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    # Every UPDATE carries ``WHERE version = <the version read>``; the hook below sets the new version.
    __mapper_args__ = version_checked("version")

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def etag(self) -> str:
        return etag(self.uuid, self.version)


class ChangeLogEntry(SQLModel, table=True):
    __tablename__ = "change_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    record_type: str = Field(max_length=50, index=True)
    record_uuid: UUID = Field(index=True)
    version: int
    operation: str = Field(max_length=10)
    origin: str | None = Field(default=None, max_length=255)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChangeLogCounter(SQLModel, table=True):
    """One row (id = 1) holding the last sequence number handed out; created by the migration."""

    __tablename__ = "change_log_counter"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_seq: int = Field(default=0)


S = TypeVar("S", bound=BaseModel)


def out_of(schema: type[S], row: SQLModel, **given: Any) -> S:
    """A response body from a row: every field the schema shares by name with the row's columns, then
    ``given`` (what is computed, renamed, or hidden from this reader). Relationships are never read."""
    columns = type(row).model_fields
    copied = {name: getattr(row, name) for name in schema.model_fields if name in columns and name not in given}
    return schema(**copied, **given)


async def claim_slug(
    session: AsyncSession, model: type[SQLModel], wanted: str | None, name: str, *, number_if_taken: bool = True
) -> str:
    """The slug of a new record: the one asked for, which must be free (409 naming ``slug``), else one made
    from its name, numbered (``-2``, ``-3`` …) until free. Where a page says "a guide with this title
    exists", ``number_if_taken=False`` keeps the name's slug strict."""
    column = model.slug  # type: ignore[attr-defined]
    slug = wanted or slugify(name)
    n = 2
    while (await session.exec(select(column).where(column == slug))).first() is not None:
        if wanted or not number_if_taken:
            raise Conflict(f"the slug '{slug}' is taken", field="slug")
        slug = f"{slugify(name)[:95]}-{n}"
        n += 1
    return str(slug)


def assign_changed(record: Any, values: dict[str, Any]) -> bool:
    """Set the attributes whose value differs; True if any did. Seed loaders use it so that loading the
    same seeds twice writes nothing (no version bump, no change-log entry)."""
    changed = False
    for key, value in values.items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    return changed


class HardDeleteForbidden(RuntimeError):
    pass


async def hold_for_change(session: AsyncSession, record: SharedRecord) -> None:
    """Wait until no other transaction writes shared records, then re-read ``record``.

    Call it before checking If-Match or the state of a record that is about to change. Every writer of
    shared records holds the change-log counter until it commits (see ``_append_changes``), so once this
    transaction holds it too, the re-read record is the latest committed one and stays so: the check
    sees what the UPDATE will overwrite. Taking the counter first (and the record's row only with the
    UPDATE) keeps one lock order for every writer, so writers queue and never deadlock. On SQLite,
    which has one writer at a time anyway, ``FOR UPDATE`` is left out.
    """
    await session.exec(select(ChangeLogCounter.id).where(ChangeLogCounter.id == 1).with_for_update())
    await session.refresh(record)


async def hold_checked(
    session: AsyncSession, record: SharedRecord, if_match: str | None, *, required: bool = True
) -> None:
    """``hold_for_change``, then check If-Match against the latest committed version: required for edits,
    optional (checked when sent) for state transitions. The state checks that follow see that version
    too, so two moderators publishing at once publish once."""
    await hold_for_change(session, record)
    if required:
        check_version(record.etag, if_match)
    else:
        check_optional_version(record.etag, if_match)


def _operation(session: Session, record: SharedRecord, is_new: bool) -> Operation | None:
    if is_new:
        return "create"
    if not session.is_modified(record, include_collections=False):
        return None
    history = inspect(record).attrs.deleted_at.history
    if history.added and history.added[0] is not None and not (history.deleted and history.deleted[0]):
        return "delete"
    return "update"


def _append_changes(session: Session, _flush_context: Any, _instances: Any) -> None:
    if session.info.get("replicating"):
        # Federation writes remote copies with the peer's versions; it appends its own entries.
        return
    for obj in session.deleted:
        if isinstance(obj, SharedRecord):
            raise HardDeleteForbidden(f"{type(obj).__name__} is a shared record: set deleted_at instead")
    changes: list[tuple[SharedRecord, Operation]] = []
    for obj in list(session.new):
        if isinstance(obj, SharedRecord):
            changes.append((obj, "create"))
    for obj in list(session.dirty):
        if isinstance(obj, SharedRecord):
            op = _operation(session, obj, is_new=False)
            if op is not None:
                changes.append((obj, op))
    if not changes:
        return
    now = utcnow()
    counter = SQLModel.metadata.tables["change_log_counter"]
    last = (
        session.connection()
        .execute(
            update(counter)
            .where(counter.c.id == 1)
            .values(last_seq=counter.c.last_seq + len(changes))
            .returning(counter.c.last_seq)
        )
        .scalar_one()
    )
    first = last - len(changes) + 1
    session.info["last_change_seq"] = last  # the unit of work nudges derived stores after commit
    for offset, (record, op) in enumerate(changes):
        record.version = (record.version or 0) + 1
        record.updated_at = now
        session.add(
            ChangeLogEntry(
                seq=first + offset,
                record_type=record.__record_type__,
                record_uuid=record.uuid,
                version=record.version,
                operation=op,
                origin=record.origin,
                changed_at=now,
            )
        )


event.listen(Session, "before_flush", _append_changes)

"""Derived stores fed from the change log (design rule 3): here, the search index.

Each record type registers a document builder. The drain job reads change-log entries after its stored
cursor, in order, asks the builders for the current public documents of the changed records, writes
them to the engine, and only then advances the cursor. A failing engine leaves the cursor where it
was, so the backlog waits and nothing is lost; re-running a batch is harmless (upserts by id).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.db import Database
from allmende.core.jobs import JobContext, JobSpec
from allmende.core.records import ChangeLogEntry
from allmende.core.search.base import IndexSchema, SearchEngine, SearchUnavailable
from allmende.core.types import UTCDateTime, utcnow


class DerivedCursor(SQLModel, table=True):
    """How far a derived store (search index, federation feed, …) has consumed the change log."""

    __tablename__ = "derived_cursor"

    name: str = Field(primary_key=True, max_length=60)
    last_seq: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Who drains this store now, and until when (see :func:`drain`): one drainer at a time, across
    # processes and hosts, so a slower drainer never overwrites newer documents with older ones.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


@dataclass
class DocumentBatch:
    upserts: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)


DocumentBuilder = Callable[[AsyncSession, Sequence[UUID]], Awaitable[DocumentBatch]]
AllDocuments = Callable[[AsyncSession], AsyncIterator[dict[str, Any]]]


class Index(Protocol):
    async def upsert(self, documents: list[dict[str, Any]]) -> None: ...

    async def delete(self, ids: list[str]) -> None: ...


@dataclass(frozen=True)
class DocumentType:
    """What one kind of record contributes to the shared search index.

    ``builders`` map change-log record types to functions that return the current public documents
    (or deletions) for changed records; ``source`` yields every public document of this kind for a
    full rebuild. The fields merge into one index schema, so a new kind joins without changing core.
    """

    name: str
    api_path: str  # where a hit's full record lives, e.g. "/api/v1/solutions/{slug}"
    searchable: tuple[tuple[str, float], ...]
    filterable: tuple[str, ...]
    sortable: tuple[str, ...]
    builders: dict[str, DocumentBuilder]
    source: AllDocuments


@dataclass
class DocumentRegistry:
    types: dict[str, DocumentType] = field(default_factory=dict)

    def register(self, document_type: DocumentType) -> None:
        if document_type.name in self.types:
            raise ValueError(f"document type {document_type.name!r} registered twice")
        self.types[document_type.name] = document_type

    @property
    def builders(self) -> dict[str, list[DocumentBuilder]]:
        result: dict[str, list[DocumentBuilder]] = {}
        for document_type in self.types.values():
            for record_type, builder in document_type.builders.items():
                result.setdefault(record_type, []).append(builder)
        return result

    def schema(self) -> IndexSchema:
        """The union of every type's fields; a field searchable in two types keeps its highest weight."""
        weights: dict[str, float] = {}
        filterable: list[str] = []
        sortable: list[str] = []
        for document_type in self.types.values():
            for name, weight in document_type.searchable:
                weights[name] = max(weight, weights.get(name, 0.0))
            filterable += [f for f in document_type.filterable if f not in filterable]
            sortable += [f for f in document_type.sortable if f not in sortable]
        return IndexSchema(searchable=list(weights.items()), filterable=filterable, sortable=sortable)

    async def all_documents(self, database: Database) -> AsyncIterator[dict[str, Any]]:
        async with database.sessionmaker() as session:
            for document_type in self.types.values():
                async for document in document_type.source(session):
                    yield document


SEARCH_CURSOR = "search"


async def read_cursor(session: AsyncSession, name: str) -> int:
    cursor = await session.get(DerivedCursor, name)
    return cursor.last_seq if cursor else 0


async def write_cursor(session: AsyncSession, name: str, seq: int) -> None:
    cursor = await session.get(DerivedCursor, name)
    if cursor is None:
        session.add(DerivedCursor(name=name, last_seq=seq))
    else:
        cursor.last_seq, cursor.updated_at = seq, utcnow()


#: How long a drainer owns a derived store without renewing. Every batch renews it; a drainer that
#: died (SIGKILL) leaves it to run out, and until then drains elsewhere wait: keep it short.
LEASE_SECONDS = 15.0
#: How long a drain waits for the lease before leaving the work to the drainer that holds it.
LEASE_WAIT_SECONDS = 2.0


class LeaseLost(RuntimeError):
    """This drainer's lease ran out and another took over: stop without moving the cursor."""


_TABLE = DerivedCursor.__table__  # type: ignore[attr-defined]


async def _ensure_cursor_row(session: AsyncSession, name: str) -> None:
    connection = await session.connection()
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    await connection.execute(
        insert(_TABLE)
        .values(name=name, last_seq=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )


async def try_lease(database: Database, name: str, owner: str, *, seconds: float = LEASE_SECONDS) -> bool:
    """Take (or renew) the right to drain ``name``; False while another owner's lease runs."""
    now = utcnow()
    async with database.unit_of_work() as session:
        await _ensure_cursor_row(session, name)
        connection = await session.connection()
        result = await connection.execute(
            update(_TABLE)
            .where(
                _TABLE.c.name == name,
                or_(_TABLE.c.lease_owner.is_(None), _TABLE.c.lease_until < now, _TABLE.c.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
        )
        return bool(result.rowcount == 1)


async def acquire_lease(
    database: Database, name: str, owner: str, *, wait: float = LEASE_WAIT_SECONDS, seconds: float = LEASE_SECONDS
) -> bool:
    deadline = time.monotonic() + wait
    while not await try_lease(database, name, owner, seconds=seconds):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def release_lease(database: Database, name: str, owner: str) -> None:
    async with database.unit_of_work() as session:
        connection = await session.connection()
        await connection.execute(
            update(_TABLE)
            .where(_TABLE.c.name == name, _TABLE.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


async def _advance(database: Database, name: str, owner: str, seq: int) -> None:
    """Move the cursor and renew the lease, only if this drainer still owns it."""
    now = utcnow()
    async with database.unit_of_work() as session:
        connection = await session.connection()
        result = await connection.execute(
            update(_TABLE)
            .where(_TABLE.c.name == name, _TABLE.c.lease_owner == owner)
            .values(last_seq=seq, updated_at=now, lease_until=now + timedelta(seconds=LEASE_SECONDS))
        )
        if result.rowcount != 1:
            raise LeaseLost(f"the lease on {name!r} was taken over; the cursor stays for its new owner")


async def drain_once(
    database: Database,
    registry: DocumentRegistry,
    index: Index,
    *,
    batch_size: int = 500,
    cursor_name: str = SEARCH_CURSOR,
    owner: str,
) -> int:
    """Apply one batch of the change log to the index. Returns how many entries it consumed.

    Only the lease owner calls this (see :func:`drain`)."""
    async with database.sessionmaker() as session:
        last = await read_cursor(session, cursor_name)
        entries = list(
            await session.exec(
                select(ChangeLogEntry)
                .where(col(ChangeLogEntry.seq) > last)
                .order_by(col(ChangeLogEntry.seq))
                .limit(batch_size)
            )
        )
        if not entries:
            return 0
        by_type: dict[str, list[UUID]] = {}
        for entry in entries:
            by_type.setdefault(entry.record_type, [])
            if entry.record_uuid not in by_type[entry.record_type]:
                by_type[entry.record_type].append(entry.record_uuid)
        batch = DocumentBatch()
        builders = registry.builders
        for record_type, uuids in by_type.items():
            for builder in builders.get(record_type, []):  # none: a record type that is not searchable
                built = await builder(session, uuids)
                batch.upserts += built.upserts
                batch.deletes += built.deletes
    # Outside the database session: the engine may be slow or down, and must not hold a transaction.
    upserts = {d["id"]: d for d in batch.upserts}
    deletes = [i for i in dict.fromkeys(batch.deletes) if i not in upserts]
    if upserts:
        await index.upsert(list(upserts.values()))
    if deletes:
        await index.delete(deletes)
    await _advance(database, cursor_name, owner, entries[-1].seq)
    return len(entries)


async def drain(
    database: Database,
    registry: DocumentRegistry,
    index: Index,
    *,
    batch_size: int = 500,
    cursor_name: str = SEARCH_CURSOR,
    wait: float = LEASE_WAIT_SECONDS,
) -> int:
    """Drain the whole backlog; raises (leaving the cursor at the last applied batch) if the engine fails.

    Drains run in every process that runs jobs (the app in the embedded profile, each worker in
    production), after every write and every few seconds. Two at once could apply the same entries in
    different order and leave an older document in the index, so a drainer first takes the store's
    lease (a row in ``derived_cursor``); one that cannot get it within ``wait`` seconds returns 0: the
    holder loops until the backlog is empty and takes up the new entries too, and the periodic drain
    is the safety net for the last moment of its loop."""
    owner = uuid4().hex
    if not await acquire_lease(database, cursor_name, owner, wait=wait):
        return 0
    try:
        total = 0
        while consumed := await drain_once(
            database, registry, index, batch_size=batch_size, cursor_name=cursor_name, owner=owner
        ):
            total += consumed
        return total
    finally:
        # shielded: a drain cancelled by its runner (shutdown, lost Redis) must still hand the lease on;
        # if the database is away, the lease runs out by itself
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.shield(release_lease(database, cursor_name, owner))


async def rebuild(
    database: Database,
    registry: DocumentRegistry,
    engine: SearchEngine,
    on_progress: Callable[[int], None] | None = None,
    *,
    wait: float = LEASE_SECONDS * 2,
) -> int:
    """Rebuild the whole index from the database, then move the cursor to where the rebuild started:
    changes committed during the rebuild are applied again by the next drain (upserts are idempotent).

    The rebuild holds the drain lease (renewed while it runs), so no drain in any process writes into
    the index being replaced or moves the cursor past the rebuild's start."""
    from sqlalchemy import func

    owner = uuid4().hex
    if not await acquire_lease(database, SEARCH_CURSOR, owner, wait=wait):
        raise SearchUnavailable("another process is draining or rebuilding the search index; try again later")

    async def keep_lease() -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 4)
            with contextlib.suppress(Exception):
                await try_lease(database, SEARCH_CURSOR, owner)

    renewing = asyncio.create_task(keep_lease())
    try:
        async with database.sessionmaker() as session:
            start = int((await session.exec(select(func.coalesce(func.max(ChangeLogEntry.seq), 0)))).one())
        count = await engine.rebuild(registry.all_documents(database), on_progress)
        await _advance(database, SEARCH_CURSOR, owner, start)
        return count
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.shield(release_lease(database, SEARCH_CURSOR, owner))


async def backlog(database: Database, cursor_name: str = SEARCH_CURSOR) -> int:
    from sqlalchemy import func

    async with database.sessionmaker() as session:
        last = await read_cursor(session, cursor_name)
        return int(
            (
                await session.exec(
                    select(func.count()).select_from(ChangeLogEntry).where(col(ChangeLogEntry.seq) > last)
                )
            ).one()
        )


async def drain_job(ctx: JobContext) -> int:
    """The job both runners run (periodically and after writes): apply the change-log backlog."""
    return await drain(ctx.database, ctx.adapters["documents"], ctx.adapters["search"])


DRAIN_JOB = JobSpec("search.drain", drain_job, max_tries=3, timeout_seconds=600, every_seconds=5)

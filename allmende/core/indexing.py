"""Derived stores fed from the change log (design rule 3): here, the search index.

Each record type registers a document builder. The drain job reads change-log entries after its stored
cursor, in order, asks the builders for the current public documents of the changed records, writes
them to the engine, and only then advances the cursor. A failing engine leaves the cursor where it
was, so the backlog waits and nothing is lost; re-running a batch is harmless (upserts by id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.db import Database
from allmende.core.jobs import JobContext, JobSpec
from allmende.core.records import ChangeLogEntry
from allmende.core.search.base import IndexSchema, SearchEngine
from allmende.core.types import UTCDateTime, utcnow


class DerivedCursor(SQLModel, table=True):
    """How far a derived store (search index, federation feed, …) has consumed the change log."""

    __tablename__ = "derived_cursor"

    name: str = Field(primary_key=True, max_length=60)
    last_seq: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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


async def drain_once(
    database: Database,
    registry: DocumentRegistry,
    index: Index,
    *,
    batch_size: int = 500,
    cursor_name: str = SEARCH_CURSOR,
) -> int:
    """Apply one batch of the change log to the index. Returns how many entries it consumed."""
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
    async with database.unit_of_work() as session:
        await write_cursor(session, cursor_name, entries[-1].seq)
    return len(entries)


async def drain(database: Database, registry: DocumentRegistry, index: Index, *, batch_size: int = 500) -> int:
    """Drain the whole backlog; raises (leaving the cursor at the last applied batch) if the engine fails."""
    total = 0
    while consumed := await drain_once(database, registry, index, batch_size=batch_size):
        total += consumed
    return total


async def rebuild(
    database: Database,
    registry: DocumentRegistry,
    engine: SearchEngine,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Rebuild the whole index from the database, then move the cursor to where the rebuild started:
    changes committed during the rebuild are applied again by the next drain (upserts are idempotent)."""
    from sqlalchemy import func

    async with database.sessionmaker() as session:
        start = int((await session.exec(select(func.coalesce(func.max(ChangeLogEntry.seq), 0)))).one())
    count = await engine.rebuild(registry.all_documents(database), on_progress)
    async with database.unit_of_work() as session:
        await write_cursor(session, SEARCH_CURSOR, start)
    return count


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

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
from allmende.core.records import ChangeLogEntry
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


@dataclass
class DocumentRegistry:
    """Per record type: how to build its search documents. Domains register in the composition root."""

    builders: dict[str, DocumentBuilder] = field(default_factory=dict)
    full_sources: list[AllDocuments] = field(default_factory=list)

    def register(self, record_type: str, builder: DocumentBuilder) -> None:
        self.builders[record_type] = builder

    def register_source(self, source: AllDocuments) -> None:
        """A source of every public document of a kind, for full rebuilds."""
        self.full_sources.append(source)


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
        for record_type, uuids in by_type.items():
            builder = registry.builders.get(record_type)
            if builder is None:
                continue  # a record type that is not searchable
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

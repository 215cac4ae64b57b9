"""Database engine, sessions and the unit of work.

Services never commit; the unit of work around a request or a job does (``Database.unit_of_work``).

Shared records are written with ``UPDATE … WHERE version = <the version read>`` (``allmende.core.records``).
When such an UPDATE matches no row, someone else committed a change in between: the session turns
SQLAlchemy's StaleDataError into ``PreconditionFailed`` (412, field If-Match), whether it surfaces in a
service's flush, an autoflush or the flush of the unit of work's commit, after the handler returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.problems import PreconditionFailed

STALE_DETAIL = "the record has changed since you read it; read it again and retry"


def stale_write() -> PreconditionFailed:
    """The problem for a write that lost the race: the version it read is no longer the current one."""
    return PreconditionFailed(STALE_DETAIL, field="If-Match")


class VersionCheckedSession(Session):
    """A session whose flushes report a lost optimistic-concurrency race as a 412, not a 500."""

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        try:
            super().flush(objects)
        except StaleDataError as exc:
            raise stale_write() from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """Owns the engine and hands out sessions; one per app or worker process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        self.sessionmaker = async_sessionmaker(
            self.engine, class_=AsyncSession, sync_session_class=VersionCheckedSession, expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed when the block ends normally and rolled back otherwise."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> None:
        from sqlalchemy import text

        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

"""Test fixtures: real databases built by the migrations, one fresh copy per test.

SQLite: the migrated template file is copied for each test. PostgreSQL: each test gets its own
database cloned from a migrated template (``CREATE DATABASE … TEMPLATE``). Both servers must be
reachable; a missing server is an error, never a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest

from allmende.app import Adapters, build_job_registry, create_app, in_memory_adapters
from allmende.core.db import Database
from allmende.core.jobs import JobRegistry
from allmende.core.migrate import upgrade
from allmende.core.settings import Settings
from allmende.seeding import seed
from tests.support.mail import SmtpSink
from tests.support.servers import PG_ADMIN_DSN, pg_url

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@dataclass
class PgTestDatabase:
    """One migrated PostgreSQL database per test process, reset to its just-migrated state after each test:
    every table truncated, then the rows the migrations themselves wrote put back. Much faster than a
    fresh clone per test, and just as isolated."""

    name: str
    baseline: dict[str, list[Any]]

    async def reset(self) -> None:
        conn = await asyncpg.connect(_admin_dsn_for(self.name))
        try:
            tables = [t for t in await _tables(conn) if t != "alembic_version"]
            await conn.execute(f"TRUNCATE {', '.join(chr(34) + t + chr(34) for t in tables)} RESTART IDENTITY CASCADE")
            for table, rows in self.baseline.items():
                if rows:
                    columns = list(rows[0].keys())
                    await conn.copy_records_to_table(table, records=[tuple(r.values()) for r in rows], columns=columns)
        finally:
            await conn.close()


def _admin_dsn_for(dbname: str) -> str:
    return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{dbname}"


async def _tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return [r["tablename"] for r in rows]


@pytest.fixture(scope="session")
async def pg_template() -> AsyncIterator[PgTestDatabase]:
    name = f"allmende_test_{os.getpid()}"
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc}") from exc
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    upgrade(pg_url(name))
    conn = await asyncpg.connect(_admin_dsn_for(name))
    try:
        baseline = {}
        for table in await _tables(conn):
            if table != "alembic_version":
                baseline[table] = list(await conn.fetch(f'SELECT * FROM "{table}"'))  # noqa: S608 (own tables)
    finally:
        await conn.close()
    yield PgTestDatabase(name, baseline)
    await _drop_pg_database(name)
    await _drop_pg_database(f"{name}_seeded")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# Seeded templates, made on first use: a test marked `seeded` starts from the migrated database with
# all of seeds/ loaded, copied (SQLite) or cloned (PostgreSQL) instead of seeded again each time.
_SEEDED: dict[str, str] = {}


async def _seeded_sqlite(template: Path) -> Path:
    if "sqlite" not in _SEEDED:
        path = template.with_name("seeded.sqlite3")
        shutil.copyfile(template, path)
        database = Database(f"sqlite+aiosqlite:///{path}")
        await seed(database)
        await database.dispose()
        _SEEDED["sqlite"] = str(path)
    return Path(_SEEDED["sqlite"])


async def _seeded_pg(pg: PgTestDatabase) -> str:
    if "postgresql" not in _SEEDED:
        name = f"{pg.name}_seeded"
        await _drop_pg_database(name)
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg.name}"')
        finally:
            await conn.close()
        database = Database(pg_url(name))
        await seed(database)
        await database.dispose()
        _SEEDED["postgresql"] = name
    return _SEEDED["postgresql"]


@pytest.fixture
async def database_url(
    backend: str, tmp_path: Path, sqlite_template: Path, pg_template: PgTestDatabase, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    seeded = request.node.get_closest_marker("seeded") is not None
    if backend == "sqlite":
        target = tmp_path / "test.sqlite3"
        shutil.copyfile(await _seeded_sqlite(sqlite_template) if seeded else sqlite_template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    if seeded:
        name = f"allmende_t_{os.getpid()}_{tmp_path.name[-20:].replace('-', '_')}".lower()
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{await _seeded_pg(pg_template)}"')
        finally:
            await conn.close()
        yield pg_url(name)
        await _drop_pg_database(name)
        return
    yield pg_url(pg_template.name)
    await pg_template.reset()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        DATABASE_URL=database_url if database_url.startswith("postgresql") else None,
        ALLMENDE_DATA_DIR=tmp_path / "data",
        ALLMENDE_BASE_URL="http://testserver",
        ALLMENDE_SECRET_KEY="test-secret-key-" + "x" * 32,
        ALLMENDE_SEED_ON_START=False,
        ALLMENDE_ALLOW_PRIVATE_URLS=True,
    )


@pytest.fixture
def job_registry() -> JobRegistry:
    return build_job_registry()


@pytest.fixture
async def adapters(settings: Settings, database: Database, job_registry: JobRegistry) -> AsyncIterator[Adapters]:
    """The embedded adapters, with the in-process queue left stopped: tests run jobs when they choose."""
    result = in_memory_adapters(settings, database, registry=job_registry, backoff_base=0.01)
    await result.start()
    yield result
    await result.search.close()


@pytest.fixture
async def client(adapters: Adapters) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(adapters.settings, adapters)
    transport = httpx.ASGITransport(app=cast(Any, app), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def pg_database(pg_template: PgTestDatabase) -> AsyncIterator[Database]:
    """For behaviour only PostgreSQL shows (concurrent writers)."""
    db = Database(pg_url(pg_template.name))
    yield db
    await db.dispose()
    await pg_template.reset()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server on 127.0.0.1 for this test (the mailer, the outbox, the notices of every domain)."""
    with SmtpSink() as sink:
        yield sink

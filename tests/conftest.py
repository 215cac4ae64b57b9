"""Test fixtures: real databases built by the migrations, one fresh copy per test.

SQLite: the migrated template file is copied for each test. PostgreSQL: each test gets its own
database cloned from a migrated template (``CREATE DATABASE … TEMPLATE``). Both servers must be
reachable; a missing server is an error, never a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest
from litestar.stores.memory import MemoryStore

from allmende.app import Adapters, build_job_registry, create_app
from allmende.core.db import Database
from allmende.core.jobs import JobRegistry
from allmende.core.jobs.inprocess import InProcessJobQueue
from allmende.core.migrate import upgrade
from allmende.core.settings import Settings

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = ["sqlite", "postgresql"]


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{dbname}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
async def pg_template() -> AsyncIterator[str]:
    name = f"allmende_tpl_{os.getpid()}"
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc}") from exc
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    upgrade(_pg_url(name))
    yield name
    await _drop_pg_database(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path, sqlite_template: Path, pg_template: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        target = tmp_path / "test.sqlite3"
        shutil.copyfile(sqlite_template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    name = await _create_pg_database(pg_template)
    yield _pg_url(name)
    await _drop_pg_database(name)


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
def adapters(settings: Settings, database: Database, job_registry: JobRegistry) -> Adapters:
    """The embedded adapters, with the in-process queue left stopped: tests run jobs when they choose."""
    jobs = InProcessJobQueue(job_registry, backoff_base=0.01)
    result = Adapters(settings=settings, database=database, jobs=jobs, registry=job_registry, store=MemoryStore())
    jobs.bind(result.job_context())
    return result


@pytest.fixture
async def client(adapters: Adapters) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(adapters.settings, adapters)
    transport = httpx.ASGITransport(app=cast(Any, app), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _create_pg_database(template: str) -> str:
    name = f"allmende_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def pg_database(pg_template: str) -> AsyncIterator[Database]:
    """For behaviour only PostgreSQL shows (concurrent writers)."""
    name = await _create_pg_database(pg_template)
    db = Database(_pg_url(name))
    yield db
    await db.dispose()
    await _drop_pg_database(name)

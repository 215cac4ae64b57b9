"""Fixtures of the web tests: the seeded catalog, signed-in people, a live server and headless Chromium.

HTTP tests run on SQLite by default (the pages are presentation; the services below them are tested
on both backends), a few on PostgreSQL too (``@pytest.mark.parametrize("backend", ..., indirect=True)``).
The database is the real seed data (``seeds/``), loaded once into a template file and copied per test.
The search index is filled the way the app fills it, by draining the change log: once per session for
the SQLite template (each test's in-memory index then gets those documents, and the template's drain
cursor says they are in), per test on PostgreSQL. After writing, a test calls ``reindex(adapters)``.

Browser tests drive Debian's Chromium through Playwright against the app served by uvicorn in a
subprocess on 127.0.0.1. Without Chromium they skip locally but FAIL when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from allmende.app import Adapters, build_document_registry, create_app
from allmende.core.db import Database
from allmende.core.indexing import drain
from allmende.core.migrate import upgrade
from allmende.core.search import EmbeddedSearchEngine
from allmende.seeding import seed
from tests.support.factories import LIVE_SECRETS, TOTP_SECRETS
from tests.support.servers import app_server, free_port, pg_url
from tests.support.web import LiveServer, People, make_people, reindex

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = ROOT / "test-results" / "screenshots"


# --- databases --------------------------------------------------------------------------------------


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for more with indirect parametrization."""
    return str(getattr(request, "param", "sqlite"))


@dataclass
class Seeded:
    path: Path
    documents: list[dict[str, Any]]  # the search documents of the seeded records, already drained


@pytest.fixture(scope="session")
def seeded(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    path = tmp_path_factory.mktemp("seeded") / "seeded.sqlite3"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    _run_in_thread(lambda: _seed(url))
    return Seeded(path=path, documents=_run_in_thread(lambda: _index(url)))


@pytest.fixture(scope="session")
def seeded_sqlite(seeded: Seeded) -> Path:
    return seeded.path


async def _seed(url: str) -> None:
    database = Database(url)
    try:
        await seed(database)
    finally:
        await database.dispose()


async def _index(url: str, directory: Path | None = None) -> list[dict[str, Any]]:
    """Drain the change log into an index (in memory, or on disk for the live server); the cursor lands
    in the database. Returns the indexed documents."""
    database = Database(url)
    registry = build_document_registry()
    engine = EmbeddedSearchEngine(directory)
    try:
        await engine.configure(registry.schema())
        await drain(database, registry, engine)
        return [document async for document in registry.all_documents(database)]
    finally:
        await engine.close()
        await database.dispose()


@pytest.fixture
async def client(adapters: Adapters, backend: str, request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the seeded database, with the search index holding every seeded record."""
    if backend == "sqlite":
        await adapters.search.upsert(request.getfixturevalue("seeded").documents)
    else:
        await reindex(adapters)
    app = create_app(adapters.settings, adapters)
    transport = httpx.ASGITransport(app=cast(Any, app), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A seeded database per test: a copy of the seeded SQLite file, or the PostgreSQL test database seeded."""
    if backend == "sqlite":
        target = tmp_path / "test.sqlite3"
        shutil.copyfile(request.getfixturevalue("seeded_sqlite"), target)
        yield f"sqlite+aiosqlite:///{target}"
        return

    pg_template = request.getfixturevalue("pg_template")
    url = pg_url(pg_template.name)
    _run_in_thread(lambda: _seed(url))
    yield url
    _run_in_thread(pg_template.reset)


# --- people ------------------------------------------------------------------------------------------


@pytest.fixture
async def people(database: Database) -> People:
    return await make_people(database)


@pytest.fixture
async def other_client(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser on the same app (own cookies)."""
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as second:
        yield second


# --- the live server and the browser ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app under uvicorn on a fresh SQLite database: migrated, seeded with seeds/, plus test people."""
    data_dir = tmp_path_factory.mktemp("live")
    db_url = f"sqlite+aiosqlite:///{data_dir / 'allmende.sqlite3'}"
    upgrade(db_url)

    async def prepare() -> People:
        database = Database(db_url)
        try:
            await seed(database)
            people = await make_people(database)
        finally:
            await database.dispose()
        # The index the server opens at start (it drains later writes itself, as in production).
        await _index(db_url, data_dir / "search")
        return people

    people = _run_in_thread(prepare)
    # Their authenticators, apart from those of the people each test makes again in its own database.
    LIVE_SECRETS.update({u.email: TOTP_SECRETS[u.email] for u in (people.moderator,)})
    port = free_port()
    env = {
        **os.environ,
        "ALLMENDE_DATA_DIR": str(data_dir),
        "ALLMENDE_BASE_URL": f"http://127.0.0.1:{port}",
        "ALLMENDE_SECRET_KEY": "live-test-secret-" + "y" * 32,
        "ALLMENDE_SEED_ON_START": "false",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "MEILI_URL"):
        env.pop(name, None)
    with app_server(env, data_dir, port) as url:
        yield LiveServer(url=url, people=people, database_url=db_url)


def _run_in_thread(factory: Any) -> Any:
    """Run a coroutine to completion on a loop of its own (the session loop may already be running)."""
    import threading

    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["value"] = asyncio.run(factory())
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        message = f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()


@pytest.fixture
async def page(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=live_server.url, locale="de-DE", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    problems: list[str] = []
    # A CSP violation or a script error shows up here: the pages must produce none.
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    yield tab
    await context.close()
    assert problems == [], problems


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS

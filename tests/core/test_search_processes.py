"""The embedded index shared by several processes: the app reads, a worker drains, `reindex` rebuilds.

Two engines on one directory stand for two processes: each holds its own ``flock`` file description,
and the lock is per description, so they exclude each other exactly as two processes do. The last
test runs `allmende reindex` as a real process beside an app serving from the same directory.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from allmende.app import Adapters
from allmende.core.indexing import LEASE_SECONDS, acquire_lease, drain, release_lease, try_lease
from allmende.core.search import EmbeddedSearchEngine, SearchUnavailable
from allmende.core.search.base import IndexSchema, SearchQuery
from tests.support.servers import free_port

SCHEMA = IndexSchema(searchable=[("name", 3.0)], filterable=["type"], sortable=["name"])


def doc(i: int, name: str) -> dict[str, Any]:
    return {"id": f"d{i}", "type": "solution", "name": name}


async def ids(engine: EmbeddedSearchEngine, q: str) -> set[str]:
    result = await engine.search(SearchQuery(q=q, per_page=50))
    return {hit.id for hit in result.hits}


@asynccontextmanager
async def two_processes(
    directory: Path, lock_timeout: float
) -> AsyncIterator[tuple[EmbeddedSearchEngine, EmbeddedSearchEngine]]:
    """Two engines on one index directory, as two processes hold it; the second waits ``lock_timeout`` for the lock."""
    first = EmbeddedSearchEngine(directory)
    second = EmbeddedSearchEngine(directory, lock_timeout=lock_timeout)
    try:
        await first.configure(SCHEMA)
        await second.configure(SCHEMA)
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_a_write_by_one_process_is_found_by_the_other_without_a_restart(tmp_path: Path) -> None:
    app, worker = EmbeddedSearchEngine(tmp_path / "search"), EmbeddedSearchEngine(tmp_path / "search")
    try:
        await app.configure(SCHEMA)
        await worker.configure(SCHEMA)  # adopts the app's generation instead of making (and deleting) one
        generations = sorted(p.name for p in (tmp_path / "search").iterdir() if p.name.startswith("gen-"))
        assert len(generations) == 1
        await worker.upsert([doc(1, "Mängelmelder"), doc(2, "Ratsinformationssystem")])
        assert await ids(app, "Mängelmelder") == {"d1"}
        await app.upsert([doc(3, "Mängelmelder Plus")])  # and the other way round
        assert await ids(worker, "Mängelmelder") == {"d1", "d3"}
        await worker.delete(["d1"])
        assert await ids(app, "Mängelmelder") == {"d3"}
    finally:
        await app.close()
        await worker.close()


async def test_a_rebuild_in_another_process_is_followed_and_keeps_writes_made_while_it_ran(tmp_path: Path) -> None:
    async with two_processes(tmp_path / "search", lock_timeout=30) as (app, reindexer):
        await app.upsert([doc(1, "Altes Dokument")])
        gate = asyncio.Event()

        async def documents() -> Any:
            yield doc(10, "Neu gebautes Dokument")
            await gate.wait()  # the rebuild holds the directory here
            yield doc(11, "Noch ein Dokument")

        rebuilding = asyncio.create_task(reindexer.rebuild(documents()))
        await asyncio.sleep(0.3)
        # While it runs, the app still serves the old generation, and its write waits for the lock …
        assert await ids(app, "Dokument") == {"d1"}
        writing = asyncio.create_task(app.upsert([doc(12, "Während des Neuaufbaus geschrieben")]))
        await asyncio.sleep(0.3)
        assert not writing.done()
        gate.set()
        assert await rebuilding == 2
        await writing  # … and lands in the generation that is live once it gets the lock
        assert await ids(app, "Dokument") == {"d10", "d11"}
        assert await ids(app, "geschrieben") == {"d12"}
        assert await ids(reindexer, "geschrieben") == {"d12"}
        live = (tmp_path / "search" / "CURRENT").read_text().strip()
        assert [p.name for p in (tmp_path / "search").iterdir() if p.name.startswith("gen-")] == [live]


async def test_a_write_that_cannot_get_the_lock_in_time_is_a_search_outage_and_loses_nothing(tmp_path: Path) -> None:
    async with two_processes(tmp_path / "search", lock_timeout=0.3) as (holder, waiter):
        gate = asyncio.Event()

        async def slow() -> Any:
            yield doc(1, "Langsam")
            await gate.wait()

        rebuilding = asyncio.create_task(holder.rebuild(slow()))
        await asyncio.sleep(0.2)
        with pytest.raises(SearchUnavailable, match="another process"):
            await waiter.upsert([doc(2, "Wartend")])
        gate.set()
        await rebuilding
        await waiter.upsert([doc(2, "Wartend")])  # the drain's retry
        assert await ids(holder, "Wartend") == {"d2"}


async def test_only_one_drainer_holds_the_lease_and_a_dead_ones_runs_out(adapters: Adapters) -> None:
    database = adapters.database
    assert await try_lease(database, "search", "worker-a")
    assert not await try_lease(database, "search", "worker-b")
    assert not await acquire_lease(database, "search", "worker-b", wait=0.3)
    assert await try_lease(database, "search", "worker-a")  # renewal by the owner
    await release_lease(database, "search", "worker-a")
    assert await try_lease(database, "search", "worker-b", seconds=0.2)  # b takes it, then "dies"
    await asyncio.sleep(0.3)
    assert await try_lease(database, "search", "worker-c", seconds=LEASE_SECONDS)
    # A drain while another owns the lease leaves the work to the owner instead of racing it.
    assert await drain(database, adapters.documents, adapters.search, wait=0.2) == 0


def _env(database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("ALLMENDE_", "DATABASE_", "REDIS_", "MEILI"))
    }
    environment.update(
        {
            "DATABASE_URL": database_url,
            "ALLMENDE_DATA_DIR": str(data_dir),
            "ALLMENDE_SECRET_KEY": "k" * 40,
            "ALLMENDE_SEED_ON_START": "true",
            "PORT": str(port),
        }
    )
    return environment


async def test_reindex_beside_a_serving_app_leaves_search_working_without_a_restart(tmp_path: Path) -> None:
    """The app serves the embedded profile from its data directory; `allmende reindex` runs as another
    process on the same directory; the app goes on answering searches, and afterwards finds what the
    rebuilt index holds."""
    data_dir = tmp_path / "data"
    database_url = f"sqlite:///{data_dir / 'allmende.sqlite3'}"
    port = free_port()
    env = _env(database_url, data_dir, port)
    log = (tmp_path / "app.log").open("w")
    app = subprocess.Popen(  # noqa: ASYNC220 (starting it does not block; it is awaited by polling)
        [sys.executable, "-m", "allmende.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert app.poll() is None and time.monotonic() < deadline, (tmp_path / "app.log").read_text()[-3000:]
                await asyncio.sleep(0.3)

            async def hits() -> int:
                response = await http.get("/api/v1/search", params={"q": "Beteiligung"})
                assert response.status_code == 200, response.text
                return int(response.json()["total"])

            deadline = time.monotonic() + 30
            before = await hits()
            for _ in range(60):  # the seeds are being indexed by the app's drain
                if before or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
                before = await hits()
            assert before > 0
            generation = (data_dir / "search" / "CURRENT").read_text().strip()
            reindex = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "allmende.cli", "reindex"],
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            assert reindex.returncode == 0, reindex.stderr
            assert (data_dir / "search" / "CURRENT").read_text().strip() != generation
            assert not (data_dir / "search" / generation).exists()
            assert await hits() == before  # the app follows the new generation, no restart
            assert app.poll() is None
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()

"""Server render times of the page types, at the seeded size: ``uv run python -m tests.web.bench_pages``.

Builds a fresh SQLite database (migrations + ``seeds/``) and fills the embedded search index from the
change log (as the app's drain job does), then drives the real app in-process through
``httpx.ASGITransport`` (no network): every request runs the full middleware stack, the database
queries, the search engine and the Jinja render. Prints median and 95th percentile per page and exits 1
when a median is over its budget (see ``allmende/web/README.md``).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import httpx
import structlog

from allmende.app import build_adapters, create_app
from allmende.core.db import Database
from allmende.core.indexing import drain
from allmende.core.migrate import upgrade
from allmende.core.settings import Settings
from allmende.seeding import seed

# Median server render budget per page, milliseconds, on the 2-core machine.
BUDGETS_MS = {
    "/": 100,
    "/loesungen": 150,
    "/loesungen?stufe=2&sektor=smart-governance&sort=verbreitung": 150,
    "/loesungen/masterportal": 100,
    "/vergleich?l=masterportal&l=qgis&l=geoserver&l=deegree": 150,
    "/organisationen/hamburg": 100,
    "/anmelden": 50,
    "/suche?q=B%C3%BCrgerbeteilgung": 150,
    "/suche?q=Daten&typ=loesung&typ=fallstudie&stufe=3": 150,
    "/loesungen?q=Geoportal&seite=1&sort=verbreitung": 150,
    "/fallstudien": 150,
    "/fallstudien/mpsc-solingen": 100,
    "/leitfaeden": 150,
    "/leitfaeden/open-source-beschaffen": 100,
    "/leitfaeden/open-source-beschaffen/versionen": 100,
    "/stufen": 150,
    "/stufen/2": 100,
}
ROUNDS = 40
WARMUP = 5


async def measure(base: Path) -> dict[str, list[float]]:
    url = f"sqlite+aiosqlite:///{base / 'bench.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    seeding = Database(url)
    await seed(seeding)
    await seeding.dispose()
    settings = Settings(
        DATABASE_URL=url,
        ALLMENDE_DATA_DIR=base,
        ALLMENDE_SECRET_KEY="bench-secret-" + "z" * 32,
        ALLMENDE_SEED_ON_START=False,
    )
    adapters = build_adapters(settings)
    start = getattr(adapters, "start", None)
    if start is not None:
        await start()
    await drain(adapters.database, adapters.documents, adapters.search)
    app = create_app(settings, adapters)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # no access log
    timings: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for path in BUDGETS_MS:
            for _ in range(WARMUP):
                assert (await client.get(path)).status_code == 200, path
            samples = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                response = await client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            timings[path] = samples
    await adapters.close()
    return timings


def main() -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        timings = asyncio.run(measure(Path(tmp)))
    over = 0
    print(f"{'page':<62} {'median':>8} {'p95':>8} {'budget':>8}")
    for path, samples in timings.items():
        median = statistics.median(samples)
        p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
        budget = BUDGETS_MS[path]
        flag = "" if median <= budget else "  OVER"
        over += bool(flag)
        print(f"{path:<62} {median:7.1f}ms {p95:7.1f}ms {budget:6d}ms{flag}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

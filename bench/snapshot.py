"""Snapshot of the public contract: the OpenAPI document and the public pages' HTML, for refactorings.

A change that should not change behaviour (issue 13 moves code between packages) is checked by taking
a snapshot before and after and comparing the two folders:

    uv run python bench/snapshot.py /tmp/before      # on the old commit
    uv run python bench/snapshot.py /tmp/after       # on the new one
    uv run python bench/snapshot.py --compare /tmp/before /tmp/after

The app runs in-process on a seeded SQLite database with the embedded search index. What differs from
run to run is blanked before writing: CSRF tokens, request ids, the generated date-times of seeds.
The OpenAPI document is compared without ``description`` and ``summary`` texts (they may improve);
pages are compared whole.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

import httpx

PAGES = [
    "/",
    "/suche?q=Parkraum",
    "/suche?q=Daten&typ=loesung&typ=fallstudie&stufe=3",
    "/loesungen",
    "/loesungen?stufe=2&sektor=smart-governance&sort=verbreitung",
    "/loesungen?q=Geoportal&seite=1&sort=verbreitung",
    "/loesungen/masterportal",
    "/vergleich?l=masterportal&l=qgis&l=geoserver&l=deegree",
    "/organisationen/hamburg",
    "/fallstudien",
    "/fallstudien/mpsc-solingen",
    "/leitfaeden",
    "/leitfaeden/open-source-beschaffen",
    "/leitfaeden/open-source-beschaffen/versionen",
    "/stufen",
    "/stufen/2",
    "/stufen/9",
    "/anmelden",
    "/gibt-es-nicht",
    "/?lang=en",
    "/loesungen/masterportal?lang=en",
]
_VOLATILE = [
    (re.compile(r'(name="_csrf_token" value=")[^"]+'), r"\1…"),
    (re.compile(r'(csrf[-_]token" content=")[^"]+'), r"\1…"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "…id…"),
    (re.compile(r"\b\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}\b"), "…Zeitpunkt…"),  # when the seeds were loaded
    (re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}, \d{1,2}:\d{2}\s?[AP]M\b"), "…moment…"),
]


def _strip_texts(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_texts(v) for k, v in node.items() if k not in {"description", "summary"}}
    if isinstance(node, list):
        return [_strip_texts(v) for v in node]
    return node


def _normalise(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


async def take(target: Path) -> None:
    from allmende.app import create_app, in_memory_adapters
    from allmende.core.db import Database
    from allmende.core.indexing import drain
    from allmende.core.migrate import upgrade
    from allmende.core.settings import Settings
    from allmende.seeding import seed

    target.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a script, before any concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/snapshot.sqlite3"
        await asyncio.to_thread(upgrade, url)
        database = Database(url)
        await seed(database)
        settings = Settings(
            ALLMENDE_DATA_DIR=Path(tmp) / "data",
            ALLMENDE_SECRET_KEY="snapshot-" + "x" * 40,
            ALLMENDE_SEED_ON_START=False,
            DATABASE_URL=None,
        )
        adapters = in_memory_adapters(settings, database)
        await adapters.start()
        await drain(database, adapters.documents, adapters.search)
        app = create_app(settings, adapters)
        transport = httpx.ASGITransport(app=cast(Any, app))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            schema = (await http.get("/schema/openapi.json")).json()
            (target / "openapi.json").write_text(
                json.dumps(_strip_texts(schema), indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8"
            )
            for number, path in enumerate(PAGES):
                response = await http.get(path, headers={"accept": "text/html"})
                name = f"{number:02d}-{re.sub(r'[^a-z0-9]+', '-', path.lower()).strip('-') or 'start'}.html"
                (target / name).write_text(f"{response.status_code}\n{_normalise(response.text)}", encoding="utf-8")
        await adapters.search.close()
        await database.dispose()
    print(f"snapshot: openapi.json and {len(PAGES)} pages in {target}")


def compare(before: Path, after: Path) -> int:
    differing = 0
    names = sorted({p.name for p in before.iterdir()} | {p.name for p in after.iterdir()})
    for name in names:
        old = (before / name).read_text(encoding="utf-8").splitlines() if (before / name).exists() else []
        new = (after / name).read_text(encoding="utf-8").splitlines() if (after / name).exists() else []
        if old != new:
            differing += 1
            print(f"differs: {name}")
            print("\n".join(list(difflib.unified_diff(old, new, lineterm=""))[:40]))
    print(f"compared {len(names)} files: {differing} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        raise SystemExit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    if len(sys.argv) != 2:
        raise SystemExit("usage: snapshot.py TARGET | --compare BEFORE AFTER")
    asyncio.run(take(Path(sys.argv[1])))

"""The relevance set (tests/relevance.yaml) against the seeded catalog and hub, on the embedded engine."""

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from allmende.app import build_document_registry
from allmende.core.db import Database
from allmende.core.indexing import rebuild
from allmende.core.search import EmbeddedSearchEngine, SearchQuery
from allmende.seeding import seed

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "relevance.yaml").read_text())["queries"]


@pytest.fixture(scope="session")
async def seeded_engine(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """One seeded database and index for the whole set: building it is the slow part, querying is not."""
    path = tmp_path_factory.mktemp("relevance") / "seeded.sqlite3"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    await seed(database)
    documents = build_document_registry()
    engine = EmbeddedSearchEngine(None)
    await engine.configure(documents.schema())
    await rebuild(database, documents, engine)
    yield engine
    await engine.close()
    await database.dispose()


def test_the_set_is_large_enough() -> None:
    catalog = [c for c in CASES if c.get("type", "solution") == "solution"]
    hub = [c for c in CASES if c.get("type") in ("case_study", "guide", "any")]
    assert len(catalog) >= 40 and len(hub) >= 15


def _expected(case: dict[str, Any]) -> list[str]:
    return list(case.get("all_of") or case.get("any_of") or [])


@pytest.mark.parametrize("case", CASES, ids=[f"{c['q'] or '(browse)'}|{c.get('filters', '')}" for c in CASES])
async def test_relevance(seeded_engine: Any, case: dict[str, Any]) -> None:
    filters = dict(case.get("filters") or {})
    kind = case.get("type", "solution")  # the catalog's queries look for solutions; hub queries say what
    if kind != "any":
        filters["type"] = [kind]
    result = await seeded_engine.search(
        SearchQuery(q=case["q"], filters=filters, per_page=3, sort=[("name", "asc")] if not case["q"] else [])
    )
    top3 = [hit.document["slug"] for hit in result.hits]
    if case.get("all_of"):
        assert set(case["all_of"]) <= set(top3), f"{case['q']!r}: top 3 were {top3}"
    else:
        assert set(case["any_of"]) & set(top3), f"{case['q']!r}: top 3 were {top3}"

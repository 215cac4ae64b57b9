"""Search engines: the same behaviour through the same Protocol.

``engine`` runs every behaviour spec on the embedded engine and on the Meilisearch adapter — against a
live server when ``MEILI_URL`` is set (``MEILI_KEY`` optional), otherwise against
:class:`~tests.meili_double.MeilisearchProtocolDouble`. The double matches by substring only, so the
German language specs (typos, umlauts, compounds, synonyms) run on the embedded engine, and on a live
Meilisearch when there is one. The adapter's use of the protocol (settings before documents, tasks,
parameters, swap, errors) is checked against the double's record of requests. Each test gets a fresh
index.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from allmende.core.search import (
    EmbeddedSearchEngine,
    IndexSchema,
    InvalidSearch,
    MeilisearchEngine,
    SearchEngine,
    SearchQuery,
    SearchUnavailable,
)
from allmende.core.search.meili import build_filter, quote_filter_value
from tests.support.meili_double import MeilisearchProtocolDouble, parse_filter_expression

MEILI_URL = os.environ.get("MEILI_URL")
MEILI_KEY = os.environ.get("MEILI_KEY")

SCHEMA = IndexSchema(
    searchable=[("name", 3.0), ("summary", 2.0), ("tags", 2.0), ("body", 1.0)],
    filterable=["sectors", "stages", "state"],
    sortable=["name", "published_at", "adopters_count"],
)


def doc(key: str, kind: str = "solution", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": f"{kind}:{key}", "type": kind, "tags": [], "sectors": [], "stages": []}
    base.update(fields)
    return base


CATALOG = [
    doc(
        "beteiligung",
        name="Bürgerbeteiligung online",
        summary="Eine Plattform für Umfragen und Ideen aus der Stadtgesellschaft.",
        body="Kommunen sammeln Vorschläge, moderieren Diskussionen und veröffentlichen Ergebnisse.",
        tags=["Partizipation"],
        sectors=["Smart Governance", "Smart People"],
        stages=["2"],
        state="Bayern",
        adopters_count=12,
        published_at="2023-04-01",
    ),
    doc(
        "parken",
        name="Parkraummanagement für Innenstädte",
        summary="Sensoren melden freie Stellflächen in Echtzeit.",
        body="Die Lösung steuert den ruhenden Verkehr und reduziert den Suchverkehr.",
        tags=["Mobilität"],
        sectors=["Smart Transport & Mobility"],
        stages=["2", "3"],
        state="Hessen",
        adopters_count=30,
        published_at="2022-11-15",
    ),
    doc(
        "nahverkehr",
        kind="guide",
        name="Leitfaden Nahverkehr im ländlichen Raum",
        summary="Wie Landkreise Rufbusse und Taktverkehre planen.",
        body="Ein Leitfaden für Verkehrsverbünde und Aufgabenträger.",
        tags=["Mobilität"],
        sectors=["Smart Transport & Mobility"],
        stages=["1"],
        state="Brandenburg",
        adopters_count=3,
        published_at="2024-02-20",
    ),
    doc(
        "licht",
        name="Straßenbeleuchtung mit Dimmprofilen",
        summary="Laternen sparen Energie, wenn niemand unterwegs ist.",
        body="Die Steuerung spart Strom und senkt Emissionen.",
        tags=["Energie"],
        sectors=["Smart Energy & Environment"],
        stages=["2"],
        state="Bayern",
        adopters_count=7,
        published_at="2021-06-30",
    ),
    doc(
        "ris",
        kind="case_study",
        name="Fallstudie Ratsinformationssystem",
        summary="Ein Landkreis veröffentlicht Sitzungen und Beschlüsse.",
        body="Gremien arbeiten papierlos; Bürgerinnen und Bürger lesen Vorlagen online.",
        tags=["Verwaltung"],
        sectors=["Smart Governance"],
        stages=["4"],
        state="Hessen",
        adopters_count=5,
        published_at="2020-09-09",
    ),
    doc(
        "xss",
        name="Formularserver",
        summary="Online-Anträge <script>alert('x')</script> mit Formularserver & Schnittstellen",
        body="Formulare für Anträge.",
        tags=["Verwaltung"],
        sectors=["Smart Governance"],
        stages=["2"],
        state="Sachsen",
        adopters_count=1,
        published_at="2019-01-01",
    ),
]


@pytest.fixture(scope="session")
def meili_double() -> Iterator[MeilisearchProtocolDouble]:
    with MeilisearchProtocolDouble() as double:
        yield double


def _meili(meili_double: MeilisearchProtocolDouble, *, live: bool) -> MeilisearchEngine:
    uid = f"test_{uuid.uuid4().hex[:12]}"
    if live and MEILI_URL:
        return MeilisearchEngine(MEILI_URL, MEILI_KEY, index_uid=uid)
    return MeilisearchEngine(meili_double.url, index_uid=uid, task_timeout_ms=5_000)


async def _dispose(engine: SearchEngine) -> None:
    if isinstance(engine, MeilisearchEngine):
        with contextlib.suppress(Exception):  # cleanup only; the double may already be gone
            await asyncio.to_thread(engine._client.delete_index, engine.index_uid)
    await engine.close()


async def _make(kind: str, meili_double: MeilisearchProtocolDouble) -> SearchEngine:
    engine: SearchEngine = EmbeddedSearchEngine() if kind == "embedded" else _meili(meili_double, live=True)
    await engine.configure(SCHEMA)
    return engine


@pytest.fixture(params=["embedded", "meilisearch"])
async def engine(
    request: pytest.FixtureRequest, meili_double: MeilisearchProtocolDouble
) -> AsyncIterator[SearchEngine]:
    """An empty, configured index of each engine."""
    made = await _make(str(request.param), meili_double)
    yield made
    await _dispose(made)


@pytest.fixture
async def catalog(engine: SearchEngine) -> SearchEngine:
    await engine.upsert(CATALOG)
    return engine


LANGUAGE_ENGINES = ["embedded"] + (["meilisearch"] if MEILI_URL else [])


@pytest.fixture(params=LANGUAGE_ENGINES)
async def german(
    request: pytest.FixtureRequest, meili_double: MeilisearchProtocolDouble
) -> AsyncIterator[SearchEngine]:
    """The catalog in the engines that analyse German: embedded, and a live Meilisearch if configured."""
    made = await _make(str(request.param), meili_double)
    await made.upsert(CATALOG)
    yield made
    await _dispose(made)


async def ids(engine: SearchEngine, q: str, **kwargs: Any) -> list[str]:
    result = await engine.search(SearchQuery(q=q, **kwargs))
    return [hit.id for hit in result.hits]


# --- behaviour shared by both engines ------------------------------------------------------------------


async def test_exact_word_finds_its_document(catalog: SearchEngine) -> None:
    result = await catalog.search(SearchQuery(q="Ratsinformationssystem"))
    assert [hit.id for hit in result.hits] == ["case_study:ris"]
    hit = result.hits[0]
    assert hit.type == "case_study"
    assert hit.document["name"] == "Fallstudie Ratsinformationssystem"
    assert result.total == 1 and result.page == 1 and result.per_page == 20


async def test_empty_query_browses_everything_with_facets(catalog: SearchEngine) -> None:
    result = await catalog.search(SearchQuery(q="", facets=["type", "state", "sectors"]))
    assert result.total == len(CATALOG)
    assert result.facets["type"] == {"solution": 4, "guide": 1, "case_study": 1}
    assert result.facets["state"] == {"Bayern": 2, "Hessen": 2, "Brandenburg": 1, "Sachsen": 1}
    assert result.facets["sectors"]["Smart Governance"] == 3
    assert all(hit.highlights == {} or all("<mark>" not in v for v in hit.highlights.values()) for hit in result.hits)


async def test_facets_count_every_match_not_only_the_page(catalog: SearchEngine) -> None:
    result = await catalog.search(SearchQuery(q="", facets=["sectors", "stages"], per_page=1))
    assert len(result.hits) == 1 and result.total == len(CATALOG)
    assert result.facets["sectors"] == {
        "Smart Governance": 3,
        "Smart Transport & Mobility": 2,
        "Smart People": 1,
        "Smart Energy & Environment": 1,
    }
    assert result.facets["stages"] == {"2": 4, "3": 1, "1": 1, "4": 1}


async def test_filters_are_and_across_fields_and_or_within_a_field(catalog: SearchEngine) -> None:
    either_state = await ids(catalog, "", filters={"state": ["Bayern", "Hessen"]})
    assert sorted(either_state) == ["case_study:ris", "solution:beteiligung", "solution:licht", "solution:parken"]
    both = await catalog.search(
        SearchQuery(q="", filters={"state": ["Bayern", "Hessen"], "sectors": ["Smart Governance"]}, facets=["state"])
    )
    assert sorted(h.id for h in both.hits) == ["case_study:ris", "solution:beteiligung"]
    assert both.facets["state"] == {"Bayern": 1, "Hessen": 1}
    by_type = await ids(catalog, "", filters={"type": ["guide", "case_study"]})
    assert sorted(by_type) == ["case_study:ris", "guide:nahverkehr"]
    assert await ids(catalog, "", filters={"state": ["Berlin"]}) == []


async def test_filter_values_are_data_not_syntax(catalog: SearchEngine) -> None:
    for value in ['Bayern" OR type = "solution', 'foo" OR type="x', "Bayern\\", 'x" AND state != "', "= OR AND"]:
        result = await catalog.search(SearchQuery(q="", filters={"state": [value]}, facets=["state"]))
        assert result.total == 0, value
        assert result.hits == []
    # an injection attempt next to a real value changes nothing
    assert await ids(catalog, "", filters={"state": ["Sachsen", 'Sachsen" OR state = "Bayern']}) == ["solution:xss"]


async def test_sort_by_a_field(catalog: SearchEngine) -> None:
    most = await ids(catalog, "", sort=[("adopters_count", "desc")])
    assert most == [
        "solution:parken",
        "solution:beteiligung",
        "solution:licht",
        "case_study:ris",
        "guide:nahverkehr",
        "solution:xss",
    ]
    oldest = await ids(catalog, "", sort=[("published_at", "asc")], per_page=3)
    assert oldest == ["solution:xss", "case_study:ris", "solution:licht"]
    by_name = await ids(catalog, "", sort=[("name", "asc")], filters={"state": ["Hessen", "Bayern"]})
    assert by_name == ["solution:beteiligung", "case_study:ris", "solution:parken", "solution:licht"]
    two_keys = await ids(catalog, "", sort=[("published_at", "desc"), ("name", "asc")])
    assert two_keys[0] == "guide:nahverkehr"


async def test_pagination_has_exact_totals_and_an_empty_page_past_the_end(catalog: SearchEngine) -> None:
    pages = [
        await catalog.search(SearchQuery(q="", page=p, per_page=4, sort=[("adopters_count", "desc")]))
        for p in (1, 2, 3)
    ]
    assert [len(p.hits) for p in pages] == [4, 2, 0]
    assert [p.total for p in pages] == [len(CATALOG)] * 3
    assert pages[2].page == 3 and pages[2].per_page == 4
    seen = [hit.id for page in pages for hit in page.hits]
    assert len(set(seen)) == len(CATALOG)
    far = await catalog.search(SearchQuery(q="", page=9_999, per_page=100, facets=["type"]))
    assert far.hits == [] and far.total == len(CATALOG)
    assert far.facets["type"]["solution"] == 4


async def test_highlights_escape_everything_but_mark(catalog: SearchEngine) -> None:
    result = await catalog.search(SearchQuery(q="Formularserver"))
    assert result.hits[0].id == "solution:xss"
    highlights = result.hits[0].highlights
    summary = highlights["summary"]
    assert "<script>" not in summary and "&lt;script&gt;" in summary
    assert "&amp;" in summary and "&#x27;x&#x27;" in summary
    assert "<mark>Formularserver</mark>" in summary
    assert highlights["name"] == "<mark>Formularserver</mark>"
    for snippet in highlights.values():
        assert re.sub(r"</?mark>", "", snippet).count("<") == 0
    plain = await catalog.search(SearchQuery(q="Formularserver", highlight=False))
    assert plain.hits[0].highlights == {}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (SearchQuery(q="x", facets=["secret"]), "facets"),
        (SearchQuery(q="x", sort=[("body", "asc")]), "sort"),
        (SearchQuery(q="x", sort=[("name", "sideways")]), "sort"),  # type: ignore[list-item]
        (SearchQuery(q="x", filters={"owner": ["me"]}), "filters.owner"),
        (SearchQuery(q="x", filters={"state": "Bayern"}), "filters.state"),  # type: ignore[dict-item]
        (SearchQuery(q="x", per_page=0), "per_page"),
        (SearchQuery(q="x", per_page=101), "per_page"),
        (SearchQuery(q="x", per_page=-5), "per_page"),
        (SearchQuery(q="x", page=0), "page"),
        (SearchQuery(q="x", page=-1), "page"),
    ],
)
async def test_invalid_queries_are_refused_before_the_engine(
    engine: SearchEngine, meili_double: MeilisearchProtocolDouble, query: SearchQuery, field: str
) -> None:
    before = len(meili_double.calls("POST", r"/indexes/[^/]+/search"))
    with pytest.raises(InvalidSearch) as caught:
        await engine.search(query)
    assert caught.value.field == field
    assert len(meili_double.calls("POST", r"/indexes/[^/]+/search")) == before


async def test_a_very_long_query_has_a_well_defined_answer(catalog: SearchEngine) -> None:
    long_word = await catalog.search(SearchQuery(q="x" * 10_000, facets=["type"]))
    assert long_word.total == 0 and long_word.hits == []
    many_words = await catalog.search(SearchQuery(q="Formularserver " * 1_000))
    assert [h.id for h in many_words.hits] == ["solution:xss"]
    odd = await catalog.search(SearchQuery(q='"\\ AND OR ( ) : * - ~ ^ \x00 \ue000'))
    assert odd.total >= 0


async def test_stop_words_alone_match_nothing(catalog: SearchEngine) -> None:
    result = await catalog.search(SearchQuery(q="der die und ", facets=["type"]))
    assert result.total == 0 and result.hits == [] and result.facets == {"type": {}}


async def test_upsert_replaces_and_delete_removes(catalog: SearchEngine) -> None:
    changed = dict(CATALOG[3], name="Intelligente Laternen", summary="Neu geschrieben.")
    await catalog.upsert([changed])
    assert await catalog.count() == len(CATALOG)
    assert await ids(catalog, "Laternen") == ["solution:licht"]
    assert await ids(catalog, "Dimmprofilen") == []
    await catalog.delete(["solution:licht", "solution:does-not-exist"])
    assert await ids(catalog, "Laternen") == []
    assert await catalog.count() == len(CATALOG) - 1
    await catalog.delete([])
    await catalog.upsert([])


async def test_values_json_does_not_know_are_stored_as_strings(engine: SearchEngine) -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    await engine.upsert([doc("zeit", name="Zeiterfassung", published_at=when, owner=uuid.UUID(int=1))])
    hit = (await engine.search(SearchQuery(q="Zeiterfassung"))).hits[0]
    assert hit.document["published_at"] == str(when)
    assert hit.document["owner"] == str(uuid.UUID(int=1))


async def test_documents_need_an_id_and_a_type(engine: SearchEngine) -> None:
    with pytest.raises(ValueError, match="id"):
        await engine.upsert([{"type": "solution", "name": "ohne id"}])
    with pytest.raises(ValueError, match="type"):
        await engine.upsert([{"id": "solution:1", "name": "ohne Typ"}])


async def test_rebuild_swaps_in_a_full_index_and_searches_never_see_an_empty_one(catalog: SearchEngine) -> None:
    replacement = [doc(f"neu-{i}", name=f"Neue Lösung {i}", summary="Frisch indiziert.") for i in range(30)]

    async def slow_source() -> AsyncIterator[dict[str, Any]]:
        for item in replacement:
            await asyncio.sleep(0.002)
            yield item

    seen_totals: list[int] = []
    done = asyncio.Event()

    async def keep_searching() -> None:
        while not done.is_set():
            seen_totals.append((await catalog.search(SearchQuery(q=""))).total)
            await asyncio.sleep(0)

    searcher = asyncio.create_task(keep_searching())
    progress: list[int] = []
    count = await catalog.rebuild(slow_source(), on_progress=progress.append)
    done.set()
    await searcher
    assert count == len(replacement)
    assert progress and progress[-1] == len(replacement)
    assert seen_totals and all(total in (len(CATALOG), len(replacement)) for total in seen_totals)
    assert await catalog.count() == len(replacement)
    assert await ids(catalog, "Formularserver") == []
    assert len(await ids(catalog, "indiziert", per_page=100)) == len(replacement)


async def test_writes_during_a_rebuild_are_not_lost(catalog: SearchEngine) -> None:
    started = asyncio.Event()

    async def source() -> AsyncIterator[dict[str, Any]]:
        yield doc("alt", name="Altbestand")
        started.set()
        await asyncio.sleep(0.05)
        yield doc("alt2", name="Altbestand zwei")

    rebuild = asyncio.create_task(catalog.rebuild(source()))
    await started.wait()
    await catalog.upsert([doc("live", name="Während des Neuaufbaus geschrieben")])
    await rebuild
    assert await ids(catalog, "Neuaufbaus") == ["solution:live"]
    assert await catalog.count() == 3


async def test_health_and_count(catalog: SearchEngine) -> None:
    await catalog.health()
    assert await catalog.count() == len(CATALOG)


async def test_suggest_completes_the_last_word(catalog: SearchEngine) -> None:
    suggestions = await catalog.suggest("Ratsinfo", limit=5)
    assert [s["id"] for s in suggestions] == ["case_study:ris"]
    assert suggestions[0]["type"] == "case_study"
    assert suggestions[0]["title"] == "Fallstudie Ratsinformationssystem"
    assert "<mark>" in suggestions[0]["highlight"]
    assert await catalog.suggest("   ") == []
    with pytest.raises(InvalidSearch):
        await catalog.suggest("x", limit=0)


# --- German: typing, typos, word forms, compounds, synonyms -------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Bürgerbeteiligung", "solution:beteiligung"),  # exact
        ("bürgerbet", "solution:beteiligung"),  # prefix of the last word, as you type
        ("Bürgerbeteilgung", "solution:beteiligung"),  # one typo
        ("Bürgerbteilgung", "solution:beteiligung"),  # two typos in a long word
        ("Buergerbeteiligung", "solution:beteiligung"),  # umlaut spelled out
        ("Burgerbeteiligung", "solution:beteiligung"),  # umlaut dropped: one edit
        ("BÜRGERBETEILIGUNG", "solution:beteiligung"),  # case
        ("Strassenbeleuchtung", "solution:licht"),  # ß → ss
        ("Laterne", "solution:licht"),  # word form (Laternen)
        ("Beteiligung", "solution:beteiligung"),  # part of a compound
        ("Parkplatz", "solution:parken"),  # Parkplatz ↔ Parkraummanagement
        ("Parkplätze", "solution:parken"),
        ("ÖPNV", "guide:nahverkehr"),  # synonym
        ("Busse und Bahnen", "guide:nahverkehr"),  # phrase synonym
        ("Partizipation Umfragen", "solution:beteiligung"),
        ("RIS", "case_study:ris"),
    ],
)
async def test_german_queries(german: SearchEngine, q: str, expected: str) -> None:
    result = await german.search(SearchQuery(q=q))
    assert result.hits, q
    assert result.hits[0].id == expected, (q, [h.id for h in result.hits])


async def test_short_words_get_no_typos(german: SearchEngine) -> None:
    assert "guide:nahverkehr" not in await ids(german, "Rauf")  # "Raum" is one edit away, but 4 letters


async def test_highlight_shows_why_a_german_query_matched(german: SearchEngine) -> None:
    result = await german.search(SearchQuery(q="Buergerbeteilgung"))
    assert "<mark>Bürgerbeteiligung</mark>" in result.hits[0].highlights["name"]
    result = await german.search(SearchQuery(q="Beteiligung"))
    assert "<mark>Bürgerbeteiligung</mark>" in result.hits[0].highlights["name"]


async def test_stop_words_do_not_hurt(german: SearchEngine) -> None:
    assert await ids(german, "die Straßenbeleuchtung") == ["solution:licht"]
    assert await ids(german, "Leitfaden für den Nahverkehr") == ["guide:nahverkehr"]


# --- embedded engine: storage --------------------------------------------------------------------------


async def test_embedded_index_persists_in_its_directory(tmp_path: Path) -> None:
    first = EmbeddedSearchEngine(tmp_path / "search")
    await first.configure(SCHEMA)
    await first.upsert(CATALOG)
    await first.close()
    second = EmbeddedSearchEngine(tmp_path / "search")
    await second.configure(SCHEMA)
    assert await second.count() == len(CATALOG)
    assert await ids(second, "Parkraummanagement") == ["solution:parken"]
    # a changed schema is applied without losing documents (as Meilisearch applies new settings)
    wider = IndexSchema(searchable=SCHEMA.searchable, filterable=[*SCHEMA.filterable, "stages"], sortable=["name"])
    await second.configure(wider)
    assert await second.count() == len(CATALOG)
    await second.rebuild([doc("eins", name="Eins")])
    await second.close()
    generations = [p.name for p in (tmp_path / "search").iterdir() if p.is_dir()]
    assert len(generations) == 1
    third = EmbeddedSearchEngine(tmp_path / "search")
    await third.configure(wider)
    assert await third.count() == 1
    await third.close()


async def test_embedded_engine_needs_configure() -> None:
    engine = EmbeddedSearchEngine()
    with pytest.raises(SearchUnavailable):
        await engine.health()
    with pytest.raises(SearchUnavailable):
        await engine.search(SearchQuery(q="x"))
    await engine.close()


async def test_embedded_known_words_are_taken_as_spelled() -> None:
    engine = EmbeddedSearchEngine()
    await engine.configure(SCHEMA)
    await engine.upsert([doc(f"d{i}", name=f"Daten Nummer {i}") for i in range(3)] + [doc("datei", name="Datei")])
    assert sorted(await ids(engine, "Daten ")) == ["solution:d0", "solution:d1", "solution:d2"]
    assert await ids(engine, "Dtaei ") == ["solution:datei"]  # unknown word: one typo (a swap) allowed
    await engine.close()


# --- the Meilisearch adapter against the protocol double ------------------------------------------------


@pytest.fixture
async def adapter(meili_double: MeilisearchProtocolDouble) -> AsyncIterator[MeilisearchEngine]:
    engine = _meili(meili_double, live=False)
    yield engine
    await _dispose(engine)


def _after(double: MeilisearchProtocolDouble, mark: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in double.requests[mark:]]


async def test_settings_are_applied_before_documents_with_an_explicit_primary_key(
    adapter: MeilisearchEngine, meili_double: MeilisearchProtocolDouble
) -> None:
    mark = len(meili_double.requests)
    await adapter.configure(SCHEMA)
    await adapter.upsert(CATALOG[:2])
    uid = adapter.index_uid
    sent = meili_double.requests[mark:]
    order = [(r.method, r.path) for r in sent if not r.path.startswith("/tasks/")]
    assert order == [
        ("GET", f"/indexes/{uid}"),
        ("POST", "/indexes"),
        ("PATCH", f"/indexes/{uid}/settings"),
        ("POST", f"/indexes/{uid}/documents"),
    ]
    create = next(r for r in sent if r.path == "/indexes")
    assert create.body == {"uid": uid, "primaryKey": "id"}
    settings = next(r for r in sent if r.path.endswith("/settings")).body
    assert settings["searchableAttributes"] == ["name", "summary", "tags", "body"]
    assert settings["filterableAttributes"] == ["sectors", "stages", "state", "type"]
    assert settings["sortableAttributes"] == ["name", "published_at", "adopters_count"]
    assert settings["rankingRules"] == ["words", "typo", "proximity", "attribute", "sort", "exactness"]
    assert settings["typoTolerance"] == {"enabled": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9}}
    assert "Nahverkehr" in settings["synonyms"]["öpnv"] and "ÖPNV" in settings["synonyms"]["nahverkehr"]
    assert "Partizipation" in settings["synonyms"]["bürgerbeteiligung"]
    assert "und" in settings["stopWords"] and "daten" not in settings["stopWords"]
    assert settings["localizedAttributes"] == [{"attributePatterns": ["*"], "locales": ["deu"]}]
    assert settings["faceting"]["maxValuesPerFacet"] >= 1000
    assert settings["pagination"]["maxTotalHits"] >= 100_000
    documents = next(r for r in sent if r.path.endswith("/documents"))
    assert documents.query == {"primaryKey": ["id"]}
    # every task was awaited
    task_uids = {int(r.path.rsplit("/", 1)[1]) for r in sent if r.path.startswith("/tasks/")}
    assert len(task_uids) == 3


async def test_a_failed_task_is_an_error(adapter: MeilisearchEngine, meili_double: MeilisearchProtocolDouble) -> None:
    await adapter.configure(SCHEMA)
    meili_double.fail_next_task(code="invalid_document_fields")
    with pytest.raises(SearchUnavailable, match="failed"):
        await adapter.upsert(CATALOG[:1])
    meili_double.fail_next_task()
    with pytest.raises(SearchUnavailable, match="failed"):
        await adapter.configure(SCHEMA)
    meili_double.fail_next_task()
    with pytest.raises(SearchUnavailable):
        await adapter.delete(["solution:beteiligung"])


async def test_search_parameters_sent(adapter: MeilisearchEngine, meili_double: MeilisearchProtocolDouble) -> None:
    await adapter.configure(SCHEMA)
    await adapter.upsert(CATALOG)
    mark = len(meili_double.requests)
    await adapter.search(
        SearchQuery(
            q="Formularserver",
            filters={"state": ["Sachsen", "Hessen"], "type": ["solution"]},
            facets=["state", "type"],
            sort=[("adopters_count", "desc"), ("name", "asc")],
            page=2,
            per_page=5,
        )
    )
    body = meili_double.requests[mark].body
    assert meili_double.requests[mark].path == f"/indexes/{adapter.index_uid}/search"
    assert body["q"] == "Formularserver"
    assert body["page"] == 2 and body["hitsPerPage"] == 5
    assert "limit" not in body and "offset" not in body  # page/hitsPerPage: exact totals
    assert body["facets"] == ["state", "type"]
    assert body["filter"] == [['state = "Sachsen"', 'state = "Hessen"'], ['type = "solution"']]
    assert body["sort"] == ["adopters_count:desc", "name:asc"]
    assert body["locales"] == ["deu"]
    assert body["matchingStrategy"] == "all"
    assert body["attributesToHighlight"] == ["name", "summary", "tags", "body"]
    assert body["highlightPreTag"] != "<mark>" and body["attributesToCrop"]


async def test_filter_values_are_quoted_and_escaped(
    adapter: MeilisearchEngine, meili_double: MeilisearchProtocolDouble
) -> None:
    nasty = 'Bayern" OR type = "solution\\'
    assert quote_filter_value(nasty) == '"Bayern\\" OR type = \\"solution\\\\"'
    expression = build_filter({"state": [nasty]})[0][0]
    assert parse_filter_expression(expression) == ("state", nasty)
    await adapter.configure(SCHEMA)
    await adapter.upsert(CATALOG)
    mark = len(meili_double.requests)
    result = await adapter.search(SearchQuery(q="", filters={"state": [nasty]}))
    assert result.total == 0
    assert meili_double.requests[mark].body["filter"] == [[expression]]


async def test_rebuild_fills_a_fresh_index_then_swaps(
    adapter: MeilisearchEngine, meili_double: MeilisearchProtocolDouble
) -> None:
    await adapter.configure(SCHEMA)
    await adapter.upsert(CATALOG)
    mark = len(meili_double.requests)
    count = await adapter.rebuild(iter([doc("neu", name="Neu")]))
    assert count == 1
    uid = adapter.index_uid
    order = [(m, p) for m, p in _after(meili_double, mark) if not p.startswith("/tasks/")]
    fresh = next(r.body["uid"] for r in meili_double.requests[mark:] if r.path == "/indexes")
    assert re.fullmatch(rf"{uid}_rebuild_\d+", fresh)
    assert order.index(("PATCH", f"/indexes/{fresh}/settings")) < order.index(("POST", f"/indexes/{fresh}/documents"))
    swap = next(r for r in meili_double.requests[mark:] if r.path == "/swap-indexes")
    assert swap.body == [{"indexes": [uid, fresh]}]
    assert order.index(("POST", "/swap-indexes")) < order.index(("DELETE", f"/indexes/{fresh}"))
    assert fresh not in meili_double.indexes
    assert await ids(adapter, "Neu") == ["solution:neu"]


async def test_a_failed_rebuild_leaves_the_live_index(
    adapter: MeilisearchEngine, meili_double: MeilisearchProtocolDouble
) -> None:
    await adapter.configure(SCHEMA)
    await adapter.upsert(CATALOG)

    def broken() -> Iterator[dict[str, Any]]:
        yield doc("neu", name="Neu")
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        await adapter.rebuild(broken())
    assert await adapter.count() == len(CATALOG)
    assert not [uid for uid in meili_double.indexes if uid.startswith(f"{adapter.index_uid}_rebuild_")]


async def test_server_errors_are_unavailable(
    adapter: MeilisearchEngine, meili_double: MeilisearchProtocolDouble
) -> None:
    await adapter.configure(SCHEMA)
    meili_double.fail_next_request(503)
    with pytest.raises(SearchUnavailable) as caught:
        await adapter.search(SearchQuery(q="x"))
    assert "told to fail" not in str(caught.value)  # no engine text in the message
    meili_double.fail_next_request(500)
    with pytest.raises(SearchUnavailable):
        await adapter.health()


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = MeilisearchEngine(f"http://127.0.0.1:{port}", index_uid="nowhere", timeout_seconds=2)
    with pytest.raises(SearchUnavailable):
        await engine.health()
    with pytest.raises(SearchUnavailable):
        await engine.configure(SCHEMA)
    await engine.close()

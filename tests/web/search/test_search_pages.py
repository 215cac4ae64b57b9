"""The search pages over HTTP: /suche over the whole hub and the lists that run on the engine
(/loesungen, /fallstudien, /leitfaeden): typos, facet counts from the engine, snippets with <mark>
and nothing else, the type filter, page numbers, bad input, and the fallback when the engine is down."""

from __future__ import annotations

import re

import httpx
import pytest

from allmende.app import Adapters
from allmende.core.search.base import SearchQuery, SearchResult, SearchUnavailable
from tests.support.web import assert_page_basics, basic_page, facet_count

LINK = r'<h3><a href="(/(?:loesungen|fallstudien|leitfaeden)/[^"]+)">'


def _links(html: str) -> list[str]:
    return re.findall(LINK, html)


def _heading(html: str) -> str:
    found = re.search(r'<h2 id="ergebnis-titel">([^<]+)</h2>', html)
    assert found
    return found.group(1)


async def _search_total(client: httpx.AsyncClient, **params: str | list[str]) -> int:
    response = await client.get("/api/v1/search", params={"per_page": 1, **params})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def test_one_search_covers_the_whole_hub_and_forgives_typos(client: httpx.AsyncClient) -> None:
    html = await basic_page(client, "/suche", params={"q": "Bürgerbeteilgung"})
    assert "<title>Suche nach „Bürgerbeteilgung“ – Suche – Allmende</title>" in html
    links = _links(html)
    assert links[0] == "/leitfaeden/buergerbeteiligung-digital-gestalten"
    assert {link.split("/")[1] for link in links} == {"loesungen", "fallstudien", "leitfaeden"}
    participation = {"dipas", "consul-democracy", "decidim", "adhocracy-plus", "meinberlin", "giess-den-kiez"}
    assert {f"/loesungen/{slug}" for slug in participation} & set(links)
    # The engine's snippets: the corrected word is marked, in titles and summaries.
    assert '<a href="/leitfaeden/buergerbeteiligung-digital-gestalten"><mark>Bürgerbeteiligung</mark> digital' in html
    # Many entries tie on the whole hub's first page; among the solutions alone DIPAS is always there.
    solutions = (await client.get("/suche", params={"q": "Bürgerbeteilgung", "typ": "loesung"})).text
    assert "/loesungen/dipas" in _links(solutions)
    assert "Digitale <mark>Bürgerbeteiligung</mark> im Netz" in solutions
    # The type filter's counts add up to the total and agree with the API.
    total = await _search_total(client, q="Bürgerbeteilgung")
    assert _heading(html) == f"{total} Treffer"
    by_type = {web: facet_count(html, "typ", web) for web in ("loesung", "fallstudie", "leitfaden")}
    assert sum(by_type.values()) == total
    assert by_type["leitfaden"] == await _search_total(client, q="Bürgerbeteilgung", type="guide")
    assert "data-suggest" in html and 'role="search"' in html


async def test_the_type_filter_narrows_and_its_counts_stay(client: httpx.AsyncClient) -> None:
    everything = await client.get("/suche", params={"q": "Bürgerbeteiligung"})
    guides = await client.get("/suche", params={"q": "Bürgerbeteiligung", "typ": "leitfaden"})
    links = _links(guides.text)
    assert links and all(link.startswith("/leitfaeden/") for link in links)
    assert re.search(r'name="typ" value="leitfaden" checked', guides.text)
    # The other types keep their numbers: a click on them adds to the selection.
    for web in ("loesung", "fallstudie", "leitfaden"):
        assert facet_count(guides.text, "typ", web) == facet_count(everything.text, "typ", web)
    both = await client.get("/suche", params=[("q", "Bürgerbeteiligung"), ("typ", "leitfaden"), ("typ", "loesung")])
    expected = facet_count(everything.text, "typ", "leitfaden") + facet_count(everything.text, "typ", "loesung")
    assert _heading(both.text) == f"{expected} Treffer"
    # A chip takes a type away again.
    assert 'href="/suche?q=B%C3%BCrgerbeteiligung&amp;typ=loesung"' in both.text
    assert "Nur Lösungen, mit allen Filtern des Katalogs" in everything.text


async def test_counts_are_over_the_current_result(client: httpx.AsyncClient) -> None:
    response = await client.get("/loesungen", params={"q": "Geodaten", "sektor": "smart-infrastructure"})
    html = response.text
    in_result = await _search_total(client, q="Geodaten", type="solution", sector="smart-infrastructure")
    assert in_result > 1 and _heading(html) == f"{in_result} Lösungen gefunden"
    # A stage's count is the number of hits with the query, the sector and that stage.
    assert facet_count(html, "stufe", "2") > 0
    for stage in "1234":
        expected = await _search_total(
            client, q="Geodaten", type="solution", sector="smart-infrastructure", stage=stage
        )
        assert facet_count(html, "stufe", stage) == expected
    # The sector's own values count without the sector filter (adding a value widens the result).
    assert facet_count(html, "sektor", "smart-infrastructure") == in_result


async def test_snippets_keep_only_the_engines_marks(client: httpx.AsyncClient, adapters: Adapters) -> None:
    hostile = {
        "id": "solution:00000000-0000-0000-0000-000000000001",
        "type": "solution",
        "slug": "parkraum-test",
        "title": 'Parkraum <script>alert("x")</script> & Co',
        "summary": "Parkraum <img src=x onerror=alert(1)> zählen",
        "body": "Ein langer Text über Parkraum <b>fett</b>.",
        "tags": [],
        "provider": "Test <i>GmbH</i>",
        "places": [],
        "stage": ["2"],
        "sector": [],
        "license_type": "unknown",
        "development_status": "unknown",
        "bundesland": [],
        "name": "parkraum",
        "adopters": 0,
        "published": 0,
    }
    await adapters.search.upsert([hostile])
    response = await client.get("/loesungen", params={"q": "Parkraum"})
    html = response.text
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>fett" not in html
    assert "<i>GmbH" not in html
    assert "<mark>Parkraum</mark> &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co</a>" in html
    assert "<mark>Parkraum</mark> &lt;img src=x onerror=alert(1)&gt; zählen" in html
    assert "Test &lt;i&gt;GmbH&lt;/i&gt;" in html
    browse = await client.get("/loesungen", params={"sort": "name", "seite": "3"})
    assert "<script>alert" not in browse.text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/suche?typ=video", "Unbekannter Wert für „Art des Inhalts“: „video“"),
        ("/suche?q=" + "Beteiligung" * 40, "Der Suchbegriff ist zu lang"),
        ("/suche?sort=verbreitung", "Unbekannte Sortierung"),
        ("/fallstudien?schritt=tanzen&land=99", "Unbekannter Wert für „Schritt zur Smart City“: „tanzen“"),
        ("/leitfaeden?stufe=7", "Unbekannter Wert für „Stufe des Stufenplans“: „7“"),
        ("/suche?q=Parken&seite=-1", "Diese Seitenzahl gibt es nicht"),
    ],
)
async def test_bad_search_input_shows_a_german_message(client: httpx.AsyncClient, url: str, message: str) -> None:
    response = await client.get(url)
    assert response.status_code == 200
    assert message in response.text
    assert '<h2 id="ergebnis-titel">' in response.text


async def test_a_huge_query_string_on_every_list(client: httpx.AsyncClient) -> None:
    params: list[tuple[str, str | int | float | bool | None]] = [("typ", f"x{i}") for i in range(300)]
    params += [("stufe", "2")] * 300 + [("q", "ü" * 5000), ("sort", "x" * 3000), ("seite", "9" * 500)]
    for path in ("/suche", "/loesungen", "/fallstudien", "/leitfaeden"):
        response = await client.get(path, params=params)
        assert response.status_code == 200, path
        assert "Der Suchbegriff ist zu lang" in response.text


async def test_case_study_list_filters_like_the_api(client: httpx.AsyncClient) -> None:
    everything = await client.get("/fallstudien")
    assert everything.status_code == 200
    assert_page_basics(everything.text)
    assert _heading(everything.text) == "50 Fallstudien gefunden"
    for legend in ("Stufe des Stufenplans", "Handlungsfeld", "Schritt zur Smart City", "Bundesland"):
        assert (
            f"<legend>{legend}</legend>" in everything.text
            or f'<legend class="visually-hidden">{legend}</legend>' in (everything.text)
        )
    for params, api in (
        ({"stufe": "3"}, {"stage": "3"}),
        ({"sektor": "smart-governance"}, {"sector": "smart-governance"}),
        ({"schritt": "datenmanagement-analyse"}, {"step": "datenmanagement-analyse"}),
        ({"land": "05"}, {"bundesland": "05"}),
    ):
        listed = await client.get("/fallstudien", params=params)
        total = (await client.get("/api/v1/case-studies", params={"limit": 1, **api})).json()["total"]
        assert re.match(rf"{total} Fallstudien? gefunden", _heading(listed.text)), params
        assert all(link.startswith("/fallstudien/") for link in _links(listed.text))
    nrw = await client.get("/fallstudien", params={"land": "05"})
    assert '<a href="/fallstudien/mpsc-solingen">' in nrw.text
    assert "Solingen</span> (Nordrhein-Westfalen)" in nrw.text


async def test_guide_list_and_its_stage_filter(client: httpx.AsyncClient) -> None:
    response = await client.get("/leitfaeden")
    assert _heading(response.text) == "12 Leitfäden gefunden"
    assert "Neuen Leitfaden schreiben" not in response.text  # only for those who may write
    stage_two = await client.get("/leitfaeden", params={"stufe": "2"})
    api = (await client.get("/api/v1/guides", params={"stage": "2"})).json()["total"]
    assert facet_count(response.text, "stufe", "2") == api
    assert len(_links(stage_two.text)) == api
    assert '<a href="/leitfaeden/open-source-beschaffen">' in stage_two.text


async def test_when_the_engine_is_down_the_lists_fall_back_to_the_database(
    client: httpx.AsyncClient, adapters: Adapters, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(query: SearchQuery) -> SearchResult:
        raise SearchUnavailable("the engine is down for this test")

    monkeypatch.setattr(adapters.search, "search", down)
    catalog = await client.get("/loesungen", params={"q": "Geo", "stufe": "2"})
    assert catalog.status_code == 200
    assert "Die Suche ist gerade nicht erreichbar" in catalog.text
    assert _links(catalog.text) and all(link.startswith("/loesungen/") for link in _links(catalog.text))
    assert '<span class="count"' not in catalog.text  # no counts without the engine
    everything = await client.get("/loesungen")
    next_link = re.search(r'<a href="([^"]+)" rel="next">Nächste Seite</a>', everything.text)
    assert next_link and "cursor=" in next_link.group(1)
    second = await client.get(next_link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and "Zur ersten Seite" in second.text
    assert not set(_links(second.text)) & set(_links(everything.text))
    hub = await client.get("/suche", params={"q": "Masterportal"})
    assert hub.status_code == 200 and "/loesungen/masterportal" in _links(hub.text)
    assert "Fallstudien und Leitfäden finden Sie in ihren Listen" in hub.text
    studies = await client.get("/fallstudien", params={"stufe": "3"})
    assert studies.status_code == 200 and "Die Suche ist gerade nicht erreichbar" in studies.text
    assert _links(studies.text)
    guides = await client.get("/leitfaeden", params={"stufe": "2"})
    assert guides.status_code == 200 and "/leitfaeden/open-source-beschaffen" in _links(guides.text)
    # The API says 503 with Retry-After; the pages never a 500.
    api = await client.get("/api/v1/search", params={"q": "Geo"})
    assert api.status_code == 503 and api.headers["retry-after"]


async def test_search_pages_in_english(client: httpx.AsyncClient) -> None:
    response = await client.get("/suche", params={"q": "Geoportal", "lang": "en"})
    html = response.text
    assert_page_basics(html, lang="en")
    assert "<h1>Search</h1>" in html and "Type of content" in html and re.search(r"\d+ results?", html)
    assert '"case_study": "Case study"' in html  # the suggestions' type names, for the script
    studies = await client.get("/fallstudien?lang=en")
    assert "50 case studies found" in studies.text


async def test_suggestions_come_from_the_search_api(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/search/suggest", params={"q": "Bürgerbet"})
    assert response.status_code == 200
    items = response.json()["items"]
    assert items and "<mark>" in items[0]["highlight"]
    assert {item["type"] for item in items} <= {"solution", "case_study", "guide"}

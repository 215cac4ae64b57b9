"""The public pages over HTTP: home, catalog (on the search engine: filters, counts, sort, page numbers,
bad input), solution, comparison, organization, 404 pages, the language switch and per-locale formatting.
The hub-wide search and the knowledge pages are in ``test_search_pages.py`` and ``test_knowledge_pages.py``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import httpx
import pytest

from allmende.app import Adapters
from allmende.core.http import PAGE_CSP
from allmende.core.search.base import InvalidSearch, SearchQuery, SearchResult
from allmende.web.kit import i18n
from tests.web.conftest import post_form


async def _api_total(client: httpx.AsyncClient, **params: str) -> int:
    response = await client.get("/api/v1/solutions", params={"limit": 1, **params})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def _assert_page_basics(html: str, lang: str = "de") -> None:
    assert f'<html lang="{lang}">' in html
    assert '<a class="skip-link" href="#inhalt">' in html
    for landmark in ("<header", "<nav", '<main id="inhalt"', "<footer"):
        assert landmark in html
    assert re.search(r"<title>[^<]+ – Allmende</title>", html)
    # The CSP forbids inline scripts and styles: every script has a src, no style attributes.
    assert " style=" not in html and "<style" not in html
    assert all('src="/static/' in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "https://" not in "".join(re.findall(r"<(?:link|script)[^>]+>", html))


def _count(html: str, param: str, value: str) -> int:
    """The number the page shows beside a filter value."""
    found = re.search(
        rf'name="{param}" value="{re.escape(value)}"[^>]*>\s*<label[^>]*>[^<]*<span class="count"[^>]*>\(([\d.]+)<',
        html,
    )
    assert found, f"no count for {param}={value}"
    return int(found.group(1).replace(".", ""))


async def test_home_starts_from_the_four_stages(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == PAGE_CSP
    html = response.text
    _assert_page_basics(html)
    assert "Wo steht Ihre Kommune?" in html
    for stage in "1234":
        assert f'<h3><a href="/stufen/{stage}">' in html  # the tiles open the stage pages
        assert f'href="/loesungen?stufe={stage}"' in html
        assert f"Stufe {stage}" in html
    assert "Kompetenzzentrum" in html  # the stage descriptions come from the vocabulary
    total = await _api_total(client)
    assert f"{total} veröffentlichte Lösungen" in html
    assert '<a href="/fallstudien">50 Fallstudien</a>' in html and '<a href="/leitfaeden">12 Leitfäden</a>' in html
    assert '<form class="search-big" role="search" method="get" action="/suche">' in html
    assert '<label for="suche">Lösungen, Fallstudien und Leitfäden durchsuchen</label>' in html
    assert "data-suggest" in html  # search as you type, for the script


async def test_catalog_lists_filters_and_counts(client: httpx.AsyncClient) -> None:
    response = await client.get("/loesungen")
    assert response.status_code == 200
    html = response.text
    _assert_page_basics(html)
    total = await _api_total(client)
    assert f"{total} Lösungen gefunden" in html
    for legend in (
        "Stufe des Stufenplans",
        "Handlungsfeld",
        "Bereich (Smart City Index)",
        "Lizenzart",
        "Betriebsform",
        "Entwicklungsstand",
        "Standards und Schnittstellen",
        "Bundesland der Nachnutzer",
    ):
        assert legend in html
    # Facet counts agree with the API's filtered totals.
    stage_two = await _api_total(client, stage="2")
    assert _count(html, "stufe", "2") == stage_two
    hamburg = await _api_total(client, bundesland="02")
    assert _count(html, "land", "02") == hamburg
    # Every control has a label.
    for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        assert f'for="{control_id}"' in html, control_id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_catalog_filters_combine_and_the_url_carries_the_state(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/loesungen", params=[("stufe", "2"), ("sektor", "smart-governance"), ("lizenz", "open-source")]
    )
    assert response.status_code == 200
    expected = await _api_total(client, stage="2", sector="smart-governance", license_type="open-source")
    assert f"{expected} Lösung" in response.text
    assert re.search(r'name="stufe" value="2" checked', response.text)
    assert re.search(r'name="sektor" value="smart-governance" checked', response.text)
    assert re.search(r'name="lizenz" value="open-source" checked', response.text)
    # Each active filter can be removed with a link that keeps the others.
    assert 'href="/loesungen?sektor=smart-governance&amp;lizenz=open-source"' in response.text
    # The counts come from the engine and predict a click: within a filter a value adds to the selection
    # (its own filter is left out of its counts), across filters it narrows.
    html = response.text
    assert _count(html, "stufe", "2") == expected
    assert _count(html, "stufe", "3") == await _api_total(
        client, stage="3", sector="smart-governance", license_type="open-source"
    )
    assert _count(html, "sektor", "smart-infrastructure") == await _api_total(
        client, stage="2", sector="smart-infrastructure", license_type="open-source"
    )
    licences = sum(_count(html, "lizenz", k) for k in ("open-source", "proprietary", "unknown"))
    assert licences == await _api_total(client, stage="2", sector="smart-governance")


async def test_licence_types_include_unconfirmed_licences(client: httpx.AsyncClient) -> None:
    page = await client.get("/loesungen")
    for key in ("open-source", "proprietary", "unknown"):
        assert _count(page.text, "lizenz", key) == await _api_total(client, license_type=key), key
    unknown = await client.get("/loesungen?lizenz=unknown")
    total = await _api_total(client, license_type="unknown")
    assert f"{total} Lösung" in unknown.text and "Lizenz nicht bestätigt" in unknown.text


async def test_a_filter_the_engine_refuses_is_dropped_with_a_message(
    client: httpx.AsyncClient, adapters: Adapters, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = adapters.search.search

    async def strict(query: SearchQuery) -> SearchResult:
        if "stage" in query.filters:
            raise InvalidSearch("no stages today", "filters.stage")
        return await original(query)

    monkeypatch.setattr(adapters.search, "search", strict)
    response = await client.get("/loesungen?stufe=2&q=Geo")
    assert response.status_code == 200
    assert "Die gewählten Filter konnten nicht angewendet werden" in response.text
    assert 'value="Geo"' in response.text
    assert 'href="/loesungen/masterportal"' in response.text


async def test_catalog_has_page_numbers_and_keeps_filters(client: httpx.AsyncClient) -> None:
    total = await _api_total(client)
    first = await client.get("/loesungen", params={"sort": "name", "stufe": "2"})
    in_stage = await _api_total(client, stage="2")
    names_first = re.findall(r'<h3><a href="/loesungen/([^"]+)">', first.text)
    assert len(names_first) == min(20, in_stage)
    next_link = re.search(r'<a href="([^"]+)" rel="next">Nächste Seite</a>', first.text)
    assert next_link is not None
    url = next_link.group(1).replace("&amp;", "&")
    assert "sort=name" in url and "stufe=2" in url and "seite=2" in url
    assert '<a href="/loesungen?sort=name&amp;stufe=2" aria-current="page"><span class="visually-hidden">Seite' in (
        first.text
    )
    second = await client.get(url)
    names_second = re.findall(r'<h3><a href="/loesungen/([^"]+)">', second.text)
    assert names_second and not set(names_first) & set(names_second)
    assert 'rel="prev">Vorherige Seite</a>' in second.text
    assert "<title>Seite 2 – Lösungskatalog – Allmende</title>" in second.text
    # All pages together are every solution once, in name order.
    everything: list[str] = []
    for number in range(1, -(-total // 20) + 1):
        listed = await client.get("/loesungen", params={"sort": "name", "seite": str(number)})
        everything += re.findall(r'<h3><a href="/loesungen/[^"]+">([^<]+)</a>', listed.text)
    assert len(everything) == total
    assert everything == sorted(everything, key=str.casefold)


async def test_catalog_sorts(client: httpx.AsyncClient) -> None:
    by_adoption = await client.get("/loesungen?sort=verbreitung")
    counts = [int(n) for n in re.findall(r"· (\d+) Nachnutzer", by_adoption.text)]
    assert counts and counts == sorted(counts, reverse=True)
    assert re.search(r'<option value="verbreitung" selected>', by_adoption.text)
    api = await client.get("/api/v1/search", params={"type": "solution", "sort": "newest", "per_page": 20})
    newest = await client.get("/loesungen?sort=neueste")
    assert re.findall(r'<h3><a href="/loesungen/([^"]+)">', newest.text) == [h["slug"] for h in api.json()["items"]]
    # With a search term the best match comes first; without one, the names are in order.
    relevant = await client.get("/loesungen?q=Masterportal")
    assert re.findall(r'<h3><a href="/loesungen/([^"]+)">', relevant.text)[0] == "masterportal"
    assert re.search(r'<option value="" selected>Relevanz</option>', relevant.text)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("stufe=99&sektor=quatsch", "Unbekannter Wert für „Stufe des Stufenplans“: „99“"),
        ("land=77", "Unbekannter Wert für „Bundesland der Nachnutzer“"),
        ("lizenz=gratis", "Unbekannter Wert für „Lizenzart“"),
        ("q=" + "Bürger" * 100, "Der Suchbegriff ist zu lang"),
        ("sort=preis", "Unbekannte Sortierung"),
        ("cursor=kaputt", "Der Verweis auf die nächste Seite war ungültig"),
        ("cursor=WyJ4Il0&sort=verbreitung", "Der Verweis auf die nächste Seite war ungültig"),
        ("seite=0", "Diese Seitenzahl gibt es nicht"),
        ("seite=zwei", "Diese Seitenzahl gibt es nicht"),
        ("seite=99999999999999999999", "Diese Seitenzahl gibt es nicht"),
        ("seite=400", "hier ist die letzte Seite"),
    ],
)
async def test_bad_catalog_input_shows_a_german_message(client: httpx.AsyncClient, query: str, message: str) -> None:
    response = await client.get(f"/loesungen?{query}")
    assert response.status_code == 200
    assert message in response.text
    assert "Lösungen gefunden" in response.text or "Lösung gefunden" in response.text


async def test_a_huge_query_string_does_not_break_the_page(client: httpx.AsyncClient) -> None:
    params: list[tuple[str, str | int | float | bool | None]] = [("standard", f"x{i}") for i in range(300)]
    response = await client.get("/loesungen", params=[*params, ("q", "ü" * 5000)])
    assert response.status_code == 200
    assert "Der Suchbegriff ist zu lang" in response.text


async def test_solution_page_shows_every_fact(client: httpx.AsyncClient) -> None:
    response = await client.get("/loesungen/masterportal")
    assert response.status_code == 200
    html = response.text
    _assert_page_basics(html)
    assert "<h1>Masterportal</h1>" in html
    for label in (
        "Lizenz",
        "Open Source",
        "Betriebsformen",
        "Hosting-Standort",
        "Auftragsverarbeitungsvertrag (AVV) nach DSGVO",
        "BSI-C5-Testat",
        "ISO-27001-Zertifizierung",
        "Geeignet bis Schutzbedarf",
        "Barrierefreiheit (BITV 2.0)",
        "Standards und Schnittstellen",
        "Preismodell",
        "Sprachen der Oberfläche",
        "Ansprechperson",
        "Status im Katalog",
        "Aktuelle Version",
        "Datum des Release",
        "Nachnutzer (5)",
    ):
        assert label in html, label
    assert "<dd>MIT" in html
    assert "Kostenfrei" in html  # pricing label from the vocabulary
    assert "Deutsch" in html  # language code rendered as a name
    assert "OGC Web Map Service" in html or "WMS" in html  # standards with labels
    assert '<span class="badge badge-unconfirmed">nicht bestätigt</span>' in html  # standards are unconfirmed
    assert 'href="/organisationen/lgv-hamburg"' in html
    assert '<th scope="row"><a href="/organisationen/hamburg">Hamburg</a></th>' in html
    assert "<td>Berlin</td>" in html  # the adopter's Bundesland
    assert "<p>Das Masterportal ist ein Werkzeugkasten" in html  # the sanitized description
    assert 'action="/vergleich/liste"' in html and "Zum Vergleich hinzufügen" in html
    assert 'name="_csrf_token"' in html


async def test_unknown_slugs_get_a_german_404_page(client: httpx.AsyncClient) -> None:
    for url in ("/loesungen/gibt-es-nicht", "/organisationen/nirgendwo"):
        response = await client.get(url)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Seite nicht gefunden" in response.text
        assert 'href="/loesungen"' in response.text
        _assert_page_basics(response.text)


async def test_unknown_urls_answer_browsers_with_a_page_and_clients_with_a_problem(client: httpx.AsyncClient) -> None:
    page = await client.get("/irgendwo/tief", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and "Seite nicht gefunden" in page.text
    problem = await client.get("/irgendwo/tief")
    assert problem.status_code == 404 and problem.headers["content-type"].startswith("application/problem+json")
    api = await client.get("/api/v1/nothing", headers={"accept": "text/html"})
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_drafts_are_not_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/loesungen/%3Cscript%3E")
    assert response.status_code == 404
    assert "<script>" not in response.text


async def test_comparison_side_by_side(client: httpx.AsyncClient) -> None:
    response = await client.get("/vergleich?l=masterportal&l=qgis")
    assert response.status_code == 200
    html = response.text
    _assert_page_basics(html)
    assert html.count('<th scope="col"><a href="/loesungen/') == 2
    for row in (
        "Lizenz",
        "Hosting-Standort",
        "Auftragsverarbeitungsvertrag (AVV) nach DSGVO",
        "BSI-C5-Testat",
        "Barrierefreiheit (BITV 2.0)",
        "Standards und Schnittstellen",
        "Preismodell",
        "Nachnutzer",
    ):
        assert f'<th scope="row">{row}</th>' in html, row
    assert "5 Organisationen" in html  # Masterportal's adopters


async def test_comparison_refuses_a_fifth(client: httpx.AsyncClient) -> None:
    slugs = ["masterportal", "qgis", "geoserver", "deegree", "mapbender"]
    response = await client.get("/vergleich", params=[("l", s) for s in slugs])
    assert response.status_code == 200
    assert "Es lassen sich höchstens 4 Lösungen vergleichen. Nicht aufgenommen: „mapbender“." in response.text
    assert response.text.count('<th scope="col"><a href="/loesungen/') == 4
    unknown = await client.get("/vergleich?l=masterportal&l=gibtsnicht&l=%22%3E%3Cb%3E")
    assert "„gibtsnicht“ gibt es nicht im Katalog" in unknown.text
    assert "<b>" not in unknown.text


async def test_the_comparison_list_lives_in_a_cookie_and_holds_four(client: httpx.AsyncClient) -> None:
    for slug in ("masterportal", "qgis", "geoserver", "deegree"):
        added = await post_form(client, "/vergleich/liste", {"l": slug, "aktion": "add", "zurueck": "/loesungen"})
        assert added.status_code == 303 and added.headers["location"] == "/loesungen"
    shown = await client.get("/loesungen")
    assert "Die Lösung steht jetzt auf Ihrer Vergleichsliste." in shown.text
    assert "Vergleich (4)" in shown.text
    assert 'href="/vergleich?l=masterportal&amp;l=qgis&amp;l=geoserver&amp;l=deegree"' in shown.text
    refused = await post_form(client, "/vergleich/liste", {"l": "mapbender", "aktion": "add"})
    assert refused.status_code == 303
    page = await client.get(refused.headers["location"])
    assert "Sie können höchstens vier Lösungen vergleichen." in page.text
    compare = await client.get("/vergleich")
    assert compare.text.count('<th scope="col"><a href="/loesungen/') == 4
    # The script asks for JSON and gets the tray's new state.
    removed = await post_form(client, "/vergleich/liste", {"l": "qgis", "aktion": "remove"})
    assert removed.status_code == 303
    again = await client.post(
        "/vergleich/liste",
        data={"l": "qgis", "aktion": "add", "_csrf_token": str(client.cookies.get("csrftoken"))},
        headers={"accept": "application/json"},
    )
    assert again.status_code == 200
    assert again.json()["count"] == 4 and again.json()["label"] == "Vergleich (4)"


async def test_forms_without_the_csrf_token_are_refused(client: httpx.AsyncClient) -> None:
    await client.get("/")
    for url, data in (("/vergleich/liste", {"l": "qgis"}), ("/anmelden", {"email": "a@b.de", "password": "x"})):
        response = await client.post(url, data=data)
        assert response.status_code == 403
        assert "Formular abgelaufen" in response.text
        assert response.headers["content-type"].startswith("text/html")
    forged = await client.post("/vergleich/liste", data={"l": "qgis", "_csrf_token": "forged"})
    assert forged.status_code == 403


async def test_organization_page_shows_uses_and_offers(client: httpx.AsyncClient) -> None:
    kiel = await client.get("/organisationen/kiel")
    assert kiel.status_code == 200
    assert "<h1>Kiel</h1>" in kiel.text
    assert "Schleswig-Holstein" in kiel.text
    assert "246.794" in kiel.text  # population, German number format
    assert 'href="/loesungen/masterportal"' in kiel.text
    vendor = await client.get("/organisationen/lgv-hamburg")
    assert "Bietet 1 Lösung an" in vendor.text or "Bietet" in vendor.text
    assert 'href="/loesungen/masterportal"' in vendor.text


async def test_language_switch_to_english_and_back(client: httpx.AsyncClient) -> None:
    german = await client.get("/loesungen?stufe=2")
    assert 'href="/loesungen?stufe=2&amp;lang=en" hreflang="en" lang="en"' in german.text
    english = await client.get("/loesungen?stufe=2&lang=en")
    assert english.status_code == 200
    _assert_page_basics(english.text, lang="en")
    assert "Solution catalog" in english.text and "Lösungskatalog" not in english.text
    assert "Obtain digital solutions easily" in english.text  # vocabulary labels in English
    assert "lang=en" in english.headers["set-cookie"]
    # The cookie keeps the language on every following page.
    follow = await client.get("/loesungen/masterportal")
    assert '<html lang="en">' in follow.text and "Add to comparison" in follow.text
    assert "unconfirmed" in follow.text
    missing = await client.get("/loesungen/nope")
    assert missing.status_code == 404 and "Page not found" in missing.text
    back = await client.get("/?lang=de")
    assert '<html lang="de">' in back.text and "Wo steht Ihre Kommune?" in back.text
    assert '<html lang="de">' in (await client.get("/loesungen")).text


async def test_numbers_and_dates_follow_the_locale(client: httpx.AsyncClient) -> None:
    english = await client.get("/organisationen/kiel?lang=en")
    assert "246,794" in english.text
    i18n.activate("de")
    assert i18n.format_day(date(2024, 6, 11)) == "11. Juni 2024"
    # Moments are shown in Berlin time, to the minute: a deadline at midnight UTC is already the next day.
    midnight_utc = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)
    assert i18n.format_moment(midnight_utc) == "01.07.2026, 00:30"
    assert i18n.format_moment(midnight_utc.replace(tzinfo=None)) == "01.07.2026, 00:30"  # naive means UTC
    i18n.activate("en")
    assert i18n.format_day(date(2024, 6, 11)) == "June 11, 2024"
    assert i18n.format_moment(midnight_utc) == "Jul 1, 2026, 12:30\u202fAM"
    i18n.activate("de")
    page = await client.get("/loesungen/masterportal?lang=de")
    today = i18n.format_day(date.today())
    assert re.search(r"Version \d+ vom \d{1,2}\. \w+ \d{4}", page.text), today


async def test_every_ui_string_has_an_english_translation() -> None:
    assert i18n.untranslated("en") == []


async def test_the_catalog_renders_well_within_its_budget(client: httpx.AsyncClient) -> None:
    """A coarse guard against pathological queries; the real budget is measured by tests/web/bench_pages.py."""
    import statistics
    import time

    samples = []
    for _ in range(6):
        started = time.perf_counter()
        assert (await client.get("/loesungen?stufe=2&sort=verbreitung")).status_code == 200
        samples.append(time.perf_counter() - started)
    assert statistics.median(samples[1:]) < 0.5

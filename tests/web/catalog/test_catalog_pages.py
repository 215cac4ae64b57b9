"""The catalog's public pages over HTTP: the catalog (on the search engine: filters, counts, sort, page
numbers, bad input), solution, comparison, organization, 404s of unknown slugs. What every page shares is in
``tests/web/kit``, the hub-wide search in ``tests/web/search``, the knowledge pages in ``tests/web/knowledge``."""

from __future__ import annotations

import re

import httpx
import pytest

from allmende.app import Adapters
from allmende.core.search.base import InvalidSearch, SearchQuery, SearchResult
from tests.support.web import api_total, assert_page_basics, basic_page, facet_count, post_form


async def test_catalog_lists_filters_and_counts(client: httpx.AsyncClient) -> None:
    html = await basic_page(client, "/loesungen")
    total = await api_total(client)
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
    stage_two = await api_total(client, stage="2")
    assert facet_count(html, "stufe", "2") == stage_two
    hamburg = await api_total(client, bundesland="02")
    assert facet_count(html, "land", "02") == hamburg
    # Every control has a label.
    for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        assert f'for="{control_id}"' in html, control_id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_catalog_filters_combine_and_the_url_carries_the_state(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/loesungen", params=[("stufe", "2"), ("sektor", "smart-governance"), ("lizenz", "open-source")]
    )
    assert response.status_code == 200
    expected = await api_total(client, stage="2", sector="smart-governance", license_type="open-source")
    assert f"{expected} Lösung" in response.text
    assert re.search(r'name="stufe" value="2" checked', response.text)
    assert re.search(r'name="sektor" value="smart-governance" checked', response.text)
    assert re.search(r'name="lizenz" value="open-source" checked', response.text)
    # Each active filter can be removed with a link that keeps the others.
    assert 'href="/loesungen?sektor=smart-governance&amp;lizenz=open-source"' in response.text
    # The counts come from the engine and predict a click: within a filter a value adds to the selection
    # (its own filter is left out of its counts), across filters it narrows.
    html = response.text
    assert facet_count(html, "stufe", "2") == expected
    assert facet_count(html, "stufe", "3") == await api_total(
        client, stage="3", sector="smart-governance", license_type="open-source"
    )
    assert facet_count(html, "sektor", "smart-infrastructure") == await api_total(
        client, stage="2", sector="smart-infrastructure", license_type="open-source"
    )
    licences = sum(facet_count(html, "lizenz", k) for k in ("open-source", "proprietary", "unknown"))
    assert licences == await api_total(client, stage="2", sector="smart-governance")


async def test_licence_types_include_unconfirmed_licences(client: httpx.AsyncClient) -> None:
    page = await client.get("/loesungen")
    for key in ("open-source", "proprietary", "unknown"):
        assert facet_count(page.text, "lizenz", key) == await api_total(client, license_type=key), key
    unknown = await client.get("/loesungen?lizenz=unknown")
    total = await api_total(client, license_type="unknown")
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
    total = await api_total(client)
    first = await client.get("/loesungen", params={"sort": "name", "stufe": "2"})
    in_stage = await api_total(client, stage="2")
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
    html = await basic_page(client, "/loesungen/masterportal")
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
        assert_page_basics(response.text)


async def test_drafts_are_not_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/loesungen/%3Cscript%3E")
    assert response.status_code == 404
    assert "<script>" not in response.text


async def test_comparison_side_by_side(client: httpx.AsyncClient) -> None:
    html = await basic_page(client, "/vergleich?l=masterportal&l=qgis")
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

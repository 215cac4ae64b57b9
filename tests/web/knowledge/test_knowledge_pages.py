"""The knowledge hub's reading pages over HTTP: a case study with every fact, a guide with its table of
contents, the Stufenplan stages, the case studies on a solution's page, and helpful 404s."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.web import assert_page_basics, basic_page


async def test_case_study_page_shows_every_fact(client: httpx.AsyncClient) -> None:
    html = await basic_page(client, "/fallstudien/mpsc-solingen")
    assert "<title>solingen.digital – Smart City Solingen – Fallstudien – Allmende</title>" in html
    assert '<h1><span lang="de">solingen.digital – Smart City Solingen</span></h1>' in html
    # Municipalities with their Bundesland, programme, cohort, period.
    assert '<a href="/organisationen/solingen">Solingen</a>, Nordrhein-Westfalen' in html
    assert "MPSC" in html and "Staffel 2019" in html and "seit 2019" in html
    # Stages, sectors and steps by their labels; stages link to the stage pages.
    assert '<a href="/stufen/2">Stufe 2: Digitale Lösungen einfach beziehen' in html
    assert "Smarte Infrastruktur" in html and "Smarte Verwaltung" in html
    assert "Planung und Strategie" in html and "Datenmanagement und Analyse" in html
    # The summary, the sanitized body with a table of contents that points at its headings.
    assert "Solingen verzahnt sein Modellprojekt" in html
    assert '<nav class="toc" aria-labelledby="toc-titel">' in html
    for anchor in ("h-ausgangslage", "h-vorgehen", "h-ergebnisse", "h-erkenntnisse"):
        assert f'href="#{anchor}"' in html and f'id="{anchor}"' in html
    # The solutions it used, its figures and its sources.
    assert '<a href="/loesungen/open-smartcity-app">' in html
    assert re.search(
        r'<th scope="row" lang="de">Bundesförderung</th>\s*<td>9\.000\.000 EUR</td>\s*<td lang="de">ca\.</td>', html
    )
    assert 'href="https://www.smart-city-dialog.de/modellprojekte/solingen"' in html
    assert "Version " in html and "veröffentlicht am" in html
    assert "nicht bestätigt" not in html  # nothing of this one is unconfirmed


async def test_unconfirmed_facts_of_a_case_study_are_marked(client: httpx.AsyncClient) -> None:
    html = (await client.get("/fallstudien/mpsc-luebeck")).text
    assert re.search(
        r'<h1><span lang="de">Modellprojekt Smart City Lübeck</span> <span class="badge badge-unconfirmed">'
        r"nicht bestätigt</span></h1>",
        html,
    )
    assert "Mit „nicht bestätigt“ markierte Angaben" in html
    assert "13.500.000 EUR" in html and "Schleswig-Holstein" in html


async def test_case_study_in_english(client: httpx.AsyncClient) -> None:
    html = (await client.get("/fallstudien/mpsc-solingen?lang=en")).text
    assert_page_basics(html, lang="en")
    assert "Case study" in html and "Cohort 2019" in html and "Key figures" in html
    assert "9,000,000 EUR" in html
    assert '<p class="lead" lang="de">Solingen verzahnt' in html  # German content keeps its language


async def test_guide_page_with_table_of_contents(client: httpx.AsyncClient) -> None:
    html = await basic_page(client, "/leitfaeden/open-source-beschaffen")
    assert '<h1 lang="de">Open-Source-Software beschaffen</h1>' in html
    assert '<a href="/stufen/2">Stufe 2: Digitale Lösungen einfach beziehen' in html
    assert "Planung und Strategie" in html and "evb-it" in html
    toc = re.search(r'<nav class="toc".*?</nav>', html, re.S)
    assert toc
    for text in ("Worum es geht", "Was eigentlich beschafft wird", "Lizenzfragen klären", "Checkliste"):
        assert text in toc.group(0)
    assert 'id="h-worum-es-geht"' in html and "<table>" in html  # the Markdown table is rendered
    assert 'href="/leitfaeden/open-source-beschaffen/versionen"' in html
    assert "/bearbeiten" not in html  # only for those who may edit


async def test_stage_page_shows_what_the_platform_holds(client: httpx.AsyncClient) -> None:
    html = await basic_page(client, "/stufen/2")
    api = (await client.get("/api/v1/stages/2")).json()
    assert "Digitale Lösungen einfach beziehen" in html
    counts = api["counts"]
    assert f"Lösungen ({counts['solutions']})" in html
    assert f"Fallstudien ({counts['case_studies']})" in html
    assert f"Leitfäden ({counts['guides']})" in html
    for item in api["solutions"]:
        assert f'href="/loesungen/{item["slug"]}"' in html
    for item in api["guides"]:
        assert f'href="/leitfaeden/{item["slug"]}"' in html
    for item in api["case_studies"]:
        assert f'href="/fallstudien/{item["slug"]}"' in html
    assert 'href="/loesungen?stufe=2"' in html and 'href="/fallstudien?stufe=2"' in html
    assert 'href="/stufen/1" rel="prev"' in html and 'href="/stufen/3" rel="next"' in html
    overview = await client.get("/stufen")
    assert overview.status_code == 200
    for n in "1234":
        assert f'href="/stufen/{n}"' in overview.text
    english = await client.get("/stufen/2?lang=en")
    assert "Obtain digital solutions easily" in english.text and "Stage 2" in english.text


async def test_a_solution_lists_the_case_studies_that_used_it(client: httpx.AsyncClient) -> None:
    html = (await client.get("/loesungen/open-smartcity-app")).text
    assert "Fallstudien (6)" in html
    for slug in ("mpsc-solingen", "mpsc-wolfsburg", "mpsc-dortmund"):
        assert f'href="/fallstudien/{slug}"' in html
    none = (await client.get("/loesungen/qgis")).text
    assert "Noch keine Fallstudie berichtet über den Einsatz dieser Lösung." in none


@pytest.mark.parametrize(
    ("url", "message", "link"),
    [
        ("/fallstudien/gibt-es-nicht", "Diese Fallstudie gibt es nicht", "/fallstudien"),
        ("/leitfaeden/gibt-es-nicht", "Diesen Leitfaden gibt es nicht", "/leitfaeden"),
        ("/leitfaeden/gibt-es-nicht/versionen", "Diesen Leitfaden gibt es nicht", "/leitfaeden"),
        ("/stufen/9", "Der Stufenplan hat die Stufen 1 bis 4. Eine Stufe 9 gibt es nicht.", "/stufen/1"),
        ("/stufen/99999999999999999999999", "Eine Stufe", "/stufen/4"),
    ],
)
async def test_unknown_knowledge_pages_get_a_helpful_404(
    client: httpx.AsyncClient, url: str, message: str, link: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert_page_basics(response.text)
    assert message in response.text
    assert f'href="{link}"' in response.text
    assert '<form class="search-big" role="search" method="get" action="/suche">' in response.text
    if "gibt-es-nicht" in url:
        assert 'value="gibt es nicht"' in response.text  # the address's words, ready to search


async def test_a_stage_that_is_no_number_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/stufen/zwei", headers={"accept": "text/html"})
    assert response.status_code == 404 and "Seite nicht gefunden" in response.text
    hostile = await client.get("/fallstudien/%3Cscript%3Ealert(1)", headers={"accept": "text/html"})
    assert hostile.status_code == 404 and "<script>alert" not in hostile.text
    assert 'value="&lt;script&gt;alert(1)"' in hostile.text

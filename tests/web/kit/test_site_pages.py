"""What every page shares, over HTTP: the home page's frame and headers, 404 pages and problems, the CSRF
check of forms, the language switch, per-locale formatting and the translations."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import httpx

from allmende.core.http import PAGE_CSP
from allmende.web.kit import i18n
from tests.support.web import api_total, assert_page_basics


async def test_home_starts_from_the_four_stages(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == PAGE_CSP
    html = response.text
    assert_page_basics(html)
    assert "Wo steht Ihre Kommune?" in html
    for stage in "1234":
        assert f'<h3><a href="/stufen/{stage}">' in html  # the tiles open the stage pages
        assert f'href="/loesungen?stufe={stage}"' in html
        assert f"Stufe {stage}" in html
    assert "Kompetenzzentrum" in html  # the stage descriptions come from the vocabulary
    total = await api_total(client)
    assert f"{total} veröffentlichte Lösungen" in html
    assert '<a href="/fallstudien">50 Fallstudien</a>' in html and '<a href="/leitfaeden">12 Leitfäden</a>' in html
    assert '<form class="search-big" role="search" method="get" action="/suche">' in html
    assert '<label for="suche">Lösungen, Fallstudien und Leitfäden durchsuchen</label>' in html
    assert "data-suggest" in html  # search as you type, for the script


async def test_unknown_urls_answer_browsers_with_a_page_and_clients_with_a_problem(client: httpx.AsyncClient) -> None:
    page = await client.get("/irgendwo/tief", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and "Seite nicht gefunden" in page.text
    problem = await client.get("/irgendwo/tief")
    assert problem.status_code == 404 and problem.headers["content-type"].startswith("application/problem+json")
    api = await client.get("/api/v1/nothing", headers={"accept": "text/html"})
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_forms_without_the_csrf_token_are_refused(client: httpx.AsyncClient) -> None:
    await client.get("/")
    for url, data in (("/vergleich/liste", {"l": "qgis"}), ("/anmelden", {"email": "a@b.de", "password": "x"})):
        response = await client.post(url, data=data)
        assert response.status_code == 403
        assert "Formular abgelaufen" in response.text
        assert response.headers["content-type"].startswith("text/html")
    forged = await client.post("/vergleich/liste", data={"l": "qgis", "_csrf_token": "forged"})
    assert forged.status_code == 403


async def test_language_switch_to_english_and_back(client: httpx.AsyncClient) -> None:
    german = await client.get("/loesungen?stufe=2")
    assert 'href="/loesungen?stufe=2&amp;lang=en" hreflang="en" lang="en"' in german.text
    english = await client.get("/loesungen?stufe=2&lang=en")
    assert english.status_code == 200
    assert_page_basics(english.text, lang="en")
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

"""Hostile numbers in the guides' URLs (issue 12, item 5): a 422 naming the parameter, or the German page
for a browser, never a 500 from the database."""

from __future__ import annotations

import httpx
import pytest

from allmende.accounts.models import PlatformRole
from allmende.core.db import Database
from tests.support.factories import csrf_headers, login, make_user, seed_vocabularies
from tests.support.hostile import HTML, HUGE, german_page, problem
from tests.support.knowledge import guide_payload
from tests.support.web import csrf


async def _guide(client: httpx.AsyncClient, database: Database) -> str:
    """A guide with one revision, and the client signed in as a moderator who may restore it."""
    await seed_vocabularies(database)
    user = await make_user(database, role=PlatformRole.moderator)
    assert (await login(client, user.email)).status_code == 201
    created = await client.post(
        "/api/v1/guides",
        headers=csrf_headers(client),
        json=guide_payload(),
    )
    assert created.status_code == 201, created.text
    return str(created.json()["slug"])


async def test_a_huge_revision_restored_in_the_browser_gets_the_german_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    slug = await _guide(client, database)
    version = (await client.get(f"/api/v1/guides/{slug}")).json()["version"]
    response = await client.post(
        f"/leitfaeden/{slug}/versionen/{HUGE}/wiederherstellen",
        data={"version": str(version)},  # the guide as read, so the number would reach the database
        headers={**HTML, **csrf_headers(client)},
    )
    german_page(response, 400)
    # The stage pages keep their helpful 404 for any number (tests/web/test_knowledge_pages.py).
    assert (await client.get(f"/stufen/{HUGE}", headers=HTML)).status_code == 404


async def test_the_diff_of_an_existing_guide_with_a_huge_from_is_a_422(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The case from the issue: the number reached the database (asyncpg: out of int32 range; SQLite: overflow)."""
    slug = await _guide(client, database)
    path = f"/api/v1/guides/{slug}"
    problem(await client.get(f"{path}/diff", params={"from": HUGE}), 422, "from")
    problem(await client.get(f"{path}/diff", params={"from": 1, "to": HUGE}), 422, "to")
    problem(await client.post(f"{path}/revisions/{HUGE}/restore", headers=csrf_headers(client)), 422, "number")
    assert (await client.get(f"{path}/diff", params={"from": 1, "to": 1})).status_code == 200


async def test_a_huge_revision_to_restore_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    await csrf(client)
    response = await client.post(f"/api/v1/guides/ein-leitfaden/revisions/{HUGE}/restore", headers=csrf_headers(client))
    problem(response, 422, "number")


@pytest.mark.parametrize("number", ["²", "٣", "9" * 5000, "99999999999"])
async def test_odd_numbers_in_page_urls_are_ignored_not_500s(
    client: httpx.AsyncClient, database: Database, number: str
) -> None:
    """``str.isdigit`` accepts superscripts, other scripts' digits and any length; the pages must not."""
    slug = await _guide(client, database)
    history = await client.get(f"/leitfaeden/{slug}/versionen", params={"von": number, "bis": "1"})
    assert history.status_code == 200, history.text[:300]
    search = await client.get("/suche", params={"q": "Leitfaden", "seite": number})
    assert search.status_code == 200

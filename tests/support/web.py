"""Helpers of the web tests: the people the pages are tried with, forms posted with the CSRF token the way
a browser posts them, checks every page must pass, and bringing the search index up to date."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from typing import Any

import httpx
from sqlmodel import select

from allmende.accounts.models import MemberRole, Organization, PlatformRole, User
from allmende.app import Adapters
from allmende.core.db import Database
from allmende.core.indexing import drain
from tests.support.factories import PASSWORD, TOTP_SECRETS, add_membership, make_organization, make_user, next_code

GUIDE: dict[str, Any] = {
    "author": "testanbieter",
    "title": "Parkraum digital bewirtschaften",
    "summary": "Wie eine Kommune freie Parkplätze sichtbar macht.",
    "stage": "2",
    "step": "infrastruktur-technologie",
    "tags": "parken, sensorik, open-data",
    "body": "## Ausgangslage\n\nViele Kommunen zählen Parkplätze noch von Hand.\n\n## Vorgehen\n\n- Sensoren\n- Daten",
    "note": "Erste Fassung",
}


@dataclass
class People:
    vendor_org: Organization
    vendor: User  # editor of vendor_org
    moderator: User
    municipality: Organization  # seeded: Kiel
    clerk: User  # member of Kiel


async def make_people(database: Database) -> People:
    vendor_org = await make_organization(database, name="Testanbieter Kommunal GmbH", slug="testanbieter")
    vendor = await make_user(database, email="anbieter@example.org")
    await add_membership(database, vendor, vendor_org, MemberRole.editor)
    moderator = await make_user(database, email="moderation@example.org", role=PlatformRole.moderator)
    async with database.unit_of_work() as session:
        kiel = (await session.exec(select(Organization).where(Organization.slug == "kiel"))).one()
    clerk = await make_user(database, email="kiel@example.org")
    await add_membership(database, clerk, kiel, MemberRole.member)
    return People(vendor_org=vendor_org, vendor=vendor, moderator=moderator, municipality=kiel, clerk=clerk)


async def reindex(adapters: Adapters) -> None:
    """What the app's drain job does after a write: bring the search index up to date."""
    await drain(adapters.database, adapters.documents, adapters.search)


async def csrf(client: httpx.AsyncClient) -> str:
    """The CSRF token a browser would put in a form: the cookie the app set on a page load."""
    if not client.cookies.get("csrftoken"):
        await client.get("/anmelden")
    return str(client.cookies.get("csrftoken"))


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict[str, Any] | list[tuple[str, str]]
) -> httpx.Response:
    pairs = list(data.items()) if isinstance(data, dict) else list(data)
    pairs.append(("_csrf_token", await csrf(client)))
    body: dict[str, list[str]] = {}
    for key, value in pairs:
        body.setdefault(key, []).extend(value if isinstance(value, list) else [str(value)])
    return await client.post(url, data=body)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in with the form; a sign-in that goes on to the second step gets its code there (or, for a
    moderator without an authenticator, sets one up with the secret the page shows). Returns the last
    answer: the redirect to where the person lands."""
    response = await post_form(client, "/anmelden", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    if response.headers["location"].startswith(SECOND_FACTOR_STEP):
        response = await give_code_on_page(client, email, response.headers["location"])
    return response


SECOND_FACTOR_STEP = "/anmelden/zweiter-faktor"


async def give_code_on_page(client: httpx.AsyncClient, email: str, step_url: str) -> httpx.Response:
    """The second step of signing in, as a person with the authenticator app does it."""
    step = await client.get(step_url)
    assert step.status_code == 200, step.text[:500]
    shown = re.search(r'<code class="secret" lang="en">([A-Z2-7 ]+)</code>', step.text)
    if shown:  # a moderator without an authenticator sets one up here
        TOTP_SECRETS[email] = shown.group(1).replace(" ", "")
    target = re.search(r'name="next" value="([^"]*)"', step.text)
    fields = {"code": await next_code(TOTP_SECRETS[email])}
    if target:
        fields["next"] = html_lib.unescape(target.group(1))
    response = await post_form(client, SECOND_FACTOR_STEP, fields)
    assert response.status_code in (200, 303), response.text[:500]
    return response


def form_version(html: str) -> str:
    """The version a form was rendered with (its hidden field), to send back with the save."""
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found, "no version field"
    return found.group(1)


async def api_total(client: httpx.AsyncClient, **params: str) -> int:
    """How many published solutions the API finds with these filters (what the pages must agree with)."""
    response = await client.get("/api/v1/solutions", params={"limit": 1, **params})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def saved_meanwhile(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, email: str, edit_url: str, form: dict[str, Any]
) -> httpx.Response:
    """The edit form is open in two browsers of the same person (``email``) and the other one saves ``form``
    first: returns my form page, whose version is now stale."""
    await sign_in(other_client, email)
    mine = await client.get(edit_url)
    theirs = await other_client.get(edit_url)
    first = await post_form(other_client, edit_url, {**form, "version": form_version(theirs.text)})
    assert first.status_code == 303
    return mine


async def basic_page(client: httpx.AsyncClient, url: str, **request: Any) -> str:
    """The HTML of a German page that must answer 200 and pass ``assert_page_basics`` (``request``: as
    ``client.get`` takes it, e.g. ``params``)."""
    response = await client.get(url, **request)
    assert response.status_code == 200, response.text[:500]
    assert_page_basics(response.text)
    return response.text


def assert_field_errors(html: str, expected: dict[str, str], *, described: bool = True) -> None:
    """Each field named in ``expected`` shows its message beside it and is marked invalid (and, when
    ``described``, points at the message with aria-describedby)."""
    for name, message in expected.items():
        error = re.search(rf'<p class="field-error" id="feld-{name}-fehler">(.*?)</p>', html)
        assert error and message in error.group(1), name
        control = re.search(rf'<(?:input|select|textarea) id="feld-{name}"[^>]*>', html)
        assert control and 'aria-invalid="true"' in control.group(0), name
        if described:
            assert f"feld-{name}-fehler" in control.group(0)


def assert_page_basics(html: str, lang: str = "de") -> None:
    assert f'<html lang="{lang}">' in html
    assert '<a class="skip-link" href="#inhalt">' in html
    for landmark in ("<header", "<nav", '<main id="inhalt"', "<footer"):
        assert landmark in html
    assert re.search(r"<title>[^<]+ – Allmende</title>", html)
    # The CSP forbids inline scripts and styles: every script has a src, no style attributes.
    assert " style=" not in html and "<style" not in html
    assert all('src="/static/' in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "https://" not in "".join(re.findall(r"<(?:link|script)[^>]+>", html))


def facet_count(html: str, param: str, value: str) -> int:
    """The number the page shows beside a filter value."""
    found = re.search(
        rf'name="{param}" value="{re.escape(value)}"[^>]*>\s*<label[^>]*>[^<]*<span class="count"[^>]*>\(([\d.]+)<',
        html,
    )
    assert found, f"no count for {param}={value}"
    return int(found.group(1).replace(".", ""))


@dataclass
class LiveServer:
    url: str
    people: People
    database_url: str  # the server's database, for test data the pages cannot make

"""Signed-in sessions through the API: every sign-in is a session the person sees (device, last use) and
ends, one or all others at once; sign-out ends its own; the second factor is announced at sign-in."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update
from sqlmodel import select

from allmende.accounts.models import User
from allmende.core.db import Database
from allmende.core.types import utcnow
from identity.models import LoginSession
from tests.support.factories import PASSWORD, csrf_headers, login, make_user


async def _browser(client: httpx.AsyncClient, email: str, agent: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=client._transport, base_url="http://testserver", headers={"user-agent": agent})
    assert (await login(http, email)).status_code == 201
    http.headers.update(csrf_headers(http))
    return http


async def test_each_sign_in_is_a_session_the_person_lists_and_ends(
    client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database)
    laptop = await _browser(client, person.email, "Firefox auf dem Laptop")
    phone = await _browser(client, person.email, "Safari auf dem Telefon")
    listed = (await laptop.get("/api/v1/auth/sessions")).json()
    assert [(s["device"], s["current"], s["method"]) for s in listed] == [
        ("Safari auf dem Telefon", False, "password"),
        ("Firefox auf dem Laptop", True, "password"),
    ]
    assert all(s["last_used_at"] and s["created_at"] for s in listed)
    ended = await laptop.delete(f"/api/v1/auth/sessions/{listed[0]['uuid']}")
    assert ended.status_code == 204
    assert (await phone.get("/api/v1/auth/me")).status_code == 401
    assert (await laptop.get("/api/v1/auth/me")).status_code == 200
    again = await laptop.delete(f"/api/v1/auth/sessions/{listed[0]['uuid']}")
    assert again.status_code == 404 and again.json()["field"] == "uuid"
    await laptop.aclose()
    await phone.aclose()


async def test_ending_all_other_sessions_keeps_this_one(client: httpx.AsyncClient, database: Database) -> None:
    person = await make_user(database)
    browsers = [await _browser(client, person.email, f"Browser {n}") for n in range(3)]
    answer = await browsers[0].delete("/api/v1/auth/sessions")
    assert answer.status_code == 200 and answer.json() == {"ended": 2}
    statuses = [(await b.get("/api/v1/auth/me")).status_code for b in browsers]
    assert statuses == [200, 401, 401]
    for browser in browsers:
        await browser.aclose()


async def test_nobody_ends_someone_elses_session(client: httpx.AsyncClient, database: Database) -> None:
    mine = await _browser(client, (await make_user(database)).email, "A")
    theirs = await _browser(client, (await make_user(database)).email, "B")
    [their_session] = (await theirs.get("/api/v1/auth/sessions")).json()
    refused = await mine.delete(f"/api/v1/auth/sessions/{their_session['uuid']}")
    assert refused.status_code == 404
    assert (await theirs.get("/api/v1/auth/me")).status_code == 200
    missing = await mine.delete(f"/api/v1/auth/sessions/{uuid.uuid4()}")
    assert missing.status_code == 404
    await mine.aclose()
    await theirs.aclose()


async def test_sign_out_ends_the_session_row(client: httpx.AsyncClient, database: Database) -> None:
    person = await make_user(database)
    browser = await _browser(client, person.email, "Kiosk")
    assert (await browser.post("/api/v1/auth/logout")).status_code == 204
    async with database.sessionmaker() as session:
        [row] = (await session.exec(select(LoginSession))).all()
    assert row.ended_at is not None
    await browser.aclose()


async def test_sign_in_says_when_the_second_factor_is_needed(client: httpx.AsyncClient, database: Database) -> None:
    person = await make_user(database)
    async with database.unit_of_work() as session:
        await session.exec(update(User).where(User.id == person.id).values(totp_enabled_at=utcnow()))  # type: ignore[arg-type]
    response = await login(client, person.email, PASSWORD, second_factor=False)
    assert response.status_code == 201 and response.json()["second_factor_required"] is True
    async with database.sessionmaker() as session:
        [row] = (await session.exec(select(LoginSession))).all()
    assert row.second_factor_at is None
    # Until the code is given, the person's own account is out of reach through this session.
    assert (await client.get("/api/v1/auth/sessions")).status_code == 403

"""Every endpoint of signing in, registration, links, sessions and the account against every kind of
caller, with the exact status of each cell, and the effect a success (and only a success) has.

Callers: anonymous, a signed-in person, an organization's API token (no person), a session still waiting
for its second factor (a person who enabled one and gave only the password), and a moderator.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import select

from allmende.accounts import services as accounts
from allmende.accounts.models import PlatformRole, TokenScope, User
from allmende.core.db import Database
from allmende.core.types import utcnow
from tests.support.factories import PASSWORD, bearer, csrf_headers, login, make_organization, make_user
from tests.support.identity import STRONG

CALLERS = ["anonymous", "person", "token", "waiting", "moderator"]
Check = Callable[[Database, str | None, bool], Awaitable[None]]


def _statuses(*codes: int) -> dict[str, int]:
    return dict(zip(CALLERS, codes, strict=True))


async def _user(database: Database, email: str | None) -> User | None:
    if email is None:
        return None
    async with database.sessionmaker() as session:
        return (await session.exec(select(User).where(User.email == email))).first()


async def _renamed(database: Database, email: str | None, ok: bool) -> None:
    user = await _user(database, email)
    if user is not None:
        assert (user.display_name == "Neuer Name") is ok


async def _deleted(database: Database, email: str | None, ok: bool) -> None:
    if email is not None:
        assert (await _user(database, email) is None) is ok  # the address is anonymised away


@dataclass
class Cell:
    name: str
    method: str
    path: str
    expected: dict[str, int]
    body: Any = None
    check: Check | None = None


CELLS = [
    Cell("me", "GET", "/api/v1/auth/me", _statuses(401, 200, 403, 200, 200)),
    Cell(
        "register",
        "POST",
        "/api/v1/auth/register",
        _statuses(202, 202, 202, 202, 202),
        body={"email": "frisch@example.org", "display_name": "Frisch", "password": STRONG},
    ),
    Cell("confirm e-mail", "POST", "/api/v1/auth/confirm-email", _statuses(*[422] * 5), body={"token": "nope"}),
    Cell(
        "password reset", "POST", "/api/v1/auth/password-reset", _statuses(*[202] * 5), body={"email": "x@example.org"}
    ),
    Cell(
        "password reset confirm",
        "POST",
        "/api/v1/auth/password-reset/confirm",
        _statuses(*[422] * 5),
        body={"token": "nope", "password": STRONG},
    ),
    Cell("sessions", "GET", "/api/v1/auth/sessions", _statuses(401, 200, 403, 403, 200)),
    Cell("end a session", "DELETE", f"/api/v1/auth/sessions/{uuid.uuid4()}", _statuses(401, 404, 403, 403, 404)),
    Cell("end other sessions", "DELETE", "/api/v1/auth/sessions", _statuses(401, 200, 403, 403, 200)),
    Cell("account", "GET", "/api/v1/auth/account", _statuses(401, 200, 403, 403, 200)),
    Cell(
        "change account",
        "PATCH",
        "/api/v1/auth/account",
        _statuses(401, 200, 403, 403, 200),
        body={"display_name": "Neuer Name"},
        check=_renamed,
    ),
    Cell(
        "change address",
        "POST",
        "/api/v1/auth/account/email",
        _statuses(401, 202, 403, 403, 202),
        body={"email": "anders@example.org", "current_password": PASSWORD},
    ),
    Cell("export", "GET", "/api/v1/auth/account/export", _statuses(401, 200, 403, 403, 200)),
    Cell(
        "delete account",
        "DELETE",
        "/api/v1/auth/account",
        _statuses(401, 204, 403, 403, 204),
        body={"current_password": PASSWORD},
        check=_deleted,
    ),
]


async def _caller(client: httpx.AsyncClient, database: Database, caller: str) -> tuple[httpx.AsyncClient, str | None]:
    await client.get("/api/v1/organizations", params={"limit": 1})  # the CSRF cookie, as a browser has it
    if caller == "anonymous":
        return client, None
    if caller == "token":
        org = await make_organization(database)
        async with database.unit_of_work() as session:
            _, plaintext = await accounts.issue_token(
                session, org, name="CI", scopes=[TokenScope.read, TokenScope.write], expires_in_days=5, created_by=None
            )
        return bearer(client, plaintext), None
    person = await make_user(database, role=PlatformRole.moderator if caller == "moderator" else None)
    if caller == "waiting":
        async with database.unit_of_work() as session:
            await session.exec(update(User).where(User.id == person.id).values(totp_enabled_at=utcnow()))  # type: ignore[arg-type]
    assert (await login(client, person.email, second_factor=caller != "waiting")).status_code == 201
    return client, person.email


# The table checks who may call what; the rules beneath run on both backends in the other identity tests.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name.replace(" ", "-"))
async def test_permission_table(client: httpx.AsyncClient, database: Database, cell: Cell, caller: str) -> None:
    http, email = await _caller(client, database, caller)
    response = await http.request(cell.method, cell.path, json=cell.body, headers=csrf_headers(client))
    expected = cell.expected[caller]
    assert response.status_code == expected, f"{cell.name} as {caller}: {response.status_code} {response.text}"
    if cell.check is not None:
        await cell.check(database, email, 200 <= expected < 300)

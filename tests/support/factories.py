"""Small factories for test data, writing through the services like the app does."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx
import pyotp
from sqlalchemy import func
from sqlmodel import select

from allmende.accounts.models import MemberRole, Membership, Organization, OrganizationKind, PlatformRole, User
from allmende.core.db import Database
from allmende.core.security import hash_password
from allmende.core.types import utcnow
from marketplace import services as catalog
from marketplace.models import Solution
from marketplace.schemas import SolutionFields

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


# Hashed once with the real hasher: argon2 is slow on purpose, and most tests need many users.
PASSWORD_HASH = hash_password(PASSWORD)


async def make_user(
    database: Database,
    *,
    email: str | None = None,
    role: PlatformRole | None = None,
    confirmed: bool = True,
    totp: bool | None = None,
) -> User:
    """A person as operators make them: confirmed (``confirmed=False``: registered, link not yet used);
    moderators and admins (or ``totp=True``) with an authenticator already set up, whose codes the
    sign-in helpers send (:func:`next_code`)."""
    secret = pyotp.random_base32() if (role is not None if totp is None else totp) else None
    async with database.unit_of_work() as session:
        user = User(
            email=email or f"user{next(_counter)}@example.org",
            display_name="Test Person",
            password_hash=PASSWORD_HASH,
            platform_role=role.value if role else None,
            email_confirmed_at=utcnow() if confirmed else None,
            totp_secret=secret,
            totp_enabled_at=utcnow() if secret else None,
        )
        session.add(user)
    if secret:
        TOTP_SECRETS[user.email] = secret
    return user


# --- the second factor ------------------------------------------------------------------------------

# The authenticator "app" of the tests: the secret of each address, as the factories or the helpers set it up.
TOTP_SECRETS: dict[str, str] = {}
# The live server's people (a database for the whole session, while the address of its moderator is made
# again in each test's own database): their secrets, kept apart when the live server starts.
LIVE_SECRETS: dict[str, str] = {}
# The last time step a helper sent a code for, per secret: the app takes a code only for a later step.
_SENT_STEPS: dict[str, int] = {}
STEP_SECONDS = 30


def _claim_step(secret: str) -> tuple[str | None, float]:
    """A code for the earliest step the app still takes (the one before the current, while it lasts five
    more seconds, the current one, the next one), or the seconds to wait for one."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    current = totp.timecode(now)
    left = STEP_SECONDS - now % STEP_SECONDS
    earliest = current - 1 if left > 5 else current
    step = max(earliest, _SENT_STEPS.get(secret, earliest - 1) + 1)
    if step > current + 1:
        return None, left + 0.1
    _SENT_STEPS[secret] = step
    return totp.generate_otp(step), 0.0


async def next_code(secret: str) -> str:
    """A code the app takes now (waiting for the next step if the helpers used up the window)."""
    while True:
        code, wait = _claim_step(secret)
        if code is not None:
            return code
        await asyncio.sleep(wait)


def live_secret(email: str) -> str:
    """The secret of a person on the live server (made there before it started, or by a browser test)."""
    return LIVE_SECRETS.get(email) or TOTP_SECRETS[email]


def next_code_sync(secret: str) -> str:
    while True:
        code, wait = _claim_step(secret)
        if code is not None:
            return code
        time.sleep(wait)


async def give_second_factor(client: httpx.AsyncClient, email: str) -> None:
    """Finish a sign-in that waits for its code: send a code, or set the authenticator up first (a moderator
    or admin without one, e.g. made by the CLI; an address of an earlier test may be known with a secret
    of that test's database, hence the question)."""
    headers = csrf_headers(client)
    secret = TOTP_SECRETS.get(email)
    if secret is None or not (await client.get("/api/v1/auth/totp")).json()["enabled"]:
        started = await client.post("/api/v1/auth/totp", headers=headers)
        assert started.status_code == 200, started.text
        secret = TOTP_SECRETS[email] = started.json()["secret"]
        confirmed = await client.post(
            "/api/v1/auth/totp/confirm", json={"code": await next_code(secret)}, headers=headers
        )
        assert confirmed.status_code == 200, confirmed.text
        return
    given = await client.post("/api/v1/auth/second-factor", json={"code": await next_code(secret)}, headers=headers)
    assert given.status_code == 200, given.text


async def make_organization(
    database: Database, *, kind: OrganizationKind = OrganizationKind.vendor, **fields: Any
) -> Organization:
    n = next(_counter)
    values: dict[str, Any] = {"name": f"Organisation {n}", "slug": f"org-{n}", "kind": kind.value}
    if kind in (OrganizationKind.municipality, OrganizationKind.county) and "ags" not in fields:
        values["ags"] = f"0911{n:04d}"[:8]
        values["bundesland"] = "09"
    values.update(fields)
    async with database.unit_of_work() as session:
        org = Organization(**values)
        session.add(org)
    return org


async def add_membership(database: Database, user: User, org: Organization, role: MemberRole) -> None:
    async with database.unit_of_work() as session:
        session.add(Membership(user_id=user.id or 0, organization_id=org.id or 0, role=role.value))


def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    token = client.cookies.get("csrftoken")
    return {"x-csrftoken": token} if token else {}


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, *, second_factor: bool = True
) -> httpx.Response:
    """Sign in like a browser would: fetch the CSRF cookie with a GET, then post with the header; a
    sign-in that waits for its second factor gets it (unless ``second_factor=False``). Returns the
    password step's response."""
    await client.get("/api/v1/organizations", params={"limit": 1})
    response = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": password}, headers=csrf_headers(client)
    )
    if response.status_code == 201 and response.json().get("second_factor_required") and second_factor:
        await give_second_factor(client, response.json()["email"])
    return response


async def make_user_in(database: Database, org: Organization, role: MemberRole) -> User:
    user = await make_user(database)
    await add_membership(database, user, org, role)
    return user


async def signed_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """A browser-like client of its own on the same app, signed in, that sends the CSRF header with every write."""
    http = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (await login(http, email, password)).status_code == 201
    http.headers.update(csrf_headers(http))
    return http


def bearer(client: httpx.AsyncClient, token: str) -> httpx.AsyncClient:
    """Another client on the same app that authenticates with an API token only."""
    return httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver", headers={"authorization": f"Bearer {token}"}
    )


async def seed_vocabularies(database: Database) -> None:
    from allmende.seeding import read_yaml
    from marketplace.seeds import load_vocabularies

    async with database.unit_of_work() as session:
        await load_vocabularies(session, read_yaml("vocabularies.yaml", "vocabularies"))


def solution_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    payload: dict[str, Any] = {
        "name": f"Beteiligungsplattform {n}",
        "summary": "Online-Bürgerbeteiligung für Bauleitplanung und Haushalt.",
        "description": "## Überblick\n\nEine Plattform für **Bürgerbeteiligung**.",
        "kind": "software",
        "license": "AGPL-3.0-or-later",
        "repository_url": "https://example.org/code",
        "development_status": "stable",
        "stages": ["2"],
        "sectors": ["smart-governance", "smart-people"],
        "areas": ["verwaltung"],
        "standards": ["oidc"],
        "hosting_options": ["on-premises", "saas"],
        "hosting_location": "de",
        "avv_available": True,
        "protection_need": "normal",
        "accessibility": "partial",
        "pricing_model": "free",
        "languages": ["de", "en"],
    }
    payload.update(overrides)
    return payload


async def published_solution(database: Database, vendor: Organization, slug: str, **overrides: Any) -> Solution:
    content = SolutionFields.model_validate(solution_payload(name=f"Lösung {slug}", **overrides)).stored()
    async with database.unit_of_work() as session:
        solution = Solution(slug=slug, provider_id=vendor.id or 0, state="published", published_at=utcnow(), **content)
        session.add(solution)
        await session.flush()
        await catalog.sync_facets(session, solution)
    return solution


async def count(database: Database, model: Any, *where: Any) -> int:
    """How many rows of ``model`` (matching ``where``) the database holds."""
    async with database.sessionmaker() as session:
        return int((await session.exec(select(func.count()).select_from(model).where(*where))).one())

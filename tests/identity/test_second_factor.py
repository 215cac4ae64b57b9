"""Two-factor login over the API: moderators cannot act as moderators until the code is given; turning
TOTP on with a first code, recovery codes (shown once, each used once), a used code refused within its
window, five wrong codes pause the account, turning off and new recovery codes, the operator's reset
(in tests/core/test_cli.py), and every endpoint against every kind of caller."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pyotp
import pytest
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, OrganizationKind, PlatformRole, TokenScope, User
from allmende.core.audit import AuditEvent
from allmende.core.db import Database
from identity.models import LoginSession, RecoveryCode
from tests.support.factories import (
    TOTP_SECRETS,
    count,
    csrf_headers,
    login,
    make_organization,
    make_user,
    make_user_in,
    next_code,
    published_solution,
    seed_vocabularies,
)

AUTH = "/api/v1/auth"


def other(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser on the same app."""
    return httpx.AsyncClient(transport=client._transport, base_url="http://testserver")


async def post(client: httpx.AsyncClient, path: str, body: Any = None) -> httpx.Response:
    return await client.post(f"{AUTH}{path}", json=body, headers=csrf_headers(client))


async def events(database: Database, action: str) -> list[AuditEvent]:
    async with database.sessionmaker() as session:
        return list(await session.exec(select(AuditEvent).where(AuditEvent.action == action)))


async def submitted_and_published(database: Database) -> None:
    await seed_vocabularies(database)
    vendor = await make_organization(database, slug="vendor")
    await published_solution(database, vendor, "published")
    await published_solution(database, vendor, "submitted")
    async with database.unit_of_work() as session:
        solution = (await session.exec(select_solution("submitted"))).one()
        solution.state = "submitted"
        session.add(solution)


def select_solution(slug: str) -> Any:
    from marketplace.models import Solution

    return select(Solution).where(Solution.slug == slug)


async def test_a_moderator_with_the_password_alone_cannot_moderate_until_the_code(
    client: httpx.AsyncClient, database: Database
) -> None:
    await submitted_and_published(database)
    moderator = await make_user(database, role=PlatformRole.moderator)

    signed_in = await login(client, moderator.email, second_factor=False)
    assert signed_in.status_code == 201
    assert signed_in.json()["second_factor_required"] is True
    assert signed_in.json()["platform_role"] is None
    me = await client.get(f"{AUTH}/me")
    assert me.json()["platform_role"] is None

    archive = await client.post("/api/v1/solutions/published/archive", headers=csrf_headers(client))
    assert archive.status_code == 403
    publish = await client.post("/api/v1/solutions/submitted/publish", headers=csrf_headers(client))
    assert publish.status_code in (403, 404)  # the queue's entries are not even visible
    async with database.sessionmaker() as session:
        assert (await session.exec(select_solution("published"))).one().state == "published"

    given = await post(client, "/second-factor", {"code": await next_code(TOTP_SECRETS[moderator.email])})
    assert given.status_code == 200, given.text
    assert given.json()["method"] == "totp"
    assert (await client.get(f"{AUTH}/me")).json()["platform_role"] == "moderator"
    published = await client.post("/api/v1/solutions/submitted/publish", headers=csrf_headers(client))
    assert published.status_code == 200, published.text
    assert len(await events(database, "user.second_factor_given")) == 1


async def test_a_waiting_session_acts_for_no_organization_either(client: httpx.AsyncClient, database: Database) -> None:
    """A person who turned the second factor on is protected by it in their organizations too."""
    vendor = await make_organization(database, kind=OrganizationKind.vendor, slug="vendor")
    owner = await make_user_in(database, vendor, MemberRole.owner)
    await enable_totp(client, owner.email)
    browser = other(client)
    assert (await login(browser, owner.email, second_factor=False)).json()["second_factor_required"] is True
    members = await browser.get("/api/v1/organizations/vendor/members")
    assert members.status_code == 403
    await post(browser, "/second-factor", {"code": await next_code(TOTP_SECRETS[owner.email])})
    assert (await browser.get("/api/v1/organizations/vendor/members")).status_code == 200


async def enable_totp(client: httpx.AsyncClient, email: str) -> list[str]:
    """Sign in (no second factor yet) and turn TOTP on; the secret goes to the tests' authenticator."""
    assert (await login(client, email)).json()["second_factor_required"] is False
    started = await post(client, "/totp")
    assert started.status_code == 200, started.text
    TOTP_SECRETS[email] = started.json()["secret"]
    confirmed = await post(client, "/totp/confirm", {"code": await next_code(TOTP_SECRETS[email])})
    assert confirmed.status_code == 200, confirmed.text
    return list(confirmed.json()["recovery_codes"])


async def test_turning_totp_on_needs_a_first_code_and_shows_ten_recovery_codes_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database)
    await login(client, person.email)
    assert (await client.get(f"{AUTH}/totp")).json() == {
        "enabled": False,
        "enabled_at": None,
        "required": False,
        "pending": False,
        "recovery_codes_left": 0,
    }
    started = await post(client, "/totp")
    assert started.status_code == 200
    secret = started.json()["secret"]
    assert started.json()["otpauth_uri"] == pyotp.TOTP(secret).provisioning_uri(
        name=person.email, issuer_name="Allmende"
    )
    assert started.json()["digits"] == 6 and started.json()["period"] == 30

    wrong = await post(
        client, "/totp/confirm", {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "code" and wrong.json()["reason"] == "wrong"
    async with database.sessionmaker() as session:
        stored = await session.get(User, person.id)
        assert stored is not None and stored.totp_enabled_at is None  # nothing half-written
    assert await count(database, RecoveryCode) == 0

    TOTP_SECRETS[person.email] = secret
    confirmed = await post(client, "/totp/confirm", {"code": await next_code(secret)})
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    async with database.sessionmaker() as session:
        hashes = [r.code_hash for r in await session.exec(select(RecoveryCode))]
    assert len(hashes) == 10 and all(h.startswith("$argon2") for h in hashes)
    assert not any(code.replace("-", "") in h for code in codes for h in hashes)
    status = (await client.get(f"{AUTH}/totp")).json()
    assert status["enabled"] is True and status["recovery_codes_left"] == 10
    assert len(await events(database, "user.totp_enabled")) == 1
    assert [e.reason for e in await events(database, "user.second_factor_failed")] == ["wrong"]

    again = await post(client, "/totp")  # on already: turn it off first
    assert again.status_code == 409


async def test_a_recovery_code_stands_in_once(client: httpx.AsyncClient, database: Database) -> None:
    person = await make_user(database)
    codes = await enable_totp(client, person.email)
    first = other(client)
    assert (await login(first, person.email, second_factor=False)).json()["second_factor_required"] is True
    used = await post(first, "/second-factor", {"code": f"  {codes[3].upper()} "})
    assert used.status_code == 200, used.text
    assert used.json() == {"method": "recovery-code", "recovery_codes_left": 9}

    second = other(client)
    await login(second, person.email, second_factor=False)
    again = await post(second, "/second-factor", {"code": codes[3]})
    assert again.status_code == 422 and again.json()["field"] == "code"
    assert len(await events(database, "user.recovery_code_used")) == 1
    async with database.sessionmaker() as session:
        waiting = list(await session.exec(select(LoginSession).where(col(LoginSession.second_factor_at).is_(None))))
    assert len(waiting) == 1  # the second browser still waits


async def test_a_used_code_is_refused_within_its_window(client: httpx.AsyncClient, database: Database) -> None:
    moderator = await make_user(database, role=PlatformRole.moderator)
    code = await next_code(TOTP_SECRETS[moderator.email])
    await login(client, moderator.email, second_factor=False)
    assert (await post(client, "/second-factor", {"code": code})).status_code == 200

    replay = other(client)
    await login(replay, moderator.email, second_factor=False)
    refused = await post(replay, "/second-factor", {"code": code})
    assert refused.status_code == 422
    assert refused.json()["field"] == "code" and refused.json()["reason"] == "reused"
    assert [e.reason for e in await events(database, "user.second_factor_failed")] == ["reused"]


async def test_two_sessions_racing_with_one_code_get_in_once(client: httpx.AsyncClient, database: Database) -> None:
    moderator = await make_user(database, role=PlatformRole.moderator)
    browsers = [other(client), other(client)]
    for browser in browsers:
        await login(browser, moderator.email, second_factor=False)
    code = await next_code(TOTP_SECRETS[moderator.email])
    answers = await asyncio.gather(*(post(browser, "/second-factor", {"code": code}) for browser in browsers))
    assert sorted(a.status_code for a in answers) == [200, 422]


async def test_five_wrong_codes_pause_the_account(client: httpx.AsyncClient, database: Database) -> None:
    moderator = await make_user(database, role=PlatformRole.moderator)
    secret = TOTP_SECRETS[moderator.email]
    current = {pyotp.TOTP(secret).at(time.time(), counter_offset=o) for o in (-2, -1, 0, 1, 2)}
    wrong = next(c for c in ("123456", "654321", "111111", "222222") if c not in current)
    await login(client, moderator.email, second_factor=False)
    for _ in range(5):
        answer = await post(client, "/second-factor", {"code": wrong})
        assert answer.status_code == 422
    paused = await post(client, "/second-factor", {"code": await next_code(secret)})
    assert paused.status_code == 429 and paused.headers["retry-after"] == "900"
    assert len(await events(database, "user.second_factor_failed")) == 5
    assert (await client.get(f"{AUTH}/me")).json()["platform_role"] is None


async def test_new_recovery_codes_and_turning_off_need_a_current_code(
    client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database)
    old_codes = await enable_totp(client, person.email)
    secret = TOTP_SECRETS[person.email]

    bad = await post(client, "/recovery-codes", {"code": "not-a-code"})
    assert bad.status_code == 422 and bad.json()["field"] == "code"
    renewed = await post(client, "/recovery-codes", {"code": await next_code(secret)})
    assert renewed.status_code == 200
    new_codes = renewed.json()["recovery_codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert len(await events(database, "user.recovery_codes_regenerated")) == 1

    refused = await client.request("DELETE", f"{AUTH}/totp", json={"code": old_codes[0]}, headers=csrf_headers(client))
    assert refused.status_code == 422  # the old codes stopped working
    assert (await client.get(f"{AUTH}/totp")).json()["enabled"] is True
    off = await client.request("DELETE", f"{AUTH}/totp", json={"code": new_codes[0]}, headers=csrf_headers(client))
    assert off.status_code == 204, off.text
    assert (await client.get(f"{AUTH}/totp")).json()["enabled"] is False
    assert await count(database, RecoveryCode) == 0
    assert len(await events(database, "user.totp_disabled")) == 1
    assert (await login(other(client), person.email, second_factor=False)).json()["second_factor_required"] is False


async def test_moderators_cannot_turn_it_off(client: httpx.AsyncClient, database: Database) -> None:
    moderator = await make_user(database, role=PlatformRole.admin)
    await login(client, moderator.email)
    answer = await client.request(
        "DELETE",
        f"{AUTH}/totp",
        json={"code": await next_code(TOTP_SECRETS[moderator.email])},
        headers=csrf_headers(client),
    )
    assert answer.status_code == 403
    assert (await client.get(f"{AUTH}/totp")).json() | {"enabled_at": None} == {
        "enabled": True,
        "enabled_at": None,
        "required": True,
        "pending": False,
        "recovery_codes_left": 0,
    }


async def test_a_moderator_without_an_authenticator_sets_it_up_to_finish_signing_in(
    client: httpx.AsyncClient, database: Database
) -> None:
    await submitted_and_published(database)
    moderator = await make_user(database, role=PlatformRole.moderator, totp=False)
    assert (await login(client, moderator.email, second_factor=False)).json()["second_factor_required"] is True
    no_code_yet = await post(client, "/second-factor", {"code": "123456"})
    assert no_code_yet.status_code == 409
    started = await post(client, "/totp")
    assert started.status_code == 200
    confirmed = await post(client, "/totp/confirm", {"code": await next_code(started.json()["secret"])})
    assert confirmed.status_code == 200 and len(confirmed.json()["recovery_codes"]) == 10
    assert (await client.post("/api/v1/solutions/submitted/publish", headers=csrf_headers(client))).status_code == 200


# --- the permission table ---------------------------------------------------------------------------

CALLERS = ["anonymous", "member", "member-totp", "moderator-waiting", "moderator", "token"]


async def _caller(client: httpx.AsyncClient, database: Database, kind: str) -> tuple[httpx.AsyncClient, str | None]:
    """A client acting as ``kind`` and the secret of its authenticator (if any)."""
    if kind == "anonymous":
        await client.get("/api/v1/organizations")
        return client, None
    if kind == "token":
        from allmende.accounts import services as accounts

        org = await make_organization(database)
        async with database.unit_of_work() as session:
            _, token = await accounts.issue_token(
                session, org, name="t", scopes=[TokenScope.write], expires_in_days=1, created_by=None
            )
        return httpx.AsyncClient(
            transport=client._transport, base_url="http://testserver", headers={"authorization": f"Bearer {token}"}
        ), None
    if kind.startswith("moderator"):
        user = await make_user(database, role=PlatformRole.moderator)
        await login(client, user.email, second_factor=kind == "moderator")
        return client, TOTP_SECRETS[user.email]
    user = await make_user(database)
    if kind == "member-totp":
        await enable_totp(client, user.email)
        return client, TOTP_SECRETS[user.email]
    await login(client, user.email)
    return client, None


TABLE = {
    # endpoint: statuses for CALLERS; a valid current code is sent where the caller has an authenticator
    ("GET", "/totp"): [401, 200, 200, 200, 200, 403],
    ("POST", "/totp"): [401, 200, 409, 409, 409, 403],
    ("POST", "/totp/confirm"): [401, 409, 409, 409, 409, 403],
    ("DELETE", "/totp"): [401, 409, 204, 403, 403, 403],
    ("POST", "/recovery-codes"): [401, 409, 200, 403, 200, 403],
    ("POST", "/second-factor"): [401, 409, 409, 200, 409, 401],
}


@pytest.mark.parametrize(("method", "path"), list(TABLE))
@pytest.mark.parametrize("kind", CALLERS)
async def test_every_endpoint_against_every_caller(
    client: httpx.AsyncClient, database: Database, kind: str, method: str, path: str
) -> None:
    caller, secret = await _caller(client, database, kind)
    body = None if method == "GET" or (path == "/totp" and method == "POST") else {"code": "000000"}
    if body is not None and secret is not None:
        body = {"code": await next_code(secret)}
    answer = await caller.request(method, f"{AUTH}{path}", json=body, headers=csrf_headers(caller))
    assert answer.status_code == TABLE[(method, path)][CALLERS.index(kind)], answer.text

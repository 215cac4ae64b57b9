"""Owners invite colleagues by e-mail with a role; the link expires after 7 days, is used once, can be
revoked, and works for people with and without an account (issue 14, item 3)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, Organization, User
from allmende.app import Adapters
from allmende.core.db import Database
from allmende.core.security import token_digest
from allmende.core.types import utcnow
from identity.models import Invitation
from tests.support.factories import PASSWORD, count, csrf_headers, make_user, make_user_in, signed_in
from tests.support.identity import audit_actions, invitation_token, town
from tests.support.jobs import queue_of
from tests.support.mail import SmtpSink, use_smtp

COLLEAGUE = "kollegin@musterstadt.de"
NEW_PASSWORD = "Laterne Fahrrad Wolkenkratzer 42"


async def _owner_of_town(client: httpx.AsyncClient, database: Database) -> tuple[Organization, httpx.AsyncClient]:
    org = await town(database)
    owner = await make_user_in(database, org, MemberRole.owner)
    return org, await signed_in(client, owner.email)


async def _invite(owner: httpx.AsyncClient, email: str = COLLEAGUE, role: str = "editor") -> httpx.Response:
    return await owner.post("/api/v1/organizations/musterstadt/invitations", json={"email": email, "role": role})


async def _mailed_token(adapters: Adapters, smtp: SmtpSink, address: str = COLLEAGUE) -> str:
    await queue_of(adapters).run_pending(wait_for_retries=True)
    return invitation_token(smtp, address)


async def _anonymous(client: httpx.AsyncClient) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await http.get("/api/v1/organizations", params={"limit": 1})
    http.headers.update(csrf_headers(http))
    return http


async def test_an_owner_invites_by_mail_and_a_person_without_account_accepts_with_name_and_password(
    client: httpx.AsyncClient, database: Database, adapters: Adapters, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    _, owner = await _owner_of_town(client, database)

    response = await _invite(owner)

    assert response.status_code == 201, response.text
    assert response.json()["email"] == COLLEAGUE and response.json()["role"] == "editor"
    assert "token" not in response.json()  # the secret goes by mail only
    token = await _mailed_token(adapters, smtp)
    assert smtp.subjects(COLLEAGUE) == ["Einladung zu Musterstadt auf Allmende"]
    async with database.sessionmaker() as session:
        stored = (await session.exec(select(Invitation))).one()
    assert stored.token_hash == token_digest(token) and token not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(days=7)

    stranger = await _anonymous(client)
    accepted = await stranger.post(
        f"/api/v1/invitations/{token}/accept", json={"name": "Erika Muster", "password": NEW_PASSWORD}
    )

    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "organization": {"slug": "musterstadt", "name": "Musterstadt", "kind": "municipality", "bundesland": "01"},
        "role": "editor",
        "email": COLLEAGUE,
        "account_created": True,
    }
    me = (await stranger.get("/api/v1/auth/me")).json()  # signed in by accepting
    assert me["email"] == COLLEAGUE and me["memberships"][0]["role"] == "editor"
    async with database.sessionmaker() as session:
        user = (await session.exec(select(User).where(User.email == COLLEAGUE))).one()
    assert user.email_confirmed_at is not None  # the link proved the address
    assert {"invitation.send", "invitation.accept", "user.create"} <= set(await audit_actions(database))

    reused = await (await _anonymous(client)).post(
        f"/api/v1/invitations/{token}/accept", json={"name": "Jemand", "password": NEW_PASSWORD}
    )
    assert reused.status_code == 410 and reused.json()["reason"] == "used" and reused.json()["field"] == "token"


async def test_a_signed_in_person_accepts_with_the_invited_address_only(
    client: httpx.AsyncClient, database: Database, adapters: Adapters, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    _, owner = await _owner_of_town(client, database)
    await make_user(database, email=COLLEAGUE)
    other = await make_user(database)
    await _invite(owner, role="member")
    token = await _mailed_token(adapters, smtp)

    wrong = await (await signed_in(client, other.email)).post(f"/api/v1/invitations/{token}/accept", json={})
    assert wrong.status_code == 403 and wrong.json()["field"] == "email"
    without_signing_in = await (await _anonymous(client)).post(
        f"/api/v1/invitations/{token}/accept", json={"name": "X", "password": NEW_PASSWORD}
    )
    assert without_signing_in.status_code == 409 and without_signing_in.json()["field"] == "email"

    right = await (await signed_in(client, COLLEAGUE)).post(f"/api/v1/invitations/{token}/accept", json={})
    assert right.status_code == 200 and right.json()["account_created"] is False
    members = (await owner.get("/api/v1/organizations/musterstadt/members")).json()
    assert {(m["email"], m["role"], m["verified"]) for m in members} >= {(COLLEAGUE, "member", True)}


async def test_an_address_that_is_a_member_already_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    org, owner = await _owner_of_town(client, database)
    member = await make_user_in(database, org, MemberRole.member)
    response = await _invite(owner, email=member.email.upper())
    assert response.status_code == 409 and response.json()["field"] == "email"
    assert await count(database, Invitation) == 0


async def test_a_second_invitation_replaces_the_first_whose_link_stops_working(
    client: httpx.AsyncClient, database: Database, adapters: Adapters, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    _, owner = await _owner_of_town(client, database)
    await _invite(owner, role="member")
    first = await _mailed_token(adapters, smtp)
    await _invite(owner, role="editor")
    second = await _mailed_token(adapters, smtp)
    assert first != second

    listed = (await owner.get("/api/v1/organizations/musterstadt/invitations")).json()
    assert [(i["email"], i["role"]) for i in listed] == [(COLLEAGUE, "editor")]
    old = await (await _anonymous(client)).post(
        f"/api/v1/invitations/{first}/accept", json={"name": "Erika", "password": NEW_PASSWORD}
    )
    assert old.status_code == 410 and old.json()["reason"] == "revoked"
    assert await count(database, User, col(User.email) == COLLEAGUE) == 0


async def test_owners_revoke_an_invitation(
    client: httpx.AsyncClient, database: Database, adapters: Adapters, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    _, owner = await _owner_of_town(client, database)
    invitation = (await _invite(owner)).json()
    token = await _mailed_token(adapters, smtp)

    revoked = await owner.delete(f"/api/v1/organizations/musterstadt/invitations/{invitation['uuid']}")

    assert revoked.status_code == 204
    assert (await owner.get("/api/v1/organizations/musterstadt/invitations")).json() == []
    response = await (await _anonymous(client)).post(
        f"/api/v1/invitations/{token}/accept", json={"name": "Erika", "password": NEW_PASSWORD}
    )
    assert response.status_code == 410 and response.json()["reason"] == "revoked"
    assert "invitation.revoke" in await audit_actions(database)


async def test_an_expired_link_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, database: Database, adapters: Adapters, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    _, owner = await _owner_of_town(client, database)
    await _invite(owner)
    token = await _mailed_token(adapters, smtp)
    async with database.unit_of_work() as session:
        await session.exec(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))

    response = await (await _anonymous(client)).post(
        f"/api/v1/invitations/{token}/accept", json={"name": "Erika", "password": NEW_PASSWORD}
    )

    assert response.status_code == 410 and response.json()["reason"] == "expired"
    assert await count(database, User, col(User.email) == COLLEAGUE) == 0


async def test_a_weak_password_or_an_unknown_link_is_refused(
    client: httpx.AsyncClient, database: Database, adapters: Adapters, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    _, owner = await _owner_of_town(client, database)
    await _invite(owner)
    token = await _mailed_token(adapters, smtp)
    stranger = await _anonymous(client)

    weak = await stranger.post(f"/api/v1/invitations/{token}/accept", json={"name": "Erika", "password": "passwort123"})
    assert weak.status_code == 422 and weak.json()["field"] == "password"
    assert await count(database, User, col(User.email) == COLLEAGUE) == 0
    unknown = await stranger.post("/api/v1/invitations/not-a-token/accept", json={"name": "E", "password": PASSWORD})
    assert unknown.status_code == 404 and unknown.json()["field"] == "token"


async def test_guessing_links_is_throttled(client: httpx.AsyncClient, database: Database) -> None:
    stranger = await _anonymous(client)
    statuses = [
        (
            await stranger.post(f"/api/v1/invitations/guess-{n}/accept", json={"name": "E", "password": PASSWORD})
        ).status_code
        for n in range(21)
    ]
    assert statuses[:20] == [404] * 20 and statuses[20] == 429


def test_the_mails_of_joining_are_translated() -> None:
    from identity.notices import CATALOG

    assert CATALOG.extracted_ids()
    assert CATALOG.untranslated("en") == []

"""The account through the API: one's own data, a new password, a new address (confirmed by the new
mailbox), notices by e-mail or not, and the DSGVO's export (Art. 15, 20) and deletion (Art. 17)."""

from __future__ import annotations

import httpx
from sqlmodel import select

from allmende.accounts.models import MemberRole, Membership, OrganizationKind, User
from allmende.core.audit import AuditEvent
from allmende.core.db import Database
from identity.models import LoginSession, OneTimeToken
from notifications import services as notifications
from notifications.models import Notification
from tests.support.factories import PASSWORD, add_membership, count, login, make_organization, make_user, signed_in
from tests.support.identity import STRONG, last_token, mails_to, post


async def test_the_person_reads_and_changes_name_language_and_mail_notices(
    client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database)
    http = await signed_in(client, person.email)
    account = (await http.get("/api/v1/auth/account")).json()
    assert account["email"] == person.email and account["mail_notices"] is True and account["language"] == "de"
    changed = await http.patch(
        "/api/v1/auth/account", json={"display_name": "Bea Neu", "language": "en", "mail_notices": False}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["display_name"], changed.json()["language"], changed.json()["mail_notices"]) == (
        "Bea Neu",
        "en",
        False,
    )
    bad = await http.patch("/api/v1/auth/account", json={"language": "fr"})
    assert bad.status_code == 422 and bad.json()["field"] == "language"
    await http.aclose()


async def test_notices_reach_the_inbox_always_and_the_mailbox_only_if_wanted(database: Database) -> None:
    wants, declines = await make_user(database), await make_user(database)
    async with database.unit_of_work() as session:
        quiet = await session.get(User, declines.id)
        assert quiet is not None
        quiet.mail_notices = False
        loud = await session.get(User, wants.id)
        assert loud is not None
        people = [notifications.recipient_of(loud), notifications.recipient_of(quiet)]
        notifications.notify(session, people, "test.kind", "Neu", "Text")
    assert await count(database, Notification) == 2
    assert len(await mails_to(database, wants.email)) == 1 and await mails_to(database, declines.email) == []


async def test_a_new_password_needs_the_current_one_and_ends_the_other_sessions(
    client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database)
    here, there = await signed_in(client, person.email), await signed_in(client, person.email)
    wrong = await here.patch("/api/v1/auth/account", json={"new_password": STRONG, "current_password": "falsch"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "current_password"
    missing = await here.patch("/api/v1/auth/account", json={"new_password": STRONG})
    assert missing.status_code == 422 and missing.json()["field"] == "current_password"
    weak = await here.patch("/api/v1/auth/account", json={"new_password": "kurz", "current_password": PASSWORD})
    assert weak.status_code == 422 and weak.json()["field"] == "new_password"
    done = await here.patch("/api/v1/auth/account", json={"new_password": STRONG, "current_password": PASSWORD})
    assert done.status_code == 200, done.text
    assert (await here.get("/api/v1/auth/me")).status_code == 200
    assert (await there.get("/api/v1/auth/me")).status_code == 401
    assert [m.kind for m in await mails_to(database, person.email)] == ["identity.password-changed"]
    assert (await login(client, person.email, STRONG)).status_code == 201
    await here.aclose()
    await there.aclose()


async def test_a_new_address_counts_once_its_mailbox_confirmed_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database, email="alt@example.org")
    taken = await make_user(database, email="vergeben@example.org")
    http = await signed_in(client, person.email)
    in_use = await http.post("/api/v1/auth/account/email", json={"email": taken.email, "current_password": PASSWORD})
    assert in_use.status_code == 422 and in_use.json()["field"] == "email"
    assert await count(database, OneTimeToken) == 0 and await mails_to(database, taken.email) == []
    wrong = await http.post("/api/v1/auth/account/email", json={"email": "neu@example.org", "current_password": "x"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "current_password"
    asked = await http.post(
        "/api/v1/auth/account/email", json={"email": "Neu@Example.org", "current_password": PASSWORD}
    )
    assert asked.status_code == 202, asked.text
    assert (await http.get("/api/v1/auth/account")).json()["email"] == "alt@example.org"  # not yet
    assert [m.kind for m in await mails_to(database, "alt@example.org")] == ["identity.address-changing"]
    token = await last_token(database, "neu@example.org", "identity.confirm-new")
    confirmed = await post(client, "/api/v1/auth/confirm-email", {"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert (await http.get("/api/v1/auth/account")).json()["email"] == "neu@example.org"
    assert (await login(client, "neu@example.org")).status_code == 201
    await http.aclose()


async def test_an_address_taken_meanwhile_is_refused_at_confirmation(
    client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database)
    http = await signed_in(client, person.email)
    await http.post("/api/v1/auth/account/email", json={"email": "umkaempft@example.org", "current_password": PASSWORD})
    await make_user(database, email="umkaempft@example.org")
    token = await last_token(database, "umkaempft@example.org", "identity.confirm-new")
    refused = await post(client, "/api/v1/auth/confirm-email", {"token": token})
    assert refused.status_code == 422 and refused.json()["field"] == "email"
    assert (await http.get("/api/v1/auth/account")).json()["email"] == person.email
    await http.aclose()


async def test_the_export_holds_what_is_stored_about_the_person(client: httpx.AsyncClient, database: Database) -> None:
    person = await make_user(database)
    org = await make_organization(database, name="Stadt Export", kind=OrganizationKind.municipality)
    await add_membership(database, person, org, MemberRole.editor)
    http = await signed_in(client, person.email)
    response = await http.get("/api/v1/auth/account/export")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    data = response.json()
    assert data["account"]["email"] == person.email
    assert data["memberships"] == [{"organization": org.slug, "organization_name": "Stadt Export", "role": "editor"}]
    assert len(data["sessions"]) == 1 and [a["action"] for a in data["activity"]] == ["user.sign_in"]
    await http.aclose()


async def test_deleting_the_account_anonymises_the_person_and_keeps_what_they_wrote(
    client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database, email="geht@example.org")
    colleague = await make_user(database)
    org = await make_organization(database)
    await add_membership(database, person, org, MemberRole.owner)
    http = await signed_in(client, person.email)

    last_owner = await http.request("DELETE", "/api/v1/auth/account", json={"current_password": PASSWORD})
    assert last_owner.status_code == 409 and last_owner.json()["organizations"] == [org.slug]
    await add_membership(database, colleague, org, MemberRole.owner)
    wrong = await http.request("DELETE", "/api/v1/auth/account", json={"current_password": "falsch"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "current_password"
    gone = await http.request("DELETE", "/api/v1/auth/account", json={"current_password": PASSWORD})
    assert gone.status_code == 204, gone.text

    async with database.sessionmaker() as session:
        row = await session.get(User, person.id)
        assert row is not None and row.deleted_at is not None and not row.is_active
        assert "geht" not in row.email and row.display_name == ""
        assert (await session.exec(select(Membership).where(Membership.user_id == person.id))).all() == []
        assert (await session.exec(select(LoginSession).where(LoginSession.user_id == person.id))).all() == []
        # What the person did stays attributed to the (anonymised) row, for the organization's records.
        actions = (await session.exec(select(AuditEvent.action).where(AuditEvent.actor_user_id == person.id))).all()
    assert "user.sign_in" in actions and "user.delete" in actions
    assert (await http.get("/api/v1/auth/me")).status_code == 401
    assert (await login(client, "geht@example.org")).status_code == 401
    assert [m.kind for m in await mails_to(database, "geht@example.org")] == ["identity.deleted"]
    # The address is free again: a new registration is a new person.
    assert (
        await post(
            client, "/api/v1/auth/register", {"email": "geht@example.org", "display_name": "Neu", "password": STRONG}
        )
    ).status_code == 202
    await http.aclose()

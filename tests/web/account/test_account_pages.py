"""The account area over HTTP: registration with the confirmation link, a forgotten password, and the
account page (name, language, notices by mail, a new address, a new password, sessions, the export and
the deletion), each refusal a German message at its field."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import update

from allmende.accounts.models import MemberRole, User
from allmende.core.db import Database
from allmende.core.types import utcnow
from tests.support.factories import PASSWORD, add_membership, make_organization, make_user
from tests.support.identity import STRONG, last_token, mails_to
from tests.support.web import People, post_form, sign_in


async def test_register_confirm_and_sign_in_in_the_browser_pages(client: httpx.AsyncClient, database: Database) -> None:
    form = await client.get("/registrieren")
    assert form.status_code == 200 and 'autocomplete="new-password"' in form.text
    weak = await post_form(
        client, "/registrieren", {"display_name": "Rita Rat", "email": "rita@example.org", "password": "passwort1234"}
    )
    assert weak.status_code == 422 and "zu leicht zu erraten" in weak.text
    assert 'value="rita@example.org"' in weak.text and "passwort1234" not in weak.text
    done = await post_form(
        client, "/registrieren", {"display_name": "Rita Rat", "email": "rita@example.org", "password": STRONG}
    )
    assert done.status_code == 200 and "Bitte sehen Sie in Ihr Postfach" in done.text
    early = await post_form(client, "/anmelden", {"email": "rita@example.org", "password": STRONG})
    assert early.status_code == 403 and "Bitte bestätigen Sie zuerst Ihre E-Mail-Adresse" in early.text

    token = await last_token(database, "rita@example.org", "identity.confirm")
    landing = await client.get(f"/email-bestaetigen?token={token}")
    assert landing.status_code == 200 and f'value="{token}"' in landing.text  # opening the link uses nothing up
    confirmed = await post_form(client, "/email-bestaetigen", {"token": token})
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/anmelden"
    assert "Ihre E-Mail-Adresse ist bestätigt" in (await client.get("/anmelden")).text
    again = await post_form(client, "/email-bestaetigen", {"token": token})
    assert again.status_code == 410 and "Dieser Link wurde bereits verwendet" in again.text
    await sign_in(client, "rita@example.org", STRONG)


async def test_a_forgotten_password_is_replaced_through_the_mailed_link(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People, database: Database
) -> None:
    await sign_in(other_client, people.clerk.email)
    known = await post_form(client, "/passwort-vergessen", {"email": people.clerk.email})
    unknown = await post_form(client, "/passwort-vergessen", {"email": "niemand@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(people.clerk.email, "X") == unknown.text.replace("niemand@example.org", "X")
    token = await last_token(database, people.clerk.email, "identity.reset")
    assert 'name="token"' in (await client.get(f"/passwort-neu?token={token}")).text
    weak = await post_form(client, "/passwort-neu", {"token": token, "password": "kurz"})
    assert weak.status_code == 422 and "mindestens 12 Zeichen" in weak.text
    done = await post_form(client, "/passwort-neu", {"token": token, "password": STRONG})
    assert done.status_code == 303 and done.headers["location"] == "/anmelden"
    assert (await other_client.get("/konto")).status_code == 303  # signed out everywhere
    gone = await post_form(client, "/passwort-neu", {"token": token, "password": STRONG})
    assert gone.status_code == 410 and "/passwort-vergessen" in gone.text
    await sign_in(client, people.clerk.email, STRONG)


async def test_the_account_page_changes_name_language_and_mail_notices(
    client: httpx.AsyncClient, people: People
) -> None:
    assert (await client.get("/konto")).headers["location"].startswith("/anmelden?next=/konto")
    await sign_in(client, people.vendor.email)
    page = await client.get("/konto", headers={"user-agent": "Testbrowser 1.0"})
    assert page.status_code == 200 and "Angemeldete Sitzungen" in page.text and "diese Sitzung" in page.text
    empty = await post_form(client, "/konto/angaben", {"display_name": "", "language": "de"})
    assert empty.status_code == 422 and "Bitte füllen Sie dieses Feld aus." in empty.text
    saved = await post_form(client, "/konto/angaben", {"display_name": "Vera Anbieter", "language": "en"})
    assert saved.status_code == 303
    after = await client.get("/konto")
    assert "Vera Anbieter" in after.text and 'value="en" selected' in after.text
    assert 'name="mail_notices" value="ja" checked' not in after.text  # unticked: notices only in the inbox


async def test_a_new_password_and_a_new_address_on_the_account_page(
    client: httpx.AsyncClient, people: People, database: Database
) -> None:
    await sign_in(client, people.vendor.email)
    wrong = await post_form(client, "/konto/passwort", {"current_password": "falsch", "new_password": STRONG})
    assert wrong.status_code == 422 and "Das aktuelle Passwort stimmt nicht." in wrong.text
    changed = await post_form(client, "/konto/passwort", {"current_password": PASSWORD, "new_password": STRONG})
    assert changed.status_code == 303
    taken = await post_form(client, "/konto/email", {"email": people.clerk.email, "email_password": STRONG})
    assert taken.status_code == 422 and "gehört bereits zu einem anderen Konto" in taken.text
    asked = await post_form(client, "/konto/email", {"email": "vera.neu@example.org", "email_password": STRONG})
    assert asked.status_code == 303
    token = await last_token(database, "vera.neu@example.org", "identity.confirm-new")
    confirmed = await post_form(client, "/email-bestaetigen", {"token": token})
    assert confirmed.headers["location"] == "/konto"
    assert "vera.neu@example.org" in (await client.get("/konto")).text


async def test_sessions_the_export_and_deleting_the_account(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database, email="weg@example.org")
    org = await make_organization(database, name="Einzelinhaber GmbH")
    await add_membership(database, person, org, MemberRole.owner)
    await sign_in(client, person.email)
    await sign_in(other_client, person.email)
    ended = await post_form(client, "/konto/sitzungen/andere-beenden", {})
    assert ended.status_code == 303 and (await other_client.get("/konto")).status_code == 303

    export = await client.get("/konto/daten")
    assert export.headers["content-disposition"].startswith("attachment")
    assert json.loads(export.text)["account"]["email"] == person.email

    page = await client.get("/konto")
    assert "Einzelinhaber GmbH" in page.text  # the warning before deletion
    refused = await post_form(client, "/konto/loeschen", {"delete_password": PASSWORD})
    assert refused.status_code == 409 and "Machen Sie zuerst jemand anderen" in refused.text
    colleague = await make_user(database)
    await add_membership(database, colleague, org, MemberRole.owner)
    wrong = await post_form(client, "/konto/loeschen", {"delete_password": "falsch"})
    assert wrong.status_code == 422 and "Das aktuelle Passwort stimmt nicht." in wrong.text
    gone = await post_form(client, "/konto/loeschen", {"delete_password": PASSWORD})
    assert gone.status_code == 303 and gone.headers["location"] == "/"
    assert "Ihr Konto wurde gelöscht." in (await client.get("/")).text
    again = await post_form(client, "/anmelden", {"email": person.email, "password": PASSWORD})
    assert again.status_code == 401
    assert [m.kind for m in await mails_to(database, person.email)] == ["identity.deleted"]


async def test_a_person_with_a_second_factor_is_sent_to_give_it(client: httpx.AsyncClient, database: Database) -> None:
    person = await make_user(database)
    async with database.unit_of_work() as session:
        await session.exec(update(User).where(User.id == person.id).values(totp_enabled_at=utcnow()))  # type: ignore[arg-type]
    answer = await post_form(client, "/anmelden", {"email": person.email, "password": PASSWORD, "next": "/konto"})
    assert answer.status_code == 303 and answer.headers["location"] == "/anmelden/zweiter-faktor?next=/konto"
    waiting = await client.get("/konto")
    assert waiting.status_code == 403 and "zweiten Faktor" in waiting.text

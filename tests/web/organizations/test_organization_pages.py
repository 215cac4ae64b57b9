"""The pages of joining an organization: the claim (a public body from the register or a new vendor), the
moderators' claim queue, the members page with invitations, and accepting an invitation from its mail."""

from __future__ import annotations

import httpx

from allmende.accounts.models import MemberRole, PlatformRole
from allmende.app import Adapters
from allmende.core.db import Database
from tests.support.factories import make_user, make_user_in
from tests.support.identity import invitation_token, town
from tests.support.jobs import queue_of
from tests.support.mail import SmtpSink, use_smtp
from tests.support.web import assert_field_errors, basic_page, post_form, sign_in

NEW_PASSWORD = "Laterne Fahrrad Wolkenkratzer 42"


def _browser(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=client._transport, base_url="http://testserver")


async def test_a_person_finds_their_municipality_by_name_and_asks_for_access(
    client: httpx.AsyncClient, database: Database
) -> None:
    await town(database)
    await make_user(database, email="amt@musterstadt.de")
    await sign_in(client, "amt@musterstadt.de")

    html = await basic_page(client, "/beitreten", params={"q": "muster"})
    assert "Musterstadt (Kommune, AGS 01058077" in html
    assert (await basic_page(client, "/beitreten", params={"q": "01058077"})).count('name="organization"') == 1

    response = await post_form(client, "/beitreten/stelle", {"organization": "musterstadt", "statement": "IT"})

    assert response.status_code == 303 and response.headers["location"] == "/beitreten"
    html = await basic_page(client, "/beitreten")
    assert "Ihr Antrag ist gestellt." in html
    assert "Wartet auf Prüfung: Sie können Entwürfe vorbereiten" in html


async def test_a_second_claim_for_the_same_body_gets_a_german_message(
    client: httpx.AsyncClient, database: Database
) -> None:
    await town(database)
    await make_user(database, email="a@example.org")
    await make_user(database, email="b@example.org")
    await sign_in(client, "a@example.org")
    await post_form(client, "/beitreten/stelle", {"organization": "musterstadt"})
    other = _browser(client)
    await sign_in(other, "b@example.org")

    response = await post_form(other, "/beitreten/stelle", {"organization": "musterstadt", "q": "muster"})

    assert response.status_code == 422
    assert "wartet bereits ein Antrag" in response.text
    assert 'id="feld-organization-fehler"' in response.text


async def test_the_vendor_form_names_what_is_missing(client: httpx.AsyncClient, database: Database) -> None:
    await make_user(database, email="v@example.org")
    await sign_in(client, "v@example.org")

    response = await post_form(client, "/beitreten/anbieter", {"name": "Neu GmbH", "website": "kein-link"})

    assert response.status_code == 422
    assert_field_errors(response.text, {"address": "Anschrift", "website": "vollständige Adresse"})
    ok = await post_form(client, "/beitreten/anbieter", {"name": "Neu GmbH", "address": "Hauptstraße 1, 24103 Kiel"})
    assert ok.status_code == 303


async def test_moderators_decide_claims_in_their_queue(client: httpx.AsyncClient, database: Database) -> None:
    await town(database)
    await make_user(database, email="amt@musterstadt.de")
    moderator = await make_user(database, role=PlatformRole.moderator)
    claimant = _browser(client)
    await sign_in(claimant, "amt@musterstadt.de")
    await post_form(claimant, "/beitreten/stelle", {"organization": "musterstadt", "statement": "Bürgeramt"})
    await sign_in(client, moderator.email)

    html = await basic_page(client, "/moderation")
    assert "1 Antrag wartet auf Prüfung." in html and "Bürgeramt" in html
    claim = html.split("/moderation/antraege/")[1].split("/")[0]
    without_note = await post_form(client, f"/moderation/antraege/{claim}/bestaetigen", {"evidence": "manual-check"})
    assert without_note.status_code == 422 and "wie Sie geprüft haben" in without_note.text

    done = await post_form(
        client, f"/moderation/antraege/{claim}/bestaetigen", {"evidence": "manual-check", "note": "Rückruf Rathaus"}
    )

    assert done.status_code == 303
    assert "Keine Anträge offen." in await basic_page(client, "/moderation")
    assert "Inhaber/in" in await basic_page(claimant, "/organisationen/musterstadt/mitglieder")


async def test_an_owner_invites_and_the_colleague_registers_through_the_link(
    client: httpx.AsyncClient, database: Database, adapters: Adapters, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    org = await town(database)
    owner = await make_user_in(database, org, MemberRole.owner)
    await sign_in(client, owner.email)

    invited = await post_form(
        client, "/organisationen/musterstadt/mitglieder/einladen", {"email": "neu@musterstadt.de", "role": "editor"}
    )
    assert invited.status_code == 303
    html = await basic_page(client, "/organisationen/musterstadt/mitglieder")
    assert "neu@musterstadt.de" in html and "Die Einladung ist per E-Mail unterwegs." in html
    await queue_of(adapters).run_pending(wait_for_retries=True)
    link = f"/einladung/{invitation_token(smtp, 'neu@musterstadt.de')}"

    colleague = _browser(client)
    assert "Konto anlegen und Einladung annehmen" in await basic_page(colleague, link)
    weak = await post_form(colleague, link, {"name": "Erika Muster", "password": "passwort1234"})
    assert weak.status_code == 422
    assert_field_errors(weak.text, {"password": "zu leicht zu erraten"})

    accepted = await post_form(colleague, link, {"name": "Erika Muster", "password": NEW_PASSWORD})

    assert accepted.status_code == 303 and accepted.headers["location"] == "/organisationen/musterstadt/mitglieder"
    members = await basic_page(colleague, "/organisationen/musterstadt/mitglieder")
    assert "Willkommen!" in members and "Erika Muster" in members
    used = await _browser(client).get(link)
    assert used.status_code == 410 and "bereits angenommen" in used.text


async def test_the_last_owner_is_told_to_name_another_owner_first(
    client: httpx.AsyncClient, database: Database
) -> None:
    org = await town(database)
    owner = await make_user_in(database, org, MemberRole.owner)
    await sign_in(client, owner.email)

    response = await post_form(client, "/organisationen/musterstadt/mitglieder/entfernen", {"email": owner.email})

    assert response.status_code == 303
    assert "mindestens eine Inhaberin oder einen Inhaber" in await basic_page(
        client, "/organisationen/musterstadt/mitglieder"
    )


async def test_the_members_page_of_a_foreign_organization_is_not_found(
    client: httpx.AsyncClient, database: Database
) -> None:
    await town(database)
    await make_user(database, email="x@example.org")
    await sign_in(client, "x@example.org")
    response = await client.get("/organisationen/musterstadt/mitglieder")
    assert response.status_code == 404
    unknown = await _browser(client).get("/einladung/nichts")
    assert unknown.status_code == 404 and "nicht gültig" in unknown.text

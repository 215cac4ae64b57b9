"""Offer requests in the web (issue 7) over HTTP: a municipality asks in German forms, a neighbour joins, the
vendor answers and revises in the offer form, the deadline job closes, the comparison, the decision and each
participant's acceptance; bad input kept and explained in German with nothing written; who sees what."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, Organization, OrganizationKind, PlatformRole, User
from allmende.app import Adapters
from allmende.core.db import Database
from allmende.core.types import utcnow
from offer_requests.models import Offer, OfferMessage, OfferRequest, OfferRequestParticipant, OfferRevision
from tests.support.factories import add_membership, count, make_organization, make_user, published_solution
from tests.support.jobs import run_job
from tests.support.offers import set_deadline
from tests.support.web import People, post_form, sign_in


@dataclass
class World:
    people: People
    solution: str
    luebeck: Organization
    neighbour: User  # member of Lübeck
    requester: httpx.AsyncClient  # Kiel's clerk
    joiner: httpx.AsyncClient  # Lübeck's clerk
    vendor: httpx.AsyncClient  # the vendor's editor


def in_days(days: int) -> str:
    return (utcnow() + timedelta(days=days)).date().isoformat()


def request_form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "organization": "kiel",
        "title": "Mängelmelder für zwei Städte",
        "need": "## Bedarf\n\nMeldungen aus der **Bürgerschaft** mit Foto und Ort.",
        "addressing": "solution",
        "solution": "web-maengel",
        "inhabitants": "250.000",
        "users": "30",
        "sites": "",
        "deadline": in_days(14),
        "deadline_time": "12:00",
        "desired_start": in_days(60),
        "budget_min": "10.000",
        "budget_max": "40.000,50",
        "procurement_notes": "Direktauftrag unterhalb der Wertgrenze.",
        "danach": "versenden",
    }
    form.update(overrides)
    return form


async def _client_for(client: httpx.AsyncClient, user: User) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await sign_in(http, user.email)
    return http


@pytest.fixture
async def world(client: httpx.AsyncClient, database: Database, people: People) -> World:
    await published_solution(database, people.vendor_org, "web-maengel")
    async with database.unit_of_work() as session:
        luebeck = (await session.exec(select(Organization).where(Organization.slug == "luebeck"))).one()
    neighbour = await make_user(database, email="luebeck@example.org")
    await add_membership(database, neighbour, luebeck, MemberRole.member)
    return World(
        people=people,
        solution="web-maengel",
        luebeck=luebeck,
        neighbour=neighbour,
        requester=await _client_for(client, people.clerk),
        joiner=await _client_for(client, neighbour),
        vendor=await _client_for(client, people.vendor),
    )


def _rid(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:3000]
    found = re.fullmatch(r"/anfragen/([0-9a-f-]{36})", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def offer_form(html: str, shares: dict[str, str], **overrides: Any) -> list[tuple[str, str]]:
    """The offer form as a vendor fills it: hidden fields from the page, three price items, a share each."""
    pairs = [(name, _hidden(html, name)) for name in ("bundle_version", "offer_version", "vendor")]
    items = overrides.pop(
        "items",
        [("Einrichtung", "one_off", "8.000"), ("Betrieb", "recurring_yearly", "12.000,00"), ("", "one_off", "")],
    )
    for label, kind, amount in items:
        pairs += [("item_label", label), ("item_kind", kind), ("item_amount", amount)]
    pairs += [(f"share_{slug}", amount) for slug, amount in shares.items()]
    fields = {
        "service_level": "Reaktionszeit 4 Stunden werktags",
        "hosting_location": "de",
        "valid_until": in_days(120),
        "notes": "Preise **netto**.",
    }
    fields.update(overrides)
    return pairs + list(fields.items())


async def _open_request(world: World, **overrides: Any) -> str:
    return _rid(await post_form(world.requester, "/anfragen/neu", request_form(**overrides)))


async def _offer(world: World, rid: str, shares: dict[str, str], **overrides: Any) -> httpx.Response:
    page = await world.vendor.get(f"/anfragen/{rid}/angebot")
    assert page.status_code == 200, page.text[:2000]
    return await post_form(world.vendor, f"/anfragen/{rid}/angebot", offer_form(page.text, shares, **overrides))


# --- the whole story ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_the_whole_story_in_the_web(world: World, adapters: Adapters, database: Database) -> None:
    # Kiel asks for an offer for a published solution and sends it at once.
    rid = await _open_request(world)
    page = await world.requester.get(f"/anfragen/{rid}")
    assert "Die Anfrage ist versandt." in page.text
    assert "Offen für Angebote" in page.text and "Mängelmelder für zwei Städte" in page.text
    assert "<strong>Bürgerschaft</strong>" in page.text  # the need is rendered Markdown
    assert "10.000,00\xa0€" in page.text and "40.000,50\xa0€" in page.text
    assert "Testanbieter Kommunal GmbH" in page.text  # the addressed vendor, shown to participants

    # Lübeck finds it among the requests it could join and joins with its own quantities.
    listing = await world.joiner.get("/anfragen?ansicht=beitreten")
    assert f"/anfragen/{rid}" in listing.text
    join_page = await world.joiner.get(f"/anfragen/{rid}")
    assert "Mitmachen" in join_page.text and "Budget" not in join_page.text  # prospects see no budget
    joined = await post_form(
        world.joiner, f"/anfragen/{rid}/beteiligung", {"organization": "luebeck", "inhabitants": "220.000"}
    )
    assert joined.status_code == 303 and joined.headers["location"] == f"/anfragen/{rid}#buendel"
    bundle = (await world.joiner.get(f"/anfragen/{rid}")).text
    assert "Ihre Stelle macht jetzt bei dieser Anfrage mit." in bundle
    assert "470.000" in bundle  # 250.000 + 220.000, the bundled demand
    assert "Gebündelter Bedarf (2 Stellen)" in bundle

    # The vendor sees the request, answers in the form, then revises once.
    assert f"/anfragen/{rid}" in (await world.vendor.get("/anfragen?ansicht=anbieter")).text
    first = await _offer(world, rid, {"kiel": "20.000", "luebeck": "18.000"})
    assert first.status_code == 303, first.text[:3000]
    assert first.headers["location"] == f"/anfragen/{rid}#angebote"
    form_again = (await world.vendor.get(f"/anfragen/{rid}/angebot")).text
    assert 'value="8000"' in form_again and 'name="offer_version" value="1"' in form_again  # starts from revision 1
    second = await _offer(world, rid, {"kiel": "19.000", "luebeck": "17.500,50"})
    assert second.status_code == 303, second.text[:3000]
    vendor_view = (await world.vendor.get(f"/anfragen/{rid}")).text
    assert "Fassung 2" in vendor_view and "36.500,50\xa0€" in vendor_view
    async with database.sessionmaker() as session:
        revisions = list(await session.exec(select(OfferRevision).order_by(col(OfferRevision.revision))))
    assert [(r.revision, r.total_cents) for r in revisions] == [(1, 3_800_000), (2, 3_650_050)]

    # Before the deadline the participants know an offer arrived, not what it says.
    sealed = (await world.requester.get(f"/anfragen/{rid}")).text
    assert "1 Angebot ist eingegangen." in sealed and "36.500,50" not in sealed
    assert (await world.requester.get(f"/anfragen/{rid}/angebote/{_offer_uuid(vendor_view)}")).status_code == 403

    # The deadline passes; the job closes the request; both towns see the offer's totals side by side.
    await set_deadline(database, rid, utcnow() - timedelta(seconds=1))
    await run_job(adapters, "offers.close_due", utcnow())
    for http in (world.requester, world.joiner):
        compared = (await http.get(f"/anfragen/{rid}")).text
        assert "Frist abgelaufen" in compared
        assert "Die Angebote nebeneinander" in compared, compared[compared.find("<main") :]
        assert "36.500,50\xa0€" in compared
    assert "17.500,50\xa0€" in (await world.joiner.get(f"/anfragen/{rid}")).text  # Lübeck's own share
    history = await world.joiner.get(f"/anfragen/{rid}/angebote/{_offer_uuid(vendor_view)}")
    assert history.status_code == 200 and "Fassung 1 vom" in history.text and "Fassung 2 vom" in history.text

    # Kiel prefers the offer; Lübeck accepts for itself.
    decision_form = (await world.requester.get(f"/anfragen/{rid}")).text
    assert "Entscheidung speichern" in decision_form
    assert "Entscheidung speichern" not in compared  # only the requester decides
    decided = await post_form(
        world.requester,
        f"/anfragen/{rid}/entscheidung",
        {"angebot": _offer_uuid(vendor_view), "begruendung": "Bestes Verhältnis von Preis und Leistung."},
    )
    assert decided.status_code == 303, decided.text[:3000]
    accepted = await post_form(world.joiner, f"/anfragen/{rid}/beteiligung/luebeck/zusage", {"zusage": "ja"})
    assert accepted.status_code == 303, accepted.text[:3000]
    final = (await world.joiner.get(f"/anfragen/{rid}")).text
    assert "Bevorzugt wird das Angebot von Testanbieter Kommunal GmbH." in final
    assert "angenommen" in final and "Bestes Verhältnis" in final
    assert "Sie haben das bevorzugte Angebot für Ihre Stelle angenommen." in final
    vendor_final = (await world.vendor.get(f"/anfragen/{rid}")).text
    assert "Die anfragende Stelle bevorzugt dieses Angebot." in vendor_final


def _offer_uuid(html: str) -> str:
    found = re.search(r"/angebote/([0-9a-f-]{36})", html)
    assert found, "no offer link"
    return found.group(1)


# --- bad input: German messages at the fields, the input kept, nothing written --------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"deadline": in_days(-1)}, "deadline", "Die Frist liegt in der Vergangenheit."),
        ({"deadline": in_days(400)}, "deadline", "Die Frist liegt mehr als ein Jahr in der Zukunft."),
        ({"deadline": "31.02.2027"}, "deadline", "Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)."),
        ({"inhabitants": "-5"}, "inhabitants", "Bitte geben Sie eine ganze Zahl ohne Vorzeichen an"),
        ({"inhabitants": "90.000.000"}, "inhabitants", "Das ist unplausibel viel: höchstens 20.000.000."),
        ({"inhabitants": "", "users": "0"}, "inhabitants", "Bitte nennen Sie mindestens eine Menge über null"),
        ({"budget_min": "50.000", "budget_max": "10.000"}, "budget_max", "Der Höchstbetrag liegt unter dem"),
        ({"budget_max": "zehn Euro"}, "budget_max", "Bitte geben Sie einen Betrag in Euro an"),
        ({"title": ""}, "title", "Bitte geben Sie der Anfrage einen Titel."),
        ({"need": "   "}, "need", "Bitte beschreiben Sie Ihren Bedarf."),
        ({"solution": "gibt-es-nicht"}, "solution", "nur für veröffentlichte Lösungen"),
        ({"addressing": "market"}, "sectors", "mindestens ein Handlungsfeld oder einen Standard"),
        ({"desired_start": in_days(2)}, "desired_start", "Der gewünschte Start liegt vor der Frist"),
        ({"organization": "muenchen"}, "organization", "Bitte wählen Sie eine Stelle, der Sie angehören."),
    ],
)
async def test_a_bad_request_form_is_explained_at_its_field_and_writes_nothing(
    world: World, database: Database, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = await post_form(world.requester, "/anfragen/neu", request_form(**overrides))
    assert response.status_code == 422
    assert message in response.text
    assert f'href="#feld-{field}"' in response.text  # the summary links the field
    assert f'id="feld-{field}-fehler"' in response.text  # the message sits at the field
    assert "Mängelmelder für zwei Städte" in response.text or field == "title"  # the input is kept
    assert await count(database, OfferRequest) == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_market_exploration_without_matching_vendors_is_refused_whole(world: World, database: Database) -> None:
    """Saving and sending is one action: if sending is refused, not even the draft stays."""
    response = await post_form(
        world.requester,
        "/anfragen/neu",
        request_form(addressing="market", solution="", sectors=[], standards=["xplanung"]),  # no seeded solution has it
    )
    assert response.status_code == 422, response.text[:2000]
    assert "Keine veröffentlichte Lösung passt zu dieser Auswahl" in response.text
    assert await count(database, OfferRequest) == 0
    assert await count(database, OfferRequestParticipant) == 0


async def test_a_draft_is_edited_then_sent_and_a_stale_edit_keeps_the_input(world: World, database: Database) -> None:
    rid = _rid(await post_form(world.requester, "/anfragen/neu", request_form(danach="entwurf")))
    page = (await world.requester.get(f"/anfragen/{rid}")).text
    assert "Entwurf" in page and "Entwurf bearbeiten" in page
    vendor_view = await world.vendor.get(f"/anfragen/{rid}")
    assert vendor_view.status_code == 404  # a draft reaches no vendor
    form = (await world.requester.get(f"/anfragen/{rid}/bearbeiten")).text
    assert 'value="250000"' in form and 'value="40000,50"' in form  # the stored draft, as typed numbers
    version = _hidden(form, "version")
    saved = await post_form(
        world.requester,
        f"/anfragen/{rid}/bearbeiten",
        request_form(title="Mängelmelder, zweiter Entwurf", danach="entwurf", version=version),
    )
    assert saved.status_code == 303, saved.text[:2000]
    stale = await post_form(
        world.requester,
        f"/anfragen/{rid}/bearbeiten",
        request_form(title="Eine veraltete Fassung", danach="entwurf", version=version),
    )
    assert stale.status_code == 409
    assert "Jemand hat den Entwurf inzwischen geändert" in stale.text and "Eine veraltete Fassung" in stale.text
    async with database.sessionmaker() as session:
        stored = (await session.exec(select(OfferRequest))).one()
    assert stored.title == "Mängelmelder, zweiter Entwurf" and stored.state == "draft"
    sent = await post_form(world.requester, f"/anfragen/{rid}/versenden", {"version": str(stored.version)})
    assert sent.status_code == 303
    assert (await world.vendor.get(f"/anfragen/{rid}")).status_code == 200
    again = await post_form(world.requester, f"/anfragen/{rid}/versenden", {"version": str(stored.version + 1)})
    assert again.status_code == 409 and "nicht (mehr) möglich" in again.text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_offers_with_bad_amounts_or_a_changed_bundle_are_refused_and_kept(
    world: World, database: Database
) -> None:
    rid = await _open_request(world)
    bad = await _offer(world, rid, {"kiel": "zwanzigtausend"}, valid_until=in_days(3))
    assert bad.status_code == 422
    assert "Bitte geben Sie für jeden Teilnehmer einen Betrag in Euro an." in bad.text
    assert 'value="zwanzigtausend"' in bad.text and 'value="Einrichtung"' in bad.text
    no_items = await _offer(world, rid, {"kiel": "1.000"}, items=[("", "one_off", "")])
    assert no_items.status_code == 422 and "mindestens eine Preisposition" in no_items.text
    too_short = await _offer(world, rid, {"kiel": "1.000"}, valid_until=in_days(3))
    assert too_short.status_code == 422 and "mindestens bis zur Frist" in too_short.text
    # Lübeck joins while the vendor has the form open: the vendor's offer is for the old bundle.
    stale_page = (await world.vendor.get(f"/anfragen/{rid}/angebot")).text
    await post_form(world.joiner, f"/anfragen/{rid}/beteiligung", {"organization": "luebeck", "sites": "3"})
    stale = await post_form(
        world.vendor, f"/anfragen/{rid}/angebot", offer_form(stale_page, {"kiel": "1.000", "luebeck": "500"})
    )
    assert stale.status_code == 409 and "Das Bündel hat sich geändert" in stale.text
    assert await count(database, Offer) == 0 and await count(database, OfferRevision) == 0
    resent = await post_form(
        world.vendor, f"/anfragen/{rid}/angebot", offer_form(stale.text, {"kiel": "1.000", "luebeck": "500"})
    )
    assert resent.status_code == 303, resent.text[:2000]
    assert await count(database, Offer) == 1


async def test_changing_one_of_the_own_quantities_keeps_the_others(world: World) -> None:
    """Issue 15, item 1: "Eigene Mengen ändern" starts from the stored quantities, so a browser that sends
    the form with one number changed keeps the other two."""
    rid = await _open_request(world)
    joined = await post_form(
        world.joiner,
        f"/anfragen/{rid}/beteiligung",
        {"organization": "luebeck", "inhabitants": "45.000", "users": "20", "sites": "2"},
    )
    assert joined.status_code == 303
    page = (await world.joiner.get(f"/anfragen/{rid}")).text
    assert "Eigene Mengen ändern" in page
    shown = dict(re.findall(r'<input id="feld-(inhabitants|users|sites)" name="\1" type="text" value="([^"]*)"', page))
    assert shown == {"inhabitants": "45000", "users": "20", "sites": "2"}
    changed = await post_form(
        world.joiner, f"/anfragen/{rid}/beteiligung", {"organization": "luebeck", **shown, "inhabitants": "50.000"}
    )
    assert changed.status_code == 303
    again = (await world.joiner.get(f"/anfragen/{rid}")).text
    shown = dict(re.findall(r'<input id="feld-(inhabitants|users|sites)" name="\1" type="text" value="([^"]*)"', again))
    assert shown == {"inhabitants": "50000", "users": "20", "sites": "2"}


async def test_joining_after_the_deadline_or_with_absurd_quantities_is_refused(
    world: World, adapters: Adapters, database: Database
) -> None:
    rid = await _open_request(world)
    absurd = await post_form(
        world.joiner, f"/anfragen/{rid}/beteiligung", {"organization": "luebeck", "users": "5.000.000"}
    )
    assert absurd.status_code == 422 and "Das ist unplausibel viel" in absurd.text
    assert 'value="5.000.000"' in absurd.text
    await set_deadline(database, rid, utcnow() - timedelta(seconds=1))
    late = await post_form(world.joiner, f"/anfragen/{rid}/beteiligung", {"organization": "luebeck", "users": "5"})
    assert late.status_code == 422 and "nicht (mehr) möglich" in late.text
    await run_job(adapters, "offers.close_due", utcnow())
    closed = await world.joiner.get(f"/anfragen/{rid}")
    assert closed.status_code == 404  # closed and never joined: nothing to see for Lübeck
    assert await count(database, OfferRequestParticipant) == 1


async def test_an_offer_after_the_deadline_is_refused_and_the_form_only_shown(world: World, database: Database) -> None:
    rid = await _open_request(world)
    page = (await world.vendor.get(f"/anfragen/{rid}/angebot")).text
    assert "form-closed" not in page  # open: the form can be sent
    await set_deadline(database, rid, utcnow() - timedelta(seconds=1))
    late = await post_form(world.vendor, f"/anfragen/{rid}/angebot", offer_form(page, {"kiel": "20.000"}))
    assert late.status_code in (409, 422), late.text[:2000]
    assert "Angebote werden nicht mehr angenommen" in late.text
    assert re.search(r'<fieldset class="form-closed" disabled>', late.text)  # what was typed stays readable
    assert 'value="Reaktionszeit 4 Stunden werktags"' in late.text or "Reaktionszeit 4 Stunden werktags" in late.text
    assert "Zurück zur Anfrage" in late.text
    assert await count(database, Offer) == 0 and await count(database, OfferRevision) == 0


async def test_a_participant_leaves_and_the_requester_withdraws(world: World, database: Database) -> None:
    rid = await _open_request(world)
    await post_form(world.joiner, f"/anfragen/{rid}/beteiligung", {"organization": "luebeck", "inhabitants": "1"})
    left = await post_form(world.joiner, f"/anfragen/{rid}/beteiligung/luebeck/verlassen", {})
    assert left.status_code == 303
    assert "Ihre Stelle ist aus dem Bündel ausgetreten." in (await world.joiner.get(f"/anfragen/{rid}")).text
    page = (await world.requester.get(f"/anfragen/{rid}")).text
    withdrawn = await post_form(
        world.requester, f"/anfragen/{rid}/zurueckziehen", {"version": _hidden(page, "version"), "reason": "Haushalt"}
    )
    assert withdrawn.status_code == 303
    assert "Zurückgezogen" in (await world.requester.get(f"/anfragen/{rid}")).text
    async with database.sessionmaker() as session:
        assert (await session.exec(select(OfferRequest))).one().state == "withdrawn"


# --- who sees what ---------------------------------------------------------------------------------------------


async def test_who_sees_what(world: World, client: httpx.AsyncClient, database: Database) -> None:
    rid = await _open_request(world)
    assert (await _offer(world, rid, {"kiel": "1.000"})).status_code == 303
    other_org = await make_organization(database, name="Andere Software AG", slug="andere-software")
    other_vendor = await make_user(database, email="andere@example.org")
    await add_membership(database, other_vendor, other_org, MemberRole.editor)
    moderator = await _client_for(client, world.people.moderator)
    outsider = await _client_for(client, other_vendor)
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    urls = [f"/anfragen/{rid}", f"/anfragen/{rid}/angebot", f"/anfragen/{rid}/nachrichten/testanbieter"]

    for url in urls:
        response = await anonymous.get(url)
        assert response.status_code == 303 and response.headers["location"].startswith("/anmelden?next=/anfragen/")
        for http in (outsider, moderator):
            hidden = await http.get(url)
            assert hidden.status_code == 404 and "nicht sichtbar" in hidden.text
    # The offer form is the vendor's; a participant is told so.
    assert (await world.requester.get(f"/anfragen/{rid}/angebot")).status_code == 403
    assert "Mängelmelder für zwei Städte" not in (await outsider.get("/anfragen")).text
    # A public body not participating sees the request to join it, but neither budget nor vendors.
    prospect = (await world.joiner.get(f"/anfragen/{rid}")).text
    assert "Mitmachen" in prospect and "Angefragte Anbieter" not in prospect and "40.000,50" not in prospect
    # Posting to someone else's request changes nothing.
    refused = await post_form(outsider, f"/anfragen/{rid}/beteiligung", {"organization": "kiel", "users": "1"})
    assert refused.status_code == 404  # it cannot even see the request
    assert await count(database, OfferRequestParticipant) == 1
    # Without the CSRF token nothing happens either.
    no_token = await world.requester.post(f"/anfragen/{rid}/zurueckziehen", data={"version": "2"})
    assert no_token.status_code == 403
    async with database.sessionmaker() as session:
        assert (await session.exec(select(OfferRequest))).one().state == "open"


async def test_the_conversation_is_between_the_participants_and_one_vendor(
    world: World, client: httpx.AsyncClient, database: Database
) -> None:
    rid = await _open_request(world)
    empty = await post_form(world.requester, f"/anfragen/{rid}/nachrichten/testanbieter", {"nachricht": "  "})
    assert empty.status_code == 422 and "Bitte schreiben Sie eine Nachricht." in empty.text
    sent = await post_form(
        world.requester, f"/anfragen/{rid}/nachrichten/testanbieter", {"nachricht": "Ist **SSO** enthalten?"}
    )
    assert sent.status_code == 303
    answer = await post_form(world.vendor, f"/anfragen/{rid}/nachrichten/testanbieter", {"nachricht": "Ja, per SAML."})
    assert answer.status_code == 303
    thread = (await world.requester.get(f"/anfragen/{rid}/nachrichten/testanbieter")).text
    assert "<strong>SSO</strong>" in thread and "Ja, per SAML." in thread
    assert thread.index("Ist <strong>SSO</strong>") < thread.index("Ja, per SAML.")  # oldest first
    assert "2 Nachrichten" in (await world.requester.get(f"/anfragen/{rid}")).text
    assert await count(database, OfferMessage) == 2
    # A thread with a vendor the request is not addressed to does not exist.
    assert (await world.requester.get(f"/anfragen/{rid}/nachrichten/kiel")).status_code == 404


async def test_an_unknown_request_is_a_german_404(world: World) -> None:
    response = await world.requester.get(f"/anfragen/{uuid.uuid4()}")
    assert response.status_code == 404 and "Diese Angebotsanfrage gibt es nicht" in response.text
    assert (await world.requester.get("/anfragen/keine-uuid")).status_code == 404


async def test_a_solution_page_leads_a_municipality_to_a_prefilled_request(world: World) -> None:
    solution = (await world.requester.get(f"/loesungen/{world.solution}")).text
    assert f'href="/anfragen/neu?loesung={world.solution}"' in solution
    form = (await world.requester.get(f"/anfragen/neu?loesung={world.solution}")).text
    assert f'<option value="{world.solution}" selected>' in form
    assert '<option value="kiel" selected>' in form  # the clerk's only public body
    vendor_page = (await world.vendor.get(f"/loesungen/{world.solution}")).text
    assert "/anfragen/neu" not in vendor_page  # vendors do not request offers
    assert (await world.vendor.get("/anfragen/neu")).status_code == 403


# --- the pages against every role ------------------------------------------------------------------------------

ROLES = ("anonymous", "requester", "participant", "vendor", "other_vendor", "prospect", "moderator", "admin")
# Each page of an open request with one (sealed) offer and one message, against each role: the status.
# 303 = sent to sign in (anonymous) or back to the request (a draft's editor only edits drafts).
PAGE_TABLE: dict[str, tuple[int, ...]] = {
    "/anfragen": (303, 200, 200, 200, 200, 200, 200, 200),
    "/anfragen/neu": (303, 200, 200, 403, 403, 200, 403, 403),
    "/anfragen/{rid}": (303, 200, 200, 200, 404, 200, 404, 404),
    "/anfragen/{rid}/bearbeiten": (303, 303, 303, 303, 404, 303, 404, 404),
    "/anfragen/{rid}/angebot": (303, 403, 403, 200, 404, 403, 404, 404),
    "/anfragen/{rid}/angebote/{oid}": (303, 403, 403, 200, 404, 404, 404, 404),
    "/anfragen/{rid}/nachrichten/testanbieter": (303, 200, 200, 200, 404, 403, 404, 404),
}
# What each role may read on the request's page (None: the page is not shown at all).
SECRETS = ("Angefragte Anbieter", "40.000,50", "Ihr Angebot")
SEES: dict[str, tuple[bool, bool, bool] | None] = {
    "requester": (True, True, False),
    "participant": (True, True, False),
    "vendor": (False, True, True),
    "prospect": (False, False, False),
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_every_page_against_every_role(world: World, client: httpx.AsyncClient, database: Database) -> None:
    rid = await _open_request(world)
    await post_form(world.joiner, f"/anfragen/{rid}/beteiligung", {"organization": "luebeck", "inhabitants": "1"})
    assert (await _offer(world, rid, {"kiel": "1.000", "luebeck": "500"})).status_code == 303
    await post_form(world.requester, f"/anfragen/{rid}/nachrichten/testanbieter", {"nachricht": "Frage"})
    async with database.sessionmaker() as session:
        oid = str((await session.exec(select(Offer))).one().uuid)

    other_org = await make_organization(database, name="Andere Software AG", slug="andere-software")
    other_vendor = await make_user(database, email="andere@example.org")
    await add_membership(database, other_vendor, other_org, MemberRole.editor)
    flensburg = await make_organization(
        database, name="Flensburg (Test)", slug="flensburg-test", kind=OrganizationKind.municipality
    )
    prospect = await make_user(database, email="flensburg@example.org")
    await add_membership(database, prospect, flensburg, MemberRole.member)
    admin = await make_user(database, email="admin@example.org", role=PlatformRole.admin)
    clients = {
        "anonymous": httpx.AsyncClient(transport=client._transport, base_url="http://testserver"),
        "requester": world.requester,
        "participant": world.joiner,
        "vendor": world.vendor,
        "other_vendor": await _client_for(client, other_vendor),
        "prospect": await _client_for(client, prospect),
        "moderator": await _client_for(client, world.people.moderator),
        "admin": await _client_for(client, admin),
    }
    failures = []
    for template, expected in PAGE_TABLE.items():
        url = template.format(rid=rid, oid=oid)
        for role, status in zip(ROLES, expected, strict=True):
            got = (await clients[role].get(url)).status_code
            if got != status:
                failures.append(f"{role} GET {url}: {got}, expected {status}")
    assert failures == []
    for role, sees in SEES.items():
        html = (await clients[role].get(f"/anfragen/{rid}")).text
        assert sees is not None
        shown = tuple(secret in html for secret in SECRETS)
        assert shown == sees, (role, shown)


async def test_two_editors_revising_at_once_lose_nothing(
    world: World, client: httpx.AsyncClient, database: Database
) -> None:
    rid = await _open_request(world)
    assert (await _offer(world, rid, {"kiel": "1.000"})).status_code == 303
    colleague = await make_user(database, email="kollegin@example.org")
    await add_membership(database, colleague, world.people.vendor_org, MemberRole.editor)
    second = await _client_for(client, colleague)
    mine = (await world.vendor.get(f"/anfragen/{rid}/angebot")).text
    theirs = (await second.get(f"/anfragen/{rid}/angebot")).text
    assert (await post_form(second, f"/anfragen/{rid}/angebot", offer_form(theirs, {"kiel": "900"}))).status_code == 303
    stale = await post_form(world.vendor, f"/anfragen/{rid}/angebot", offer_form(mine, {"kiel": "950"}))
    assert stale.status_code == 409 and "Fassung 2" in stale.text and 'value="950"' in stale.text
    again = await post_form(world.vendor, f"/anfragen/{rid}/angebot", offer_form(stale.text, {"kiel": "950"}))
    assert again.status_code == 303, again.text[:2000]
    async with database.sessionmaker() as session:
        revisions = list(await session.exec(select(OfferRevision).order_by(col(OfferRevision.revision))))
    assert [r.total_cents for r in revisions] == [100_000, 90_000, 95_000]

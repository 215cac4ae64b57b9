"""Offer requests with bundled demand (issue 7): the whole story over HTTP, the deadline jobs, bad input,
and concurrent writers that must lose nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import col, select

from allmende.accounts import services as accounts_services
from allmende.accounts.models import MemberRole, Organization, OrganizationKind, TokenScope, User
from allmende.accounts.principal import Principal
from allmende.app import Adapters
from allmende.core.db import Database
from allmende.core.jobs import JobContext, JobRegistry
from allmende.core.jobs.arq_runner import ArqJobQueue, build_worker
from allmende.core.mail import SmtpMailer
from allmende.core.problems import Conflict, PreconditionFailed
from allmende.core.types import utcnow
from marketplace.models import Solution
from notifications.jobs import SEND_JOB
from notifications.models import Notification
from offer_requests import services
from offer_requests.jobs import CLOSE_JOB
from offer_requests.models import Offer, OfferRequest, OfferRequestParticipant, OfferRevision
from offer_requests.schemas import OfferFields
from tests.support.factories import (
    add_membership,
    bearer,
    count,
    make_organization,
    make_user_in,
    published_solution,
    seed_vocabularies,
)
from tests.support.jobs import queue_of, run_job
from tests.support.mail import SmtpSink, use_smtp
from tests.support.offers import (
    BASE,
    Opened,
    Party,
    audit_trail,
    in_days,
    offer_payload,
    party,
    request_payload,
    set_deadline,
    write_token,
)
from tests.support.servers import REDIS_URL

# --- the whole story ------------------------------------------------------------------------------------------


@pytest.mark.seeded
async def test_the_whole_story_over_http(
    client: httpx.AsyncClient, adapters: Adapters, database: Database, smtp: SmtpSink
) -> None:
    """Köln asks the provider of a seeded solution for an offer, München joins, the vendor answers with its
    token and revises once, the deadline job closes the request, both towns see the offer's totals for the
    bundle, Köln prefers it and accepts, and every e-mail arrived at the SMTP server."""
    use_smtp(adapters, smtp)
    async with database.sessionmaker() as session:
        orgs = {
            o.slug: o
            for o in await session.exec(
                select(Organization).where(col(Organization.slug).in_(["koeln", "muenchen", "decidim-association"]))
            )
        }
        decidim = (await session.exec(select(Solution).where(Solution.slug == "decidim"))).one()
    assert decidim.state == "published" and decidim.provider_id == orgs["decidim-association"].id
    koeln = await party(client, database, orgs["koeln"])
    muenchen = await party(client, database, orgs["muenchen"])
    vendor_person = await make_user_in(database, orgs["decidim-association"], MemberRole.owner)
    vendor = bearer(client, await write_token(database, orgs["decidim-association"]))

    # Köln drafts and opens the request.
    created = await koeln.http.post(BASE, json=request_payload("koeln", solution="decidim"))
    assert created.status_code == 201, created.text
    request = created.json()
    rid = request["uuid"]
    assert request["state"] == "draft" and request["relation"] == ["requester", "participant"]
    assert request["solution"]["provider"]["slug"] == "decidim-association"
    assert "<strong>Bürgerhaushalt</strong>" in request["need_html"]
    assert (await vendor.get(f"{BASE}/{rid}")).status_code == 404  # a draft goes to nobody yet
    opened = await koeln.http.post(f"{BASE}/{rid}/open", headers={"If-Match": created.headers["etag"]})
    assert opened.status_code == 200 and opened.json()["state"] == "open", opened.text
    assert [v["slug"] for v in opened.json()["vendors"]] == ["decidim-association"]

    # München finds it and joins with its own figures.
    joinable = (await muenchen.http.get(BASE, params={"relation": "joinable"})).json()
    assert [r["uuid"] for r in joinable["items"]] == [rid]
    assert joinable["items"][0]["bundle"]["participants"] is None  # not yet a participant: sums only
    joined = await muenchen.http.put(
        f"{BASE}/{rid}/participants/muenchen", json={"inhabitants": 1_500_000, "users": 300, "sites": 5}
    )
    assert joined.status_code == 201, joined.text
    bundle = joined.json()["bundle"]
    assert (bundle["participants_count"], bundle["inhabitants"], bundle["users"], bundle["sites"]) == (
        2,
        1_620_000,
        340,
        7,
    )

    # The vendor reads the bundle through its token and answers.
    seen = (await vendor.get(BASE, params={"relation": "vendor"})).json()["items"][0]
    assert seen["uuid"] == rid and seen["relation"] == ["vendor"] and seen["vendors"] is None
    assert {p["organization"]["slug"]: p["quantities"]["inhabitants"] for p in seen["bundle"]["participants"]} == {
        "koeln": 120_000,
        "muenchen": 1_500_000,
    }
    first = await vendor.post(f"{BASE}/{rid}/offers", json=offer_payload(seen))
    assert first.status_code == 201, first.text
    offer = first.json()
    assert offer["current_revision"] == 1 and offer["latest"]["total_cents"] == 2_000_000 + 5 * 1_620_000

    # Before the deadline the participants see that an offer came, not what it says.
    sealed = (await koeln.http.get(f"{BASE}/{rid}/offers")).json()["items"]
    assert [(o["sealed"], o["latest"]) for o in sealed] == [(True, None)]
    assert (await koeln.http.get(f"{BASE}/{rid}/offers/{offer['uuid']}/revisions")).status_code == 403

    # A question in the vendor's thread, answered.
    asked = await muenchen.http.post(
        f"{BASE}/{rid}/threads/decidim-association/messages", json={"body": "Ist ein **Bürgerhaushalt** enthalten?"}
    )
    assert asked.status_code == 201, asked.text
    await vendor.post(f"{BASE}/{rid}/threads/decidim-association/messages", json={"body": "Ja, als Modul."})
    thread = (await koeln.http.get(f"{BASE}/{rid}/threads/decidim-association/messages")).json()["items"]
    assert [(m["author"]["slug"], m["from_vendor"]) for m in thread] == [
        ("muenchen", False),
        ("decidim-association", True),
    ]

    # One revision, with If-Match.
    revised = await vendor.put(
        f"{BASE}/{rid}/offers/{offer['uuid']}",
        json=offer_payload(seen, base_cents=800_000),
        headers={"If-Match": first.headers["etag"]},
    )
    assert revised.status_code == 200, revised.text
    assert revised.json()["current_revision"] == 2

    # A day before the deadline everybody is reminded; at the deadline the job closes the request.
    deadline = datetime.fromisoformat(seen["deadline"])
    await run_job(adapters, "offers.remind_due", deadline - timedelta(hours=12))
    await run_job(adapters, "offers.close_due", deadline - timedelta(minutes=1))
    assert (await koeln.http.get(f"{BASE}/{rid}")).json()["state"] == "open"
    await run_job(adapters, "offers.close_due", deadline + timedelta(minutes=1))
    await run_job(adapters, "offers.close_due", deadline + timedelta(minutes=2))  # idempotent
    assert (await koeln.http.get(f"{BASE}/{rid}")).json()["state"] == "closed"

    # Both towns now see the offer side by side, with the totals for the bundle and per participant.
    for town in (koeln, muenchen):
        offers = (await town.http.get(f"{BASE}/{rid}/offers")).json()["items"]
        assert [(o["sealed"], o["latest"]["total_cents"]) for o in offers] == [(False, 1_600_000 + 5 * 1_620_000)]
        shares = {s["organization"]["slug"]: s["total_cents"] for s in offers[0]["latest"]["per_participant"]}
        assert shares == {"koeln": 800_000 + 600_000, "muenchen": 800_000 + 7_500_000}
        history = (await town.http.get(f"{BASE}/{rid}/offers/{offer['uuid']}/revisions")).json()["items"]
        assert [(r["revision"], r["total_cents"]) for r in history] == [
            (1, 2_000_000 + 5 * 1_620_000),
            (2, 1_600_000 + 5 * 1_620_000),
        ]

    # Köln prefers the offer and accepts it for itself; München declines for itself.
    decided = await koeln.http.post(f"{BASE}/{rid}/decision", json={"outcome": "preferred", "offer": offer["uuid"]})
    assert decided.status_code == 200 and decided.json()["state"] == "awarded", decided.text
    accepted = await koeln.http.put(f"{BASE}/{rid}/participants/koeln/acceptance", json={"accepted": True})
    assert accepted.status_code == 200, accepted.text
    await muenchen.http.put(f"{BASE}/{rid}/participants/muenchen/acceptance", json={"accepted": False})
    final = (await vendor.get(f"{BASE}/{rid}")).json()
    assert final["decision"]["preferred_offer"] == offer["uuid"]
    assert {p["organization"]["slug"]: p["acceptance"] for p in final["bundle"]["participants"]} == {
        "koeln": "accepted",
        "muenchen": "declined",
    }

    # Every state change is an audit event.
    assert await audit_trail(database, rid) == [
        ("offer_request.create", None, "draft"),
        ("offer_request.open", "draft", "open"),
        ("offer_request.join", "open", "open"),
        ("offer.submit", None, "submitted"),
        ("offer_message.post", None, None),
        ("offer_message.post", None, None),
        ("offer.revise", "submitted", "submitted"),
        ("offer_request.close", "open", "closed"),
        ("offer_request.decide", "closed", "awarded"),
        ("offer_request.accept", "awarded", "awarded"),
        ("offer_request.decline", "awarded", "awarded"),
    ]

    # The e-mails, sent by jobs, arrived at the SMTP server.
    await queue_of(adapters).run_pending(wait_for_retries=True)
    assert queue_of(adapters).failed == []
    assert smtp.subjects(vendor_person.email) == [
        "Neue Angebotsanfrage: Bürgerbeteiligungsplattform für drei Jahre",
        f"{orgs['muenchen'].name} schließt sich an: Bürgerbeteiligungsplattform für drei Jahre",
        "Frist endet bald: Bürgerbeteiligungsplattform für drei Jahre",
        "Angebotsfrist abgelaufen: Bürgerbeteiligungsplattform für drei Jahre",
        "Ihr Angebot wird bevorzugt: Bürgerbeteiligungsplattform für drei Jahre",
        f"{orgs['koeln'].name} hat angenommen: Bürgerbeteiligungsplattform für drei Jahre",
        f"{orgs['muenchen'].name} hat abgelehnt: Bürgerbeteiligungsplattform für drei Jahre",
    ]
    assert smtp.subjects(koeln.user.email) == [
        f"{orgs['muenchen'].name} schließt sich an: Bürgerbeteiligungsplattform für drei Jahre",
        "Neues Angebot zu „Bürgerbeteiligungsplattform für drei Jahre“",
        "Angebot überarbeitet: Bürgerbeteiligungsplattform für drei Jahre",
        "Frist endet bald: Bürgerbeteiligungsplattform für drei Jahre",
        "Angebotsfrist abgelaufen: Bürgerbeteiligungsplattform für drei Jahre",
        f"{orgs['muenchen'].name} hat abgelehnt: Bürgerbeteiligungsplattform für drei Jahre",
    ]
    assert smtp.subjects(muenchen.user.email) == [
        "Neues Angebot zu „Bürgerbeteiligungsplattform für drei Jahre“",
        "Angebot überarbeitet: Bürgerbeteiligungsplattform für drei Jahre",
        "Frist endet bald: Bürgerbeteiligungsplattform für drei Jahre",
        "Angebotsfrist abgelaufen: Bürgerbeteiligungsplattform für drei Jahre",
        "Entscheidung zu „Bürgerbeteiligungsplattform für drei Jahre“",
        f"{orgs['koeln'].name} hat angenommen: Bürgerbeteiligungsplattform für drei Jahre",
    ]
    link = f"http://testserver/anfragen/{rid}"  # the web page of the request
    assert all(link in m.get_content() for m in smtp.to(koeln.user.email))

    # … and the same notifications wait in the in-app inbox.
    inbox = (await koeln.http.get("/api/v1/inbox")).json()
    assert inbox["total"] == 6 and all(n["record_uuid"] == rid for n in inbox["items"])


async def test_a_market_exploration_reaches_matching_vendors_who_never_see_each_other(
    client: httpx.AsyncClient, adapters: Adapters, database: Database
) -> None:
    await seed_vocabularies(database)
    town = await make_organization(database, kind=OrganizationKind.municipality, slug="town")
    mobility, governance, other = [await make_organization(database, slug=s) for s in ("mob", "gov", "other")]
    await published_solution(database, mobility, "parken", sectors=["smart-transport-mobility"], standards=[])
    await published_solution(database, governance, "rat", sectors=["smart-governance"], standards=["oidc"])
    await published_solution(database, other, "beides", sectors=["smart-governance"], standards=[])
    requester = await party(client, database, town)
    body = request_payload("town", solution=None, sectors=["smart-governance"], standards=["oidc"])
    request = (await requester.http.post(BASE, json=body)).json()
    opened = await requester.http.post(f"{BASE}/{request['uuid']}/open")
    assert [v["slug"] for v in opened.json()["vendors"]] == ["gov"], opened.text
    assert (
        await bearer(client, await write_token(database, other)).get(f"{BASE}/{request['uuid']}")
    ).status_code == 404

    wide = (
        await requester.http.post(BASE, json=request_payload("town", solution=None, sectors=["smart-governance"]))
    ).json()
    opened = await requester.http.post(f"{BASE}/{wide['uuid']}/open")
    assert sorted(v["slug"] for v in opened.json()["vendors"]) == ["gov", "other"]
    gov, oth = [bearer(client, await write_token(database, o)) for o in (governance, other)]
    seen = (await gov.get(f"{BASE}/{wide['uuid']}")).json()
    gov_offer = (await gov.post(f"{BASE}/{wide['uuid']}/offers", json=offer_payload(seen))).json()
    oth_offer = (await oth.post(f"{BASE}/{wide['uuid']}/offers", json=offer_payload(seen, base_cents=5))).json()
    assert [o["uuid"] for o in (await gov.get(f"{BASE}/{wide['uuid']}/offers")).json()["items"]] == [gov_offer["uuid"]]
    assert (await gov.get(f"{BASE}/{wide['uuid']}/offers/{oth_offer['uuid']}")).status_code == 404
    assert (await gov.get(f"{BASE}/{wide['uuid']}/threads/other/messages")).status_code == 404
    threads = (await gov.get(f"{BASE}/{wide['uuid']}/threads")).json()["items"]
    assert [t["vendor"]["slug"] for t in threads] == ["gov"]
    both = (await requester.http.get(f"{BASE}/{wide['uuid']}")).json()
    assert both["offers_received"] == 2 and seen["vendors"] is None
    none_match = (
        await requester.http.post(BASE, json=request_payload("town", solution=None, sectors=["smart-health-care"]))
    ).json()
    refused = await requester.http.post(f"{BASE}/{none_match['uuid']}/open")
    assert refused.status_code == 422 and refused.json()["field"] == "sectors"


async def test_drafts_are_edited_with_if_match_and_withdrawn_requests_stay_withdrawn(
    client: httpx.AsyncClient, database: Database
) -> None:
    vendor = await make_organization(database, slug="vendor")
    await published_solution(database, vendor, "mitmachen")
    town = await make_organization(database, kind=OrganizationKind.municipality, slug="town")
    requester = await party(client, database, town)
    created = await requester.http.post(BASE, json=request_payload("town"))
    rid, etag = created.json()["uuid"], created.headers["etag"]
    assert (await requester.http.patch(f"{BASE}/{rid}", json={"title": "Neu"})).status_code == 428
    edited = await requester.http.patch(
        f"{BASE}/{rid}", json={"title": "Neu", "quantities": {"inhabitants": 99}}, headers={"If-Match": etag}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Neu" and edited.json()["bundle"]["inhabitants"] == 99
    stale = await requester.http.patch(f"{BASE}/{rid}", json={"title": "Alt"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    bad = await requester.http.patch(
        f"{BASE}/{rid}", json={"deadline": in_days(-1)}, headers={"If-Match": edited.headers["etag"]}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "deadline"
    withdrawn = await requester.http.post(f"{BASE}/{rid}/withdraw", json={"reason": "Doch kein Bedarf"})
    assert withdrawn.json()["state"] == "withdrawn"
    for again in ("open", "withdraw"):
        assert (await requester.http.post(f"{BASE}/{rid}/{again}")).status_code == 409
    assert (
        await requester.http.patch(f"{BASE}/{rid}", json={"title": "x"}, headers={"If-Match": "*"})
    ).status_code == 409
    assert await audit_trail(database, rid) == [
        ("offer_request.create", None, "draft"),
        ("offer_request.update", "draft", "draft"),
        ("offer_request.withdraw", "draft", "withdrawn"),
    ]


# --- bad input: a clear 4xx, nothing half-written ---------------------------------------------------------------


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"deadline": in_days(-0.01)}, "deadline"),
    ({"deadline": "2030-01-01T12:00:00"}, "deadline"),  # no time zone
    ({"deadline": in_days(400)}, "deadline"),
    ({"desired_start": "2020-01-01"}, "desired_start"),
    ({"quantities": {"inhabitants": -1}}, "quantities.inhabitants"),
    ({"quantities": {"inhabitants": 20_000_001}}, "quantities.inhabitants"),
    ({"quantities": {"users": 5_000_000}}, "quantities.users"),
    ({"quantities": {"sites": 100_001}}, "quantities.sites"),
    ({"quantities": {"inhabitants": 1.5}}, "quantities.inhabitants"),
    ({"quantities": {"inhabitants": 1000.0}}, "quantities.inhabitants"),
    ({"quantities": {"inhabitants": True}}, "quantities.inhabitants"),
    ({"quantities": {"inhabitants": 0}}, "quantities"),
    ({"budget": {"min_cents": 100, "currency": "USD"}}, "budget.currency"),
    ({"budget": {"min_cents": 500, "max_cents": 100}}, "budget"),
    ({"budget": {"min_cents": 10.5}}, "budget.min_cents"),
    ({"solution": "entwurf"}, "solution"),
    ({"solution": "gibt-es-nicht"}, "solution"),
    ({"solution": None, "sectors": ["keine-branche"]}, "sectors"),
    ({"sectors": ["smart-governance"]}, "body"),  # a solution and sectors at once
    ({"organization": "vendor"}, "organization"),  # a vendor is no public body
    ({"need": "   "}, "need"),
    ({"unknown": 1}, "unknown"),
]


async def test_bad_requests_are_422_and_write_nothing(client: httpx.AsyncClient, database: Database) -> None:
    await seed_vocabularies(database)
    vendor_org = await make_organization(database, slug="vendor")
    await published_solution(database, vendor_org, "mitmachen")
    async with database.unit_of_work() as session:
        session.add(
            Solution(slug="entwurf", provider_id=vendor_org.id or 0, name="Entwurf", summary="x", kind="software")
        )
    town = await make_organization(database, kind=OrganizationKind.municipality, slug="town")
    requester = await party(client, database, town)
    await add_membership(database, requester.user, vendor_org, MemberRole.editor)  # acts for a vendor, too
    for change, field in BAD_REQUESTS:
        response = await requester.http.post(BASE, json=request_payload("town") | change)
        assert (response.status_code, response.json().get("field")) == (422, field), (change, response.text)
    assert await count(database, OfferRequest) == 0
    assert await count(database, OfferRequestParticipant) == 0
    assert (await requester.http.post(BASE, json=request_payload("town"))).status_code == 201  # the base is fine


async def test_offers_after_the_deadline_or_in_another_currency_are_refused(
    client: httpx.AsyncClient, adapters: Adapters, database: Database, world: Opened
) -> None:
    base = f"{BASE}/{world.rid}/offers"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"currency": "USD"}, 422, "currency"),
        ({"total_cents": 1}, 422, "body"),  # the shares do not add up
        ({"total_cents": -5, "per_participant": [{"organization": "town", "total_cents": -5}]}, 422, "total_cents"),
        ({"total_cents": 10.0, "per_participant": [{"organization": "town", "total_cents": 10.0}]}, 422, "total_cents"),
        ({"per_participant": [{"organization": "someone", "total_cents": 1_600_000}]}, 422, "per_participant"),
        ({"valid_until": "2020-01-01"}, 422, "valid_until"),
        ({"items": [{"label": "x", "kind": "per_moon", "amount_cents": 1}]}, 422, "items.0.kind"),
        ({"items": []}, 422, "items"),
        ({"bundle_version": 99}, 409, "bundle_version"),
    ]
    for change, status, field in cases:
        refused = await world.vendor.post(base, json=offer_payload(world.seen) | change)
        assert (refused.status_code, refused.json().get("field")) == (status, field), (change, refused.text)
    async with database.unit_of_work() as session:
        vendor_org = (await session.exec(select(Organization).where(Organization.slug == "vendor"))).one()
        _, read_only = await accounts_services.issue_token(
            session, vendor_org, name="Lesen", scopes=[TokenScope.read], expires_in_days=1, created_by=None
        )
    reader = bearer(client, read_only)
    assert (await reader.get(f"{BASE}/{world.rid}")).status_code == 200  # reads the request …
    assert (await reader.post(base, json=offer_payload(world.seen))).status_code == 403  # … but offers need write
    assert await count(database, Offer) == 0 and await count(database, OfferRevision) == 0

    accepted = await world.vendor.post(base, json=offer_payload(world.seen))
    assert accepted.status_code == 201
    own = f"{base}/{accepted.json()['uuid']}"
    assert (await world.vendor.put(own, json=offer_payload(world.seen))).status_code == 428
    revised = await world.vendor.put(
        own, json=offer_payload(world.seen), headers={"If-Match": accepted.headers["etag"]}
    )
    assert revised.status_code == 200 and revised.headers["etag"] != accepted.headers["etag"]
    stale = await world.vendor.put(own, json=offer_payload(world.seen), headers={"If-Match": accepted.headers["etag"]})
    assert stale.status_code == 412
    twice = await world.vendor.post(base, json=offer_payload(world.seen))
    assert twice.status_code == 409 and twice.json()["offer"] == accepted.json()["uuid"]

    # The deadline passes; the job has not run yet: the request still says open, and refuses anyway.
    await set_deadline(database, world.rid, utcnow() - timedelta(seconds=1))
    late = await world.vendor.post(base, json=offer_payload(world.seen))
    assert late.status_code == 409 and late.json()["field"] == "state"
    late_revision = await world.vendor.put(
        own, json=offer_payload(world.seen), headers={"If-Match": revised.headers["etag"]}
    )
    assert late_revision.status_code == 409
    await run_job(adapters, "offers.close_due", utcnow())
    after_close = await world.vendor.put(
        own, json=offer_payload(world.seen), headers={"If-Match": revised.headers["etag"]}
    )
    assert after_close.status_code == 409 and "closed" in after_close.json()["detail"]
    assert await count(database, OfferRevision) == 2


async def test_joining_late_or_with_absurd_quantities_is_refused(
    client: httpx.AsyncClient, adapters: Adapters, database: Database, world: Opened
) -> None:
    neighbour = await party(
        client, database, await make_organization(database, kind=OrganizationKind.municipality, slug="nachbar")
    )
    path = f"{BASE}/{world.rid}/participants/nachbar"
    for body, field in [
        ({"inhabitants": -3}, "inhabitants"),
        ({"inhabitants": 25_000_000}, "inhabitants"),
        ({"users": 1_000_001}, "users"),
        ({"sites": -1, "users": 3}, "sites"),
        ({}, "body"),
        ({"inhabitants": "viele"}, "inhabitants"),
        ({"inhabitants": "1000"}, "inhabitants"),
    ]:
        refused = await neighbour.http.put(path, json=body)
        assert (refused.status_code, refused.json()["field"]) == (422, field), (body, refused.text)
    vendor_join = await world.vendor.put(f"{BASE}/{world.rid}/participants/vendor", json={"users": 3})
    assert vendor_join.status_code == 422 and vendor_join.json()["field"] == "organization"
    requester_leaves = await world.requester.http.delete(f"{BASE}/{world.rid}/participants/town")
    assert requester_leaves.status_code == 409
    assert await count(database, OfferRequestParticipant) == 1

    await set_deadline(database, world.rid, utcnow() - timedelta(seconds=1))
    late = await neighbour.http.put(path, json={"inhabitants": 1000})
    assert late.status_code == 409 and late.json()["field"] == "state"
    await run_job(adapters, "offers.close_due", utcnow())
    closed = await neighbour.http.put(path, json={"inhabitants": 1000})
    assert closed.status_code == 404  # a closed request is visible to its parties only
    own = await world.requester.http.put(f"{BASE}/{world.rid}/participants/town", json={"inhabitants": 1})
    assert own.status_code == 409 and "closed" in own.json()["detail"]
    assert await count(database, OfferRequestParticipant) == 1


async def test_the_decision_waits_for_the_deadline_and_is_made_once(
    client: httpx.AsyncClient, adapters: Adapters, database: Database, world: Opened
) -> None:
    offer = (await world.vendor.post(f"{BASE}/{world.rid}/offers", json=offer_payload(world.seen))).json()
    early = await world.requester.http.post(
        f"{BASE}/{world.rid}/decision", json={"outcome": "preferred", "offer": offer["uuid"]}
    )
    assert early.status_code == 409
    accept_early = await world.requester.http.put(
        f"{BASE}/{world.rid}/participants/town/acceptance", json={"accepted": True}
    )
    assert accept_early.status_code == 409
    await run_job(adapters, "offers.close_due", datetime.fromisoformat(world.seen["deadline"]) + timedelta(seconds=1))
    missing = await world.requester.http.post(f"{BASE}/{world.rid}/decision", json={"outcome": "preferred"})
    assert missing.status_code == 422
    foreign = await world.requester.http.post(
        f"{BASE}/{world.rid}/decision", json={"outcome": "preferred", "offer": world.rid}
    )
    assert foreign.status_code == 422 and foreign.json()["field"] == "offer"
    declined = await world.requester.http.post(
        f"{BASE}/{world.rid}/decision", json={"outcome": "declined_all", "reason": "Zu teuer"}
    )
    assert declined.json()["state"] == "not_awarded" and declined.json()["decision"]["reason"] == "Zu teuer"
    again = await world.requester.http.post(f"{BASE}/{world.rid}/decision", json={"outcome": "declined_all"})
    assert again.status_code == 409
    vendor_view = (await world.vendor.get(f"{BASE}/{world.rid}")).json()
    assert vendor_view["decision"] == {
        "outcome": "declined_all",
        "preferred_offer": None,
        "preferred_vendor": None,
        "reason": None,
        "decided_at": vendor_view["decided_at"],
    }


async def test_a_withdrawn_request_keeps_its_offers_sealed(
    client: httpx.AsyncClient, database: Database, world: Opened
) -> None:
    offer = (await world.vendor.post(f"{BASE}/{world.rid}/offers", json=offer_payload(world.seen))).json()
    withdrawn = await world.requester.http.post(f"{BASE}/{world.rid}/withdraw", json={"reason": "Haushaltssperre"})
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    [seen] = (await world.requester.http.get(f"{BASE}/{world.rid}/offers")).json()["items"]
    assert seen["sealed"] is True and seen["latest"] is None
    revisions = await world.requester.http.get(f"{BASE}/{world.rid}/offers/{offer['uuid']}/revisions")
    assert revisions.status_code == 403
    assert (await world.vendor.get(f"{BASE}/{world.rid}/offers")).json()["items"][0]["latest"] is not None
    late = await world.vendor.post(f"{BASE}/{world.rid}/threads/vendor/messages", json={"body": "Schade."})
    assert late.status_code == 409


async def test_the_deadline_jobs_are_idempotent_and_use_the_clock_they_are_given(
    client: httpx.AsyncClient, adapters: Adapters, database: Database, world: Opened
) -> None:
    deadline = datetime.fromisoformat(world.seen["deadline"])
    async with database.unit_of_work() as session:
        assert await services.remind_offer_requests(session, deadline - timedelta(days=2)) == []
        assert len(await services.remind_offer_requests(session, deadline - timedelta(hours=23))) == 1
        assert await services.remind_offer_requests(session, deadline - timedelta(hours=22)) == []
        assert await services.close_due_offer_requests(session, deadline - timedelta(seconds=1)) == []
        assert len(await services.close_due_offer_requests(session, deadline)) == 1
        assert await services.close_due_offer_requests(session, deadline + timedelta(days=1)) == []
    trail = await audit_trail(database, world.rid)
    assert trail.count(("offer_request.close", "open", "closed")) == 1
    async with database.sessionmaker() as session:
        reminders = list(
            await session.exec(select(Notification).where(Notification.kind == "offer_request.deadline_approaching"))
        )
    assert len(reminders) == 1  # the requester's one member; the vendor answers by token and has no people


# --- concurrent writers lose nothing (PostgreSQL: real row locks) -------------------------------------------------


async def _principal(database: Database, token: str | None = None, user: User | None = None) -> Principal:
    async with database.unit_of_work() as session:
        if token is not None:
            return await accounts_services.principal_for_token(session, token)
        assert user is not None
        principal = await accounts_services.principal_for_user(session, str(user.uuid))
        assert principal is not None
        return principal


async def _held(database: Database, work: Callable[[Any], Awaitable[Any]], started: asyncio.Event, hold: float) -> Any:
    """Run ``work`` in its own unit of work and keep the transaction (and its locks) open a while."""
    async with database.unit_of_work() as session:
        result = await work(session)
        started.set()
        await asyncio.sleep(hold)
    return result


async def _after(database: Database, work: Callable[[Any], Awaitable[Any]], started: asyncio.Event) -> Any:
    await started.wait()
    async with database.unit_of_work() as session:
        return await work(session)


@dataclass
class Race:
    rid: Any
    town: Party
    neighbour: Party
    vendors: dict[str, tuple[str, uuid.UUID]]  # slug -> (token, offer uuid)


async def _race_world(client: httpx.AsyncClient, database: Database) -> Race:
    await seed_vocabularies(database)
    town = await party(
        client, database, await make_organization(database, kind=OrganizationKind.municipality, slug="a")
    )
    neighbour = await party(
        client, database, await make_organization(database, kind=OrganizationKind.municipality, slug="b")
    )
    vendors = {}
    tokens = {}
    for slug in ("v1", "v2"):
        org = await make_organization(database, slug=slug)
        await published_solution(database, org, f"s-{slug}", sectors=["smart-governance"])
        tokens[slug] = await write_token(database, org)
    body = request_payload("a", solution=None, sectors=["smart-governance"])
    rid = (await town.http.post(BASE, json=body)).json()["uuid"]
    await town.http.post(f"{BASE}/{rid}/open")
    await neighbour.http.put(f"{BASE}/{rid}/participants/b", json={"inhabitants": 5000})
    for slug, token in tokens.items():
        api = bearer(client, token)
        seen = (await api.get(f"{BASE}/{rid}")).json()
        offer = await api.post(f"{BASE}/{rid}/offers", json=offer_payload(seen))
        assert offer.status_code == 201, offer.text
        vendors[slug] = (token, uuid.UUID(offer.json()["uuid"]))
    return Race(uuid.UUID(rid), town, neighbour, vendors)


async def _participant_view(database: Database, rid: Any, offer: uuid.UUID | None = None) -> Any:
    """What a participant sees: the bundle, and (if named) the offer."""
    async with database.sessionmaker() as session:
        request = (await session.exec(select(OfferRequest).where(OfferRequest.uuid == rid))).one()
        relation = services.Relation(request, participant_orgs={request.requester_id})
        if offer is None:
            return (await services.offer_request_out(session, relation)).bundle.model_dump()
        offers = list(await session.exec(select(Offer).where(Offer.uuid == offer)))
        return (await services.offer_outs(session, relation, offers))[0]


async def _bundle(database: Database, rid: Any) -> dict[str, Any]:
    bundle: dict[str, Any] = await _participant_view(database, rid)
    return bundle


def _offer_fields(bundle: dict[str, Any], base_cents: int) -> OfferFields:
    request = {
        "bundle": bundle,
        "deadline": in_days(30),
    }
    return OfferFields.model_validate(offer_payload(request, base_cents=base_cents))


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])  # row locks; SQLite serialises writers by itself
async def test_two_vendors_revising_at_once_both_keep_their_revision(
    client: httpx.AsyncClient, database: Database, backend: str
) -> None:
    race = await _race_world(client, database)
    bundle = await _bundle(database, race.rid)
    (t1, o1), (t2, o2) = race.vendors["v1"], race.vendors["v2"]
    p1, p2 = await _principal(database, token=t1), await _principal(database, token=t2)
    started = asyncio.Event()

    def revise(
        principal: Principal, offer: uuid.UUID, cents: int, etag_revision: int
    ) -> Callable[[Any], Awaitable[Any]]:
        async def work(session: Any) -> Any:
            return await services.revise_offer(
                session, principal, race.rid, offer, _offer_fields(bundle, cents), f'"{offer}.{etag_revision}"'
            )

        return work

    await asyncio.gather(
        _held(database, revise(p1, o1, 111, 1), started, 0.3),
        _after(database, revise(p2, o2, 222, 1), started),
    )
    # The same vendor twice with the same If-Match: the second learns the offer moved on; nothing is lost.
    started = asyncio.Event()
    results = await asyncio.gather(
        _held(database, revise(p1, o1, 333, 2), started, 0.3),
        _after(database, revise(p1, o1, 444, 2), started),
        return_exceptions=True,
    )
    assert isinstance(results[1], PreconditionFailed)
    async with database.sessionmaker() as session:
        rows = await session.exec(
            select(Offer.uuid, OfferRevision.revision, OfferRevision.per_participant)
            .join(Offer, col(Offer.id) == col(OfferRevision.offer_id))
            .order_by(col(Offer.id), col(OfferRevision.revision))
        )
        kept = [(u, r, min(s["total_cents"] for s in shares)) for u, r, shares in rows]
    assert kept == [
        (o1, 1, 1_000_000 + 5 * 5000),
        (o1, 2, 111 + 5 * 5000),
        (o1, 3, 333 + 5 * 5000),
        (o2, 1, 1_000_000 + 5 * 5000),
        (o2, 2, 222 + 5 * 5000),
    ]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])  # row locks; SQLite serialises writers by itself
async def test_a_participant_leaving_while_an_offer_is_revised_loses_nothing(
    client: httpx.AsyncClient, database: Database, backend: str
) -> None:
    race = await _race_world(client, database)
    bundle = await _bundle(database, race.rid)
    token, offer = race.vendors["v1"]
    vendor = await _principal(database, token=token)
    neighbour = await _principal(database, user=race.neighbour.user)

    async def revise(session: Any) -> Any:
        return await services.revise_offer(session, vendor, race.rid, offer, _offer_fields(bundle, 7), f'"{offer}.1"')

    async def leave(session: Any) -> Any:
        return await services.leave_offer_request(session, neighbour, race.rid, "b")

    # The leave holds the request first: the revision waits for it, then finds the bundle changed (409).
    started = asyncio.Event()
    results = await asyncio.gather(
        _held(database, leave, started, 0.3), _after(database, revise, started), return_exceptions=True
    )
    assert isinstance(results[1], Conflict) and results[1].field == "bundle_version"
    after = await _bundle(database, race.rid)
    assert after["participants_count"] == 1 and after["version"] == bundle["version"] + 1
    async with database.sessionmaker() as session:
        assert (await session.exec(select(func.count()).select_from(OfferRevision))).one() == 2  # one per vendor

    # Rejoin, then the other order: the revision holds the request, the leave waits and then succeeds.
    await race.neighbour.http.put(f"{BASE}/{race.rid}/participants/b", json={"inhabitants": 5000})
    bundle = await _bundle(database, race.rid)

    async def revise_again(session: Any) -> Any:
        return await services.revise_offer(session, vendor, race.rid, offer, _offer_fields(bundle, 9), f'"{offer}.1"')

    started = asyncio.Event()
    await asyncio.gather(_held(database, revise_again, started, 0.3), _after(database, leave, started))
    final = await _bundle(database, race.rid)
    assert final["participants_count"] == 1
    seen_by_participants = await _participant_view(database, race.rid, offer)
    assert seen_by_participants.current_revision == 2 and seen_by_participants.priced_for_current_bundle is False
    assert seen_by_participants.latest is None  # sealed until the deadline
    async with database.sessionmaker() as session:
        request = (await session.exec(select(OfferRequest).where(OfferRequest.uuid == race.rid))).one()
        relation = await services.relation_to(session, vendor, request)
        own = (
            await services.offer_outs(
                session, relation, list(await session.exec(select(Offer).where(Offer.uuid == offer)))
            )
        )[0]
    assert own.latest is not None and own.latest.total_cents == 2 * 9 + 5 * 125_000
    assert {(s.organization.slug, s.participating) for s in own.latest.per_participant} == {("a", True), ("b", False)}


@pytest.mark.redis
@pytest.mark.parametrize("backend", ["postgresql"])  # the production profile: PostgreSQL and arq on Redis
async def test_the_deadline_job_and_its_mails_run_unchanged_on_a_real_arq_worker(
    client: httpx.AsyncClient, database: Database, adapters: Adapters, smtp: SmtpSink, backend: str, world: Opened
) -> None:
    await set_deadline(database, world.rid, utcnow() - timedelta(seconds=1))
    queue_name = f"allmende:test:{uuid.uuid4().hex[:8]}"
    queue = ArqJobQueue(REDIS_URL, queue_name=queue_name)
    registry = JobRegistry()  # the two jobs, enqueued explicitly: cron ids are shared by every worker on Redis
    registry.register(SEND_JOB)
    registry.register(dataclasses.replace(CLOSE_JOB, every_seconds=None))
    context = JobContext(
        settings=adapters.settings,
        database=database,
        queue=queue,
        adapters={"mailer": SmtpMailer(smtp.url, "Allmende <noreply@allmende.test>", timeout=5)},
    )
    await queue.enqueue(CLOSE_JOB.name, job_id=f"{queue_name}:close")
    worker = build_worker(registry, context, REDIS_URL, queue_name=queue_name, burst=True, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
        await queue.close()
        redis = Redis.from_url(REDIS_URL)
        keys = [k async for k in redis.scan_iter(f"arq:*{queue_name}*")]
        await redis.delete(queue_name, *keys)
        await redis.aclose()
    assert (worker.jobs_failed, worker.jobs_complete) == (0, 2)  # the close job, then one mail
    assert (await world.requester.http.get(f"{BASE}/{world.rid}")).json()["state"] == "closed"
    assert smtp.subjects(world.requester.user.email) == [
        "Angebotsfrist abgelaufen: Bürgerbeteiligungsplattform für drei Jahre"
    ]

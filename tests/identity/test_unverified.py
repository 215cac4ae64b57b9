"""Until a moderator verifies the claim, a claimant prepares drafts for the organization (solutions, offer
requests) but does not submit them for publication, open requests, join bundles or answer offers
(issue 14, item 2; recording references: tests/identity/test_getting_in.py)."""

from __future__ import annotations

import httpx

from allmende.accounts.models import OrganizationKind
from allmende.core.db import Database
from offer_requests.models import OfferRequestParticipant
from tests.support.factories import bearer, count, make_organization, seed_vocabularies, signed_in, solution_payload
from tests.support.identity import unverified_owner, verify_membership
from tests.support.offers import BASE, offer_payload, request_payload, requester_with_solution, write_token


async def test_a_vendor_claimant_drafts_solutions_and_submits_them_once_verified(
    client: httpx.AsyncClient, database: Database
) -> None:
    await seed_vocabularies(database)
    vendor = await make_organization(database, slug="neu-gmbh")
    email = await unverified_owner(database, vendor)
    http = await signed_in(client, email)

    created = await http.post("/api/v1/solutions", json={**solution_payload(name="Entwurf"), "provider": "neu-gmbh"})
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    draft = await http.get(f"/api/v1/solutions/{slug}")
    assert draft.status_code == 200
    edited = await http.patch(
        f"/api/v1/solutions/{slug}",
        json={"summary": "Besser beschrieben."},
        headers={"If-Match": draft.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    refused = await http.post(f"/api/v1/solutions/{slug}/submit")
    assert refused.status_code == 403 and "verification" in refused.json()["detail"]

    await verify_membership(database, email)
    assert (await http.post(f"/api/v1/solutions/{slug}/submit")).status_code == 200


async def test_a_municipal_claimant_drafts_an_offer_request_but_does_not_open_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    await requester_with_solution(client, database)
    village = await make_organization(database, kind=OrganizationKind.municipality, slug="village")
    email = await unverified_owner(database, village)
    http = await signed_in(client, email)

    draft = await http.post(BASE, json=request_payload("village"))
    assert draft.status_code == 201, draft.text
    rid = draft.json()["uuid"]
    assert [r["uuid"] for r in (await http.get(BASE)).json()["items"]] == [rid]
    seen = await http.get(f"{BASE}/{rid}")
    edited = await http.patch(
        f"{BASE}/{rid}", json={"title": "Neuer Titel"}, headers={"If-Match": seen.headers["etag"]}
    )
    assert edited.status_code == 200, edited.text
    refused = await http.post(f"{BASE}/{rid}/open")
    assert refused.status_code == 403 and "verification" in refused.json()["detail"]

    await verify_membership(database, email)
    assert (await http.post(f"{BASE}/{rid}/open")).status_code == 200


async def test_a_claimant_neither_joins_a_bundle_nor_answers_for_a_vendor(
    client: httpx.AsyncClient, database: Database
) -> None:
    vendor_org, town = await requester_with_solution(client, database)
    rid = (await town.http.post(BASE, json=request_payload("town"))).json()["uuid"]
    assert (await town.http.post(f"{BASE}/{rid}/open")).status_code == 200
    village = await make_organization(database, kind=OrganizationKind.municipality, slug="village")
    neighbour = await signed_in(client, await unverified_owner(database, village))
    vendor_claimant = await signed_in(client, await unverified_owner(database, vendor_org))

    joined = await neighbour.put(
        f"{BASE}/{rid}/participants/village", json={"inhabitants": 1000, "users": 2, "sites": 1}
    )
    assert joined.status_code == 404  # an unverified body is no prospect: the request is not even shown
    assert await count(database, OfferRequestParticipant) == 1
    vendor = bearer(client, await write_token(database, vendor_org))
    seen = (await vendor.get(f"{BASE}/{rid}")).json()
    answered = await vendor_claimant.post(f"{BASE}/{rid}/offers", json=offer_payload(seen))
    assert answered.status_code == 404

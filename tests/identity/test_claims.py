"""Organizations join the platform: a person claims a public body from the register or names a new vendor,
moderators verify or reject the claim (issue 14, item 2)."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, Membership, Organization, PlatformRole, User
from allmende.core.db import Database
from identity.models import OrganizationClaim
from notifications.models import Notification
from tests.support.factories import add_membership, count, login, make_user, make_user_in, signed_in
from tests.support.identity import audit_actions, file_claim, town, verify


async def _membership(database: Database, email: str, slug: str) -> Membership | None:
    async with database.sessionmaker() as session:
        query = (
            select(Membership)
            .join(Organization, col(Organization.id) == Membership.organization_id)
            .join(User, col(User.id) == Membership.user_id)
            .where(Organization.slug == slug, User.email == email)
        )
        return (await session.exec(query)).first()


async def test_a_confirmed_person_claims_a_municipality_by_its_ags_and_holds_an_unverified_ownership(
    client: httpx.AsyncClient, database: Database
) -> None:
    await town(database)
    await make_user(database, email="amt@musterstadt.de")
    http = await signed_in(client, "amt@musterstadt.de")

    response = await file_claim(http, key="01058077", statement="Leitung Digitalisierung")

    assert response.status_code == 201, response.text
    claim = response.json()
    assert claim["state"] == "pending"
    assert claim["organization"]["slug"] == "musterstadt"
    assert claim["details"]["statement"] == "Leitung Digitalisierung"
    membership = await _membership(database, "amt@musterstadt.de", "musterstadt")
    assert membership is not None and membership.role == "owner" and membership.verified_at is None
    members = (await http.get("/api/v1/organizations/musterstadt/members")).json()
    assert members == [
        {"email": "amt@musterstadt.de", "display_name": "Test Person", "role": "owner", "verified": False}
    ]
    own = (await http.get("/api/v1/organization-claims")).json()
    assert [c["uuid"] for c in own] == [claim["uuid"]]
    assert "organization_claim.file" in await audit_actions(database)


async def test_the_slug_names_the_public_body_as_well(client: httpx.AsyncClient, database: Database) -> None:
    await town(database)
    await make_user(database, email="a@example.org")
    http = await signed_in(client, "a@example.org")
    response = await file_claim(http, organization="musterstadt")
    assert response.status_code == 201, response.text


async def test_only_a_signed_in_person_with_a_confirmed_address_claims(
    client: httpx.AsyncClient, database: Database
) -> None:
    await town(database)
    await client.get("/api/v1/organizations")
    anonymous = await client.post(
        "/api/v1/organization-claims",
        json={"key": "01058077"},
        headers={"x-csrftoken": client.cookies.get("csrftoken") or ""},
    )
    assert anonymous.status_code == 401
    await make_user(database, email="new@example.org", confirmed=False)
    # An address not yet confirmed does not even sign in, so it files no claim (the claim service checks
    # the address once more for callers that are not a sign-in).
    refused = await login(client, "new@example.org")
    assert refused.status_code == 403 and refused.json()["field"] == "email"
    assert await count(database, OrganizationClaim) == 0


async def test_a_second_claim_for_the_same_ags_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, database: Database
) -> None:
    await town(database)
    await make_user(database, email="first@example.org")
    await make_user(database, email="second@example.org")
    assert (await file_claim(await signed_in(client, "first@example.org"), key="01058077")).status_code == 201

    response = await file_claim(await signed_in(client, "second@example.org"), key="01058077")

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == "organization"
    assert await count(database, OrganizationClaim) == 1
    assert await _membership(database, "second@example.org", "musterstadt") is None


async def test_an_unknown_key_or_a_vendor_slug_is_not_a_public_body(
    client: httpx.AsyncClient, database: Database
) -> None:
    vendor = await make_user(database, email="v@example.org")
    http = await signed_in(client, vendor.email)
    assert (await file_claim(http, key="99999999")).json()["field"] == "organization"
    both = await file_claim(http, key="01058077", organization="musterstadt")
    assert both.status_code == 422


async def test_a_new_vendor_is_created_at_once_with_its_claimant_as_unverified_owner(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_user(database, email="chefin@offene-software.de")
    http = await signed_in(client, "chefin@offene-software.de")

    response = await file_claim(
        http,
        vendor={
            "name": "Offene Software für Kommunen GmbH",
            "address": "Holstenstraße 1, 24103 Kiel",
            "register_number": "HRB 12345 KI",
            "website": "https://offene-software.de",
        },
    )

    assert response.status_code == 201, response.text
    claim = response.json()
    assert claim["organization_created"] is True
    assert claim["details"]["address"] == "Holstenstraße 1, 24103 Kiel"
    assert claim["details"]["register_number"] == "HRB 12345 KI"
    assert claim["suggested_evidence"] == "official-domain-email"  # the address is at the website's domain
    slug = claim["organization"]["slug"]
    assert (await client.get(f"/api/v1/organizations/{slug}")).json()["kind"] == "vendor"
    membership = await _membership(database, "chefin@offene-software.de", slug)
    assert membership is not None and membership.role == "owner" and membership.verified_at is None


async def test_moderators_see_the_queue_with_the_evidence_suggestion_and_verify_the_first_owner(
    client: httpx.AsyncClient, database: Database
) -> None:
    await town(database, website="https://www.musterstadt.de")
    await make_user(database, email="it@musterstadt.de")
    moderator = await make_user(database, role=PlatformRole.moderator)
    claim = (await file_claim(await signed_in(client, "it@musterstadt.de"), key="01058077")).json()
    mod = await signed_in(client, moderator.email)

    queue = (await mod.get("/api/v1/organization-claims", params={"state": "pending"})).json()
    assert [(c["uuid"], c["suggested_evidence"], c["claimant_email"]) for c in queue] == [
        (claim["uuid"], "official-domain-email", "it@musterstadt.de")
    ]
    response = await verify(mod, claim["uuid"], evidence="official-domain-email")

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "verified" and response.json()["evidence"] == "official-domain-email"
    membership = await _membership(database, "it@musterstadt.de", "musterstadt")
    assert membership is not None and membership.role == "owner" and membership.verified_at is not None
    assert (await mod.get("/api/v1/organization-claims", params={"state": "pending"})).json() == []
    assert "organization_claim.verify" in await audit_actions(database)
    async with database.sessionmaker() as session:
        kinds = list(await session.exec(select(Notification.kind)))
    assert kinds == ["organization_claim.verified"]
    again = await verify(mod, claim["uuid"])
    assert again.status_code == 409 and again.json()["field"] == "state"


async def test_once_an_organization_has_a_verified_owner_a_later_claimant_becomes_an_editor(
    client: httpx.AsyncClient, database: Database
) -> None:
    org = await town(database)
    await make_user_in(database, org, MemberRole.owner)
    await make_user(database, email="late@example.org")
    moderator = await make_user(database, role=PlatformRole.moderator)
    claim = (await file_claim(await signed_in(client, "late@example.org"), key="01058077")).json()

    assert (await verify(await signed_in(client, moderator.email), claim["uuid"])).status_code == 200

    membership = await _membership(database, "late@example.org", "musterstadt")
    assert membership is not None and membership.role == "editor" and membership.verified_at is not None


async def test_four_eyes_a_moderator_does_not_decide_for_an_organization_they_belong_to(
    client: httpx.AsyncClient, database: Database
) -> None:
    org = await town(database)
    moderator = await make_user(database, role=PlatformRole.moderator)
    await add_membership(database, moderator, org, MemberRole.member)
    await make_user(database, email="c@example.org")
    claim = (await file_claim(await signed_in(client, "c@example.org"), key="01058077")).json()

    response = await verify(await signed_in(client, moderator.email), claim["uuid"])

    assert response.status_code == 403 and response.json()["field"] == "organization"
    membership = await _membership(database, "c@example.org", "musterstadt")
    assert membership is not None and membership.verified_at is None


async def test_rejecting_removes_the_unverified_membership_and_the_vendor_the_claim_made(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_user(database, email="fake@example.org")
    moderator = await make_user(database, role=PlatformRole.moderator)
    claim = (
        await file_claim(
            await signed_in(client, "fake@example.org"), vendor={"name": "Briefkasten AG", "address": "Nirgendwo 1"}
        )
    ).json()
    mod = await signed_in(client, moderator.email)

    response = await mod.post(
        f"/api/v1/organization-claims/{claim['uuid']}/reject", json={"note": "Kein Handelsregistereintrag."}
    )

    assert response.status_code == 200 and response.json()["state"] == "rejected"
    slug = claim["organization"]["slug"]
    assert await _membership(database, "fake@example.org", slug) is None
    assert (await client.get(f"/api/v1/organizations/{slug}")).status_code == 404
    assert "organization_claim.reject" in await audit_actions(database)


@pytest.mark.parametrize("evidence", ["", "phone-call"])
async def test_a_decision_names_its_evidence_and_a_note(
    client: httpx.AsyncClient, database: Database, evidence: str
) -> None:
    await town(database)
    await make_user(database, email="c@example.org")
    moderator = await make_user(database, role=PlatformRole.moderator)
    claim = (await file_claim(await signed_in(client, "c@example.org"), key="01058077")).json()
    mod = await signed_in(client, moderator.email)
    response = await mod.post(
        f"/api/v1/organization-claims/{claim['uuid']}/verify", json={"evidence": evidence, "note": "ok"}
    )
    assert response.status_code == 422 and response.json()["field"] == "evidence"
    without_note = await mod.post(
        f"/api/v1/organization-claims/{claim['uuid']}/verify", json={"evidence": "manual-check"}
    )
    assert without_note.status_code == 422 and without_note.json()["field"] == "note"

"""Every endpoint of joining organizations (claims, their decisions, invitations, members) against every
role, with the exact outcome of each cell and the effect a success (and only a success) has.

"own organization" is the municipality ``town``. Roles: anonymous; a person whose address is not
confirmed; a registered person (confirmed, no organization); the unverified claimant of ``town``; member,
editor and owner of ``town``; a moderator and an admin (of no organization).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, Membership, Organization, OrganizationKind, PlatformRole, User
from allmende.core.db import Database
from allmende.core.security import token_digest
from allmende.core.types import utcnow
from identity.models import Invitation, OrganizationClaim
from tests.support.factories import count, csrf_headers, login, make_organization, make_user, make_user_in, signed_in

ROLES = ["anonymous", "unconfirmed", "registered", "unverified", "member", "editor", "owner", "moderator", "admin"]
TOKEN = "the-invitation-token-of-the-table"


@dataclass
class World:
    village_claim: str  # a pending claim of a third person, for the municipality "village"
    invitation: str  # an open invitation of town
    colleague: str  # a member of town, whom owners may remove


async def _world(database: Database, client: httpx.AsyncClient) -> World:
    town = await make_organization(
        database, kind=OrganizationKind.municipality, slug="town", ags="08111000", bundesland="08"
    )
    await make_organization(database, kind=OrganizationKind.municipality, slug="village", ags="08111001")
    await make_user(database, email="claimant@example.org")
    claim = await (await signed_in(client, "claimant@example.org")).post(
        "/api/v1/organization-claims", json={"organization": "village"}
    )
    colleague = await make_user_in(database, town, MemberRole.member)
    await make_user_in(database, town, MemberRole.owner)  # a second owner: removing and demoting stay possible
    async with database.unit_of_work() as session:
        invitation = Invitation(
            organization_id=town.id or 0,
            email="invited@example.org",
            role="member",
            token_hash=token_digest(TOKEN),
            expires_at=utcnow().replace(year=utcnow().year + 1),
        )
        session.add(invitation)
    return World(claim.json()["uuid"], str(invitation.uuid), colleague.email)


async def _as(client: httpx.AsyncClient, database: Database, role: str) -> None:
    if role == "anonymous":
        await client.get("/api/v1/organizations")
        return
    if role in ("moderator", "admin"):
        user = await make_user(database, role=PlatformRole(role))
    elif role == "unconfirmed":
        # Registered, link not used: the sign-in is refused, so the person gets what anonymous callers get.
        user = await make_user(database, confirmed=False)
        refused = await login(client, user.email)
        assert refused.status_code == 403 and refused.json()["field"] == "email"
        return
    elif role in ("registered", "unverified"):
        user = await make_user(database)
    else:
        async with database.sessionmaker() as session:
            town = (await session.exec(select(Organization).where(Organization.slug == "town"))).one()
        user = await make_user_in(database, town, MemberRole(role))
    assert (await login(client, user.email)).status_code == 201
    if role == "unverified":
        response = await client.post(
            "/api/v1/organization-claims", json={"key": "08111000"}, headers=csrf_headers(client)
        )
        assert response.status_code == 201, response.text


def _statuses(*codes: int) -> dict[str, int]:
    return dict(zip(ROLES, codes, strict=True))


@dataclass
class Cell:
    name: str
    method: str
    path: str
    expected: dict[str, int]
    body: Any = None
    check: Any = None  # async (database, world, succeeded) -> None


async def _claims_of_town(db: Database, _w: World, ok: bool) -> None:
    # a success makes the one claim for town; a refusal adds none (the unverified role filed its own before)
    town_claims = await count(
        db, OrganizationClaim, OrganizationClaim.organization_id == Organization.id, Organization.slug == "town"
    )
    assert town_claims == 1 if ok else town_claims <= 1


def _village_claim(state: str) -> Any:
    async def check(db: Database, w: World, ok: bool) -> None:
        async with db.sessionmaker() as session:
            query = select(OrganizationClaim).where(OrganizationClaim.uuid == uuid.UUID(w.village_claim))
            claim = (await session.exec(query)).one()
        assert claim.state == (state if ok else "pending")

    return check


async def _invited(db: Database, _w: World, ok: bool) -> None:
    assert await count(db, Invitation) == (2 if ok else 1)


async def _revoked(db: Database, _w: World, ok: bool) -> None:
    async with db.sessionmaker() as session:
        invitation = (await session.exec(select(Invitation))).one()
    assert (invitation.revoked_at is not None) is ok


async def _accepted(db: Database, _w: World, ok: bool) -> None:
    assert await count(db, User, User.email == "invited@example.org") == (1 if ok else 0)


def _colleague_role(expected: str | None) -> Any:
    async def check(db: Database, w: World, ok: bool) -> None:
        async with db.sessionmaker() as session:
            role = (
                await session.exec(
                    select(Membership.role)
                    .join(User, col(User.id) == Membership.user_id)
                    .where(User.email == w.colleague)
                )
            ).first()
        assert role == (expected if ok else "member")

    return check


CELLS = [
    Cell(
        "file a claim for town",
        "POST",
        "/api/v1/organization-claims",
        _statuses(401, 401, 201, 409, 409, 409, 409, 201, 201),
        body={"key": "08111000"},
        check=_claims_of_town,
    ),
    Cell("list claims", "GET", "/api/v1/organization-claims", _statuses(401, 401, 200, 200, 200, 200, 200, 200, 200)),
    Cell(
        "verify a claim",
        "POST",
        "/api/v1/organization-claims/{village_claim}/verify",
        _statuses(401, 401, 403, 403, 403, 403, 403, 200, 200),
        body={"evidence": "manual-check", "note": "Rückruf im Rathaus"},
        check=_village_claim("verified"),
    ),
    Cell(
        "reject a claim",
        "POST",
        "/api/v1/organization-claims/{village_claim}/reject",
        _statuses(401, 401, 403, 403, 403, 403, 403, 200, 200),
        body={"note": "Unbekannt im Rathaus"},
        check=_village_claim("rejected"),
    ),
    Cell(
        "list invitations",
        "GET",
        "/api/v1/organizations/town/invitations",
        _statuses(401, 401, 403, 403, 403, 403, 200, 403, 200),
    ),
    Cell(
        "invite",
        "POST",
        "/api/v1/organizations/town/invitations",
        _statuses(401, 401, 403, 403, 403, 403, 201, 403, 201),
        body={"email": "new@example.org", "role": "editor"},
        check=_invited,
    ),
    Cell(
        "revoke an invitation",
        "DELETE",
        "/api/v1/organizations/town/invitations/{invitation}",
        _statuses(401, 401, 403, 403, 403, 403, 204, 403, 204),
        check=_revoked,
    ),
    Cell(
        "accept another address's invitation (anonymous: with a new account)",
        "POST",
        f"/api/v1/invitations/{TOKEN}/accept",
        _statuses(200, 200, 403, 403, 403, 403, 403, 403, 403),
        body={"name": "Neue Person", "password": "Laterne Fahrrad Wolkenkratzer 42"},
        check=_accepted,
    ),
    Cell(
        "change a member's role",
        "PUT",
        "/api/v1/organizations/town/members",
        _statuses(401, 401, 403, 403, 403, 403, 200, 403, 200),
        body={"email": "{colleague}", "role": "editor"},
        check=_colleague_role("editor"),
    ),
    Cell(
        "remove a member",
        "DELETE",
        "/api/v1/organizations/town/members/{colleague}",
        _statuses(401, 401, 403, 403, 403, 403, 204, 403, 204),
        check=_colleague_role(None),
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name.split(" (")[0].replace(" ", "-"))
async def test_permission_table(client: httpx.AsyncClient, database: Database, cell: Cell, role: str) -> None:
    world = await _world(database, client)
    await _as(client, database, role)
    values = {"village_claim": world.village_claim, "invitation": world.invitation, "colleague": world.colleague}
    path = cell.path.format(**values)
    body = {k: (v.format(**values) if isinstance(v, str) else v) for k, v in cell.body.items()} if cell.body else None
    response = await client.request(cell.method, path, json=body, headers=csrf_headers(client))
    expected = cell.expected[role]
    assert response.status_code == expected, f"{cell.name} as {role}: {response.status_code} {response.text}"
    if cell.check is not None:
        await cell.check(database, world, 200 <= expected < 300)
    if cell.name == "list claims" and expected == 200:
        seen = {c["organization"]["slug"] for c in response.json()}  # moderators: the queue; others: their own
        assert seen == ({"village"} if role in ("moderator", "admin") else {"town"} if role == "unverified" else set())

"""Every offer-request endpoint (and the inbox) against every role, with the exact status and effect of each cell.

Roles: anonymous; the requester (a member of the requesting municipality A); a participant (a member of
municipality B, which joined); the addressed vendor (an editor of V, the provider of the requested
solution); a vendor not addressed (an editor of W); a public body not participating (a member of
municipality C); a moderator; an admin.

Each role signs in once (argon2 is slow on purpose); every cell then gets a fresh world, built in one
transaction through the services, in which that person belongs to the organization its role names.
A cell's expected effect is checked after a success, and its absence after a refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, Membership, Organization, OrganizationKind, PlatformRole, User
from allmende.accounts.principal import Principal
from allmende.core.db import Database
from allmende.core.types import utcnow
from marketplace.models import Solution
from marketplace.schemas import SolutionFields
from notifications.models import Notification
from offer_requests import services
from offer_requests.models import Offer, OfferMessage, OfferRequest, OfferRequestParticipant, OfferRevision
from offer_requests.schemas import DecisionIn, OfferCreate, OfferRequestCreate, Quantities
from tests.support.factories import PASSWORD_HASH, count, csrf_headers, login, solution_payload
from tests.support.offers import BASE

ROLES = ["anonymous", "requester", "participant", "vendor", "other_vendor", "public_body", "moderator", "admin"]
# Which organization of the world each role's person belongs to, and with which role.
MEMBERSHIP = {
    "requester": ("a", MemberRole.member),
    "participant": ("b", MemberRole.member),
    "vendor": ("v", MemberRole.editor),
    "other_vendor": ("w", MemberRole.editor),
    "public_body": ("c", MemberRole.member),
}
_worlds = iter(range(1, 1_000_000))


@dataclass
class World:
    orgs: dict[str, Organization]  # a, b, c (municipalities), v, w (vendors)
    request: OfferRequest
    offer: Offer | None = None
    notification: Notification | None = None  # the newest one of the requester's person (the inbox cell)

    def path(self, template: str) -> str:
        return template.format(
            r=self.request.uuid,
            o=self.offer.uuid if self.offer else "00000000-0000-0000-0000-000000000000",
            n=self.notification.uuid if self.notification else "00000000-0000-0000-0000-000000000000",
            **{k: o.slug for k, o in self.orgs.items()},
        )


def _request_data(a: Organization) -> OfferRequestCreate:
    return OfferRequestCreate.model_validate(
        {
            "organization": a.slug,
            "solution": f"loesung-{a.slug}",
            "title": "Bürgerbeteiligung",
            "need": "Online-Beteiligung für die Stadtentwicklung.",
            "quantities": {"inhabitants": 50_000, "users": 20, "sites": 1},
            "deadline": (utcnow() + timedelta(days=10)).isoformat(),
            "budget": {"min_cents": 100_000, "max_cents": 500_000},
        }
    )


def _offer_body(world: World) -> dict[str, Any]:
    a, b = world.orgs["a"], world.orgs["b"]
    return {
        "bundle_version": world.request.bundle_version,
        "items": [{"label": "Betrieb", "kind": "recurring_yearly", "amount_cents": 300_000}],
        "total_cents": 300_000,
        "per_participant": [
            {"organization": a.slug, "total_cents": 100_000},
            {"organization": b.slug, "total_cents": 200_000},
        ],
        "service_level": "werktags 8–18 Uhr",
        "valid_until": (world.request.deadline + timedelta(days=60)).date().isoformat(),
    }


async def build_world(database: Database, stage: str, person: User | None, role: str, *, offer: bool = True) -> World:
    """A, B, C, V and W with one actor each; a request of A at the given stage. ``person`` (the signed-in
    user of ``role``) joins the organization its role names before anything happens, so it is notified
    like any member would be."""
    n = next(_worlds)
    now = utcnow()
    async with database.unit_of_work() as session:
        orgs = {
            key: Organization(
                kind=(OrganizationKind.vendor if key in "vw" else OrganizationKind.municipality).value,
                name=f"{key.upper()} {n}",
                slug=f"{key}-{n}",
                bundesland=None if key in "vw" else "09",
            )
            for key in "abcvw"
        }
        session.add_all(orgs.values())
        await session.flush()
        actors: dict[str, Principal] = {}
        for key, role_in_org in (("a", MemberRole.member), ("b", MemberRole.member), ("v", MemberRole.editor)):
            actor = User(email=f"{key}{n}@actors.example", display_name=key, password_hash=PASSWORD_HASH)
            session.add(actor)
            await session.flush()
            session.add(Membership(user_id=actor.id or 0, organization_id=orgs[key].id or 0, role=role_in_org.value))
            actors[key] = Principal(user=actor, roles={orgs[key].id or 0: role_in_org})
        if person is not None and role in MEMBERSHIP:
            key, member_role = MEMBERSHIP[role]
            session.add(Membership(user_id=person.id or 0, organization_id=orgs[key].id or 0, role=member_role.value))
        for vendor in ("v", "w"):
            content = SolutionFields.model_validate(solution_payload(name=f"Lösung {vendor}{n}")).stored()
            slug = f"loesung-{orgs['a'].slug}" if vendor == "v" else f"andere-{n}"
            session.add(
                Solution(slug=slug, provider_id=orgs[vendor].id or 0, state="published", published_at=now, **content)
            )
        await session.flush()
        request = await services.create_offer_request(session, actors["a"], _request_data(orgs["a"]))
        world = World(orgs=orgs, request=request)
        if stage != "draft":
            await services.open_offer_request(session, actors["a"], request.uuid)
            await services.join_offer_request(
                session, actors["b"], request.uuid, orgs["b"].slug, Quantities(inhabitants=80_000)
            )
            if offer:
                data = OfferCreate.model_validate(_offer_body(world))
                world.offer = await services.submit_offer(session, actors["v"], request.uuid, data)
                await services.post_message(session, actors["b"], request.uuid, orgs["v"].slug, "Eine Frage?")
        if stage in ("closed", "awarded"):
            await services.close_due_offer_requests(session, request.deadline + timedelta(seconds=1))
        if stage == "awarded":
            assert world.offer is not None
            decision = DecisionIn(outcome="preferred", offer=world.offer.uuid)
            await services.decide_offer_request(session, actors["a"], request.uuid, decision)
        owner = person if role == "requester" else actors["a"].user
        await session.flush()
        world.notification = (
            await session.exec(
                select(Notification)
                .where(Notification.user_id == (owner.id if owner else 0))
                .order_by(col(Notification.id).desc())
            )
        ).first()
    return world


# --- effects ------------------------------------------------------------------------------------------------

Check = Callable[[Database, World, bool, httpx.Response], Awaitable[None]]


async def _request(database: Database, world: World) -> OfferRequest:
    async with database.sessionmaker() as session:
        return (await session.exec(select(OfferRequest).where(OfferRequest.uuid == world.request.uuid))).one()


def state_is(wanted: str, otherwise: str) -> Check:
    async def check(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
        assert (await _request(database, world)).state == (wanted if ok else otherwise)

    return check


async def title_changed(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
    assert ((await _request(database, world)).title == "Geändert") is ok


async def one_more_request(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
    assert await count(database, OfferRequest, OfferRequest.title == "Neu von A") == (1 if ok else 0)


async def _participations(database: Database, world: World, key: str) -> list[OfferRequestParticipant]:
    """The participation of organization ``key`` in the world's request (also one that left), if any."""
    async with database.sessionmaker() as session:
        query = select(OfferRequestParticipant).where(
            OfferRequestParticipant.request_id == world.request.id,
            OfferRequestParticipant.organization_id == world.orgs[key].id,
        )
        return list(await session.exec(query))


def participant(key: str, active_after_success: bool) -> Check:
    async def check(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
        row = next(iter(await _participations(database, world, key)), None)
        active = row is not None and row.left_at is None
        initially = key in ("a", "b")
        assert active == (active_after_success if ok else initially)

    return check


async def offer_made(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
    assert await count(database, Offer, Offer.request_id == world.request.id) == (1 if ok else 0)


async def offer_revised(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
    assert world.offer is not None
    assert await count(database, OfferRevision, OfferRevision.offer_id == world.offer.id) == (2 if ok else 1)


async def accepted(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
    [row] = await _participations(database, world, "b")
    assert row.acceptance == ("accepted" if ok else None)


async def message_posted(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
    assert await count(database, OfferMessage, OfferMessage.request_id == world.request.id) == (2 if ok else 1)


async def notification_read(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
    assert world.notification is not None
    async with database.sessionmaker() as session:
        row = await session.get(Notification, world.notification.id)
    assert row is not None and (row.read_at is not None) is ok


def listed(visible_to: set[str]) -> Callable[[str], Check]:
    def for_role(role: str) -> Check:
        async def check(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
            if ok:
                uuids = {item["uuid"] for item in response.json()["items"]}
                assert (str(world.request.uuid) in uuids) is (role in visible_to), uuids

        return check

    return for_role


def read_as(role: str) -> Check:
    """What a reader of the open request sees: prospects only sums, vendors no other vendors."""

    async def check(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
        if not ok:
            return
        body = response.json()
        assert (body["bundle"]["participants"] is None) is (role == "public_body")
        assert (body["vendors"] is None) is (role not in ("requester", "participant"))
        assert (body["budget"] is None) is (role == "public_body")

    return check


def offers_seen(role: str) -> Check:
    async def check(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
        if ok:
            [item] = response.json()["items"]
            assert item["sealed"] is (role != "vendor")
            assert (item["latest"] is None) is (role != "vendor")

    return check


async def own_inbox_only(database: Database, world: World, ok: bool, response: httpx.Response) -> None:
    if ok:
        async with database.sessionmaker() as session:
            mine = {str(n.uuid) for n in await session.exec(select(Notification))}
        assert {item["uuid"] for item in response.json()["items"]} <= mine


# --- the table ----------------------------------------------------------------------------------------------


@dataclass
class Cell:
    name: str
    method: str
    path: str
    stage: str  # draft | open | closed | awarded
    expected: dict[str, int]
    body: Any = None  # a dict, or a function of the world
    check: Check | None = None
    seen: Callable[[str], Check] | None = None  # what the role must (not) see in a successful answer
    offer: bool = True  # the world has the vendor's offer already
    if_match: bool = False


def _statuses(*codes: int) -> dict[str, int]:
    return dict(zip(ROLES, codes, strict=True))


#                                    anon requester particip vendor other  public  mod  admin
CELLS = [
    Cell("list", "GET", BASE, "open", _statuses(401, 200, 200, 200, 200, 200, 200, 200),
         seen=listed({"requester", "participant", "vendor", "public_body"})),
    Cell("create", "POST", BASE, "open", _statuses(401, 201, 403, 403, 403, 403, 403, 403),
         body=lambda w: _request_data(w.orgs["a"]).model_dump(mode="json") | {"title": "Neu von A"},
         check=one_more_request),
    Cell("read open", "GET", f"{BASE}/{{r}}", "open", _statuses(404, 200, 200, 200, 404, 200, 404, 404),
         seen=read_as),
    Cell("read draft", "GET", f"{BASE}/{{r}}", "draft", _statuses(404, 200, 404, 404, 404, 404, 404, 404)),
    Cell("edit draft", "PATCH", f"{BASE}/{{r}}", "draft", _statuses(404, 200, 404, 404, 404, 404, 404, 404),
         body={"title": "Geändert"}, check=title_changed, if_match=True),
    Cell("open draft", "POST", f"{BASE}/{{r}}/open", "draft", _statuses(404, 200, 404, 404, 404, 404, 404, 404),
         check=state_is("open", "draft")),
    Cell("withdraw", "POST", f"{BASE}/{{r}}/withdraw", "open", _statuses(404, 200, 403, 403, 404, 403, 404, 404),
         check=state_is("withdrawn", "open")),
    Cell("participants", "GET", f"{BASE}/{{r}}/participants", "open",
         _statuses(404, 200, 200, 200, 404, 403, 404, 404)),
    Cell("join as C", "PUT", f"{BASE}/{{r}}/participants/{{c}}", "open",
         _statuses(404, 403, 403, 403, 404, 201, 404, 404), body={"inhabitants": 30_000}, check=participant("c", True)),
    Cell("leave as B", "DELETE", f"{BASE}/{{r}}/participants/{{b}}", "open",
         _statuses(404, 403, 204, 403, 404, 403, 404, 404), check=participant("b", False)),
    Cell("offers", "GET", f"{BASE}/{{r}}/offers", "open", _statuses(404, 200, 200, 200, 404, 403, 404, 404),
         seen=offers_seen),
    Cell("submit offer", "POST", f"{BASE}/{{r}}/offers", "open", _statuses(404, 403, 403, 201, 404, 403, 404, 404),
         body=_offer_body, check=offer_made, offer=False),
    Cell("read offer", "GET", f"{BASE}/{{r}}/offers/{{o}}", "open", _statuses(404, 200, 200, 200, 404, 404, 404, 404)),
    Cell("revise offer", "PUT", f"{BASE}/{{r}}/offers/{{o}}", "open",
         _statuses(404, 403, 403, 200, 404, 404, 404, 404), body=_offer_body, check=offer_revised, if_match=True),
    Cell("revisions while open", "GET", f"{BASE}/{{r}}/offers/{{o}}/revisions", "open",
         _statuses(404, 403, 403, 200, 404, 404, 404, 404)),
    Cell("read closed", "GET", f"{BASE}/{{r}}", "closed", _statuses(404, 200, 200, 200, 404, 404, 404, 404)),
    Cell("offers when closed", "GET", f"{BASE}/{{r}}/offers", "closed",
         _statuses(404, 200, 200, 200, 404, 404, 404, 404)),
    Cell("revisions when closed", "GET", f"{BASE}/{{r}}/offers/{{o}}/revisions", "closed",
         _statuses(404, 200, 200, 200, 404, 404, 404, 404)),
    Cell("decide", "POST", f"{BASE}/{{r}}/decision", "closed", _statuses(404, 200, 403, 403, 404, 404, 404, 404),
         body=lambda w: {"outcome": "preferred", "offer": str(w.offer.uuid)}, check=state_is("awarded", "closed")),
    Cell("accept as B", "PUT", f"{BASE}/{{r}}/participants/{{b}}/acceptance", "awarded",
         _statuses(404, 403, 200, 403, 404, 404, 404, 404), body={"accepted": True}, check=accepted),
    Cell("threads", "GET", f"{BASE}/{{r}}/threads", "open", _statuses(404, 200, 200, 200, 404, 403, 404, 404)),
    Cell("read thread", "GET", f"{BASE}/{{r}}/threads/{{v}}/messages", "open",
         _statuses(404, 200, 200, 200, 404, 403, 404, 404)),
    Cell("write to thread", "POST", f"{BASE}/{{r}}/threads/{{v}}/messages", "open",
         _statuses(404, 201, 201, 201, 404, 403, 404, 404), body={"body": "Gerne."}, check=message_posted),
    Cell("inbox", "GET", "/api/v1/inbox", "open", _statuses(401, 200, 200, 200, 200, 200, 200, 200),
         check=own_inbox_only),
    Cell("mark requester's notification read", "POST", "/api/v1/inbox/{n}/read", "open",
         _statuses(401, 200, 404, 404, 404, 404, 404, 404), check=notification_read),
]  # fmt: skip


async def _sign_in(client: httpx.AsyncClient, database: Database, role: str) -> tuple[httpx.AsyncClient, User | None]:
    http = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    if role == "anonymous":
        await http.get("/api/v1/solutions")  # like a browser: the CSRF cookie, but no session
        http.headers.update(csrf_headers(http))
        return http, None
    platform = PlatformRole(role) if role in ("moderator", "admin") else None
    async with database.unit_of_work() as session:
        person = User(
            email=f"{role}@roles.example",
            display_name=role,
            password_hash=PASSWORD_HASH,
            platform_role=platform.value if platform else None,
            email_confirmed_at=utcnow(),  # made as an operator would: confirmed, so it may sign in
        )
        session.add(person)
    assert (await login(http, person.email)).status_code == 201
    http.headers.update(csrf_headers(http))
    return http, person


@pytest.mark.parametrize("role", ROLES)
async def test_permission_table(client: httpx.AsyncClient, database: Database, role: str) -> None:
    http, person = await _sign_in(client, database, role)
    mismatches = []
    for cell in CELLS:
        world = await build_world(database, cell.stage, person, role, offer=cell.offer)
        headers = {}
        if cell.if_match:
            headers["If-Match"] = world.offer.etag if world.offer and "/offers/" in cell.path else world.request.etag
        body = cell.body(world) if callable(cell.body) else cell.body
        response = await http.request(cell.method, world.path(cell.path), json=body, headers=headers)
        expected = cell.expected[role]
        if response.status_code != expected:
            mismatches.append(f"{cell.name}: expected {expected}, got {response.status_code} {response.text[:300]}")
            continue
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), cell.name
        for check in (cell.check, cell.seen(role) if cell.seen else None):
            if check is None:
                continue
            try:
                await check(database, world, 200 <= expected < 300, response)
            except AssertionError as exc:
                mismatches.append(f"{cell.name}: effect: {exc!r}")
    assert mismatches == [], f"as {role}:\n" + "\n".join(mismatches)

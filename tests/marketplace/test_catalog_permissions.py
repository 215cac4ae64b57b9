"""Every solution and reference endpoint against every role, with the exact outcome of each cell.

"own organization" is the organization the endpoint acts for: the provider for solution endpoints,
the municipality for reference endpoints. Roles: anonymous, a member (editor) of another
organization, member, editor and owner of the own organization, a moderator and an admin.
"""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, Organization, OrganizationKind, PlatformRole
from allmende.core.db import Database
from marketplace.models import Reference, Solution
from tests.support.factories import csrf_headers, login, make_organization, make_user, make_user_in, seed_vocabularies
from tests.support.factories import solution_payload as payload

ROLES = ["anonymous", "other", "member", "editor", "owner", "moderator", "admin"]


@dataclass
class World:
    vendor: Organization
    town: Organization
    slugs: dict[str, str]  # state -> slug


async def _solution(database: Database, vendor: Organization, state: str, slug: str) -> None:
    from marketplace.schemas import SolutionFields
    from marketplace.services import sync_facets

    content = SolutionFields.model_validate(payload(name=f"Lösung {slug}")).stored()
    async with database.unit_of_work() as session:
        solution = Solution(slug=slug, provider_id=vendor.id or 0, state=state, **content)
        if state == "published":
            from allmende.core.types import utcnow

            solution.published_at = utcnow()
        session.add(solution)
        await session.flush()
        await sync_facets(session, solution)


async def _world(database: Database) -> World:
    await seed_vocabularies(database)
    vendor = await make_organization(database, slug="vendor")
    town = await make_organization(
        database, kind=OrganizationKind.municipality, slug="town", ags="08111000", bundesland="08"
    )
    for state in ("draft", "submitted", "published"):
        await _solution(database, vendor, state, state)
    await _solution(database, vendor, "published", "used")
    async with database.unit_of_work() as session:
        used = (await session.exec(select(Solution).where(Solution.slug == "used"))).one()
        session.add(Reference(solution_id=used.id or 0, organization_id=town.id or 0, mode="own-operation"))
    return World(vendor, town, {})


async def _client_as(client: httpx.AsyncClient, database: Database, role: str, own: Organization) -> None:
    if role == "anonymous":
        await client.get("/api/v1/solutions")  # like a browser: the CSRF cookie, but no session
        return
    if role in ("moderator", "admin"):
        user = await make_user(database, role=PlatformRole(role))
    elif role == "other":
        other = await make_organization(database, kind=OrganizationKind.vendor)
        user = await make_user_in(database, other, MemberRole.editor)
    else:
        user = await make_user_in(database, own, MemberRole(role))
    assert (await login(client, user.email)).status_code == 201


async def _state(database: Database, slug: str) -> tuple[str, bool]:
    async with database.sessionmaker() as session:
        solution = (await session.exec(select(Solution).where(Solution.slug == slug))).one()
        return solution.state, solution.deleted_at is not None


async def _reference_live(database: Database, slug: str) -> bool:
    async with database.sessionmaker() as session:
        rows = (
            await session.exec(
                select(Reference)
                .join(Solution, col(Solution.id) == col(Reference.solution_id))
                .where(Solution.slug == slug)
            )
        ).all()
        return any(r.deleted_at is None for r in rows)


@dataclass
class Cell:
    """One endpoint: its request, whose organization counts as own, expected status per role, and the
    effect that a success (and only a success) must have."""

    name: str
    method: str
    path: str
    own: str  # "vendor" | "town"
    expected: dict[str, int]
    body: Any = None
    check: Any = None  # async (database, succeeded) -> None


def _statuses(*codes: int) -> dict[str, int]:
    return dict(zip(ROLES, codes, strict=True))


async def _draft_changed(db: Database, ok: bool) -> None:
    async with db.sessionmaker() as session:
        name = (await session.exec(select(Solution.name).where(Solution.slug == "draft"))).one()
    assert (name == "Neu") is ok


async def _created(db: Database, ok: bool) -> None:
    async with db.sessionmaker() as session:
        count = len((await session.exec(select(Solution).where(Solution.name == "Neue Lösung"))).all())
    assert count == (1 if ok else 0)


def _state_is(slug: str, wanted: str, otherwise: str) -> Any:
    async def check(db: Database, ok: bool) -> None:
        assert (await _state(db, slug))[0] == (wanted if ok else otherwise)

    return check


async def _draft_deleted(db: Database, ok: bool) -> None:
    assert (await _state(db, "draft"))[1] is ok


def _reference(slug: str, live_after_success: bool) -> Any:
    async def check(db: Database, ok: bool) -> None:
        initial = slug == "used"
        assert await _reference_live(db, slug) == (live_after_success if ok else initial)

    return check


CELLS = [
    Cell("list published", "GET", "/api/v1/solutions", "vendor", _statuses(200, 200, 200, 200, 200, 200, 200)),
    Cell("read published", "GET", "/api/v1/solutions/published", "vendor", _statuses(*[200] * 7)),
    Cell("read draft", "GET", "/api/v1/solutions/draft", "vendor", _statuses(404, 404, 200, 200, 200, 200, 200)),
    Cell(
        "create",
        "POST",
        "/api/v1/solutions",
        "vendor",
        _statuses(401, 403, 403, 201, 201, 403, 403),
        body={**payload(name="Neue Lösung"), "provider": "vendor"},
        check=_created,
    ),
    Cell(
        "edit draft",
        "PATCH",
        "/api/v1/solutions/draft",
        "vendor",
        _statuses(404, 404, 403, 200, 200, 403, 403),
        body={"name": "Neu"},
        check=_draft_changed,
    ),
    Cell(
        "delete draft",
        "DELETE",
        "/api/v1/solutions/draft",
        "vendor",
        _statuses(404, 404, 403, 204, 204, 403, 403),
        check=_draft_deleted,
    ),
    Cell(
        "submit draft",
        "POST",
        "/api/v1/solutions/draft/submit",
        "vendor",
        _statuses(404, 404, 403, 200, 200, 403, 403),
        check=_state_is("draft", "submitted", "draft"),
    ),
    Cell(
        "publish submitted",
        "POST",
        "/api/v1/solutions/submitted/publish",
        "vendor",
        _statuses(404, 404, 403, 403, 403, 200, 200),
        check=_state_is("submitted", "published", "submitted"),
    ),
    Cell(
        "request changes",
        "POST",
        "/api/v1/solutions/submitted/request-changes",
        "vendor",
        _statuses(404, 404, 403, 403, 403, 200, 200),
        body={"reason": "Bitte Quellen angeben."},
        check=_state_is("submitted", "changes_requested", "submitted"),
    ),
    Cell(
        "archive published",
        "POST",
        "/api/v1/solutions/published/archive",
        "vendor",
        _statuses(401, 403, 403, 200, 200, 200, 200),
        check=_state_is("published", "archived", "published"),
    ),
    Cell(
        "bulk upsert",
        "POST",
        "/api/v1/solutions/bulk?provider=vendor",
        "vendor",
        _statuses(401, 403, 403, 200, 200, 403, 403),
        body={"items": [{**payload(name="Neue Lösung"), "external_id": "x-1"}]},
        check=_created,
    ),
    Cell("vendor's list", "GET", "/api/v1/organizations/vendor/solutions", "vendor", _statuses(*[200] * 7)),
    Cell(
        "claim reference",
        "PUT",
        "/api/v1/solutions/published/references/town",
        "town",
        _statuses(401, 403, 200, 200, 200, 403, 403),
        body={"mode": "saas"},
        check=_reference("published", True),
    ),
    Cell(
        "withdraw reference",
        "DELETE",
        "/api/v1/solutions/used/references/town",
        "town",
        _statuses(401, 403, 204, 204, 204, 403, 403),
        check=_reference("used", False),
    ),
    Cell("town's references", "GET", "/api/v1/organizations/town/references", "town", _statuses(*[200] * 7)),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name.replace(" ", "-"))
async def test_permission_table(client: httpx.AsyncClient, database: Database, cell: Cell, role: str) -> None:
    world = await _world(database)
    own = world.vendor if cell.own == "vendor" else world.town
    await _client_as(client, database, role, own)
    headers = csrf_headers(client)
    if cell.method == "PATCH":
        etag = (await client.get(cell.path)).headers.get("etag")
        if etag:
            headers["If-Match"] = etag
    response = await client.request(cell.method, cell.path, json=cell.body, headers=headers)
    expected = cell.expected[role]
    assert response.status_code == expected, f"{cell.name} as {role}: {response.status_code} {response.text}"
    if cell.check is not None:
        await cell.check(database, 200 <= expected < 300)
    if cell.name == "vendor's list":
        visible = {s["slug"] for s in response.json()}
        insiders = role in ("member", "editor", "owner", "moderator", "admin")
        assert visible == ({"draft", "submitted", "published", "used"} if insiders else {"published", "used"})

"""Optimistic concurrency holds under real parallel writers (issue 12, item 4).

Many clients send the same If-Match at once: exactly one wins, every other one learns with a 412 that
the record moved on, and the change log never holds two entries for the same (record, version). Only
PostgreSQL shows this: there the writers really overlap, while SQLite serialises them by itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import MemberRole, OrganizationKind, PlatformRole
from allmende.app import Adapters, create_app
from allmende.core.db import Database
from allmende.core.problems import PROBLEM_JSON, PreconditionFailed
from allmende.core.records import ChangeLogEntry
from marketplace.models import Solution
from offer_requests.models import Offer, OfferRevision
from tests.factories import bearer, csrf_headers, login, make_organization, make_user, make_user_in, solution_payload
from tests.test_knowledge import _study, _town_with_solution
from tests.test_offer_requests import BASE, offer_payload, party, request_payload, token_client, write_token
from tests.test_offer_requests import published_solution as make_published_solution

WRITERS = 20
ROUNDS = 3


@dataclass
class Target:
    """One record written over HTTP with If-Match: how to read its ETag and how to write it."""

    http: httpx.AsyncClient
    url: str
    method: str
    body: Callable[[int], dict[str, Any]]  # the n-th writer's body
    record_uuid: uuid.UUID | None = None  # shared records: the change log must stay free of duplicates

    async def etag(self) -> str:
        response = await self.http.get(self.url)
        assert response.status_code == 200, response.text
        return response.headers["etag"]

    async def write(self, n: int, if_match: str) -> httpx.Response:
        return await self.http.request(self.method, self.url, json=self.body(n), headers={"If-Match": if_match})


async def _signed_in(client: httpx.AsyncClient, email: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (await login(http, email)).status_code == 201
    http.headers.update(csrf_headers(http))
    return http


async def _versions(database: Database, record_uuid: uuid.UUID) -> list[int]:
    async with database.sessionmaker() as session:
        rows = await session.exec(
            select(ChangeLogEntry.version)
            .where(ChangeLogEntry.record_uuid == record_uuid)
            .order_by(col(ChangeLogEntry.seq))
        )
        return list(rows)


async def _race(database: Database, target: Target) -> None:
    """ROUNDS rounds of WRITERS parallel writes with the same If-Match: one 200, the rest 412."""
    for round_ in range(ROUNDS):
        before = await target.etag()
        # Every body differs from every other, earlier ones included: a write that changes nothing is no race.
        responses = await asyncio.gather(*(target.write(round_ * WRITERS + n, before) for n in range(WRITERS)))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 412: WRITERS - 1}, [(r.status_code, r.text[:200]) for r in responses]
        for lost in (r for r in responses if r.status_code == 412):
            assert lost.headers["content-type"].startswith(PROBLEM_JSON)
            assert lost.json()["field"] == "If-Match"
        winner = next(r for r in responses if r.status_code == 200)
        after = await target.etag()
        assert after == winner.headers["etag"] != before
        if target.record_uuid is not None:
            versions = await _versions(database, target.record_uuid)
            duplicates = [v for v, n in Counter(versions).items() if n > 1]
            assert duplicates == [], versions
            assert versions == sorted(versions)
            assert after == f'"{target.record_uuid}.{versions[-1]}"'


# --- shared records --------------------------------------------------------------------------------------------


async def _solution(client: httpx.AsyncClient, database: Database) -> Target:
    from tests.factories import seed_vocabularies

    await seed_vocabularies(database)
    vendor = await make_organization(database, slug="oks")
    owner = await make_user_in(database, vendor, MemberRole.owner)
    http = await _signed_in(client, owner.email)
    token = (
        await http.post(
            f"/api/v1/organizations/{vendor.slug}/tokens", json={"name": "Katalog", "scopes": ["read", "write"]}
        )
    ).json()["token"]
    api = bearer(client, token)
    created = await api.post("/api/v1/solutions", json=solution_payload(name="Mitmachportal"))
    assert created.status_code == 201, created.text
    return Target(
        api,
        f"/api/v1/solutions/{created.json()['slug']}",
        "PATCH",
        lambda n: {"summary": f"Fassung {n}: Online-Beteiligung für alle."},
        uuid.UUID(created.json()["uuid"]),
    )


async def _case_study(client: httpx.AsyncClient, database: Database) -> Target:
    town, _ = await _town_with_solution(database)
    author = await _signed_in(client, (await make_user_in(database, town, MemberRole.editor)).email)
    created = await author.post("/api/v1/case-studies", json=_study(author_organization=town.slug))
    assert created.status_code == 201, created.text
    return Target(
        author,
        f"/api/v1/case-studies/{created.json()['slug']}",
        "PATCH",
        lambda n: {"summary": f"Fassung {n}: Sensoren zeigen freie Plätze."},
        uuid.UUID(created.json()["uuid"]),
    )


async def _guide(client: httpx.AsyncClient, database: Database) -> Target:
    from tests.factories import seed_vocabularies

    await seed_vocabularies(database)
    moderator = await _signed_in(client, (await make_user(database, role=PlatformRole.moderator)).email)
    created = await moderator.post(
        "/api/v1/guides",
        json={"title": "Open Data starten", "stage": "1", "step": "datenmanagement-analyse", "body": "## Start\n"},
    )
    assert created.status_code == 201, created.text
    return Target(
        moderator,
        f"/api/v1/guides/{created.json()['slug']}",
        "PATCH",
        lambda n: {"body": f"## Start\n\nFassung {n}.\n", "note": f"Fassung {n}"},
        uuid.UUID(created.json()["uuid"]),
    )


async def _organization(client: httpx.AsyncClient, database: Database) -> Target:
    org = await make_organization(database, slug="oks")
    owner = await _signed_in(client, (await make_user_in(database, org, MemberRole.owner)).email)
    return Target(owner, "/api/v1/organizations/oks", "PATCH", lambda n: {"description": f"Fassung {n}"}, org.uuid)


# --- offer requests and offers (private to the parties, no change log) ------------------------------------------


async def _offer_request_draft(client: httpx.AsyncClient, database: Database) -> Target:
    vendor = await make_organization(database, slug="vendor")
    await make_published_solution(database, vendor, "mitmachen")
    town = await make_organization(database, kind=OrganizationKind.municipality, slug="town")
    requester = await party(client, database, town)
    created = await requester.http.post(BASE, json=request_payload("town"))
    assert created.status_code == 201, created.text
    return Target(requester.http, f"{BASE}/{created.json()['uuid']}", "PATCH", lambda n: {"title": f"Fassung {n}"})


async def _offer(client: httpx.AsyncClient, database: Database) -> Target:
    vendor_org = await make_organization(database, slug="vendor")
    await make_published_solution(database, vendor_org, "mitmachen")
    town = await make_organization(database, kind=OrganizationKind.municipality, slug="town")
    requester = await party(client, database, town)
    rid = (await requester.http.post(BASE, json=request_payload("town"))).json()["uuid"]
    assert (await requester.http.post(f"{BASE}/{rid}/open")).status_code == 200
    vendor = token_client(client, await write_token(database, vendor_org))
    seen = (await vendor.get(f"{BASE}/{rid}")).json()
    offer = await vendor.post(f"{BASE}/{rid}/offers", json=offer_payload(seen))
    assert offer.status_code == 201, offer.text
    return Target(
        vendor,
        f"{BASE}/{rid}/offers/{offer.json()['uuid']}",
        "PUT",
        lambda n: offer_payload(seen, base_cents=1_000_000 + n),
    )


SETUPS: dict[str, Callable[[httpx.AsyncClient, Database], Awaitable[Target]]] = {
    "solution": _solution,
    "case_study": _case_study,
    "guide": _guide,
    "organization": _organization,
    "offer_request": _offer_request_draft,
    "offer": _offer,
}


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("resource", list(SETUPS))
async def test_parallel_writers_with_the_same_if_match_one_wins_the_rest_get_412(
    client: httpx.AsyncClient, database: Database, backend: str, resource: str
) -> None:
    target = await SETUPS[resource](client, database)
    await _race(database, target)
    if resource == "offer":
        async with database.sessionmaker() as session:
            revisions = list(
                await session.exec(
                    select(OfferRevision.revision).join(Offer, col(Offer.id) == col(OfferRevision.offer_id))
                )
            )
        assert sorted(revisions) == list(range(1, ROUNDS + 2))  # the first offer and one per round


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_parallel_moderation_with_the_same_if_match_publishes_once(
    client: httpx.AsyncClient, database: Database, backend: str
) -> None:
    """The optional If-Match of the workflow steps (here: publish) is honoured under concurrency too."""
    target = await _solution(client, database)
    assert (
        await target.http.post(f"{target.url}/submit", headers={"If-Match": await target.etag()})
    ).status_code == 200
    moderator = await _signed_in(client, (await make_user(database, role=PlatformRole.moderator)).email)
    etag = (await moderator.get(target.url)).headers["etag"]
    responses = await asyncio.gather(
        *(moderator.post(f"{target.url}/publish", headers={"If-Match": etag}) for _ in range(WRITERS))
    )
    statuses = Counter(r.status_code for r in responses)
    # A writer that reads the record after the winner committed sees "published" (409); one that read it
    # before fails the version check (412). Never two publications.
    assert statuses[200] == 1 and statuses[200] + statuses[409] + statuses[412] == WRITERS, statuses
    assert target.record_uuid is not None
    versions = await _versions(database, target.record_uuid)
    assert len(versions) == len(set(versions)), versions


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_parallel_saves_of_the_guide_form_one_saves_the_rest_see_the_changed_meanwhile_page(
    client: httpx.AsyncClient, database: Database, backend: str
) -> None:
    """The web form catches the 412 and shows both versions (409); racing saves never end in a 500."""
    from tests.factories import seed_vocabularies
    from tests.web.conftest import post_form, sign_in
    from tests.web.test_guide_editor import GUIDE, _version

    await seed_vocabularies(database)
    vendor = await make_organization(database, name="Testanbieter Kommunal GmbH", slug="testanbieter")
    await sign_in(client, (await make_user_in(database, vendor, MemberRole.editor)).email)
    created = await post_form(client, "/leitfaeden/neu", GUIDE)
    assert created.status_code == 303, created.text[:2000]
    location = created.headers["location"]
    for round_ in range(ROUNDS):
        version = _version((await client.get(f"{location}/bearbeiten")).text)
        saves = await asyncio.gather(
            *(
                post_form(
                    client,
                    f"{location}/bearbeiten",
                    {**GUIDE, "title": f"Parkraum digital bewirtschaften {round_}.{n}", "version": version},
                )
                for n in range(WRITERS // 2)
            )
        )
        statuses = Counter(r.status_code for r in saves)
        assert statuses == {303: 1, 409: WRITERS // 2 - 1}, statuses
        assert all("inzwischen geändert" in r.text for r in saves if r.status_code == 409)


# --- a version conflict found only at commit ---------------------------------------------------------------------


async def _change_meanwhile(database: Database, slug: str) -> None:
    """Someone else's change to the solution, committed at once."""
    async with database.unit_of_work() as other:
        (await other.exec(select(Solution).where(Solution.slug == slug))).one().summary = "Die Änderung der anderen."


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_stale_write_found_when_the_request_commits_is_a_412_problem_not_a_500(
    client: httpx.AsyncClient, adapters: Adapters, database: Database, backend: str
) -> None:
    """The request's unit of work commits after the handler returned; the UPDATE that finds the version
    moved on runs only then. The client gets a 412 naming If-Match, never a 500."""
    target = await _solution(client, database)
    slug = target.url.rsplit("/", 1)[-1]

    @get("/test/late-write/{slug:str}")
    async def late_write(slug: FromPath[str], db_session: NamedDependency[AsyncSession]) -> dict[str, str]:
        solution = (await db_session.exec(select(Solution).where(Solution.slug == slug))).one()
        solution.summary = "Meine Änderung, noch nicht geschrieben."  # flushed only by the commit
        await _change_meanwhile(database, slug)
        return {"handler": "returned"}

    app = create_app(adapters.settings, adapters)
    app.register(late_write)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://testserver")
    response = await http.get(f"/test/late-write/{slug}")
    assert response.status_code == 412, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["field"] == "If-Match"
    async with database.sessionmaker() as session:
        kept = (await session.exec(select(Solution).where(Solution.slug == slug))).one()
    assert kept.summary == "Die Änderung der anderen."
    versions = await _versions(database, kept.uuid)
    assert len(versions) == len(set(versions)) and kept.version == versions[-1]


async def test_the_unit_of_work_turns_a_stale_commit_into_precondition_failed(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Without HTTP: the commit at the end of ``Database.unit_of_work`` raises PreconditionFailed (412)."""
    target = await _solution(client, database)
    slug = target.url.rsplit("/", 1)[-1]
    with pytest.raises(PreconditionFailed) as raised:
        async with database.unit_of_work() as session:
            solution = (await session.exec(select(Solution).where(Solution.slug == slug))).one()
            solution.summary = "Meine Änderung, noch nicht geschrieben."
            await _change_meanwhile(database, slug)
    assert raised.value.status == 412 and raised.value.field == "If-Match"
    assert isinstance(raised.value.__cause__, StaleDataError)

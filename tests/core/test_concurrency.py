"""Optimistic concurrency holds under real parallel writers (issue 12, item 4).

Many clients send the same If-Match at once: exactly one wins, every other one learns with a 412 that
the record moved on, and the change log never holds two entries for the same (record, version). Only
PostgreSQL shows this: there the writers really overlap, while SQLite serialises them by itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import httpx
import pytest
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import MemberRole, PlatformRole
from allmende.app import Adapters, create_app
from allmende.core.db import Database
from allmende.core.problems import PROBLEM_JSON, PreconditionFailed
from marketplace.models import Solution
from offer_requests.models import Offer, OfferRevision
from tests.support.concurrency import ROUNDS, Target, change_log_versions, race, solution_target
from tests.support.factories import (
    make_organization,
    make_user,
    make_user_in,
    seed_vocabularies,
    signed_in,
)
from tests.support.knowledge import study, town_with_solution
from tests.support.offers import BASE, offer_payload, opened, request_payload, requester_with_solution

# --- shared records (the solution's setup is in tests/support/concurrency.py) -------------------------------


async def _case_study(client: httpx.AsyncClient, database: Database) -> Target:
    town, _ = await town_with_solution(database)
    author = await signed_in(client, (await make_user_in(database, town, MemberRole.editor)).email)
    created = await author.post("/api/v1/case-studies", json=study(author_organization=town.slug))
    return Target.created(
        author, "/api/v1/case-studies", created, lambda n: {"summary": f"Fassung {n}: Sensoren zeigen freie Plätze."}
    )


async def _guide(client: httpx.AsyncClient, database: Database) -> Target:

    await seed_vocabularies(database)
    moderator = await signed_in(client, (await make_user(database, role=PlatformRole.moderator)).email)
    created = await moderator.post(
        "/api/v1/guides",
        json={"title": "Open Data starten", "stage": "1", "step": "datenmanagement-analyse", "body": "## Start\n"},
    )
    return Target.created(
        moderator, "/api/v1/guides", created, lambda n: {"body": f"## Start\n\nFassung {n}.\n", "note": f"Fassung {n}"}
    )


async def _organization(client: httpx.AsyncClient, database: Database) -> Target:
    org = await make_organization(database, slug="oks")
    owner = await signed_in(client, (await make_user_in(database, org, MemberRole.owner)).email)
    return Target(owner, "/api/v1/organizations/oks", "PATCH", lambda n: {"description": f"Fassung {n}"}, org.uuid)


# --- offer requests and offers (private to the parties, no change log) ------------------------------------------


async def _offer_request_draft(client: httpx.AsyncClient, database: Database) -> Target:
    _, requester = await requester_with_solution(client, database)
    created = await requester.http.post(BASE, json=request_payload("town"))
    assert created.status_code == 201, created.text
    return Target(requester.http, f"{BASE}/{created.json()['uuid']}", "PATCH", lambda n: {"title": f"Fassung {n}"})


async def _offer(client: httpx.AsyncClient, database: Database) -> Target:
    world = await opened(client, database)
    vendor, rid, seen = world.vendor, world.rid, world.seen
    offer = await vendor.post(f"{BASE}/{rid}/offers", json=offer_payload(seen))
    assert offer.status_code == 201, offer.text
    return Target(
        vendor,
        f"{BASE}/{rid}/offers/{offer.json()['uuid']}",
        "PUT",
        lambda n: offer_payload(seen, base_cents=1_000_000 + n),
    )


SETUPS: dict[str, Callable[[httpx.AsyncClient, Database], Awaitable[Target]]] = {
    "solution": solution_target,
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
    await race(database, target)
    if resource == "offer":
        async with database.sessionmaker() as session:
            revisions = list(
                await session.exec(
                    select(OfferRevision.revision).join(Offer, col(Offer.id) == col(OfferRevision.offer_id))
                )
            )
        assert sorted(revisions) == list(range(1, ROUNDS + 2))  # the first offer and one per round


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
    target = await solution_target(client, database)
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
    versions = await change_log_versions(database, kept.uuid)
    assert len(versions) == len(set(versions)) and kept.version == versions[-1]


async def test_the_unit_of_work_turns_a_stale_commit_into_precondition_failed(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Without HTTP: the commit at the end of ``Database.unit_of_work`` raises PreconditionFailed (412)."""
    target = await solution_target(client, database)
    slug = target.url.rsplit("/", 1)[-1]
    with pytest.raises(PreconditionFailed) as raised:
        async with database.unit_of_work() as session:
            solution = (await session.exec(select(Solution).where(Solution.slug == slug))).one()
            solution.summary = "Meine Änderung, noch nicht geschrieben."
            await _change_meanwhile(database, slug)
    assert raised.value.status == 412 and raised.value.field == "If-Match"
    assert isinstance(raised.value.__cause__, StaleDataError)

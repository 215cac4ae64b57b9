"""Parallel writers with the same If-Match: what a written record is (a Target), a race of writers on it,
and the change log's versions of a record. Only PostgreSQL shows real overlap."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlmodel import col, select

from allmende.accounts.models import MemberRole
from allmende.core.db import Database
from allmende.core.problems import PROBLEM_JSON
from allmende.core.records import ChangeLogEntry
from tests.support.factories import (
    bearer,
    make_organization,
    make_user_in,
    seed_vocabularies,
    signed_in,
    solution_payload,
)

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

    @classmethod
    def created(
        cls, http: httpx.AsyncClient, collection: str, response: httpx.Response, body: Callable[[int], dict[str, Any]]
    ) -> Target:
        """The record a POST to ``collection`` just created (201), written with PATCH at its slug."""
        assert response.status_code == 201, response.text
        return cls(http, f"{collection}/{response.json()['slug']}", "PATCH", body, uuid.UUID(response.json()["uuid"]))

    async def write(self, n: int, if_match: str) -> httpx.Response:
        return await self.http.request(self.method, self.url, json=self.body(n), headers={"If-Match": if_match})


async def change_log_versions(database: Database, record_uuid: uuid.UUID) -> list[int]:
    async with database.sessionmaker() as session:
        rows = await session.exec(
            select(ChangeLogEntry.version)
            .where(ChangeLogEntry.record_uuid == record_uuid)
            .order_by(col(ChangeLogEntry.seq))
        )
        return list(rows)


async def race(database: Database, target: Target) -> None:
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
            versions = await change_log_versions(database, target.record_uuid)
            duplicates = [v for v, n in Counter(versions).items() if n > 1]
            assert duplicates == [], versions
            assert versions == sorted(versions)
            assert after == f'"{target.record_uuid}.{versions[-1]}"'


async def solution_target(client: httpx.AsyncClient, database: Database) -> Target:
    await seed_vocabularies(database)
    vendor = await make_organization(database, slug="oks")
    owner = await make_user_in(database, vendor, MemberRole.owner)
    http = await signed_in(client, owner.email)
    token = (
        await http.post(
            f"/api/v1/organizations/{vendor.slug}/tokens", json={"name": "Katalog", "scopes": ["read", "write"]}
        )
    ).json()["token"]
    api = bearer(client, token)
    created = await api.post("/api/v1/solutions", json=solution_payload(name="Mitmachportal"))
    return Target.created(
        api, "/api/v1/solutions", created, lambda n: {"summary": f"Fassung {n}: Online-Beteiligung für alle."}
    )

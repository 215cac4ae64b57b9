"""The catalog's workflow steps under parallel moderators (issue 12, item 4): a solution is published once."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from allmende.accounts.models import PlatformRole
from allmende.core.db import Database
from tests.support.concurrency import WRITERS, change_log_versions, solution_target
from tests.support.factories import make_user, signed_in


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_parallel_moderation_with_the_same_if_match_publishes_once(
    client: httpx.AsyncClient, database: Database, backend: str
) -> None:
    """The optional If-Match of the workflow steps (here: publish) is honoured under concurrency too."""
    target = await solution_target(client, database)
    assert (
        await target.http.post(f"{target.url}/submit", headers={"If-Match": await target.etag()})
    ).status_code == 200
    moderator = await signed_in(client, (await make_user(database, role=PlatformRole.moderator)).email)
    etag = (await moderator.get(target.url)).headers["etag"]
    responses = await asyncio.gather(
        *(moderator.post(f"{target.url}/publish", headers={"If-Match": etag}) for _ in range(WRITERS))
    )
    statuses = Counter(r.status_code for r in responses)
    # A writer that reads the record after the winner committed sees "published" (409); one that read it
    # before fails the version check (412). Never two publications.
    assert statuses[200] == 1 and statuses[200] + statuses[409] + statuses[412] == WRITERS, statuses
    assert target.record_uuid is not None
    versions = await change_log_versions(database, target.record_uuid)
    assert len(versions) == len(set(versions)), versions

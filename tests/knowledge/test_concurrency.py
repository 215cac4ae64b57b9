"""The guide form under racing saves (issue 12, item 4): one saves, the rest see the changed-meanwhile page."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from allmende.accounts.models import MemberRole
from allmende.core.db import Database
from tests.support.concurrency import ROUNDS, WRITERS
from tests.support.factories import make_organization, make_user_in, seed_vocabularies
from tests.support.web import GUIDE, form_version, post_form, sign_in


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_parallel_saves_of_the_guide_form_one_saves_the_rest_see_the_changed_meanwhile_page(
    client: httpx.AsyncClient, database: Database, backend: str
) -> None:
    """The web form catches the 412 and shows both versions (409); racing saves never end in a 500."""
    await seed_vocabularies(database)
    vendor = await make_organization(database, name="Testanbieter Kommunal GmbH", slug="testanbieter")
    await sign_in(client, (await make_user_in(database, vendor, MemberRole.editor)).email)
    created = await post_form(client, "/leitfaeden/neu", GUIDE)
    assert created.status_code == 303, created.text[:2000]
    location = created.headers["location"]
    for round_ in range(ROUNDS):
        version = form_version((await client.get(f"{location}/bearbeiten")).text)
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

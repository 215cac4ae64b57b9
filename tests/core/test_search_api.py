"""GET /api/v1/search and /search/suggest over the seeded index, fed from the change log."""

from typing import Any

import httpx
import pytest

from allmende.accounts.models import MemberRole, PlatformRole
from allmende.app import Adapters, create_app
from allmende.core.indexing import backlog, drain
from allmende.core.jobs.inprocess import InProcessJobQueue
from allmende.core.search import MeilisearchEngine
from tests.support.factories import (
    make_organization,
    make_user,
    make_user_in,
    seed_vocabularies,
    signed_in,
    solution_payload,
)

pytestmark = pytest.mark.seeded


@pytest.fixture
async def indexed(adapters: Adapters) -> Adapters:
    # The seeds went into the change log like any other write; the drain job indexes them.
    assert await backlog(adapters.database) > 0
    await drain(adapters.database, adapters.documents, adapters.search)
    assert await backlog(adapters.database) == 0
    return adapters


async def test_typo_search_finds_participation_with_facets(client: httpx.AsyncClient, indexed: Adapters) -> None:
    response = await client.get("/api/v1/search", params={"q": "Bürgerbeteilgung", "type": "solution"})
    assert response.status_code == 200, response.text
    body = response.json()
    slugs = [item["slug"] for item in body["items"]]
    assert {"dipas", "consul-democracy", "decidim", "adhocracy-plus", "meinberlin"} & set(slugs[:5])
    assert body["total"] >= 3 and body["facets"]["type"] == {"solution": body["total"]}
    assert body["facets"]["sector"]["smart-governance"] >= 1
    first = body["items"][0]
    assert first["url"] == f"/api/v1/solutions/{first['slug']}"
    assert any("<mark>" in snippet for item in body["items"] for snippet in item["highlights"].values())


async def test_all_content_shares_one_index_with_a_type_facet(client: httpx.AsyncClient, indexed: Adapters) -> None:
    body = (await client.get("/api/v1/search", params={"q": "Beteiligung"})).json()
    assert {"solution", "case_study", "guide"} <= set(body["facets"]["type"])
    guides = (await client.get("/api/v1/search", params={"q": "Beteiligung", "type": "guide"})).json()
    assert guides["items"] and all(item["type"] == "guide" for item in guides["items"])
    assert guides["items"][0]["url"].startswith("/api/v1/guides/")


async def test_empty_query_browses_by_facets_and_pages(client: httpx.AsyncClient, indexed: Adapters) -> None:
    everything = (await client.get("/api/v1/search", params={"per_page": 10, "sort": "name"})).json()
    assert everything["total"] >= 100 and len(everything["items"]) == 10 and everything["next_cursor"] == "2"
    second = (await client.get("/api/v1/search", params={"per_page": 10, "sort": "name", "cursor": "2"})).json()
    assert not {i["id"] for i in second["items"]} & {i["id"] for i in everything["items"]}
    beyond = (await client.get("/api/v1/search", params={"per_page": 10, "page": 9999})).json()
    assert beyond["items"] == [] and beyond["total"] == everything["total"] and beyond["next_cursor"] is None
    governance = (
        await client.get(
            "/api/v1/search", params={"sector": ["smart-governance", "smart-health-care"], "type": "solution"}
        )
    ).json()
    assert governance["total"] == governance["facets"]["type"]["solution"]


async def test_suggest_answers_a_prefix(client: httpx.AsyncClient, indexed: Adapters) -> None:
    body = (await client.get("/api/v1/search/suggest", params={"q": "Bürgerbet"})).json()
    assert body["items"] and body["total"] == len(body["items"])
    assert (await client.get("/api/v1/search/suggest", params={"q": ""})).json()["items"] == []


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"q": "x" * 10_000}, 422, "q"),
        ({"colour": "blue"}, 422, "colour"),
        ({"facet": "colour"}, 422, "facets"),
        ({"sort": "cheapest"}, 422, "sort"),
        ({"per_page": -1}, 422, "per_page"),
        ({"per_page": 0}, 422, "per_page"),
        ({"per_page": 101}, 422, "per_page"),
        ({"cursor": "abc"}, 422, "cursor"),
        ({"page": 0}, 422, "page"),
    ],
)
async def test_bad_search_input_is_a_clear_4xx(
    client: httpx.AsyncClient, indexed: Adapters, params: dict[str, Any], status: int, field: str
) -> None:
    response = await client.get("/api/v1/search", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


@pytest.mark.parametrize("value", ['smart-governance" OR type = "guide', "smart-governance OR 1=1", "\\", "' OR ''='"])
async def test_filter_injection_is_taken_literally(client: httpx.AsyncClient, indexed: Adapters, value: str) -> None:
    response = await client.get("/api/v1/search", params={"sector": value})
    assert response.status_code == 200
    assert response.json()["total"] == 0


async def test_an_unreachable_engine_is_a_503_with_retry_after(adapters: Adapters) -> None:
    adapters.search = MeilisearchEngine("http://127.0.0.1:1", "key")  # nothing listens on port 1
    app = create_app(adapters.settings, adapters)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:  # type: ignore[arg-type]
        response = await http.get("/api/v1/search", params={"q": "Karte"})
        ready = await http.get("/readyz")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert ready.status_code == 503 and ready.json()["checks"]["search"]["status"] == "unavailable"


async def test_writes_are_indexed_by_the_drain_job(client: httpx.AsyncClient, adapters: Adapters) -> None:
    """A published solution reaches the index through the change log and the job the write enqueued."""
    await seed_vocabularies(adapters.database)
    vendor = await make_organization(adapters.database)
    editor = await signed_in(client, (await make_user_in(adapters.database, vendor, MemberRole.editor)).email)
    created = await editor.post(
        "/api/v1/solutions", json={**solution_payload(name="Wasserstandsmelder"), "provider": vendor.slug}
    )
    slug = created.json()["slug"]
    await editor.post(f"/api/v1/solutions/{slug}/submit")
    moderator = await signed_in(client, (await make_user(adapters.database, role=PlatformRole.moderator)).email)
    await moderator.post(f"/api/v1/solutions/{slug}/publish")
    queue = adapters.jobs
    assert isinstance(queue, InProcessJobQueue) and queue.pending >= 1
    await queue.run_pending()
    found = (await client.get("/api/v1/search", params={"q": "Wasserstandsmelder"})).json()
    assert found["items"][0]["slug"] == slug
    await moderator.post(f"/api/v1/solutions/{slug}/archive")
    await queue.run_pending()
    after = (await client.get("/api/v1/search", params={"q": "Wasserstandsmelder"})).json()
    assert slug not in {item["slug"] for item in after["items"]}

"""Redis and the database away: public reads go on, the rest is a 503 with Retry-After, never a 500.

Sessions live in the machine's real Redis (each test under its own namespace); "Redis away" and
"database away" are real clients pointed at a port where nothing listens, which is what a stopped
server looks like to the app. The fault suite (tests/faults) stops and starts real servers.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, cast

import httpx
import pytest
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from allmende.accounts.models import MemberRole
from allmende.app import Adapters, create_app
from allmende.core.db import Database
from tests.support.factories import add_membership, csrf_headers, login, make_organization, make_user
from tests.support.servers import REDIS_URL

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


def client_for(adapters: Adapters) -> httpx.AsyncClient:
    app = create_app(adapters.settings, adapters)
    transport = httpx.ASGITransport(app=cast(Any, app), client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def redis_store() -> AsyncIterator[tuple[RedisStore, Redis]]:
    redis = Redis.from_url(REDIS_URL)
    namespace = f"allmende-test-{uuid.uuid4().hex[:8]}"
    yield RedisStore(redis, namespace=namespace, handle_client_shutdown=False), redis
    keys = [key async for key in redis.scan_iter(f"{namespace}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def keys_of(redis: Redis, store: RedisStore) -> list[bytes]:
    return [key async for key in redis.scan_iter(f"{store.namespace}*")]


async def token_for(client: httpx.AsyncClient, adapters: Adapters) -> str:
    org = await make_organization(adapters.database)
    owner = await make_user(adapters.database)
    await add_membership(adapters.database, owner, org, MemberRole.owner)
    assert (await login(client, owner.email)).is_success
    response = await client.post(
        f"/api/v1/organizations/{org.slug}/tokens",
        headers=csrf_headers(client),
        json={"name": "CI", "scopes": ["read", "write"], "expires_in_days": 30},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def test_anonymous_and_token_requests_store_no_session(
    adapters: Adapters, redis_store: tuple[RedisStore, Redis]
) -> None:
    store, redis = redis_store
    async with client_for(replace(adapters, store=store)) as http:
        for _ in range(20):
            assert (await http.get("/api/v1/solutions", params={"limit": 5})).status_code == 200
            assert (await http.get("/loesungen")).status_code == 200
        assert "session" not in http.cookies
        assert await keys_of(redis, store) == []  # crawlers no longer fill Redis

        token = await token_for(http, adapters)
        http.cookies.clear()
        signed_in_keys = await keys_of(redis, store)
        for _ in range(5):
            response = await http.get("/api/v1/solutions", headers={"authorization": f"Bearer {token}"})
            assert response.status_code == 200 and "session" not in response.cookies
        assert await keys_of(redis, store) == signed_in_keys


async def test_a_session_is_written_on_sign_in_only_and_removed_on_sign_out(
    adapters: Adapters, redis_store: tuple[RedisStore, Redis]
) -> None:
    store, redis = redis_store
    user = await make_user(adapters.database)
    async with client_for(replace(adapters, store=store)) as http:
        assert (await login(http, user.email)).is_success
        sessions = [k for k in await keys_of(redis, store) if b"login" not in k]
        assert len(sessions) == 1
        await redis.expire(sessions[0], 100)
        me = await http.get("/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["email"] == user.email
        assert "session" not in me.cookies  # unchanged: not written again …
        assert await redis.ttl(sessions[0]) > 100  # … but the read renewed it
        logout = await http.post("/api/v1/auth/logout", headers=csrf_headers(http))
        assert logout.status_code in (200, 204)
        assert [k for k in await keys_of(redis, store) if b"login" not in k] == []


async def test_with_redis_away_public_reads_work_and_signed_in_requests_get_503(adapters: Adapters) -> None:
    user = await make_user(adapters.database)
    async with client_for(adapters) as http:  # sign in while the store works, to hold a real cookie
        assert (await login(http, user.email)).is_success
        token = await token_for(http, adapters)
        cookies = dict(http.cookies)
    gone = RedisStore(Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=1))
    async with client_for(replace(adapters, store=gone)) as http:
        # anonymous: the catalog, its pages and the API keep working
        assert (await http.get("/api/v1/solutions")).status_code == 200
        assert (await http.get("/loesungen", headers={"accept": "text/html"})).status_code == 200
        # a bearer token does not need the session store at all
        with_token = await http.get("/api/v1/solutions", headers={"authorization": f"Bearer {token}"})
        assert with_token.status_code == 200, with_token.text
        # signing in needs the throttle's counts: a clear 503
        http.cookies.set("csrftoken", cookies.get("csrftoken", ""))
        refused = await http.post(
            "/api/v1/auth/login",
            json={"email": user.email, "password": "x" * 12},
            headers={"x-csrftoken": cookies.get("csrftoken", "")},
        )
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["retry-after"]
        # a request with a session cookie cannot be told apart from anonymous: 503, page and problem
        http.cookies.update(cookies)
        api = await http.get("/api/v1/auth/me")
        assert api.status_code == 503 and api.json()["status"] == 503 and api.headers["retry-after"]
        page = await http.get("/loesungen", headers={"accept": "text/html"})
        assert page.status_code == 503 and "Kurz nicht erreichbar" in page.text
        assert page.headers["retry-after"]


async def test_with_the_database_away_reads_and_pages_answer_503_with_retry_after(adapters: Adapters) -> None:
    gone = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/test")
    try:
        async with client_for(replace(adapters, database=gone)) as http:
            api = await http.get("/api/v1/solutions")
            assert api.status_code == 503, api.text
            assert api.headers["content-type"].startswith("application/problem+json")
            assert api.headers["retry-after"] and api.json()["unavailable"] == "database"
            page = await http.get("/loesungen/irgendeine", headers={"accept": "text/html"})
            assert page.status_code == 503 and "Kurz nicht erreichbar" in page.text
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["database"]["status"] == "unavailable"
    finally:
        await gone.dispose()

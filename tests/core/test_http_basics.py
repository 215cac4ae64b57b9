"""Probes, OpenAPI, request ids, security headers and problem+json for malformed requests."""

from typing import Any, cast

import httpx

from allmende.app import Adapters, create_app
from allmende.core.jobs.arq_runner import ArqJobQueue


async def test_readyz_reports_each_backing_service(client: httpx.AsyncClient, backend: str) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"status": "ready", "backend": backend}
    assert body["checks"]["jobs"]["status"] == "ready"


async def test_readyz_is_503_when_redis_is_unreachable(adapters: Adapters) -> None:
    adapters.jobs = ArqJobQueue("redis://127.0.0.1:1/0")  # nothing listens on port 1
    app = create_app(adapters.settings, adapters)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://t") as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "10"
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ready"
    assert checks["jobs"]["status"] == "unavailable"
    await adapters.jobs.close()


async def test_openapi_31_is_served_at_a_stable_url(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/organizations" in document["paths"]


async def test_every_response_carries_a_request_id_and_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/organizations", headers={"X-Request-ID": "trace-12345678"})
    assert response.headers["x-request-id"] == "trace-12345678"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_unknown_route_is_a_problem_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b"email=a&password=b",
        headers={"content-type": "text/plain", "authorization": "Bearer nothing"},
    )
    assert response.status_code == 415
    body = response.json()
    assert body["field"] == "Content-Type"


async def test_oversize_body_is_refused_with_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b"{" + b" " * 1_100_000 + b"}",
        headers={"content-type": "application/json", "authorization": "Bearer x"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")

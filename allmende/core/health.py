"""Probes: ``/healthz`` says the process is alive; ``/readyz`` checks every backing service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

Check = Callable[[], Awaitable[Any]]


class ReadinessChecks:
    """Named checks; the composition root adds one per backing service it configured."""

    def __init__(self) -> None:
        self.checks: dict[str, tuple[str, Check]] = {}

    def add(self, name: str, kind: str, check: Check) -> None:
        self.checks[name] = (kind, check)

    async def run(self, limit_seconds: float = 3.0) -> tuple[bool, dict[str, Any]]:
        async def one(kind: str, check: Check) -> dict[str, Any]:
            try:
                await asyncio.wait_for(check(), timeout=limit_seconds)
            except Exception as exc:  # a probe reports every failure, whatever its kind
                return {"status": "unavailable", "backend": kind, "error": type(exc).__name__}
            return {"status": "ready", "backend": kind}

        results = await asyncio.gather(*(one(kind, check) for kind, check in self.checks.values()))
        report = dict(zip(self.checks, results, strict=True))
        return all(r["status"] == "ready" for r in results), report


@get("/healthz", tags=["probes"], skip_session=True, exclude_from_csrf=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["probes"], skip_session=True, exclude_from_csrf=True)
async def readyz(readiness: NamedDependency[ReadinessChecks]) -> Response[dict[str, Any]]:
    ok, report = await readiness.run()
    return Response(
        {"status": "ready" if ok else "unavailable", "checks": report},
        status_code=200 if ok else 503,
        headers={} if ok else {"Retry-After": "10"},
    )

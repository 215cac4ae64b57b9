"""Login throttling: a few failures per account and per client, then a pause.

Counts live in a Litestar store (memory in the embedded profile, Redis in production), so every
app process shares them in production.
"""

from __future__ import annotations

import hashlib

from litestar.stores.base import Store

from allmende.core.problems import Problem

MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_CLIENT = 20
WINDOW_SECONDS = 15 * 60


def _key(kind: str, value: str) -> str:
    return f"login:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


class LoginThrottle:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def _count(self, key: str) -> int:
        raw = await self.store.get(key)
        return int(raw) if raw else 0

    async def check(self, *, email: str, client: str) -> None:
        if (
            await self._count(_key("account", email)) >= MAX_FAILURES_PER_ACCOUNT
            or await self._count(_key("client", client)) >= MAX_FAILURES_PER_CLIENT
        ):
            raise Problem(
                "too many failed sign-in attempts; wait a few minutes and try again",
                status=429,
                type_slug="too-many-requests",
                headers={"Retry-After": str(WINDOW_SECONDS)},
            )

    async def failed(self, *, email: str, client: str) -> None:
        for key in (_key("account", email), _key("client", client)):
            count = await self._count(key) + 1
            await self.store.set(key, str(count), expires_in=WINDOW_SECONDS)

    async def succeeded(self, *, email: str) -> None:
        await self.store.delete(_key("account", email))

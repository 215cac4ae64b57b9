"""Throttling of secrets: a few failures per account and per client, then a pause.

Sign-in uses it with its defaults; other endpoints that take a secret (second-factor codes) make their
own instance in a store namespace of their own, with their own limits and words. Counts live in a
Litestar store (memory in the embedded profile, Redis in production), so every app process shares them
in production.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from litestar.stores.base import NamespacedStore, Store
from litestar.stores.registry import StoreRegistry

from allmende.core.problems import Problem

MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_CLIENT = 20
WINDOW_SECONDS = 15 * 60


def _key(kind: str, value: str) -> str:
    return f"login:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


class LoginThrottle:
    """``email`` in the methods is the account's key: its address for sign-in, its uuid for codes."""

    def __init__(
        self,
        store: Store,
        *,
        per_account: int = MAX_FAILURES_PER_ACCOUNT,
        per_client: int = MAX_FAILURES_PER_CLIENT,
        attempts: str = "sign-in attempts",
    ) -> None:
        self.store = store
        self.per_account = per_account
        self.per_client = per_client
        self.attempts = attempts

    async def _count(self, key: str) -> int:
        raw = await self.store.get(key)
        return int(raw) if raw else 0

    async def check(self, *, email: str, client: str) -> None:
        if (
            await self._count(_key("account", email)) >= self.per_account
            or await self._count(_key("client", client)) >= self.per_client
        ):
            raise Problem(
                f"too many failed {self.attempts}; wait a few minutes and try again",
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


# --- every attempt counts: the endpoints that take a secret or send a mail -----------------------------


@dataclass(frozen=True)
class Limit:
    """At most ``per_account`` attempts for one account (or address, or link) and ``per_client`` from one
    client within ``window_seconds``."""

    per_account: int
    per_client: int
    window_seconds: int


# Registration and reset send mail: a few per address, so nobody floods a stranger's mailbox through us.
LIMITS = {
    "register": Limit(per_account=3, per_client=20, window_seconds=3600),
    "password-reset": Limit(per_account=3, per_client=20, window_seconds=3600),
    "confirm-link": Limit(per_account=10, per_client=30, window_seconds=WINDOW_SECONDS),
    "current-password": Limit(per_account=MAX_FAILURES_PER_ACCOUNT, per_client=20, window_seconds=WINDOW_SECONDS),
}


class Throttle:
    """Counts every attempt of an action, successful or not (unlike :class:`LoginThrottle`, which counts
    failures): an answer that is the same for known and unknown addresses cannot tell failures apart."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def spend(self, action: str, *, account: str, client: str) -> None:
        """One attempt of ``action``; a 429 once the account or the client has used up its attempts."""
        limit = LIMITS[action]
        keys = (
            (_key(f"{action}:account", account), limit.per_account),
            (_key(f"{action}:client", client), limit.per_client),
        )
        counts = [int(raw) if (raw := await self.store.get(key)) else 0 for key, _ in keys]
        if any(count >= most for count, (_, most) in zip(counts, keys, strict=True)):
            raise Problem(
                "too many attempts; wait a while and try again",
                status=429,
                type_slug="too-many-requests",
                headers={"Retry-After": str(limit.window_seconds)},
            )
        for count, (key, _) in zip(counts, keys, strict=True):
            await self.store.set(key, str(count + 1), expires_in=limit.window_seconds)

    async def forget(self, action: str, *, account: str) -> None:
        """A success that should not count against the account (a correct current password)."""
        await self.store.delete(_key(f"{action}:account", account))


def throttle_in(stores: StoreRegistry, namespace: str) -> LoginThrottle:
    """A throttle of its own (``namespace``: "invitation", …) for another endpoint that takes a secret, in
    the app's shared store (the one the sessions use: Redis in production)."""
    store = stores.get("sessions")
    if not isinstance(store, NamespacedStore):
        raise TypeError("the sessions store must support namespaces")
    return LoginThrottle(store.with_namespace(namespace))

"""Server-side sessions that cost nothing for anonymous visitors and survive a store outage.

Litestar's stock backend writes a session for every request that passes its middleware, even an
empty one, and reads or writes the store on every request. In production the store is Redis, so
crawlers filled Redis with empty sessions and every page failed with a 500 while Redis was away.
This backend

- touches the store only for a request that carries a session cookie, and writes only when the
  session changed (sign-in, sign-out); an unchanged session is renewed by the read itself
  (``renew_on_access``), so a signed-in person still stays signed in while active;
- turns a store that cannot be reached into a marker on the request (``session_unavailable``): the
  request goes on anonymously, and whatever needs the signed-in person (the principal dependency)
  answers 503 with ``Retry-After``; public pages and API reads keep working;
- answers 503 problem+json if the store fails while a changed session is written at the start of the
  response, instead of letting the error escape as a plain-text 500.

:class:`GuardedStore` wraps the same store for the other users of it (the login throttle), turning a
lost connection into :class:`~allmende.core.problems.ServiceUnavailable`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.base import SessionMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import NamespacedStore, Store
from litestar.types import Empty, Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items
from redis.exceptions import RedisError

from allmende.core.problems import PROBLEM_JSON, ServiceUnavailable

log = structlog.get_logger("allmende.sessions")

#: What an unreachable store raises (Redis' client errors; the file store's OS errors).
STORE_ERRORS: tuple[type[BaseException], ...] = (RedisError, ConnectionError, OSError, TimeoutError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MARK = "session_unavailable"
_LOADED = "session_loaded"


def store_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "sign-in sessions are briefly unavailable; please try again in a few seconds",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class GuardedStore(NamespacedStore):
    """A store whose outage is a 503 problem, not an unhandled connection error."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def with_namespace(self, namespace: str) -> GuardedStore:
        if isinstance(self.inner, NamespacedStore):
            return GuardedStore(self.inner.with_namespace(namespace))
        return self

    async def _guard(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except STORE_ERRORS as exc:
            log.warning("session store unavailable", error=repr(exc))
            raise store_unavailable() from exc

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        await self._guard(self.inner.set(key, value, expires_in))

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        value: bytes | None = await self._guard(self.inner.get(key, renew_for))
        return value

    async def delete(self, key: str) -> None:
        await self._guard(self.inner.delete(key))

    async def delete_all(self) -> None:
        await self._guard(self.inner.delete_all())

    async def exists(self, key: str) -> bool:
        return bool(await self._guard(self.inner.exists(key)))

    async def expires_in(self, key: str) -> int | None:
        value: int | None = await self._guard(self.inner.expires_in(key))
        return value

    async def __aenter__(self) -> None:
        await self.inner.__aenter__()

    async def __aexit__(self, *args: Any) -> None:
        await self.inner.__aexit__(*args)


def _cookie_session_id(connection: ASGIConnection[Any, Any, Any, Any], key: str) -> str | None:
    value = connection.cookies.get(key)
    return value if value and value != "null" else None


class LazySessionBackend(ServerSideSessionBackend):
    """Reads only for a cookie, writes only on change; an unreachable store marks the request."""

    def _raw_store(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Store:
        store = self.config.get_store_from_app(connection.scope["app"])
        return store.inner if isinstance(store, GuardedStore) else store

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        session_id = _cookie_session_id(connection, self.config.key)
        if session_id is None:
            return {}
        state = connection.scope.setdefault("state", {})
        try:
            data = await self.get(session_id, store=self._raw_store(connection))
        except STORE_ERRORS as exc:
            log.warning("session store unavailable", error=repr(exc))
            state[UNAVAILABLE_MARK] = True
            return {}
        if data is None:
            return {}
        loaded: dict[str, Any] = self.deserialize_data(data)
        state[_LOADED] = json.dumps(loaded, sort_keys=True, default=str)
        return loaded

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        state = connection.scope.get("state", {})
        if state.get(UNAVAILABLE_MARK):
            return  # nothing was read, so nothing may be overwritten or deleted
        session_id = _cookie_session_id(connection, self.config.key)
        empty = scope_session is Empty or not scope_session
        if empty and session_id is None:
            return  # an anonymous request: no store access, no cookie
        if (
            not empty
            and session_id is not None
            and json.dumps(scope_session, sort_keys=True, default=str) == state.get(_LOADED)
        ):
            return  # unchanged; the read renewed its expiry
        if empty:
            assert session_id is not None
            await self.delete(session_id, store=self._raw_store(connection))
            cookie_params = dict(
                extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys())
            )
            MutableScopeHeaders.from_message(message).add(
                "Set-Cookie", Cookie(value="null", key=self.config.key, expires=0, **cookie_params).to_header(header="")
            )
            return
        await super().store_in_message(scope_session, message, connection)


class ResilientSessionMiddleware(SessionMiddleware[LazySessionBackend]):
    """If writing a changed session fails as the response starts, the client gets a 503 problem
    (with ``Retry-After``) instead of the handler's response: it must not believe it is signed in
    or out when it is not. The handler's own work is committed already and stays."""

    def create_send_wrapper(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> Callable[[Message], Awaitable[None]]:
        replaced = False

        async def wrapped_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the handler's body: the 503 was sent instead
            if message["type"] != "http.response.start":
                await connection.send(message)
                return
            try:
                await self.backend.store_in_message(connection.scope.get("session"), message, connection)
            except STORE_ERRORS as exc:
                log.warning("session could not be stored", error=repr(exc))
                replaced = True
                problem = store_unavailable()
                body = json.dumps(
                    {
                        "type": f"/problems/{problem.type_slug}",
                        "title": "Service Unavailable",
                        "status": 503,
                        "detail": problem.detail,
                        "instance": connection.scope.get("path", ""),
                    }
                ).encode()
                await connection.send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [
                            (b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                        ],
                    }
                )
                await connection.send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await connection.send(message)

        return wrapped_send


@dataclass
class LazySessionConfig(ServerSideSessionConfig):
    _backend_class = LazySessionBackend

    @property
    def middleware(self) -> Any:
        from litestar.middleware.base import DefineMiddleware

        return DefineMiddleware(ResilientSessionMiddleware, backend=self._backend_class(config=self))


__all__ = ["STORE_ERRORS", "UNAVAILABLE_MARK", "GuardedStore", "LazySessionConfig", "store_unavailable"]

"""A backing service that is briefly away is a 503 with ``Retry-After``, never a 500.

PostgreSQL restarting, a pool that cannot connect, SQLite busy beyond its timeout, Redis gone: each
surfaces as a different exception (SQLAlchemy wraps some, asyncpg and the socket layer raise others
bare). :func:`outage_problem` recognises them, looking through the exception's causes, and gives the
problem to answer; the handlers in :mod:`allmende.core.problems` and the web's error pages use it.
Anything it does not recognise stays what it is: a bug, answered with 500 and logged.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import asyncpg
import structlog
from litestar import Request, Response
from litestar.types import ExceptionHandlersMap
from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc

from allmende.core.problems import ServiceUnavailable, internal_error, problem_handler

log = structlog.get_logger("allmende.outages")

RETRY_AFTER_SECONDS = 5

# asyncpg's own errors for a server that is going away or not yet back
_PG_GONE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up / shutting down
    asyncpg.exceptions.AdminShutdownError,  # 57P01
    asyncpg.exceptions.CrashShutdownError,  # 57P02
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
)

#: The exception classes worth a look (for registering handlers).
CANDIDATES: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
    ConnectionError,
    TimeoutError,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
    RedisError,
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return seen


def _what(exc: BaseException) -> str | None:
    for item in _chain(exc):
        if isinstance(item, RedisError):
            return "redis"
        if isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated:
            return "database"
        if isinstance(item, (sa_exc.TimeoutError, sa_exc.DisconnectionError, *_PG_GONE)):
            return "database"
        if isinstance(item, sqlite3.OperationalError) and "locked" in str(item):
            return "database"
        if isinstance(item, ConnectionError | TimeoutError):
            return "database"  # the socket under the database driver (the only sockets a handler opens)
    return None


def outage_problem(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 to answer if ``exc`` means a backing service is away, else None."""
    what = _what(exc)
    if what is None:
        return None
    detail = {
        "database": "the database is briefly unavailable; please try again in a few seconds",
        "redis": "the job queue and sessions are briefly unavailable; please try again in a few seconds",
    }[what]
    return ServiceUnavailable(detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, extra={"unavailable": what})


def _outage_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    problem = outage_problem(exc)
    if problem is None:
        return internal_error(request, exc)
    log.warning("backing service unavailable", path=request.url.path, error=repr(exc))
    return problem_handler(request, problem)


#: Handlers for every candidate class; composed into the app's handlers in the composition root.
OUTAGE_HANDLERS: ExceptionHandlersMap = dict.fromkeys(CANDIDATES, _outage_handler)

__all__ = ["CANDIDATES", "OUTAGE_HANDLERS", "outage_problem"]

"""Where the test servers are (PostgreSQL, Redis), and free ports on 127.0.0.1 for servers a test starts."""

from __future__ import annotations

import os
import socket

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pg_url(dbname: str) -> str:
    """The SQLAlchemy URL (asyncpg driver) of a database on the test PostgreSQL server."""
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{dbname}"


def free_port() -> int:
    """A port nobody listens on right now (bound and released: a server started at once gets it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

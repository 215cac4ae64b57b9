"""Applying Alembic migrations from code (``allmende migrate``, ``serve`` and the tests)."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Blocking. Runs in its own thread, because env.py runs its own event loop and may be called
    from code that already has one running."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            command.upgrade(alembic_config(url), revision)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work, name="alembic-upgrade")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]

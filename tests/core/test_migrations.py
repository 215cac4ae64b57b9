"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import allmende.models  # noqa: F401
from allmende.core.db import Database


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrations_match_the_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert differences == []


async def test_migrations_create_the_change_log_counter(database: Database) -> None:
    async with database.engine.connect() as connection:
        row = (await connection.execute(text("SELECT id, last_seq FROM change_log_counter"))).all()
    assert [tuple(r) for r in row] == [(1, 0)]

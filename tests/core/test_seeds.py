"""`allmende seed` loads real organizations and is idempotent."""

from sqlmodel import col, select

from allmende.accounts.models import Organization
from allmende.core.db import Database
from allmende.core.records import ChangeLogEntry
from allmende.seeding import seed
from tests.support.factories import count


async def test_seed_twice_changes_nothing(database: Database) -> None:
    first = {r.name: (r.created, r.updated) for r in await seed(database)}
    log_after_first = await count(database, ChangeLogEntry)
    second = {r.name: (r.created, r.updated) for r in await seed(database)}
    assert first["organizations"][0] > 100
    assert all(counts == (0, 0) for counts in second.values()), second
    assert await count(database, ChangeLogEntry) == log_after_first


async def test_seeds_hold_all_bundeslaender_and_the_grossstaedte(database: Database) -> None:
    await seed(database)
    assert await count(database, Organization, Organization.kind == "state") == 16
    async with database.sessionmaker() as session:
        rows = await session.exec(select(Organization).where(Organization.kind == "municipality"))
        cities = {o.name: o for o in rows}
        big = [o for o in cities.values() if (o.population or 0) >= 100_000]
    assert len(big) >= 80
    assert cities["München"].ags == "09162000" and cities["München"].bundesland == "09"
    assert cities["Berlin"].ags == "11000000"
    assert all(o.ags and o.ags[:2] == o.bundesland for o in cities.values())
    assert "Hanau" in cities and cities["Hanau"].unconfirmed  # honest about what is not confirmed
    vendors = await count(database, Organization, col(Organization.kind) == "vendor")
    assert vendors >= 30

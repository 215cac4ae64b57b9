"""Shared records carry a global identity; every change appends to the ordered change log in the
same transaction."""

import asyncio
import random

import pytest
from sqlmodel import col, select

from allmende.accounts.models import Organization
from allmende.core.db import Database
from allmende.core.records import ChangeLogEntry, HardDeleteForbidden
from allmende.core.types import utcnow


async def _entries(database: Database) -> list[ChangeLogEntry]:
    async with database.sessionmaker() as session:
        return list(await session.exec(select(ChangeLogEntry).order_by(col(ChangeLogEntry.seq))))


def _vendor(slug: str) -> Organization:
    return Organization(kind="vendor", name=slug.title(), slug=slug)


async def test_create_update_and_tombstone_are_logged_with_rising_versions(database: Database) -> None:
    async with database.unit_of_work() as session:
        org = _vendor("acme")
        session.add(org)
    assert org.version == 1 and org.origin is None
    async with database.unit_of_work() as session:
        stored = await session.get(Organization, org.id)
        assert stored is not None
        stored.name = "ACME GmbH"
    async with database.unit_of_work() as session:
        stored = await session.get(Organization, org.id)
        assert stored is not None
        stored.deleted_at = utcnow()
    entries = await _entries(database)
    assert [(e.seq, e.operation, e.version, e.record_uuid) for e in entries] == [
        (1, "create", 1, org.uuid),
        (2, "update", 2, org.uuid),
        (3, "delete", 3, org.uuid),
    ]
    assert all(e.record_type == "organization" for e in entries)


async def test_a_flush_without_real_changes_logs_nothing(database: Database) -> None:
    async with database.unit_of_work() as session:
        session.add(_vendor("same"))
    async with database.unit_of_work() as session:
        org = (await session.exec(select(Organization).where(Organization.slug == "same"))).one()
        org.name = org.name  # assigning the same value is no change
    assert [e.operation for e in await _entries(database)] == ["create"]


async def test_a_rolled_back_change_leaves_no_log_entry_and_no_gap(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.unit_of_work() as session:
            session.add(_vendor("ghost"))
            await session.flush()
            raise RuntimeError("abort")
    async with database.unit_of_work() as session:
        session.add(_vendor("real"))
    entries = await _entries(database)
    assert [(e.seq, e.operation) for e in entries] == [(1, "create")]
    async with database.sessionmaker() as session:
        slugs = list(await session.exec(select(Organization.slug)))
    assert slugs == ["real"]


async def test_hard_delete_of_a_shared_record_is_refused(database: Database) -> None:
    async with database.unit_of_work() as session:
        session.add(_vendor("keep"))
    with pytest.raises(HardDeleteForbidden):
        async with database.unit_of_work() as session:
            org = (await session.exec(select(Organization))).one()
            await session.delete(org)
    async with database.sessionmaker() as session:
        assert len(list(await session.exec(select(Organization)))) == 1


async def test_concurrent_writers_on_postgresql_leave_no_gaps(pg_database: Database) -> None:
    """Twenty writers at once, a third of them rolling back: the committed entries are numbered 1..N."""
    rng = random.Random(7)
    plan = [rng.random() < 0.33 for _ in range(20)]

    async def writer(i: int, roll_back: bool) -> None:
        try:
            async with pg_database.unit_of_work() as session:
                for j in range(3):
                    session.add(_vendor(f"w{i}-{j}"))
                    await session.flush()
                    await asyncio.sleep(rng.random() / 100)
                if roll_back:
                    raise LookupError("rolled back on purpose")
        except LookupError:
            pass

    await asyncio.gather(*(writer(i, rb) for i, rb in enumerate(plan)))
    entries = await _entries(pg_database)
    committed = sum(1 for rb in plan if not rb) * 3
    assert [e.seq for e in entries] == list(range(1, committed + 1))
    async with pg_database.sessionmaker() as session:
        rows = (await session.exec(select(Organization.uuid, Organization.slug))).all()
        slug_of = {uuid: slug for uuid, slug in rows}
    assert {e.record_uuid for e in entries} == set(slug_of)
    # The counter row stays locked until commit, so one transaction's entries are consecutive.
    writers = [slug_of[e.record_uuid].split("-")[0] for e in entries]
    for start in range(0, len(writers), 3):
        assert len(set(writers[start : start + 3])) == 1, writers

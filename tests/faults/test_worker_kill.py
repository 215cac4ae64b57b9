"""Issue 12, item 7: a worker SIGKILLed while it talks SMTP, or while it is idle.

Real processes and servers: a private Redis, a fresh database on the machine's PostgreSQL migrated
by ``allmende migrate``, ``allmende worker`` subprocesses with ``SMTP_URL`` pointing at an SMTP
double (the outside world) that can stall during DATA. Mails are written by ``notify`` in a unit of
work and enqueued through the app's job queue (``ArqJobQueue``), as after a request.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlmodel import select

from allmende.core.db import Database
from allmende.core.jobs.arq_runner import ArqJobQueue
from notifications.jobs import CLAIM_SECONDS, SWEEP_SECONDS
from notifications.models import OutboundMail
from notifications.services import PENDING_KEY, Recipient, enqueue_pending, notify
from tests.faults.harness import ProductionStack, WorkerProcess, wait_until
from tests.faults.smtp_double import StallingSmtp
from tests.support.factories import make_user

RECOVERY_BUDGET = 25.0  # seconds from the new worker's start to the resent mail (design: about 15)


@pytest.fixture
def smtp() -> Iterator[StallingSmtp]:
    server = StallingSmtp()
    server.start()
    yield server
    server.stop()


def _async_url(database_url: str) -> str:
    return database_url.replace("postgresql://", "postgresql+asyncpg://", 1)


@dataclass
class Outbox:
    """What each test here needs: the worker's environment, the app's view of the database and queue,
    and one recipient."""

    env: dict[str, str]
    database: Database
    queue: ArqJobQueue
    person: Recipient


@pytest.fixture
async def outbox(production_stack: ProductionStack, smtp: StallingSmtp) -> AsyncIterator[Outbox]:
    database = Database(_async_url(production_stack.database_url))
    queue = ArqJobQueue(production_stack.redis.url)
    try:
        user = await make_user(database)
        env = {**production_stack.env, "SMTP_URL": smtp.url}
        yield Outbox(env, database, queue, Recipient(user_id=user.id or 0, email=user.email))
    finally:
        await queue.close()
        await database.dispose()


async def _mail(database: Database, queue: ArqJobQueue, recipient: Recipient, subject: str) -> tuple[str, str]:
    """One notification mail, committed and enqueued as a request's unit of work does it: (uuid, Message-ID)."""
    async with database.unit_of_work() as session:
        notify(session, [recipient], "test.fault", subject, "Hallo")
        [mail_uuid] = session.info[PENDING_KEY]
    assert await enqueue_pending(session, queue) == 1
    return mail_uuid, f"<{mail_uuid}@allmende>"


async def _row(database: Database, mail_uuid: str) -> OutboundMail:
    async with database.sessionmaker() as session:
        return (await session.exec(select(OutboundMail).where(OutboundMail.uuid == uuid.UUID(mail_uuid)))).one()


async def _sent(database: Database, mail_uuid: str) -> OutboundMail:
    """The row once the worker recorded the delivery (it does so just after the server's 250)."""
    for _ in range(50):  # 10 s
        row = await _row(database, mail_uuid)
        if row.sent_at is not None:
            return row
        await asyncio.sleep(0.2)
    raise AssertionError(f"mail {mail_uuid} not marked sent within 10 s: {row}")


async def test_a_mail_stuck_in_smtp_when_its_worker_is_killed_goes_out_once_more_soon_after_a_restart(
    outbox: Outbox, worker_process: Callable[..., WorkerProcess], smtp: StallingSmtp
) -> None:
    database, queue, person = outbox.database, outbox.queue, outbox.person
    worker = worker_process(outbox.env)

    sent_uuid, sent_id = await _mail(database, queue, person, "Schon zugestellt")
    smtp.wait_for_delivery(sent_id, timeout=30)

    await _sent(database, sent_uuid)

    smtp.stall_next = 1
    stuck_uuid, stuck_id = await _mail(database, queue, person, "Hängt im SMTP")
    wait_until(lambda: smtp.stalled_on(stuck_id), timeout=20, what="the worker to be stuck in DATA")
    assert worker.kill(signal.SIGKILL) == -signal.SIGKILL
    assert smtp.deliveries(stuck_id) == 0  # the stalled DATA was never acknowledged

    restarted = time.monotonic()
    worker.start()
    smtp.wait_for_delivery(stuck_id, timeout=RECOVERY_BUDGET + 15)
    recovery = time.monotonic() - restarted
    assert recovery < RECOVERY_BUDGET, f"the mail went out {recovery:.1f} s after the restart"

    row = await _sent(database, stuck_uuid)
    assert row.claimed_until is None and row.attempts == 2
    # More sweeps run; neither mail goes out again (the first was marked sent before the kill).
    await asyncio.sleep(SWEEP_SECONDS + 1)
    assert (smtp.deliveries(sent_id), smtp.deliveries(stuck_id)) == (1, 1)
    assert (await _row(database, sent_uuid)).attempts == 1
    print(f"recovery {recovery:.1f} s after the restart (claim {CLAIM_SECONDS} s, sweep {SWEEP_SECONDS} s)")


async def test_a_worker_killed_while_idle_loses_no_job_queued_while_none_runs(
    outbox: Outbox, worker_process: Callable[..., WorkerProcess], smtp: StallingSmtp
) -> None:
    database, queue = outbox.database, outbox.queue
    worker = worker_process(outbox.env)
    worker.kill(signal.SIGKILL)

    mail_uuid, message_id = await _mail(database, queue, outbox.person, "Wartet in Redis")
    assert smtp.deliveries(message_id) == 0
    worker.start()
    # The sweep would only step in a minute after the commit (FIRST_FLUSH_DELAY): this is the queued job.
    smtp.wait_for_delivery(message_id, timeout=20)
    assert (await _sent(database, mail_uuid)).attempts == 1

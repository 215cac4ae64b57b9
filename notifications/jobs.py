"""The ``mail.*`` jobs: ``mail.send`` sends one outbox mail, ``mail.flush`` re-enqueues the due ones.

Claims, and what a killed worker leaves behind (issue 12)
---------------------------------------------------------

A claim is short and kept alive by its holder: claiming sets ``claimed_until`` (and
``next_attempt_at``) to ``now + CLAIM_SECONDS``, and while the mailer talks SMTP the job renews both
every ``RENEW_SECONDS``. A worker that dies (SIGKILL, OOM, a lost machine) stops renewing, its claim
lapses within ``CLAIM_SECONDS``, and the next sweep (every ``SWEEP_SECONDS``; one query on the
``sent_at`` index, which holds only the few unsent rows) hands the mail to a live worker: about
``CLAIM_SECONDS + SWEEP_SECONDS`` (15 s) after the death, instead of waiting for a long claim.

The value of ``claimed_until`` the holder last wrote is its fencing token. Renewing, marking sent and
recording a failure are compare-and-set updates ``WHERE claimed_until = <my value>``; a claim taken
over always carries a later value (it is only taken once the old one has passed). So a late finisher,
whose claim lapsed (say its event loop or database stalled for longer than ``CLAIM_SECONDS``) and
was taken over, can neither release nor reschedule the new holder's claim. If its SMTP exchange did
succeed, it only records ``sent_at`` if nothing else has (the fact, so no further retry sends it) and
logs that the mail may arrive twice. A sending task that is cancelled (job timeout, worker shutdown)
cuts its SMTP connection (see :mod:`allmende.core.mail`), so an abandoned thread cannot complete a
mail another worker then resends; the SMTP exchange as a whole has a deadline below the job's timeout.

Delivery is at least once, and a duplicate needs the one window no outbox can close: the SMTP server
accepted the mail, but the process died (or lost its database) before it recorded ``sent_at``. A
mail marked sent is never sent again: every claim requires ``sent_at IS NULL``. The ``Message-ID`` is
stable per outbox row, so clients that de-duplicate by it show even that duplicate once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid as uuid_module
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, update
from sqlmodel import col, select

from allmende.core.jobs import JobContext, JobSpec, backoff_seconds
from allmende.core.mail import Mail, Mailer
from allmende.core.types import utcnow
from notifications.models import OutboundMail
from notifications.services import FLUSH_JOB_NAME, SEND_JOB_NAME

log = structlog.get_logger("allmende.notifications")

MAX_ATTEMPTS = 10
CLAIM_SECONDS = 10  # a claim lapses this long after its holder last renewed it
RENEW_SECONDS = 3  # the sending job renews its claim this often while the mailer talks SMTP
SWEEP_SECONDS = 5  # mail.flush runs this often: a dead worker's mails go out again within about 15 s


def _full_body(mail: OutboundMail, base_url: str) -> str:
    body = mail.body.rstrip()
    if mail.link:
        body += f"\n\n{base_url}{mail.link}"
    return body + "\n"


class _Claim:
    """A held claim on one outbox row: its id and the ``claimed_until`` value(s) this holder wrote.

    Usually one value; after a write whose outcome is unknown (the database went away mid-commit) both
    the old and the attempted one, until the next write settles it."""

    def __init__(self, database: Any, row_id: int, until: datetime) -> None:
        self.database = database
        self.row_id = row_id
        self.tokens = [until]

    async def _compare_and_set(self, **values: Any) -> bool:
        table = OutboundMail.__table__  # type: ignore[attr-defined]
        async with self.database.unit_of_work() as session:
            connection = await session.connection()
            result = await connection.execute(
                update(table).where(table.c.id == self.row_id, table.c.claimed_until.in_(self.tokens)).values(**values)
            )
            return bool(result.rowcount)

    async def renew(self) -> bool:
        """Extend the claim; False if it was lost (lapsed and taken over, or the mail is done)."""
        until = utcnow() + timedelta(seconds=CLAIM_SECONDS)
        # Until the write is known to have committed, the old value and the new one may both be ours.
        self.tokens = [*self.tokens, until][-4:]
        try:
            held = await self._compare_and_set(claimed_until=until, next_attempt_at=until)
        except Exception as exc:
            log.warning("could not renew a mail claim; trying again", row=self.row_id, error=repr(exc))
            return True
        if held:
            self.tokens = [until]
        return held

    async def keep_alive(self) -> None:
        """Renew every ``RENEW_SECONDS`` until cancelled or the claim is lost."""
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            if not await self.renew():
                log.warning("mail claim lost while sending; another worker has taken the mail over", row=self.row_id)
                return

    async def mark_sent(self) -> bool:
        """Record the delivery; False if the claim had been taken over (``sent_at`` is recorded anyway)."""
        now = utcnow()
        if await self._compare_and_set(sent_at=now, claimed_until=None, last_error=None):
            return True
        table = OutboundMail.__table__  # type: ignore[attr-defined]
        async with self.database.unit_of_work() as session:
            connection = await session.connection()
            await connection.execute(
                update(table).where(table.c.id == self.row_id, table.c.sent_at.is_(None)).values(sent_at=now)
            )
        return False

    async def mark_failed(self, attempts: int, error: str) -> bool:
        """Release the claim with the error and the next attempt's time (or give the mail up)."""
        now = utcnow()
        return await self._compare_and_set(
            claimed_until=None,
            last_error=error[:1000],
            next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts, base=30)),
            failed_at=now if attempts >= MAX_ATTEMPTS else None,
        )


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel the claim keeper and wait until it has ended, so its last write is known."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _claim(ctx: JobContext, mail_uuid: uuid_module.UUID) -> tuple[OutboundMail, _Claim] | None:
    now = utcnow()
    until = now + timedelta(seconds=CLAIM_SECONDS)
    table = OutboundMail.__table__  # type: ignore[attr-defined]
    async with ctx.database.unit_of_work() as session:
        connection = await session.connection()
        claimed = (
            await connection.execute(
                update(table)
                .where(
                    table.c.uuid == mail_uuid,
                    table.c.sent_at.is_(None),
                    table.c.failed_at.is_(None),
                    or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                )
                .values(claimed_until=until, next_attempt_at=until, attempts=table.c.attempts + 1)
                .returning(table.c.id)
            )
        ).scalar_one_or_none()
        row = await session.get(OutboundMail, claimed) if claimed is not None else None
    if row is None or row.id is None:
        return None
    return row, _Claim(ctx.database, row.id, until)


async def send_mail_job(ctx: JobContext, *, mail: str) -> str:
    """Send one outbox mail. Idempotent: a mail that is sent, given up or being sent is left alone."""
    mailer: Mailer = ctx.adapters["mailer"]
    claimed = await _claim(ctx, uuid_module.UUID(mail))
    if claimed is None:
        return "skipped"
    row, claim = claimed
    message = Mail(
        to=row.to_address,
        subject=row.subject,
        body=_full_body(row, ctx.settings.base_url),
        message_id=f"<{row.uuid}@allmende>",
    )
    keeper = asyncio.create_task(claim.keep_alive(), name=f"mail-claim-{row.id}")
    try:
        await mailer.send(message)
    except Exception as exc:
        await _stop(keeper)
        if not await claim.mark_failed(row.attempts, repr(exc)):
            log.warning("mail failed after its claim was taken over", mail=mail, error=repr(exc))
        elif row.attempts >= MAX_ATTEMPTS:
            log.error("mail given up", mail=mail, to=row.to_address, error=repr(exc))
        raise
    finally:
        await _stop(keeper)
    if not await claim.mark_sent():
        log.warning("mail sent after its claim was taken over; it may arrive twice", mail=mail)
        return "sent-late"
    return "sent"


async def flush_mail_job(ctx: JobContext, *, now: str | None = None) -> int:
    """Re-enqueue every due, unsent mail (the periodic safety net)."""
    moment = datetime.fromisoformat(now) if now else utcnow()
    async with ctx.database.sessionmaker() as session:
        due = list(
            await session.exec(
                select(OutboundMail.uuid, OutboundMail.attempts)
                .where(
                    col(OutboundMail.sent_at).is_(None),
                    col(OutboundMail.failed_at).is_(None),
                    col(OutboundMail.next_attempt_at) <= moment,
                    or_(col(OutboundMail.claimed_until).is_(None), col(OutboundMail.claimed_until) < moment),
                )
                .order_by(col(OutboundMail.id))
                .limit(500)
            )
        )
    for mail_uuid, attempts in due:
        await ctx.queue.enqueue(SEND_JOB_NAME, job_id=f"mail:{mail_uuid}:{attempts}", mail=str(mail_uuid))
    return len(due)


SEND_JOB = JobSpec(SEND_JOB_NAME, send_mail_job, max_tries=4, timeout_seconds=60)
FLUSH_JOB = JobSpec(FLUSH_JOB_NAME, flush_mail_job, max_tries=1, timeout_seconds=60, every_seconds=SWEEP_SECONDS)
MAIL_JOBS = (SEND_JOB, FLUSH_JOB)


__all__ = [
    "CLAIM_SECONDS",
    "FLUSH_JOB",
    "MAIL_JOBS",
    "MAX_ATTEMPTS",
    "RENEW_SECONDS",
    "SEND_JOB",
    "SWEEP_SECONDS",
    "flush_mail_job",
    "send_mail_job",
]

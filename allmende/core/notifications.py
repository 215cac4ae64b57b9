"""Notifications: an in-app inbox per user and e-mail through a transactional outbox.

``notify(session, recipients, kind, subject, body, link=…)`` writes, in the caller's unit of work,
one inbox row and one outbox row (``outbound_mail``) per recipient. Nothing leaves the process
before that transaction commits, so a rolled-back action never mails anybody:

1. after the commit, the unit of work calls :func:`enqueue_pending`, which hands one ``mail.send``
   job per new mail to the job queue (arq or in-process);
2. ``mail.send`` claims its row, sends through the configured :class:`~allmende.core.mail.Mailer`
   and marks it sent. A failure records the error and raises, so the runner retries with backoff;
3. ``mail.flush`` runs every ``SWEEP_SECONDS`` and re-enqueues mails that are due and still unsent
   (an enqueue lost while Redis was down, a job that used up its tries, a claim whose holder died):
   retries that span hours live in the database, not in Redis. After ``MAX_ATTEMPTS`` a mail is
   given up and marked failed.

A request never waits for an SMTP server.

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

The inbox API (``GET /api/v1/inbox``, ``POST /api/v1/inbox/{uuid}/read``) is for signed-in users;
it is here, with the tables, because it knows no domain.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from pydantic import BaseModel
from sqlalchemy import Text, and_, func, or_, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.jobs import JobContext, JobQueue, JobSpec, backoff_seconds
from allmende.core.mail import Mail, Mailer
from allmende.core.pagination import DEFAULT_LIMIT, Limit, Page, check_limit, decode_cursor, encode_cursor
from allmende.core.problems import Forbidden, NotFound, Unauthorized
from allmende.core.types import UTCDateTime, utcnow

log = structlog.get_logger("allmende.notifications")

MAX_ATTEMPTS = 10
CLAIM_SECONDS = 10  # a claim lapses this long after its holder last renewed it
RENEW_SECONDS = 3  # the sending job renews its claim this often while the mailer talks SMTP
SWEEP_SECONDS = 5  # mail.flush runs this often: a dead worker's mails go out again within about 15 s
FIRST_FLUSH_DELAY = timedelta(seconds=60)  # the enqueue after commit has this long before the sweep steps in
PENDING_KEY = "pending_mails"


class Notification(SQLModel, table=True):
    """One entry of a user's in-app inbox."""

    __tablename__ = "notification"

    id: int | None = Field(default=None, primary_key=True)
    uuid: uuid_module.UUID = Field(default_factory=uuid_module.uuid4, unique=True, index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=60)
    subject: str = Field(max_length=300)
    body: str = Field(default="", sa_type=Text)
    link: str | None = Field(default=None, max_length=500)
    record_uuid: uuid_module.UUID | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboundMail(SQLModel, table=True):
    """The e-mail outbox: written with the notification, drained by the ``mail.*`` jobs."""

    __tablename__ = "outbound_mail"

    id: int | None = Field(default=None, primary_key=True)
    uuid: uuid_module.UUID = Field(default_factory=uuid_module.uuid4, unique=True, index=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body: str = Field(default="", sa_type=Text)
    link: str | None = Field(default=None, max_length=500)
    kind: str = Field(max_length=60)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=1000)


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str


def notify(
    session: AsyncSession,
    recipients: Iterable[Recipient],
    kind: str,
    subject: str,
    body: str,
    *,
    link: str | None = None,
    record_uuid: uuid_module.UUID | None = None,
) -> list[Notification]:
    """Inbox rows and outbox mails for each recipient (once per user), in the caller's transaction."""
    created: list[Notification] = []
    seen: set[int] = set()
    now = utcnow()
    subject = subject[:300]
    for recipient in recipients:
        if recipient.user_id in seen:
            continue
        seen.add(recipient.user_id)
        notification = Notification(
            user_id=recipient.user_id,
            kind=kind,
            subject=subject,
            body=body,
            link=link,
            record_uuid=record_uuid,
            created_at=now,
        )
        mail = OutboundMail(
            to_address=recipient.email,
            subject=subject,
            body=body,
            link=link,
            kind=kind,
            created_at=now,
            next_attempt_at=now + FIRST_FLUSH_DELAY,
        )
        session.add(notification)
        session.add(mail)
        session.info.setdefault(PENDING_KEY, []).append(str(mail.uuid))
        created.append(notification)
    return created


async def enqueue_pending(session: AsyncSession, queue: JobQueue) -> int:
    """After the unit of work committed: one ``mail.send`` job per mail it wrote. A lost enqueue is
    harmless; ``mail.flush`` finds the mail later."""
    pending: list[str] = session.info.pop(PENDING_KEY, [])
    for mail_uuid in pending:
        try:
            await queue.enqueue(SEND_JOB_NAME, job_id=f"mail:{mail_uuid}:0", mail=mail_uuid)
        except Exception as exc:  # the queue is down: don't wait for it once per mail; the sweep sends them
            log.warning("could not enqueue mails; the sweep will send them", mails=len(pending), error=repr(exc))
            break
    return len(pending)


# --- jobs ------------------------------------------------------------------------------------------------

SEND_JOB_NAME = "mail.send"
FLUSH_JOB_NAME = "mail.flush"


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


# --- the inbox ----------------------------------------------------------------------------------------------


class NotificationOut(BaseModel):
    uuid: uuid_module.UUID
    kind: str
    subject: str
    body: str
    link: str | None
    record_uuid: uuid_module.UUID | None
    created_at: datetime
    read_at: datetime | None


def _out(notification: Notification) -> NotificationOut:
    return NotificationOut.model_validate(notification, from_attributes=True)


async def list_inbox(
    session: AsyncSession, user_id: int, *, unread: bool = False, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[NotificationOut]:
    """A user's notifications, newest first."""
    check_limit(limit)
    query = select(Notification).where(Notification.user_id == user_id)
    if unread:
        query = query.where(col(Notification.read_at).is_(None))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    after = decode_cursor(cursor, arity=2, dates=(0,))
    if after is not None:
        moment, last_id = datetime.fromisoformat(str(after[0])), int(after[1])
        query = query.where(
            or_(
                col(Notification.created_at) < moment,
                and_(col(Notification.created_at) == moment, col(Notification.id) < last_id),
            )
        )
    rows = list(
        await session.exec(
            query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc()).limit(limit + 1)
        )
    )
    next_cursor = (
        encode_cursor([rows[limit - 1].created_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    )
    return Page(items=[_out(n) for n in rows[:limit]], total=total, next_cursor=next_cursor)


async def mark_read(session: AsyncSession, user_id: int, notification_uuid: uuid_module.UUID) -> NotificationOut:
    notification = (
        await session.exec(
            select(Notification).where(Notification.uuid == notification_uuid, Notification.user_id == user_id)
        )
    ).first()
    if notification is None:  # someone else's notification is as absent as a missing one
        raise NotFound("no such notification in your inbox", field="id")
    if notification.read_at is None:
        notification.read_at = utcnow()
        await session.flush()
    return _out(notification)


async def mark_all_read(session: AsyncSession, user_id: int) -> int:
    """Mark every unread notification of the user as read; returns how many there were."""
    table = Notification.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    result = await connection.execute(
        update(table).where(table.c.user_id == user_id, table.c.read_at.is_(None)).values(read_at=utcnow())
    )
    return int(result.rowcount or 0)


async def count_unread(session: AsyncSession, user_id: int) -> int:
    """How many notifications of the user are unread (one COUNT, for the header)."""
    query = select(func.count()).where(Notification.user_id == user_id, col(Notification.read_at).is_(None))
    return int((await session.exec(query)).one())


def _reader(principal: Any) -> int:
    """The signed-in user's id. The principal comes from the accounts package through the app's
    ``principal`` dependency; core only relies on its ``is_anonymous`` and ``user_id``."""
    if principal is None or principal.is_anonymous:
        raise Unauthorized("Sign in to read your notifications.")
    user_id: int | None = principal.user_id
    if user_id is None:
        raise Forbidden("The inbox belongs to a signed-in user; API tokens have none.")
    return user_id


class InboxController(Controller):
    path = "/api/v1/inbox"
    tags = ["inbox"]  # noqa: RUF012

    @get("/", summary="Your notifications, newest first (signed-in users)")
    async def list_notifications(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Any],
        unread: FromQuery[bool] = False,
        limit: Limit = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Page[NotificationOut]:
        return await list_inbox(db_session, _reader(principal), unread=unread, limit=limit, cursor=cursor)

    @post("/{notification_id:uuid}/read", status_code=200, summary="Mark a notification as read")
    async def read(
        self,
        notification_id: FromPath[uuid_module.UUID],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Any],
    ) -> NotificationOut:
        return await mark_read(db_session, _reader(principal), notification_id)


__all__ = [
    "FLUSH_JOB",
    "MAIL_JOBS",
    "SEND_JOB",
    "InboxController",
    "Notification",
    "NotificationOut",
    "OutboundMail",
    "Recipient",
    "count_unread",
    "enqueue_pending",
    "list_inbox",
    "mark_all_read",
    "mark_read",
    "notify",
]

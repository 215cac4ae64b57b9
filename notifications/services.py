"""Telling people: ``notify`` writes inbox rows and outbox mails in the caller's unit of work, and
``enqueue_pending`` hands the mails to the job queue after it committed; the inbox is read and marked
read here. Services never commit."""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import User
from allmende.core.jobs import JobQueue
from allmende.core.pagination import DEFAULT_LIMIT, Page, check_limit, newest_first
from allmende.core.problems import NotFound
from allmende.core.translation import LANGUAGES, SOURCE_LOCALE, Localizable, render
from allmende.core.types import utcnow
from notifications.models import Notification, OutboundMail
from notifications.schemas import NotificationOut

log = structlog.get_logger("allmende.notifications")

FIRST_FLUSH_DELAY = timedelta(seconds=60)  # the enqueue after commit has this long before the sweep steps in
PENDING_KEY = "pending_mails"
SEND_JOB_NAME = "mail.send"
FLUSH_JOB_NAME = "mail.flush"


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str
    language: str = SOURCE_LOCALE  # the user's language (``User.language``): the notice is written in it
    mail: bool = True  # whether the person wants notices by e-mail too (``User.mail_notices``); the inbox always


def notify(
    session: AsyncSession,
    recipients: Iterable[Recipient],
    kind: str,
    subject: str | Localizable,
    body: str | Localizable,
    *,
    link: str | None = None,
    record_uuid: uuid_module.UUID | None = None,
) -> list[Notification]:
    """Inbox rows and outbox mails for each recipient (once per user), in the caller's transaction.

    A subject or body to translate (a :class:`~allmende.core.translation.Text`) is rendered once per
    recipient, in the recipient's language; the inbox row and the mail keep that rendering."""
    created: list[Notification] = []
    seen: set[int] = set()
    now = utcnow()
    for recipient in recipients:
        if recipient.user_id in seen:
            continue
        seen.add(recipient.user_id)
        subject_text, body_text = _written(subject, body, recipient.language)
        # The inbox row and the mail say the same thing; the mail waits in the outbox for the flush job.
        said: dict[str, Any] = {
            "kind": kind,
            "subject": subject_text,
            "body": body_text,
            "link": link,
            "created_at": now,
        }
        notification = Notification(user_id=recipient.user_id, record_uuid=record_uuid, **said)
        session.add(notification)
        if recipient.mail:
            _outbox(session, OutboundMail(to_address=recipient.email, next_attempt_at=now + FIRST_FLUSH_DELAY, **said))
        created.append(notification)
    return created


def recipient_of(user: User) -> Recipient:
    """A person as a recipient of notices, with their language and whether they want mail."""
    return Recipient(user_id=user.id or 0, email=user.email, language=user.language, mail=user.mail_notices)


def mail_to(
    session: AsyncSession,
    email: str,
    kind: str,
    subject: str | Localizable,
    body: str | Localizable,
    *,
    language: str = SOURCE_LOCALE,
    link: str | None = None,
) -> OutboundMail:
    """A mail to an address, not a notice to a person: no inbox row, and sent whatever ``mail_notices``
    says. For what only the address may read (a confirmation link to a new address, a reset link) and for
    addresses that have no account (yet)."""
    subject_text, body_text = _written(subject, body, language)
    now = utcnow()
    return _outbox(
        session,
        OutboundMail(
            to_address=email,
            kind=kind,
            subject=subject_text,
            body=body_text,
            link=link,
            created_at=now,
            next_attempt_at=now + FIRST_FLUSH_DELAY,
        ),
    )


def _outbox(session: AsyncSession, mail: OutboundMail) -> OutboundMail:
    session.add(mail)
    session.info.setdefault(PENDING_KEY, []).append(str(mail.uuid))
    return mail


async def forget(session: AsyncSession, user_id: int, email: str) -> None:
    """A deleted account (DSGVO Art. 17): its inbox, and every mail to its address, go."""
    await session.exec(delete(Notification).where(col(Notification.user_id) == user_id))
    await session.exec(delete(OutboundMail).where(col(OutboundMail.to_address) == email))


async def inbox_export(session: AsyncSession, user_id: int) -> list[NotificationOut]:
    """Every notification of the person, oldest first (the data export, DSGVO Art. 15 and 20)."""
    rows = await session.exec(
        select(Notification).where(Notification.user_id == user_id).order_by(col(Notification.created_at))
    )
    return [_out(n) for n in rows]


def _language(value: str) -> str:
    return value if value in LANGUAGES else SOURCE_LOCALE


def _written(subject: str | Localizable, body: str | Localizable, language: str) -> tuple[str, str]:
    """Subject (at most 300 characters, as the column holds) and body as one recipient reads them."""
    locale = _language(language)
    return str(render(subject, locale))[:300], str(render(body, locale))


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
    rows, next_cursor = await newest_first(session, query, Notification, limit=limit, cursor=cursor)
    return Page(items=[_out(n) for n in rows], total=total, next_cursor=next_cursor)


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


__all__ = [
    "FIRST_FLUSH_DELAY",
    "FLUSH_JOB_NAME",
    "PENDING_KEY",
    "SEND_JOB_NAME",
    "Recipient",
    "count_unread",
    "enqueue_pending",
    "forget",
    "inbox_export",
    "list_inbox",
    "mail_to",
    "mark_all_read",
    "mark_read",
    "notify",
    "recipient_of",
]

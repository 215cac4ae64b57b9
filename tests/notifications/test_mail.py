"""Notifications: the outbox with its retries (mail through a real SMTP server, aiosmtpd on 127.0.0.1)
and the in-app inbox."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

from allmende.accounts import services as accounts_services
from allmende.accounts.models import MemberRole, OrganizationKind, TokenScope
from allmende.app import Adapters
from allmende.core.db import Database
from allmende.core.mail import Mail, MailError, SmtpMailer
from allmende.core.types import utcnow
from notifications.jobs import CLAIM_SECONDS, MAX_ATTEMPTS, send_mail_job
from notifications.models import Notification, OutboundMail
from notifications.services import Recipient, enqueue_pending, notify
from tests.support.factories import csrf_headers, login, make_organization, make_user, make_user_in
from tests.support.jobs import queue_of
from tests.support.mail import SENDER, SmtpSink, use_smtp

# --- notify → outbox → job → SMTP ----------------------------------------------------------------------------


async def _recipients(database: Database, count: int) -> list[Recipient]:
    users = [await make_user(database) for _ in range(count)]
    return [Recipient(user_id=u.id or 0, email=u.email) for u in users]


async def _outbox(database: Database) -> list[OutboundMail]:
    async with database.sessionmaker() as session:
        return list(await session.exec(select(OutboundMail).order_by(col(OutboundMail.id))))


async def test_notify_writes_inbox_and_outbox_and_the_job_sends_each_mail_once(
    adapters: Adapters, database: Database, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    people = await _recipients(database, 2)
    async with database.unit_of_work() as session:
        notify(session, [*people, people[0]], "test.kind", "Neue Anfrage", "Hallo", link="/api/v1/x")
    assert await enqueue_pending(session, adapters.jobs) == 2  # one per person, the duplicate dropped
    await queue_of(adapters).run_pending()
    assert sorted(r[0] for r, _ in smtp.received) == sorted(p.email for p in people)
    body = smtp.to(people[0].email)[0].get_content()
    assert "Hallo" in body and "http://testserver/api/v1/x" in body
    assert all(m.sent_at is not None and m.attempts == 1 for m in await _outbox(database))
    async with database.sessionmaker() as session:
        inbox = list(await session.exec(select(Notification)))
    assert sorted(n.user_id for n in inbox) == sorted(p.user_id for p in people)
    # Running the jobs again (a duplicate delivery by the queue, or the sweep) sends nothing more.
    for mail in await _outbox(database):
        await adapters.jobs.enqueue("mail.send", mail=str(mail.uuid))
    await adapters.jobs.enqueue("mail.flush", now=(utcnow() + timedelta(hours=1)).isoformat())
    await queue_of(adapters).run_pending()
    assert len(smtp.received) == 2


async def test_a_rolled_back_unit_of_work_mails_nobody(adapters: Adapters, database: Database, smtp: SmtpSink) -> None:
    use_smtp(adapters, smtp)
    [person] = await _recipients(database, 1)
    with pytest.raises(RuntimeError):
        async with database.unit_of_work() as session:
            notify(session, [person], "test.kind", "Nie gesendet", "x")
            raise RuntimeError("the action failed")
    assert await _outbox(database) == []
    await queue_of(adapters).run_pending()
    assert smtp.received == []


async def test_a_busy_server_is_retried_until_the_mail_is_accepted(
    adapters: Adapters, database: Database, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    [person] = await _recipients(database, 1)
    smtp.refuse = 2
    async with database.unit_of_work() as session:
        notify(session, [person], "test.kind", "Beharrlich", "x")
    await enqueue_pending(session, adapters.jobs)
    await queue_of(adapters).run_pending(wait_for_retries=True)
    assert smtp.subjects(person.email) == ["Beharrlich"]
    [mail] = await _outbox(database)
    assert mail.attempts == 3 and mail.sent_at is not None and mail.last_error is None


async def test_mail_waits_in_the_outbox_while_the_server_is_down(adapters: Adapters, database: Database) -> None:
    """The job's own retries run out; the sweep (mail.flush) sends the mail once the server is back."""
    down = SmtpSink()  # not started: nothing listens on its port
    use_smtp(adapters, down)
    [person] = await _recipients(database, 1)
    async with database.unit_of_work() as session:
        notify(session, [person], "test.kind", "Später", "x")
    await enqueue_pending(session, adapters.jobs)
    queue = queue_of(adapters)
    await queue.run_pending(wait_for_retries=True)
    assert [name for name, _ in queue.failed] == ["mail.send"]
    [mail] = await _outbox(database)
    assert (
        mail.sent_at is None
        and mail.failed_at is None
        and mail.attempts == 4
        and "MailError" in (mail.last_error or "")
    )
    down.start()
    try:
        await adapters.jobs.enqueue("mail.flush")  # not due yet: the sweep waits for next_attempt_at
        await queue.run_pending()
        assert down.received == []
        await adapters.jobs.enqueue("mail.flush", now=(utcnow() + timedelta(hours=1)).isoformat())
        await queue.run_pending()
        assert down.subjects(person.email) == ["Später"]
    finally:
        down.stop()


async def test_a_mail_is_given_up_after_the_last_attempt(adapters: Adapters, database: Database) -> None:
    down = SmtpSink()
    use_smtp(adapters, down)
    [person] = await _recipients(database, 1)
    async with database.unit_of_work() as session:
        notify(session, [person], "test.kind", "Vergeblich", "x")
        await session.flush()
        (await session.exec(select(OutboundMail))).one().attempts = MAX_ATTEMPTS - 1
    await enqueue_pending(session, adapters.jobs)
    await queue_of(adapters).run_pending()
    [mail] = await _outbox(database)
    assert mail.failed_at is not None and mail.sent_at is None
    await adapters.jobs.enqueue("mail.flush", now=(utcnow() + timedelta(days=1)).isoformat())
    await queue_of(adapters).run_pending(wait_for_retries=True)
    [mail] = await _outbox(database)
    assert mail.attempts == MAX_ATTEMPTS and mail.failed_at is not None  # neither the sweep nor a retry tried again


async def test_a_request_never_waits_for_the_mail_server(
    client: httpx.AsyncClient, adapters: Adapters, database: Database
) -> None:
    """The handler's unit of work only enqueues; sending happens in the job, later."""

    class Hanging:
        async def send(self, mail: Mail) -> None:
            await asyncio.sleep(3600)

    adapters.mailer = Hanging()
    queue_of(adapters).bind(adapters.job_context())
    async with database.unit_of_work() as session:
        notify(session, await _recipients(database, 1), "test.kind", "x", "y")
    await enqueue_pending(session, adapters.jobs)
    assert (await asyncio.wait_for(client.get("/healthz"), timeout=5)).status_code == 200
    assert queue_of(adapters).pending == 1


class Gated:
    """A mailer whose sends wait for the test to let them finish (``outcome``: None succeeds, else raised)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self.outcome: Exception | None = None
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        self.entered.set()
        await self.go.wait()
        if self.outcome is not None:
            raise self.outcome
        self.sent.append(mail)


@pytest.mark.parametrize("late_outcome", ["succeeds", "fails"])
async def test_a_late_finisher_whose_claim_was_taken_over_cannot_release_or_resend(
    adapters: Adapters, database: Database, smtp: SmtpSink, late_outcome: str
) -> None:
    """The first sender stalls past its claim (its renewals lost, as in a long database outage); a second
    job takes the mail over and delivers it. Whatever the first sender's SMTP exchange then does, it
    cannot release or reschedule the row, and nothing sends the mail a third time."""
    use_smtp(adapters, smtp)
    [person] = await _recipients(database, 1)
    async with database.unit_of_work() as session:
        notify(session, [person], "test.kind", "Übernommen", "x")
    [mail] = await _outbox(database)
    late = Gated()
    adapters.mailer = late
    first = asyncio.create_task(send_mail_job(adapters.job_context(), mail=str(mail.uuid)))
    await asyncio.wait_for(late.entered.wait(), timeout=5)
    [claimed] = await _outbox(database)
    assert claimed.claimed_until is not None and claimed.claimed_until <= utcnow() + timedelta(seconds=CLAIM_SECONDS)
    async with database.unit_of_work() as session:  # the claim lapses: nobody renewed it in time
        row = await session.get(OutboundMail, claimed.id)
        assert row is not None
        row.claimed_until = utcnow() - timedelta(seconds=1)
    adapters.mailer = SmtpMailer(smtp.url, SENDER, timeout=5)
    assert await send_mail_job(adapters.job_context(), mail=str(mail.uuid)) == "sent"
    late.outcome = None if late_outcome == "succeeds" else MailError("the connection broke")
    late.go.set()
    if late_outcome == "succeeds":
        assert await first == "sent-late"
    else:
        with pytest.raises(MailError):
            await first
    [done] = await _outbox(database)
    assert done.sent_at is not None and done.claimed_until is None and done.failed_at is None
    assert done.attempts == 2 and done.last_error is None
    await adapters.jobs.enqueue("mail.flush", now=(utcnow() + timedelta(days=1)).isoformat())
    await adapters.jobs.enqueue("mail.send", mail=str(mail.uuid))
    await queue_of(adapters).run_pending()
    assert smtp.subjects(person.email) == ["Übernommen"]


# --- the inbox API ------------------------------------------------------------------------------------------


async def test_the_inbox_shows_own_notifications_and_marks_them_read(
    client: httpx.AsyncClient, database: Database
) -> None:
    town = await make_organization(database, kind=OrganizationKind.municipality)
    reader = await make_user_in(database, town, MemberRole.owner)
    other = await make_user(database)
    async with database.unit_of_work() as session:
        mine = notify(
            session, [Recipient(reader.id or 0, reader.email)], "k", "Für mich", "Text", link="/api/v1/offer-requests"
        )
        notify(session, [Recipient(other.id or 0, other.email)], "k", "Für jemand anderen", "Text")
        notify(session, [Recipient(reader.id or 0, reader.email)], "k", "Noch eine", "Text")
    assert (await client.get("/api/v1/inbox")).status_code == 401
    assert (await login(client, reader.email)).status_code == 201
    inbox = (await client.get("/api/v1/inbox")).json()
    assert inbox["total"] == 2 and {n["subject"] for n in inbox["items"]} == {"Für mich", "Noch eine"}
    first_page = (await client.get("/api/v1/inbox", params={"limit": 1})).json()
    assert len(first_page["items"]) == 1 and first_page["next_cursor"]
    second_page = (await client.get("/api/v1/inbox", params={"limit": 1, "cursor": first_page["next_cursor"]})).json()
    assert {first_page["items"][0]["subject"], second_page["items"][0]["subject"]} == {"Für mich", "Noch eine"}
    read = await client.post(f"/api/v1/inbox/{mine[0].uuid}/read", headers=csrf_headers(client))
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert (await client.get("/api/v1/inbox", params={"unread": True})).json()["total"] == 1
    async with database.sessionmaker() as session:
        foreign = (await session.exec(select(Notification).where(Notification.user_id == other.id))).one()
    assert (await client.post(f"/api/v1/inbox/{foreign.uuid}/read", headers=csrf_headers(client))).status_code == 404
    async with database.unit_of_work() as session:
        _, token = await accounts_services.issue_token(
            session, town, name="t", scopes=[TokenScope.read], expires_in_days=1, created_by=None
        )
    as_token = await client.get("/api/v1/inbox", headers={"authorization": f"Bearer {token}"})
    assert as_token.status_code == 403

"""E-mail through a real SMTP server (aiosmtpd, started by the test on 127.0.0.1), the outbox with its
retries, and the in-app inbox."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlmodel import col, select

from allmende.accounts import services as accounts_services
from allmende.accounts.models import MemberRole, OrganizationKind, TokenScope
from allmende.app import Adapters, build_adapters
from allmende.core.db import Database
from allmende.core.jobs.inprocess import InProcessJobQueue
from allmende.core.mail import LogMailer, Mail, MailError, SmtpConfig, SmtpMailer, build_mailer
from allmende.core.settings import Settings, SettingsError, load_settings
from allmende.core.types import utcnow
from notifications.jobs import CLAIM_SECONDS, MAX_ATTEMPTS, send_mail_job
from notifications.models import Notification, OutboundMail
from notifications.services import Recipient, enqueue_pending, notify
from tests.factories import csrf_headers, login, make_organization, make_user, make_user_in

SENDER = "Allmende Test <noreply@allmende.test>"


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives. ``refuse`` answers the next n
    mails with a temporary error (451), as a busy server would."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.refuse = 0
        self.port = _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.received if address in rcpt]

    def subjects(self, address: str) -> list[str]:
        return [str(m["Subject"]) for m in self.to(address)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


def use_smtp(adapters: Adapters, sink: SmtpSink) -> None:
    """Point the app's adapters at the test's SMTP server (what SMTP_URL does in build_adapters)."""
    adapters.mailer = SmtpMailer(sink.url, SENDER, timeout=5)
    assert isinstance(adapters.jobs, InProcessJobQueue)
    adapters.jobs.bind(adapters.job_context())


def queue_of(adapters: Adapters) -> InProcessJobQueue:
    assert isinstance(adapters.jobs, InProcessJobQueue)
    return adapters.jobs


# --- the mailer alone -----------------------------------------------------------------------------------


async def test_smtp_mailer_delivers_utf8_mail_to_a_real_server(smtp: SmtpSink) -> None:
    mailer = SmtpMailer(smtp.url, SENDER, timeout=5)
    await mailer.send(Mail(to="kaemmerei@koeln.example", subject="Angebot für Köln: 1.234,50 €", body="Grüße\n"))
    [(recipients, message)] = smtp.received
    assert recipients == ["kaemmerei@koeln.example"]
    assert message["Subject"] == "Angebot für Köln: 1.234,50 €"
    assert message["From"] == SENDER and message["To"] == "kaemmerei@koeln.example"
    assert message["Auto-Submitted"] == "auto-generated" and message["Message-ID"]
    assert message.get_content().strip() == "Grüße"


async def test_a_refusing_or_missing_server_is_a_mail_error(smtp: SmtpSink) -> None:
    smtp.refuse = 1
    with pytest.raises(MailError):
        await SmtpMailer(smtp.url, SENDER, timeout=5).send(Mail(to="a@b.example", subject="x", body="y"))
    with pytest.raises(MailError):
        await SmtpMailer(f"smtp://127.0.0.1:{_free_port()}", SENDER, timeout=2).send(
            Mail(to="a@b.example", subject="x", body="y")
        )


def test_smtp_url_and_sender_are_configuration(tmp_path: Any) -> None:
    config = SmtpConfig.from_url("smtps://user%40x:p%3Ass@mail.example.org?starttls=true")
    assert (config.host, config.port, config.tls, config.username, config.password) == (
        "mail.example.org",
        465,
        True,
        "user@x",
        "p:ss",
    )
    assert SmtpConfig.from_url("smtp://mail.example.org?starttls=true").starttls is True
    with pytest.raises(SettingsError, match=r"^SMTP_URL: "):
        load_settings(SMTP_URL="http://mail.example.org", ALLMENDE_DATA_DIR=tmp_path)
    with pytest.raises(SettingsError, match=r"^ALLMENDE_MAIL_FROM: "):
        load_settings(ALLMENDE_MAIL_FROM="nobody", ALLMENDE_DATA_DIR=tmp_path)
    embedded = Settings(ALLMENDE_DATA_DIR=tmp_path)
    assert isinstance(build_mailer(embedded.smtp_url, embedded.mail_from), LogMailer)  # no SMTP_URL: logged only
    production = build_adapters(Settings(ALLMENDE_DATA_DIR=tmp_path, SMTP_URL="smtp://127.0.0.1:2525"))
    assert isinstance(production.mailer, SmtpMailer) and production.mailer.config.port == 2525
    assert production.job_context().adapters["mailer"] is production.mailer


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


async def test_an_smtp_exchange_past_its_deadline_is_cut_and_fails(smtp: SmtpSink) -> None:
    """A server that never answers the end of DATA: the mailer gives up at its deadline, not the job's."""
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def stall(server: Any, session: Any, envelope: Any) -> str:
        await release.wait()
        return "451 too late"

    smtp.handle_DATA = stall  # type: ignore[method-assign]
    mailer = SmtpMailer(smtp.url, SENDER, timeout=30, deadline=1)
    started = loop.time()
    with pytest.raises(MailError, match="longer than 1 s"):
        await mailer.send(Mail(to="a@b.example", subject="x", body="y"))
    assert loop.time() - started < 5
    smtp._controller.loop.call_soon_threadsafe(release.set)


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

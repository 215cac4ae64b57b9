"""Outgoing e-mail: one small ``Mailer`` interface, an SMTP implementation and a logging stand-in.

``SMTP_URL`` chooses the implementation in the composition root (``allmende/app.py``):

- ``smtp://[user:password@]host[:port]`` plain SMTP (port 25 by default), upgraded with STARTTLS
  when the URL says ``?starttls=true``;
- ``smtps://[user:password@]host[:port]`` SMTP over TLS (port 465 by default);
- no ``SMTP_URL`` at all (the embedded profile's default): mails are written to the log instead of
  being sent, so a development instance never mails anybody by accident.

The sender is ``ALLMENDE_MAIL_FROM``. Mails are sent by jobs (``mail.send``, see
``notifications``), never while a request waits; the stdlib ``smtplib`` runs in a
worker thread so a slow server cannot stall the event loop. Each socket operation has a timeout
(``SMTP_TIMEOUT_SECONDS``) and the whole exchange a deadline (``SMTP_DEADLINE_SECONDS``, below the
``mail.send`` job's own timeout). When the deadline passes or the sending task is cancelled (job
timeout, worker shutdown), the connection is shut down under the thread's feet: a thread left behind
can then no longer complete the DATA of a mail whose claim lapses and that another worker resends.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

from allmende.core.types import utcnow

log = structlog.get_logger("allmende.mail")

SMTP_TIMEOUT_SECONDS = 15.0  # per socket operation
SMTP_DEADLINE_SECONDS = 45.0  # the whole exchange; below mail.send's job timeout (60 s)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str  # plain text, UTF-8
    message_id: str | None = None  # stable per outbox row, so a resent mail can be recognised


class Mailer(Protocol):
    """Delivers one mail or raises; the job that calls it retries."""

    async def send(self, mail: Mail) -> None: ...


class MailError(RuntimeError):
    """The server refused the mail or could not be reached."""


# Python 3.11's header folding drops the space between two RFC 2047 encoded words ("Plattform für" arrives
# as "Plattformfür"). Subjects are at most 300 characters, so allowing SMTP's full line length means they
# are never folded.
_POLICY = SMTP_POLICY.clone(max_line_length=998)


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = mail.message_id or make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to notifications
    message.set_content(mail.body, charset="utf-8", cte="quoted-printable")  # 7-bit safe for any server
    return message


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: bool  # SMTP over TLS from the first byte (smtps://)
    starttls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must be an smtp:// or smtps:// URL with a host")
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            tls=tls,
            starttls=not tls and query.get("starttls") in ("1", "true", "yes"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpMailer:
    """Sends through an SMTP server with the standard library, one connection per mail."""

    def __init__(
        self,
        url: str,
        sender: str,
        *,
        timeout: float = SMTP_TIMEOUT_SECONDS,
        deadline: float = SMTP_DEADLINE_SECONDS,
    ) -> None:
        self.config = SmtpConfig.from_url(url)
        self.sender = sender
        self.timeout = timeout
        self.deadline = deadline

    def _send_blocking(self, message: EmailMessage, opened: list[smtplib.SMTP]) -> None:
        config = self.config
        context = ssl.create_default_context()
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(config.host, config.port, timeout=self.timeout, context=context)
            if config.tls
            else smtplib.SMTP(config.host, config.port, timeout=self.timeout)
        )
        opened.append(client)  # so send() can cut the connection
        try:
            client.ehlo()
            if config.starttls:
                client.starttls(context=context)
                client.ehlo()
            if config.username:
                client.login(config.username, config.password or "")
            refused = client.send_message(message)
            if refused:
                raise MailError(f"the server refused recipients: {sorted(refused)}")
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    async def send(self, mail: Mail) -> None:
        message = build_message(mail, self.sender)
        opened: list[smtplib.SMTP] = []
        exchange = asyncio.ensure_future(asyncio.to_thread(self._send_blocking, message, opened))
        exchange.add_done_callback(lambda task: task.cancelled() or task.exception())  # retrieved, even if abandoned
        try:
            await asyncio.wait_for(asyncio.shield(exchange), timeout=self.deadline)
        except TimeoutError:
            _cut(opened)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(exchange, timeout=self.timeout)
            raise MailError(f"sending to {mail.to} took longer than {self.deadline:.0f} s") from None
        except asyncio.CancelledError:
            _cut(opened)  # the mail must not go out after its sender gave up on it
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"sending to {mail.to} failed: {exc}") from exc
        log.info("mail sent", to=mail.to, subject=mail.subject)


def _cut(opened: list[smtplib.SMTP]) -> None:
    """Shut the connection down from outside its thread; the thread's blocking call fails at once."""
    for client in opened:
        sock = getattr(client, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError, ValueError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class LogMailer:
    """The embedded profile without ``SMTP_URL``: a mail is logged, not sent. Keeps the last ones for
    inspection (the web's development pages or a test can look at ``sent``)."""

    def __init__(self, sender: str = "Allmende <allmende@localhost>", *, keep: int = 100) -> None:
        self.sender = sender
        self.keep = keep
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        self.sent = [*self.sent[-(self.keep - 1) :], mail] if self.keep > 1 else [mail]
        log.info("mail not sent (no SMTP_URL configured)", to=mail.to, subject=mail.subject, body=mail.body)


def build_mailer(smtp_url: str | None, sender: str) -> Mailer:
    """SMTP when configured, the logging stand-in otherwise."""
    if smtp_url:
        return SmtpMailer(smtp_url, sender)
    return LogMailer(sender)


__all__ = ["LogMailer", "Mail", "MailError", "Mailer", "SmtpConfig", "SmtpMailer", "build_mailer", "build_message"]

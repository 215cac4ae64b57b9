"""Outgoing e-mail: one small ``Mailer`` interface, an SMTP implementation and a logging stand-in.

``SMTP_URL`` chooses the implementation in the composition root (``allmende/app.py``):

- ``smtp://[user:password@]host[:port]`` plain SMTP (port 25 by default), upgraded with STARTTLS
  when the URL says ``?starttls=true``;
- ``smtps://[user:password@]host[:port]`` SMTP over TLS (port 465 by default);
- no ``SMTP_URL`` at all (the embedded profile's default): mails are written to the log instead of
  being sent, so a development instance never mails anybody by accident.

The sender is ``ALLMENDE_MAIL_FROM``. Mails are sent by jobs (``mail.send``, see
``allmende.core.notifications``), never while a request waits; the stdlib ``smtplib`` runs in a
worker thread with a timeout so a slow server cannot stall the event loop.
"""

from __future__ import annotations

import asyncio
import smtplib
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

SMTP_TIMEOUT_SECONDS = 15.0


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

    def __init__(self, url: str, sender: str, *, timeout: float = SMTP_TIMEOUT_SECONDS) -> None:
        self.config = SmtpConfig.from_url(url)
        self.sender = sender
        self.timeout = timeout

    def _send_blocking(self, message: EmailMessage) -> None:
        config = self.config
        context = ssl.create_default_context()
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(config.host, config.port, timeout=self.timeout, context=context)
            if config.tls
            else smtplib.SMTP(config.host, config.port, timeout=self.timeout)
        )
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
        try:
            await asyncio.to_thread(self._send_blocking, message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"sending to {mail.to} failed: {exc}") from exc
        log.info("mail sent", to=mail.to, subject=mail.subject)


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

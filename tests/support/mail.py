"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1), and pointing the app's adapters at it.
The ``smtp`` fixture (tests/conftest.py) starts one per test."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from allmende.app import Adapters
from allmende.core.jobs.inprocess import InProcessJobQueue
from allmende.core.mail import SmtpMailer
from tests.support.servers import free_port

SENDER = "Allmende Test <noreply@allmende.test>"


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives. ``refuse`` answers the next n
    mails with a temporary error (451), as a busy server would."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.refuse = 0
        self.port = free_port()
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

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.received if address in rcpt]

    def subjects(self, address: str) -> list[str]:
        return [str(m["Subject"]) for m in self.to(address)]


def use_smtp(adapters: Adapters, sink: SmtpSink) -> None:
    """Point the app's adapters at the test's SMTP server (what SMTP_URL does in build_adapters)."""
    adapters.mailer = SmtpMailer(sink.url, SENDER, timeout=5)
    assert isinstance(adapters.jobs, InProcessJobQueue)
    adapters.jobs.bind(adapters.job_context())

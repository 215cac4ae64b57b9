"""An SMTP server double (aiosmtpd on 127.0.0.1, the outside world) that can stall during DATA.

A delivery counts only when the double answered ``250`` to the end of DATA: a mail whose DATA it
stalled on was never acknowledged, whatever the client did meanwhile.
"""

from __future__ import annotations

import asyncio
import email
import threading
from collections import Counter
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from tests.faults.harness import free_port, wait_until


class StallingSmtp:
    """``stall_next = n``: the next n mails hang after their DATA until ``stop()`` and are then refused."""

    def __init__(self) -> None:
        self.port = free_port()
        self.stall_next = 0
        self.delivered: list[EmailMessage] = []  # acknowledged with 250
        self.stalled: list[EmailMessage] = []  # DATA received, never acknowledged
        self._lock = threading.Lock()
        self._release: asyncio.Event | None = None
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        with self._lock:
            stall = self.stall_next > 0
            if stall:
                self.stall_next -= 1
                self.stalled.append(message)
        if stall:
            if self._release is None:
                self._release = asyncio.Event()
            await self._release.wait()
            return "451 4.3.0 stalled and never accepted"
        with self._lock:
            self.delivered.append(message)
        return "250 OK"

    def deliveries(self, message_id: str) -> int:
        with self._lock:
            return Counter(str(m["Message-ID"]) for m in self.delivered)[message_id]

    def stalled_on(self, message_id: str) -> bool:
        with self._lock:
            return any(str(m["Message-ID"]) == message_id for m in self.stalled)

    def wait_for_delivery(self, message_id: str, *, timeout: float = 30) -> float:
        return wait_until(lambda: self.deliveries(message_id) > 0, timeout=timeout, what=f"delivery of {message_id}")

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        release = self._release
        if release is not None:
            self._controller.loop.call_soon_threadsafe(release.set)
        self._controller.stop()

"""What the password sign-in of the API and of the web share beyond ``sessions``: the audit event of a
refused sign-in, the device a session is shown with, and which session a cookie names."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import User
from allmende.core.audit import record_audit
from identity.services.sessions import DEVICE_MAX


def failed(session: AsyncSession, user: User | None, reason: str, *, method: str = "password") -> None:
    """The audit event of a refused sign-in. An unknown address is not recorded: it may be anyone's.
    The caller answers without raising, so that the event is committed with the unit of work."""
    record_audit(
        session,
        action="user.sign_in_failed",
        record_type="user",
        record_uuid=user.uuid if user else None,
        data={"method": method, "reason": reason},
    )


def device(user_agent: str | None) -> str:
    """The browser as the session list shows it: its User-Agent, shortened."""
    return (user_agent or "")[:DEVICE_MAX]


def login_of(cookie: Mapping[str, Any] | None) -> uuid.UUID | None:
    """The signed-in session a session cookie names, if it names one."""
    raw = (cookie or {}).get("login")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None

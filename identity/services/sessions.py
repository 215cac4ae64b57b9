"""Signed-in sessions: started by every way in (password, identity provider, invitation), listed and
ended by their owner, all ended by a password reset.

The cookie's store (memory, file or Redis) holds ``{"user": …, "login": <uuid>}``; this table is the
truth. A request resolves its principal through :func:`resolve`, so ending a row signs that browser out
at once, in every process.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import User
from allmende.accounts.principal import Principal
from allmende.core.audit import record_audit
from allmende.core.types import utcnow
from identity.models import LoginSession

# last_used_at is written at most this often per session: a page view must not be a write each time.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# A session unused this long is over, even if its cookie lives on.
IDLE_LIMIT = timedelta(days=30)
DEVICE_MAX = 300


def needs_second_factor(user: User) -> bool:
    """Moderators and admins always (one without an authenticator sets it up while signing in); anyone
    else once they turned it on."""
    return user.platform_role is not None or user.totp_enabled_at is not None


async def start(
    session: AsyncSession, user: User, *, method: str, device: str, second_factor_given: bool = False
) -> LoginSession:
    """A new signed-in session for ``user``. The caller puts ``session_cookie(...)`` into the cookie."""
    now = utcnow()
    row = LoginSession(
        user_id=user.id or 0,
        method=method[:80],
        device=device[:DEVICE_MAX],
        created_at=now,
        last_used_at=now,
        second_factor_at=now if second_factor_given or not needs_second_factor(user) else None,
    )
    session.add(row)
    user.last_login_at = now
    await session.flush()
    record_audit(
        session,
        action="user.sign_in",
        record_type="user",
        record_uuid=user.uuid,
        actor_user_id=user.id,
        data={"method": row.method, "session": str(row.uuid)},
    )
    return row


def session_cookie(user: User, login: LoginSession) -> dict[str, str]:
    return {"user": str(user.uuid), "login": str(login.uuid)}


async def _live(session: AsyncSession, login_uuid: str, now: datetime) -> tuple[LoginSession, User] | None:
    try:
        key = uuid.UUID(login_uuid)
    except ValueError:
        return None
    found = (
        await session.exec(
            select(LoginSession, User).join(User, col(User.id) == LoginSession.user_id).where(LoginSession.uuid == key)
        )
    ).first()
    if found is None:
        return None
    login, user = found
    if login.ended_at is not None or now - login.last_used_at > IDLE_LIMIT:
        return None
    return login, user


async def resolve(session: AsyncSession, login_uuid: str) -> Principal | None:
    """The principal of a live session; None for an ended, idle or unknown one."""
    now = utcnow()
    found = await _live(session, login_uuid, now)
    if found is None:
        return None
    login, user = found
    if now - login.last_used_at >= LAST_USED_RESOLUTION:
        await session.exec(update(LoginSession).where(col(LoginSession.id) == login.id).values(last_used_at=now))
    return await accounts.principal_of(session, user, second_factor=login.second_factor_at is not None)


async def current(session: AsyncSession, login_uuid: str | None) -> LoginSession | None:
    if not login_uuid:
        return None
    found = await _live(session, login_uuid, utcnow())
    return found[0] if found else None


async def mark_second_factor(session: AsyncSession, login: LoginSession) -> None:
    login.second_factor_at = utcnow()
    session.add(login)
    await session.flush()


async def list_for(session: AsyncSession, user_id: int) -> list[LoginSession]:
    """The person's live sessions, most recently used first."""
    cutoff = utcnow() - IDLE_LIMIT
    rows = await session.exec(
        select(LoginSession)
        .where(
            LoginSession.user_id == user_id,
            col(LoginSession.ended_at).is_(None),
            col(LoginSession.last_used_at) > cutoff,
        )
        .order_by(col(LoginSession.last_used_at).desc(), col(LoginSession.id).desc())
    )
    return list(rows)


async def end(session: AsyncSession, user_id: int, login_uuid: uuid.UUID) -> bool:
    """End one of the person's own sessions; False if there is no such live session."""
    result = await session.exec(
        update(LoginSession)
        .where(
            LoginSession.user_id == user_id,  # type: ignore[arg-type]
            LoginSession.uuid == login_uuid,  # type: ignore[arg-type]
            col(LoginSession.ended_at).is_(None),
        )
        .values(ended_at=utcnow())
    )
    return bool(result.rowcount)


async def end_all(session: AsyncSession, user_id: int, *, keep: uuid.UUID | None = None) -> int:
    """End every live session of the person (a password reset, "sign out everywhere"), except ``keep``."""
    statement = update(LoginSession).where(
        LoginSession.user_id == user_id,  # type: ignore[arg-type]
        col(LoginSession.ended_at).is_(None),
    )
    if keep is not None:
        statement = statement.where(LoginSession.uuid != keep)  # type: ignore[arg-type]
    result = await session.exec(statement.values(ended_at=utcnow()))
    return int(result.rowcount)

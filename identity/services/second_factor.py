"""Two-factor login: a time-based code (TOTP, RFC 6238, via pyotp) and one-time recovery codes.

Moderators and admins always give a second factor; anyone else once they turned it on
(``sessions.needs_second_factor``). A session that started with the password alone waits for the code
(``LoginSession.second_factor_at`` is None) and its principal holds no platform role until then.

The rules:

- Codes have 6 digits and change every 30 seconds; the one before and the one after the current
  step are accepted too (a clock a little off). A code is accepted only for a time step after the last
  accepted one (``User.totp_last_step``, set by a conditional UPDATE): a used code cannot be used
  again, nor can an older one still in the window, not even by two requests at the same moment.
- Recovery codes: ten random codes, shown once, stored as argon2 hashes; each one stands in for the
  authenticator once (``used_at`` set by a conditional UPDATE). Turning TOTP on, regenerating, turning
  it off and an operator's reset replace or remove them all.
- Every code attempt is throttled per account and per client (the caller's ``LoginThrottle``); a
  refused code raises :class:`CodeRefused` (422 naming ``code``) after recording an audit event. The
  caller keeps that event (it answers instead of re-raising into the rollback); nothing else has been
  written by then, because the code is checked before anything changes.
- The secret is stored as it is: TOTP needs it to compute the codes (unlike passwords it cannot be
  hashed). Until a first code confirms it, it is a pending secret and not in effect.
"""

from __future__ import annotations

import asyncio
import enum
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import pyotp
from litestar.stores.base import Store
from sqlalchemy import delete, or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import User
from allmende.accounts.throttle import LoginThrottle
from allmende.core.audit import record_audit
from allmende.core.problems import Conflict, Forbidden, InvalidInput
from allmende.core.security import hash_password, verify_password
from allmende.core.types import utcnow
from identity.models import LoginSession, RecoveryCode
from identity.services import sessions

ISSUER = "Allmende"
INTERVAL = 30  # seconds per code (RFC 6238's default)
DIGITS = 6
VALID_WINDOW = 1  # steps before and after the current one that are accepted as well
RECOVERY_CODE_COUNT = 10
# Lower-case letters and digits without the ones people confuse (0/o, 1/l/i): 31 symbols, 10 of them
# carry about 50 bits, plenty for a code that works once and sits behind the throttle.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10
CODE_MAX = 64  # what a code field takes at most
# Wrong codes before a pause: five per account (the issue), more per client (an office behind one address).
MAX_WRONG_PER_ACCOUNT = 5
MAX_WRONG_PER_CLIENT = 20

_TOTP_CODE = re.compile(rf"\d{{{DIGITS}}}")


class Method(enum.StrEnum):
    totp = "totp"
    recovery_code = "recovery-code"


class Refusal(enum.StrEnum):
    """Why a code was not taken; the pages say it in German, the API names it in ``reason``."""

    wrong = "wrong"  # not a current code, not an unused recovery code
    reused = "reused"  # a current code, but its time step was used already


class CodeRefused(InvalidInput):
    """422 naming ``code``; ``reason`` says why (:class:`Refusal`)."""

    def __init__(self, refusal: Refusal) -> None:
        detail = {
            Refusal.wrong: "the code is wrong or expired",
            Refusal.reused: "this code was used already; wait for the next one",
        }[refusal]
        super().__init__(detail, field="code", extra={"reason": refusal.value})
        self.refusal = refusal


def throttle(store: Store) -> LoginThrottle:
    """The throttle of code attempts, in a store namespace of its own (the composition root builds it)."""
    return LoginThrottle(
        store, per_account=MAX_WRONG_PER_ACCOUNT, per_client=MAX_WRONG_PER_CLIENT, attempts="code attempts"
    )


@dataclass(frozen=True)
class Enrollment:
    """A pending secret: shown to the person (as text and as an otpauth:// URI), in effect once confirmed."""

    secret: str
    uri: str

    @property
    def grouped(self) -> str:
        """The secret in groups of four, easier to type into an app by hand."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True)
class Status:
    enabled: bool
    enabled_at: datetime | None
    required: bool  # moderators and admins: always on, cannot be turned off
    pending: bool  # an enrollment was started and waits for its first code
    recovery_codes_left: int


def required(user: User) -> bool:
    """Moderators and admins always need a second factor (and cannot turn it off)."""
    return user.platform_role is not None


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)


def normalize(code: str) -> str:
    """What people type: spaces and dashes anywhere, any case."""
    return re.sub(r"[\s-]", "", code).lower()[:CODE_MAX]


def _enrollment(user: User, secret: str) -> Enrollment:
    return Enrollment(secret=secret, uri=_totp(secret).provisioning_uri(name=user.email, issuer_name=ISSUER))


async def status(session: AsyncSession, user: User) -> Status:
    left = await session.exec(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None))
    )
    return Status(
        enabled=user.totp_enabled_at is not None,
        enabled_at=user.totp_enabled_at,
        required=required(user),
        pending=user.totp_enabled_at is None and user.totp_secret is not None,
        recovery_codes_left=len(left.all()),
    )


async def begin(session: AsyncSession, user: User, *, keep_pending: bool = False) -> Enrollment:
    """Start turning TOTP on: a new pending secret (or, with ``keep_pending``, the one already shown, so
    that reloading the page does not invalidate what the person just scanned)."""
    if user.totp_enabled_at is not None:
        raise Conflict("two-factor login is on already; turn it off first to set up a new authenticator")
    if not (keep_pending and user.totp_secret):
        user.totp_secret = pyotp.random_base32()
        session.add(user)
        await session.flush()
    assert user.totp_secret is not None
    return _enrollment(user, user.totp_secret)


def pending(user: User) -> Enrollment | None:
    if user.totp_enabled_at is not None or not user.totp_secret:
        return None
    return _enrollment(user, user.totp_secret)


def _step_of(secret: str, code: str, now: float) -> int | None:
    """The time step whose code ``code`` is, within the window around ``now``; None for none."""
    totp = _totp(secret)
    current = totp.timecode(now)
    found = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):  # compare all: no early exit
            found = step
    return found


async def _take_step(session: AsyncSession, user: User, step: int) -> bool:
    """Accept ``step`` for ``user`` only if it is later than the last accepted one (one winner, always)."""
    result = await session.exec(
        update(User)
        .where(
            col(User.id) == user.id,
            or_(col(User.totp_last_step).is_(None), col(User.totp_last_step) < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        set_committed_value(user, "totp_last_step", step)
        return True
    return False


async def _use_recovery_code(session: AsyncSession, user: User, code: str) -> bool:
    rows = list(
        await session.exec(
            select(RecoveryCode).where(RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None))
        )
    )
    hashes = [row.code_hash for row in rows]

    def matching() -> int | None:  # argon2 is slow on purpose: off the event loop
        for index, code_hash in enumerate(hashes):
            if verify_password(code_hash, code):
                return index
        return None

    index = await asyncio.to_thread(matching) if hashes else None
    if index is None:
        return False
    result = await session.exec(
        update(RecoveryCode)
        .where(col(RecoveryCode.id) == rows[index].id, col(RecoveryCode.used_at).is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def _check(
    session: AsyncSession, user: User, code: str, secret: str | None, *, recovery: bool, now: float | None
) -> Method | Refusal:
    typed = normalize(code)
    if _TOTP_CODE.fullmatch(typed):
        step = _step_of(secret, typed, time.time() if now is None else now) if secret else None
        if step is None:
            return Refusal.wrong
        return Method.totp if await _take_step(session, user, step) else Refusal.reused
    if recovery and len(typed) == RECOVERY_LENGTH and await _use_recovery_code(session, user, typed):
        return Method.recovery_code
    return Refusal.wrong


async def _attempt(
    session: AsyncSession,
    user: User,
    code: str,
    *,
    purpose: str,
    guard: LoginThrottle,
    client: str,
    secret: str | None,
    recovery: bool = True,
    now: float | None = None,
) -> Method:
    """Check a code behind the throttle; record and raise a refusal, record a used recovery code."""
    account = str(user.uuid)
    await guard.check(email=account, client=client)
    outcome = await _check(session, user, code, secret, recovery=recovery, now=now)
    if isinstance(outcome, Refusal):
        await guard.failed(email=account, client=client)
        record_audit(
            session,
            action="user.second_factor_failed",
            record_type="user",
            record_uuid=user.uuid,
            actor_user_id=user.id,
            reason=outcome.value,
            data={"purpose": purpose, "client": client},
        )
        raise CodeRefused(outcome)
    await guard.succeeded(email=account)
    if outcome is Method.recovery_code:
        record_audit(
            session,
            action="user.recovery_code_used",
            record_type="user",
            record_uuid=user.uuid,
            actor_user_id=user.id,
            data={"purpose": purpose},
        )
    return outcome


def _new_codes() -> list[str]:
    def one() -> str:
        return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))

    return [one() for _ in range(RECOVERY_CODE_COUNT)]


def shown(code: str) -> str:
    """A recovery code as it is shown: two groups of five."""
    return f"{code[:5]}-{code[5:]}"


async def _replace_recovery_codes(session: AsyncSession, user: User) -> list[str]:
    codes = _new_codes()
    hashes = await asyncio.to_thread(lambda: [hash_password(code) for code in codes])
    await session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    now = utcnow()
    for code_hash in hashes:
        session.add(RecoveryCode(user_id=user.id or 0, code_hash=code_hash, created_at=now))
    await session.flush()
    return [shown(code) for code in codes]


async def confirm(
    session: AsyncSession,
    user: User,
    code: str,
    *,
    guard: LoginThrottle,
    client: str,
    login: LoginSession | None = None,
    now: float | None = None,
) -> list[str]:
    """Turn TOTP on with a first code from the pending secret; returns the ten recovery codes (shown once).
    A session waiting for its second factor (a moderator setting it up while signing in) has given it now."""
    if user.totp_enabled_at is not None:
        raise Conflict("two-factor login is on already", field="code")
    if not user.totp_secret:
        raise Conflict("start setting up two-factor login first (POST /api/v1/auth/totp)", field="code")
    secret = user.totp_secret
    await _attempt(
        session, user, code, purpose="enable", guard=guard, client=client, secret=secret, recovery=False, now=now
    )
    user.totp_enabled_at = utcnow()
    session.add(user)
    codes = await _replace_recovery_codes(session, user)
    if login is not None and login.second_factor_at is None:
        await sessions.mark_second_factor(session, login)
    record_audit(session, action="user.totp_enabled", record_type="user", record_uuid=user.uuid, actor_user_id=user.id)
    return codes


async def give(
    session: AsyncSession,
    user: User,
    login: LoginSession,
    code: str,
    *,
    guard: LoginThrottle,
    client: str,
    now: float | None = None,
) -> Method:
    """The second step of signing in: a current code or a recovery code marks the waiting session."""
    if login.second_factor_at is not None:
        raise Conflict("this session has given its second factor already")
    if user.totp_enabled_at is None:
        raise Conflict("set up two-factor login first (POST /api/v1/auth/totp)", field="code")
    method = await _attempt(
        session, user, code, purpose="sign-in", guard=guard, client=client, secret=user.totp_secret, now=now
    )
    await sessions.mark_second_factor(session, login)
    record_audit(
        session,
        action="user.second_factor_given",
        record_type="user",
        record_uuid=user.uuid,
        actor_user_id=user.id,
        data={"method": method.value, "session": str(login.uuid)},
    )
    return method


def _enabled_or_conflict(user: User) -> str:
    if user.totp_enabled_at is None or not user.totp_secret:
        raise Conflict("two-factor login is not on", field="code")
    return user.totp_secret


async def regenerate(
    session: AsyncSession, user: User, code: str, *, guard: LoginThrottle, client: str, now: float | None = None
) -> list[str]:
    """Ten new recovery codes for a current code (or an unused recovery code); the old ones stop working."""
    secret = _enabled_or_conflict(user)
    await _attempt(session, user, code, purpose="recovery-codes", guard=guard, client=client, secret=secret, now=now)
    codes = await _replace_recovery_codes(session, user)
    record_audit(
        session,
        action="user.recovery_codes_regenerated",
        record_type="user",
        record_uuid=user.uuid,
        actor_user_id=user.id,
    )
    return codes


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None


async def disable(
    session: AsyncSession, user: User, code: str, *, guard: LoginThrottle, client: str, now: float | None = None
) -> None:
    """Turn TOTP off with a current code (or an unused recovery code). Moderators and admins cannot."""
    if required(user):
        raise Forbidden("moderators and admins always sign in with a second factor; it cannot be turned off")
    secret = _enabled_or_conflict(user)
    await _attempt(session, user, code, purpose="disable", guard=guard, client=client, secret=secret, now=now)
    _clear(user)
    session.add(user)
    await session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    record_audit(session, action="user.totp_disabled", record_type="user", record_uuid=user.uuid, actor_user_id=user.id)


async def reset(session: AsyncSession, user: User, *, reason: str | None = None) -> int:
    """The operator's reset (``allmende reset-second-factor``): TOTP and recovery codes gone, every session
    ended. A moderator or admin sets TOTP up again at their next sign-in. Returns the sessions ended."""
    _clear(user)
    session.add(user)
    await session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    ended = await sessions.end_all(session, user.id or 0)
    record_audit(
        session,
        action="user.second_factor_reset",
        record_type="user",
        record_uuid=user.uuid,
        reason=reason,
        data={"sessions_ended": ended, "by": "operator"},
    )
    return ended

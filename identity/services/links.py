"""One-time links sent by e-mail: a registration's (or a changed address's) confirmation, 24 hours, and a
password reset, one hour.

The token is 256 random bits in the link; the table keeps only its SHA-256 (a database reader learns no
usable link). A link is used at most once: ``used_at`` is set by a conditional UPDATE, so of two
requests racing with the same link exactly one wins.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import User
from allmende.core.problems import InvalidInput, Problem
from allmende.core.security import token_digest
from allmende.core.types import utcnow
from identity.models import OneTimeToken, TokenPurpose

LIFETIME = {TokenPurpose.confirm_email: timedelta(hours=24), TokenPurpose.reset_password: timedelta(hours=1)}
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 200  # what a link's token may be at most; anything longer is not ours


class LinkGone(Problem, status=410, type_slug="link-gone"):
    """The link was ours, but it expired or was used already."""


def issue(session: AsyncSession, user: User, purpose: TokenPurpose, *, email: str | None = None) -> str:
    """A new link token for ``user`` (sent to ``email``, by default the account's address). Returns the
    token itself; only its digest is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    session.add(
        OneTimeToken(
            token_hash=token_digest(token),
            purpose=purpose.value,
            user_id=user.id or 0,
            email=email or user.email,
            created_at=now,
            expires_at=now + LIFETIME[purpose],
        )
    )
    return token


async def check(session: AsyncSession, token: str, purpose: TokenPurpose) -> OneTimeToken:
    """The token's row if the link can be used now, without using it. 422 for a token that was never
    ours (or is for another purpose), 410 for one that expired or was used already; both name ``token``.
    Callers check everything else before they :func:`redeem`, so a refusal leaves the link usable."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidInput("this link is not valid", field="token")
    row = (await session.exec(select(OneTimeToken).where(OneTimeToken.token_hash == token_digest(token)))).first()
    if row is None or row.purpose != purpose.value:
        raise InvalidInput("this link is not valid", field="token")
    if row.used_at is not None:
        raise LinkGone("this link was used already; ask for a new one", field="token", extra={"reason": "used"})
    if row.expires_at <= utcnow():
        raise LinkGone("this link has expired; ask for a new one", field="token", extra={"reason": "expired"})
    return row


async def redeem(session: AsyncSession, token: str, purpose: TokenPurpose) -> OneTimeToken:
    """Use a link (the checks of :func:`check`, then the conditional UPDATE): of two requests racing with
    the same link, one wins and the other gets the 410 of a used link."""
    row = await check(session, token, purpose)
    table = OneTimeToken.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    now = utcnow()
    won = await connection.execute(
        update(table)
        .where(table.c.id == row.id, table.c.used_at.is_(None), table.c.expires_at > now)
        .values(used_at=now)
    )
    if not won.rowcount:
        raise LinkGone("this link was used already; ask for a new one", field="token", extra={"reason": "used"})
    await session.refresh(row)
    return row


async def retire(session: AsyncSession, user_id: int, purpose: TokenPurpose) -> None:
    """Every open link of the person for ``purpose`` stops working (a password was set, an address
    confirmed, the account deleted)."""
    await session.exec(
        update(OneTimeToken)
        .where(
            col(OneTimeToken.user_id) == user_id,
            col(OneTimeToken.purpose) == purpose.value,
            col(OneTimeToken.used_at).is_(None),
        )
        .values(used_at=utcnow())
    )

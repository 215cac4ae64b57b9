"""Getting an account and getting back into it: registration with double opt-in, the confirmation of an
address, and the password reset.

No enumeration: ``register`` and ``request_reset`` do the same work and answer nothing for a known and an
unknown address alike. Registering a known address hashes the password all the same (and throws the hash
away) and mails the owner a reset link instead of a confirmation; a reset for an unknown address mails
"there is no account here" instead of a link. Either way the caller learns only "look into the mailbox".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import User
from allmende.core import links as web_links
from allmende.core import security
from allmende.core.audit import record_audit
from allmende.core.problems import InvalidInput
from allmende.core.types import utcnow
from identity import notices
from identity.models import OneTimeToken, TokenPurpose
from identity.services import links, passwords, sessions
from notifications import services as notifications

LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class Confirmed:
    """What a confirmation link did: a registration (the person may sign in now) or an address change."""

    user: User
    changed_address: bool


def address_of(email: str) -> str:
    address = accounts.normalize_email(email)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or len(address) > 254 or any(c.isspace() for c in address):
        raise InvalidInput("not an e-mail address", field="email")
    return address


async def register(session: AsyncSession, *, email: str, display_name: str, password: str, language: str) -> None:
    """A new, unconfirmed account and the confirmation mail; for a known address, a mail to its owner."""
    address = address_of(email)
    name = display_name.strip()
    if not name:
        raise InvalidInput("a name is needed", field="display_name")
    passwords.check(password, email=address, name=name)
    language = language if language in LANGUAGES else "de"
    password_hash = security.hash_password(password)  # for a known address too: the same work, the same time
    existing = await accounts.get_user_by_email(session, address)
    if existing is not None:
        token = links.issue(session, existing, TokenPurpose.reset_password)
        subject, body = notices.already_registered()
        notifications.mail_to(
            session,
            address,
            "identity.already-registered",
            subject,
            body,
            language=existing.language,
            link=web_links.reset_password(token),
        )
        return
    user = await accounts.add_user(
        session,
        User(email=address, display_name=name, password_hash=password_hash, language=language),
        action="user.register",
        how={},
    )
    token = links.issue(session, user, TokenPurpose.confirm_email)
    subject, body = notices.confirm_registration(name)
    notifications.mail_to(
        session, address, "identity.confirm", subject, body, language=language, link=web_links.confirm_email(token)
    )


async def confirm_email(session: AsyncSession, token: str) -> Confirmed:
    """Use a confirmation link: the registration's address is confirmed, or a changed address takes effect.
    An address that someone else confirmed meanwhile is refused (422 naming ``email``), nothing changed."""
    row = await links.check(session, token, TokenPurpose.confirm_email)
    user = await session.get(User, row.user_id)
    if user is None or user.deleted_at is not None or not user.is_active:
        raise InvalidInput("this link is not valid", field="token")
    now = utcnow()
    changed = row.email != user.email
    if changed and await accounts.get_user_by_email(session, row.email) is not None:
        raise InvalidInput("this e-mail address belongs to another account", field="email", extra={"reason": "in-use"})
    await links.redeem(session, token, TokenPurpose.confirm_email)
    if changed:
        record_audit(
            session,
            action="user.email_change",
            record_type="user",
            record_uuid=user.uuid,
            actor_user_id=user.id,
        )
        user.email = row.email
    else:
        record_audit(
            session, action="user.confirm_email", record_type="user", record_uuid=user.uuid, actor_user_id=user.id
        )
    user.email_confirmed_at = now
    session.add(user)
    await _flush_unique(session)
    await links.retire(session, user.id or 0, TokenPurpose.confirm_email)
    return Confirmed(user=user, changed_address=changed)


async def _flush_unique(session: AsyncSession) -> None:
    """The address is unique: two confirmations racing for one address, one of them is refused."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise InvalidInput(
            "this e-mail address belongs to another account", field="email", extra={"reason": "in-use"}
        ) from exc


async def request_reset(session: AsyncSession, email: str) -> None:
    """A reset link to a known address; to an unknown one, a mail that says there is no account."""
    try:
        address = address_of(email)
    except InvalidInput:
        return  # nothing to mail; the answer is the same as for any address
    user = await accounts.get_user_by_email(session, address)
    if user is None or not user.is_active or user.deleted_at is not None:
        subject, body = notices.no_account()
        notifications.mail_to(session, address, "identity.no-account", subject, body)
        record_audit(session, action="user.password_reset_request", record_type="user", data={"known": False})
        return
    token = links.issue(session, user, TokenPurpose.reset_password)
    subject, body = notices.reset_password()
    notifications.mail_to(
        session,
        address,
        "identity.reset",
        subject,
        body,
        language=user.language,
        link=web_links.reset_password(token),
    )
    record_audit(
        session,
        action="user.password_reset_request",
        record_type="user",
        record_uuid=user.uuid,
        actor_user_id=user.id,
        data={"known": True},
    )


async def reset_password(session: AsyncSession, token: str, password: str) -> User:
    """Set a new password with a reset link. Every session of the person ends; the link proves the
    mailbox, so an address not yet confirmed counts as confirmed."""
    row: OneTimeToken = await links.check(session, token, TokenPurpose.reset_password)
    user = await session.get(User, row.user_id)
    if user is None or user.deleted_at is not None or not user.is_active or row.email != user.email:
        raise InvalidInput("this link is not valid", field="token")
    passwords.check(password, email=user.email, name=user.display_name)  # a refusal leaves the link usable
    await links.redeem(session, token, TokenPurpose.reset_password)
    user.password_hash = security.hash_password(password)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
    session.add(user)
    await session.flush()
    ended = await sessions.end_all(session, user.id or 0)
    await links.retire(session, user.id or 0, TokenPurpose.reset_password)
    record_audit(
        session,
        action="user.password_reset",
        record_type="user",
        record_uuid=user.uuid,
        actor_user_id=user.id,
        data={"sessions_ended": ended},
    )
    return user


__all__ = ["Confirmed", "confirm_email", "register", "request_reset", "reset_password"]

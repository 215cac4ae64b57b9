"""The account page's rules: a person's own data (name, language, whether notices come by mail), a new
password, a new address, and the DSGVO's rights to one's data (Art. 15 and 20: the export) and to its
erasure (Art. 17: the deletion).

Deleting anonymises instead of removing the row: what the person wrote for an organization (solutions,
references, guides, offers) keeps its author reference and stays with the organization, while name and
address go, and so do memberships, sessions, links, linked sign-in providers, second factors, the inbox
and every mail to the address. The last owner of an organization cannot leave it ownerless: another
owner comes first.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import MemberRole, Membership, Organization, User
from allmende.core import links as web_links
from allmende.core import security
from allmende.core.audit import AuditEvent, record_audit
from allmende.core.problems import Conflict, InvalidInput
from allmende.core.types import utcnow
from identity import notices
from identity.models import ExternalIdentity, LoginSession, OneTimeToken, RecoveryCode, TokenPurpose
from identity.schemas import AccountOut, ExportOut, SessionOut
from identity.services import links, passwords, sessions
from identity.services.registration import LANGUAGES, address_of
from notifications import services as notifications

DELETED_DOMAIN = "deleted.invalid"  # RFC 2606: never deliverable, never anyone's


def account_out(user: User) -> AccountOut:
    return AccountOut(
        uuid=user.uuid,
        email=user.email,
        display_name=user.display_name,
        language=user.language,
        mail_notices=user.mail_notices,
        email_confirmed_at=user.email_confirmed_at,
        second_factor_enabled=user.totp_enabled_at is not None,
        created_at=user.created_at,
    )


def session_out(login: LoginSession, current: uuid_module.UUID | None) -> SessionOut:
    return SessionOut(
        uuid=login.uuid,
        method=login.method,
        device=login.device,
        created_at=login.created_at,
        last_used_at=login.last_used_at,
        current=login.uuid == current,
    )


def check_current_password(user: User, password: str | None) -> None:
    """422 naming ``current_password`` unless it is the person's password."""
    if not password or not security.verify_password(user.password_hash, password):
        raise InvalidInput("the current password is not correct", field="current_password")


async def update(
    session: AsyncSession,
    user: User,
    *,
    display_name: str | None = None,
    language: str | None = None,
    mail_notices: bool | None = None,
) -> User:
    """Name, language of notices and pages, and whether notices come by mail too."""
    changed: dict[str, Any] = {}
    if display_name is not None:
        name = display_name.strip()
        if not name:
            raise InvalidInput("a name is needed", field="display_name")
        changed["display_name"] = name
    if language is not None:
        if language not in LANGUAGES:
            raise InvalidInput(f"the language is one of {', '.join(LANGUAGES)}", field="language")
        changed["language"] = language
    if mail_notices is not None:
        changed["mail_notices"] = mail_notices
    for key, value in changed.items():
        setattr(user, key, value)
    session.add(user)
    await session.flush()
    if changed:
        record_audit(
            session,
            action="user.update",
            record_type="user",
            record_uuid=user.uuid,
            actor_user_id=user.id,
            data={"fields": sorted(changed)},
        )
    return user


async def change_password(
    session: AsyncSession, user: User, *, current_password: str, new_password: str, keep: uuid_module.UUID | None
) -> int:
    """A new password (the current one first); every other session ends. Returns how many ended."""
    check_current_password(user, current_password)
    passwords.check(new_password, email=user.email, name=user.display_name, field="new_password")
    user.password_hash = security.hash_password(new_password)
    session.add(user)
    await session.flush()
    ended = await sessions.end_all(session, user.id or 0, keep=keep)
    await links.retire(session, user.id or 0, TokenPurpose.reset_password)
    subject, body = notices.password_changed()
    notifications.mail_to(session, user.email, "identity.password-changed", subject, body, language=user.language)
    record_audit(
        session,
        action="user.password_change",
        record_type="user",
        record_uuid=user.uuid,
        actor_user_id=user.id,
        data={"sessions_ended": ended},
    )
    return ended


async def request_email_change(session: AsyncSession, user: User, *, email: str, current_password: str) -> None:
    """A confirmation link to the new address (which takes effect once confirmed) and a warning to the old
    one. An address in use is refused (422 naming ``email``), nothing written."""
    check_current_password(user, current_password)
    address = address_of(email)
    if address == user.email:
        raise InvalidInput("this is your address already", field="email", extra={"reason": "same"})
    if await accounts.get_user_by_email(session, address) is not None:
        raise InvalidInput("this e-mail address belongs to another account", field="email", extra={"reason": "in-use"})
    await links.retire(session, user.id or 0, TokenPurpose.confirm_email)  # only the latest request counts
    token = links.issue(session, user, TokenPurpose.confirm_email, email=address)
    subject, body = notices.confirm_new_address(user.display_name)
    notifications.mail_to(
        session,
        address,
        "identity.confirm-new",
        subject,
        body,
        language=user.language,
        link=web_links.confirm_email(token),
    )
    subject, body = notices.address_changing(address)
    notifications.mail_to(session, user.email, "identity.address-changing", subject, body, language=user.language)
    record_audit(
        session, action="user.email_change_request", record_type="user", record_uuid=user.uuid, actor_user_id=user.id
    )


async def sole_owner_of(session: AsyncSession, user_id: int) -> list[Organization]:
    """The organizations the person is the only owner of: they need another owner before the person goes."""
    mine = select(Membership.organization_id).where(
        Membership.user_id == user_id, Membership.role == MemberRole.owner.value
    )
    owners = (
        select(Membership.organization_id, func.count().label("owners"))
        .where(Membership.role == MemberRole.owner.value, col(Membership.organization_id).in_(mine))
        .group_by(col(Membership.organization_id))
        .subquery()
    )
    rows = await session.exec(
        select(Organization)
        .join(owners, owners.c.organization_id == Organization.id)
        .where(owners.c.owners <= 1)
        .order_by(col(Organization.name))
    )
    return list(rows)


async def delete_account(session: AsyncSession, user: User, *, current_password: str) -> None:
    """Erase the person (DSGVO Art. 17): name and address anonymised, everything personal removed; what
    they wrote for an organization stays with it. Refused (409 naming ``organizations``) while the person
    is the last owner of an organization."""
    check_current_password(user, current_password)
    sole = await sole_owner_of(session, user.id or 0)
    if sole:
        raise Conflict(
            "you are the last owner of an organization; make someone else an owner first",
            field="organizations",
            extra={"organizations": [o.slug for o in sole]},
        )
    user_id = user.id or 0
    address, language = user.email, user.language
    for model in (Membership, LoginSession, OneTimeToken, ExternalIdentity, RecoveryCode):
        await session.exec(delete(model).where(col(model.user_id) == user_id))
    await notifications.forget(session, user_id, address)
    user.email = f"deleted-{user.uuid}@{DELETED_DOMAIN}"
    user.display_name = ""
    user.password_hash = "!"  # no password matches  # noqa: S105
    user.is_active = False
    user.deleted_at = utcnow()
    user.platform_role = None
    user.totp_secret = None
    user.totp_enabled_at = None
    user.mail_notices = False
    session.add(user)
    await session.flush()
    # The farewell goes to the address the account had; the outbox row is the only trace of it left.
    subject, body = notices.account_deleted()
    notifications.mail_to(session, address, "identity.deleted", subject, body, language=language)
    record_audit(session, action="user.delete", record_type="user", record_uuid=user.uuid, actor_user_id=user_id)


async def export(session: AsyncSession, user: User) -> ExportOut:
    """Everything stored about the person, as JSON (DSGVO Art. 15 and 20)."""
    user_id = user.id or 0
    memberships = await accounts.memberships_of(session, user_id)
    logins = await session.exec(
        select(LoginSession).where(LoginSession.user_id == user_id).order_by(col(LoginSession.created_at))
    )
    providers = await session.exec(select(ExternalIdentity).where(ExternalIdentity.user_id == user_id))
    events = await session.exec(
        select(AuditEvent).where(AuditEvent.actor_user_id == user_id).order_by(col(AuditEvent.at), col(AuditEvent.id))
    )
    return ExportOut(
        exported_at=utcnow(),
        account=account_out(user),
        platform_role=user.platform_role,
        last_login_at=user.last_login_at,
        memberships=[
            {"organization": m.organization.slug, "organization_name": m.organization.name, "role": m.role.value}
            for m in memberships
        ],
        sessions=[
            {
                "method": s.method,
                "device": s.device,
                "created_at": s.created_at,
                "last_used_at": s.last_used_at,
                "ended_at": s.ended_at,
            }
            for s in logins
        ],
        sign_in_providers=[
            {"provider": p.provider, "email": p.email, "created_at": p.created_at, "last_used_at": p.last_used_at}
            for p in providers
        ],
        notifications=[n.model_dump() for n in await notifications.inbox_export(session, user_id)],
        activity=[
            {"at": e.at, "action": e.action, "record_type": e.record_type, "record_uuid": e.record_uuid, "data": e.data}
            for e in events
        ],
    )

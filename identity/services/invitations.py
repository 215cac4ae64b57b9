"""Invitations: an organization's owners invite colleagues by e-mail with a role.

The link carries a random token; only its SHA-256 is stored. It expires after 7 days, is used once (a
conditional UPDATE sets ``accepted_at``), and owners revoke it. A second invitation to the same address
replaces the first (which is revoked). An address that is a member already is refused (409 naming
``email``). The invited person accepts signed in with that address, or without an account by giving a
name and a password: the account is created confirmed, since the link proves the address.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import MemberRole, Membership, Organization, User
from allmende.accounts.principal import Principal
from allmende.core import links
from allmende.core.audit import record_audit, record_for
from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound, Problem
from allmende.core.security import hash_password, token_digest
from allmende.core.types import utcnow
from identity import notices
from identity.models import Invitation
from identity.services import passwords
from notifications import services as notifications

VALID_FOR = timedelta(days=7)


class InvitationGone(Problem, status=410, type_slug="invitation-gone"):
    """The link was used, revoked or has expired; ``reason`` in the body says which."""


def _require_owner(principal: Principal, org: Organization) -> User:
    user = principal.require_user()
    if not principal.is_admin:
        principal.require_role(org.id, MemberRole.owner)
    return user


async def _member(session: AsyncSession, email: str, organization_id: int) -> Membership | None:
    return (
        await session.exec(
            select(Membership)
            .join(User, col(User.id) == Membership.user_id)
            .where(User.email == email, Membership.organization_id == organization_id)
        )
    ).first()


async def _open_for(session: AsyncSession, organization_id: int, email: str) -> Invitation | None:
    return (
        await session.exec(
            select(Invitation).where(
                Invitation.organization_id == organization_id,
                Invitation.email == email,
                col(Invitation.accepted_at).is_(None),
                col(Invitation.revoked_at).is_(None),
            )
        )
    ).first()


async def invite(
    session: AsyncSession, principal: Principal, org: Organization, *, email: str, role: MemberRole
) -> Invitation:
    """Write the invitation and its mail (sent after the unit of work committed)."""
    inviter = _require_owner(principal, org)
    address = accounts.normalize_email(email)
    if "@" not in address or len(address) > 254:
        raise InvalidInput("not an e-mail address", field="email")
    if await _member(session, address, org.id or 0) is not None:
        raise Conflict("this address belongs to a member of the organization already", field="email")
    now = utcnow()
    replaced = await _open_for(session, org.id or 0, address)
    if replaced is not None:
        replaced.revoked_at = now
        await session.flush()  # the open-invitation index holds one per address: free it first
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        organization_id=org.id or 0,
        email=address,
        role=role.value,
        token_hash=token_digest(token),
        invited_by_user_id=inviter.id,
        created_at=now,
        expires_at=now + VALID_FOR,
    )
    session.add(invitation)
    await session.flush()
    record_for(
        session,
        principal,
        action="invitation.send",
        record_type="invitation",
        record_uuid=invitation.uuid,
        data={
            "organization": org.slug,
            "email": address,
            "role": role.value,
            "replaces": str(replaced.uuid) if replaced else None,
        },
    )
    subject, body = notices.invitation(org.name, inviter.display_name, role.value, invitation.expires_at)
    # The invited person's language is not known: the mail is written in German, the platform's.
    notifications.mail_to(session, address, "invitation", subject, body, link=links.invitation(token))
    return invitation


@dataclass
class InvitationView:
    invitation: Invitation
    invited_by: str | None

    @property
    def expired(self) -> bool:
        return self.invitation.expires_at <= utcnow()


async def list_open(session: AsyncSession, principal: Principal, org: Organization) -> list[InvitationView]:
    """The organization's invitations nobody accepted or revoked yet (expired ones too, marked)."""
    _require_owner(principal, org)
    rows = await session.exec(
        select(Invitation, User)
        .join(User, col(User.id) == Invitation.invited_by_user_id, isouter=True)
        .where(
            Invitation.organization_id == org.id,
            col(Invitation.accepted_at).is_(None),
            col(Invitation.revoked_at).is_(None),
        )
        .order_by(col(Invitation.created_at).desc(), col(Invitation.id).desc())
    )
    return [InvitationView(invitation, inviter.display_name if inviter else None) for invitation, inviter in rows]


async def revoke(session: AsyncSession, principal: Principal, org: Organization, invitation_uuid: uuid.UUID) -> None:
    _require_owner(principal, org)
    invitation = (
        await session.exec(
            select(Invitation).where(Invitation.uuid == invitation_uuid, Invitation.organization_id == org.id)
        )
    ).first()
    if invitation is None:
        raise NotFound("no such invitation in this organization", field="invitation")
    if invitation.accepted_at is not None:
        raise Conflict("this invitation was accepted already", field="invitation")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        await session.flush()
        record_for(
            session,
            principal,
            action="invitation.revoke",
            record_type="invitation",
            record_uuid=invitation.uuid,
            data={"organization": org.slug, "email": invitation.email},
        )


@dataclass
class Pending:
    """An invitation a link names, still open."""

    invitation: Invitation
    organization: Organization
    account_exists: bool


async def by_token(session: AsyncSession, token: str) -> Pending:
    """The open invitation of a link; 404 for an unknown token, 410 for a used, revoked or expired one."""
    invitation = (await session.exec(select(Invitation).where(Invitation.token_hash == token_digest(token)))).first()
    if invitation is None:
        raise NotFound("this invitation link is not valid", field="token")
    reason = (
        "used"
        if invitation.accepted_at is not None
        else "revoked"
        if invitation.revoked_at is not None
        else "expired"
        if invitation.expires_at <= utcnow()
        else None
    )
    if reason is not None:
        raise InvitationGone(f"this invitation link was {reason}", field="token", extra={"reason": reason})
    org = await session.get(Organization, invitation.organization_id)
    if org is None or org.is_deleted:
        raise InvitationGone("the organization no longer exists", field="token", extra={"reason": "revoked"})
    exists = await accounts.get_user_by_email(session, invitation.email) is not None
    return Pending(invitation, org, exists)


async def _take(session: AsyncSession, invitation: Invitation, user: User) -> None:
    """Single use: of two acceptances racing, one sets ``accepted_at``, the other finds it set."""
    result = await session.exec(
        update(Invitation)
        .where(
            col(Invitation.id) == invitation.id,
            col(Invitation.accepted_at).is_(None),
            col(Invitation.revoked_at).is_(None),
        )
        .values(accepted_at=utcnow(), accepted_user_id=user.id)
    )
    if not result.rowcount:
        raise InvitationGone("this invitation link was used", field="token", extra={"reason": "used"})


@dataclass
class Accepted:
    user: User
    organization: Organization
    role: MemberRole
    account_created: bool


async def accept(
    session: AsyncSession,
    principal: Principal,
    token: str,
    *,
    name: str | None = None,
    password: str | None = None,
) -> Accepted:
    """Join the organization. A signed-in person must hold the invited address; without an account, a
    name and a password make one (confirmed: the link proves the address)."""
    pending = await by_token(session, token)
    invitation, org = pending.invitation, pending.organization
    created = False
    if principal.user is not None:
        user = principal.user
        if user.email != invitation.email:
            raise Forbidden("this invitation is for another e-mail address; sign in with that one", field="email")
    elif principal.token is not None:
        raise Forbidden("an API token cannot accept an invitation", field="token")
    else:
        if pending.account_exists:
            raise Conflict("an account with this address exists; sign in to accept the invitation", field="email")
        if not name:
            raise InvalidInput("give your name", field="name")
        if not password:
            raise InvalidInput("choose a password", field="password")
        passwords.check(password, email=invitation.email, name=name)
        # The link proves the address: the account is confirmed from the start.
        user = await accounts.add_user(
            session,
            User(
                email=invitation.email,
                display_name=name,
                password_hash=hash_password(password),
                email_confirmed_at=utcnow(),
            ),
            action="user.create",
            how={"by": "invitation", "invitation": str(invitation.uuid)},
        )
        created = True
    await _take(session, invitation, user)
    role = MemberRole(invitation.role)
    membership = await _member(session, user.email, org.id or 0)
    if membership is not None and membership.verified_at is not None:
        raise Conflict("you are a member of this organization already", field="email")
    if membership is None:
        membership = Membership(user_id=user.id or 0, organization_id=org.id or 0, role=role.value)
        session.add(membership)
    else:  # an unverified claimant whom an owner invites: the owner vouches for them
        membership.role = role.value
    membership.verified_at = utcnow()
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()  # the link in the mail proves the address
    await session.flush()
    record_audit(
        session,
        action="invitation.accept",
        record_type="invitation",
        record_uuid=invitation.uuid,
        actor_user_id=user.id,
        data={"organization": org.slug, "role": role.value, "account_created": created},
    )
    return Accepted(user, org, role, created)

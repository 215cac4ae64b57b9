"""The way in: sign-in sessions, one-time links, invitations, organization claims, linked sign-in
providers and second factors.

The people and organizations themselves are core (``allmende.accounts``): every package needs to know
who acts. How a person gets in, proves who they are and comes to act for an organization is this
package's. Secrets are never stored as they are: links and codes by their SHA-256, passwords and
recovery codes by argon2 (``allmende.core.security``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from allmende.core.types import PortableJSON, UTCDateTime, unique_where, utcnow


class LoginSession(SQLModel, table=True):
    """One signed-in browser (or API client with a cookie). The session cookie's store holds only this
    row's uuid: ending the row ends the session everywhere, whatever store the cookie lives in."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    uuid: UUID = Field(default_factory=uuid4, unique=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    method: str = Field(max_length=80)  # "password", "oidc:<provider>", "invitation", "reset"
    device: str = Field(default="", max_length=300)  # the User-Agent, shortened
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set once the second factor was given (or when none is needed); a moderator's session without it
    # acts as a plain member.
    second_factor_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TokenPurpose(enum.StrEnum):
    confirm_email = "confirm-email"  # registration's double opt-in, and an e-mail change
    reset_password = "reset-password"  # noqa: S105 (a purpose, not a password)


class OneTimeToken(SQLModel, table=True):
    """A link sent by e-mail: single use (``used_at`` is set by a conditional UPDATE), expiring."""

    __tablename__ = "one_time_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    purpose: str = Field(max_length=30)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=254)  # the address the link was sent to (a changed e-mail: the new one)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Invitation(SQLModel, table=True):
    """An owner invites a colleague by e-mail with a role; works with and without an account."""

    __tablename__ = "invitation"
    __table_args__ = (
        # One open invitation per address and organization: a second one replaces (revokes) the first.
        unique_where(
            "uq_invitation_open", "organization_id", "email", where="accepted_at IS NULL AND revoked_at IS NULL"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    uuid: UUID = Field(default_factory=uuid4, unique=True)
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=254)
    role: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, unique=True)
    invited_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")


class ClaimState(enum.StrEnum):
    pending = "pending"
    verified = "verified"
    rejected = "rejected"
    withdrawn = "withdrawn"


class OrganizationClaim(SQLModel, table=True):
    """A registered person asks to act for an organization: an existing public body from the register,
    or a new vendor. Moderators verify it; until then the person's membership is unverified."""

    __tablename__ = "organization_claim"
    __table_args__ = (
        # One open claim per organization: a second one for the same AGS is refused, not queued.
        unique_where("uq_organization_claim_open", "organization_id", where="state = 'pending'"),
    )

    id: int | None = Field(default=None, primary_key=True)
    uuid: UUID = Field(default_factory=uuid4, unique=True)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL")
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    state: str = Field(default=ClaimState.pending.value, max_length=20, index=True)
    # What the claimant says: a vendor's address and Handelsregister number, the official e-mail address.
    details: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)
    evidence: str | None = Field(default=None, max_length=40)  # "official-domain-email" or "manual-check"
    note: str | None = Field(default=None, max_length=2000)  # the moderator's note
    decided_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ExternalIdentity(SQLModel, table=True):
    """A person's account at an OpenID provider (issuer + subject), linked to their Allmende account."""

    __tablename__ = "external_identity"
    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_external_identity_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=40)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    email: str | None = Field(default=None, max_length=254)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RecoveryCode(SQLModel, table=True):
    """A one-time code that stands in for the authenticator app once."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

"""Request and response bodies of the identity API (issue 14)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, EmailStr, Field, StringConstraints, model_validator

from allmende.accounts.models import MemberRole
from allmende.accounts.schemas import OrganizationRef, Strict, UserOut

Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
# The policy (identity.services.passwords) says what a good password is; this only bounds the body.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Token = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


# --- sign-in, registration, links ------------------------------------------------------------------------


class SignedIn(UserOut):
    second_factor_required: bool = Field(
        description="True when this session must give its second factor (POST /api/v1/auth/second-factor) "
        "before a platform role counts"
    )


class RegisterIn(Strict):
    email: Email
    display_name: Name
    password: Password
    language: Annotated[str, StringConstraints(pattern="^(de|en)$")] = "de"


class Accepted(BaseModel):
    """The same answer for every address: whether it has an account is told only to its mailbox."""

    detail: str


class TokenIn(Strict):
    token: Token


class PasswordResetIn(Strict):
    email: Email


class PasswordResetConfirmIn(Strict):
    token: Token
    password: Password


# --- the account -------------------------------------------------------------------------------------------


class AccountOut(BaseModel):
    uuid: uuid.UUID
    email: str
    display_name: str
    language: str
    mail_notices: bool = Field(description="Notices also by e-mail (they always reach the inbox)")
    email_confirmed_at: datetime | None
    second_factor_enabled: bool
    created_at: datetime


class AccountUpdate(Strict):
    display_name: Name | None = None
    language: Annotated[str, StringConstraints(pattern="^(de|en)$")] | None = None
    mail_notices: bool | None = None
    new_password: Password | None = Field(default=None, description="Needs current_password; ends other sessions")
    current_password: Password | None = None


class EmailChangeIn(Strict):
    email: Email
    current_password: Password


class AccountDeleteIn(Strict):
    current_password: Password


class SessionOut(BaseModel):
    uuid: uuid.UUID
    method: str
    device: str
    created_at: datetime
    last_used_at: datetime
    current: bool = Field(description="The session this request came with")


class SessionsEnded(BaseModel):
    ended: int


class ExportOut(BaseModel):
    """Everything Allmende stores about the person (DSGVO Art. 15 and 20)."""

    exported_at: datetime
    account: AccountOut
    platform_role: str | None
    last_login_at: datetime | None
    memberships: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    sign_in_providers: list[dict[str, Any]]
    notifications: list[dict[str, Any]]
    activity: list[dict[str, Any]]


# --- single sign-on (OpenID Connect) ------------------------------------------------------------------------


class OidcProviderOut(BaseModel):
    """A provider people can sign in with; ``start`` is where a browser begins."""

    name: str
    label: str
    start: str


class OidcStartOut(BaseModel):
    """Send the browser to ``authorization_url``; it comes back to the callback with this session's cookie."""

    authorization_url: str


class LinkedIdentityOut(BaseModel):
    """One provider account linked to the signed-in person's account."""

    provider: str
    label: str
    subject: str
    email: str | None
    created_at: datetime
    last_used_at: datetime | None


Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Evidence = Literal["official-domain-email", "manual-check"]

# --- organization claims ---------------------------------------------------------------------------------


class VendorClaimIn(Strict):
    """A vendor that is not on the platform yet: created at once, its claimant an unverified owner."""

    name: Text200
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=500)]
    register_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)] | None = (
        Field(default=None, description="Handelsregister, e.g. 'HRB 12345, Amtsgericht Kiel'")
    )
    website: AnyHttpUrl | None = None


class ClaimIn(Strict):
    """Exactly one of: a public body from the register (``organization`` slug, or its AGS/ARS as ``key``),
    or a new ``vendor``."""

    organization: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    key: Annotated[str, StringConstraints(pattern=r"^(\d{8}|\d{12})$")] | None = Field(
        default=None, description="AGS (8 digits) or ARS (12 digits) of the public body"
    )
    vendor: VendorClaimIn | None = None
    statement: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = Field(
        default=None, description="Who the claimant is in the organization, for the moderators"
    )

    @model_validator(mode="after")
    def _one_target(self) -> ClaimIn:
        given = [name for name in ("organization", "key", "vendor") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("name exactly one of organization, key or vendor")
        return self


class ClaimOut(BaseModel):
    uuid: uuid.UUID
    state: str
    organization: OrganizationRef
    organization_created: bool  # a new vendor, made by this claim
    claimant_email: str | None
    claimant_name: str | None
    details: dict[str, str]
    # "official-domain-email" when the claimant's address is at the organization's website domain: a hint
    # for the moderator, never a decision.
    suggested_evidence: Evidence | None
    evidence: str | None
    note: str | None
    created_at: datetime
    decided_at: datetime | None


class VerifyIn(Strict):
    evidence: Evidence
    note: Note


class RejectIn(Strict):
    note: Note


# --- invitations -----------------------------------------------------------------------------------------


class InvitationIn(Strict):
    email: EmailStr
    role: MemberRole = MemberRole.member


class InvitationOut(BaseModel):
    uuid: uuid.UUID
    email: str
    role: MemberRole
    created_at: datetime
    expires_at: datetime
    expired: bool
    invited_by: str | None


class AcceptIn(Strict):
    """Signed in with the invited address: an empty body. Without an account: a name and a password."""

    name: Text200 | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None


class AcceptedOut(BaseModel):
    organization: OrganizationRef
    role: MemberRole
    email: str
    account_created: bool


# --- two-factor login -------------------------------------------------------------------------------


class CodeIn(Strict):
    """A current code from the authenticator app (6 digits) or one of the recovery codes."""

    code: str = Field(min_length=1, max_length=64)


class SecondFactorGiven(BaseModel):
    method: str = Field(description="totp or recovery-code")
    recovery_codes_left: int


class TotpStatusOut(BaseModel):
    enabled: bool
    enabled_at: datetime | None
    required: bool = Field(description="moderators and admins: always on, cannot be turned off")
    pending: bool = Field(description="set-up started, waiting for the first code")
    recovery_codes_left: int


class TotpEnrollmentOut(BaseModel):
    """The pending secret, as text and as an otpauth:// URI for an authenticator app."""

    secret: str
    otpauth_uri: str
    digits: int
    period: int


class RecoveryCodesOut(BaseModel):
    """Shown this once: store them somewhere safe. Each works once instead of a code from the app."""

    recovery_codes: list[str]

"""Request and response bodies of the identity API (issue 14)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from allmende.accounts.schemas import Strict, UserOut

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

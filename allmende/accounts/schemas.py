"""Request and response bodies of the accounts API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import pydantic
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from allmende.accounts.models import MemberRole, OrganizationKind, PlatformRole, TokenScope, VendorType
from allmende.accounts.regions import check_ags, check_ars, check_bundesland
from allmende.core.text import SLUG_PATTERN

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=100)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Strict(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error and not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def patch_of(fields: type[BaseModel], *extra: str) -> type[Strict]:
    """The base of a PATCH body: each field of ``fields`` (and ``extra``) may be sent, with any value.
    Only what is sent changes; the service validates the merged record whole with ``fields``, so a
    field added there is patchable at once and checked in one place. Subclass it for the named body:
    ``class SolutionPatch(patch_of(SolutionFields, "external_id")): ...``."""
    names = [*fields.model_fields, *extra]
    optional: dict[str, Any] = {name: (Any, None) for name in names}
    return pydantic.create_model(f"{fields.__name__}Patch", __base__=Strict, **optional)


def _http_url(value: AnyHttpUrl | None) -> str | None:
    return str(value) if value is not None else None


class OrganizationFields(Strict):
    ags: str | None = Field(default=None, description="Amtlicher Gemeindeschlüssel, 8 digits")
    ars: str | None = Field(default=None, description="Amtlicher Regionalschlüssel, 12 digits")
    bundesland: str | None = Field(default=None, description="2-digit code 01–16")
    population: int | None = Field(default=None, ge=0, le=100_000_000)
    website: AnyHttpUrl | None = None
    vendor_type: VendorType | None = None
    description: str | None = Field(default=None, max_length=5000)

    @field_validator("ags")
    @classmethod
    def _ags(cls, value: str | None) -> str | None:
        return None if value is None else check_ags(value)

    @field_validator("ars")
    @classmethod
    def _ars(cls, value: str | None) -> str | None:
        return None if value is None else check_ars(value)

    @field_validator("bundesland")
    @classmethod
    def _bundesland(cls, value: str | None) -> str | None:
        return None if value is None else check_bundesland(value)


class OrganizationCreate(OrganizationFields):
    kind: OrganizationKind
    name: Name
    slug: Slug | None = None


class OrganizationUpdate(OrganizationFields):
    name: Name | None = None


class OrganizationOut(BaseModel):
    uuid: uuid.UUID
    slug: str
    name: str
    kind: OrganizationKind
    ags: str | None
    ars: str | None
    bundesland: str | None
    bundesland_name: str | None
    population: int | None
    website: str | None
    vendor_type: str | None
    description: str | None
    origin: str
    version: int
    updated_at: datetime
    unconfirmed: list[str]


class LoginIn(Strict):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class MembershipOut(BaseModel):
    organization: str  # slug
    organization_name: str
    role: MemberRole


class UserOut(BaseModel):
    uuid: uuid.UUID
    email: str
    display_name: str
    platform_role: PlatformRole | None
    memberships: list[MembershipOut]


class MemberIn(Strict):
    email: EmailStr
    role: MemberRole


class MemberOut(BaseModel):
    email: str
    display_name: str
    role: MemberRole
    verified: bool = True  # False while the person's claim to the organization waits for a moderator


class TokenCreate(Strict):
    name: Name
    scopes: list[TokenScope] = Field(min_length=1, max_length=2)
    expires_in_days: int = Field(default=90, ge=1, le=366)


class TokenOut(BaseModel):
    uuid: uuid.UUID
    name: str
    prefix: str
    scopes: list[TokenScope]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself. It is shown only this once; store it safely.")


# --- shared by the domain packages' schemas ------------------------------------------------------------
# One class each, so that the API document names them once (two classes of one name would get module
# prefixes there), and so that packages that may not import each other's schemas share them.


class OrganizationRef(BaseModel):
    slug: str
    name: str
    kind: str
    bundesland: str | None


class OptionalReasonIn(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None

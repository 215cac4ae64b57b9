"""Organizations, users, memberships and API tokens: who may act, and for whom."""

import enum
from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid4

from sqlalchemy import UniqueConstraint, true
from sqlmodel import Field, Relationship, SQLModel

from allmende.core.records import SharedRecord
from allmende.core.types import PortableJSON, UTCDateTime, utcnow


class OrganizationKind(enum.StrEnum):
    municipality = "municipality"  # Kommune
    county = "county"  # Landkreis
    association = "association"  # Zweckverband, kommunaler Verbund
    state = "state"  # Land
    vendor = "vendor"  # Anbieter
    other = "other"


PUBLIC_BODY_KINDS = frozenset(
    {OrganizationKind.municipality, OrganizationKind.county, OrganizationKind.association, OrganizationKind.state}
)


class VendorType(enum.StrEnum):
    company = "company"
    municipal_it_provider = "municipal-it-provider"
    open_source_maintainer = "open-source-maintainer"
    public_body = "public-body"


class MemberRole(enum.StrEnum):
    owner = "owner"
    editor = "editor"
    member = "member"


class PlatformRole(enum.StrEnum):
    admin = "admin"
    moderator = "moderator"


class TokenScope(enum.StrEnum):
    read = "read"
    write = "write"


class Organization(SharedRecord, table=True):
    __tablename__ = "organization"
    __table_args__ = (UniqueConstraint("kind", "ags", name="uq_organization_kind_ags"),)
    __record_type__: ClassVar[str] = "organization"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, index=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=100, unique=True, index=True)
    ags: str | None = Field(default=None, max_length=8, index=True)
    ars: str | None = Field(default=None, max_length=12)
    bundesland: str | None = Field(default=None, max_length=2, index=True)
    population: int | None = None
    population_date: str | None = Field(default=None, max_length=10)
    website: str | None = Field(default=None, max_length=500)
    vendor_type: str | None = Field(default=None, max_length=40)
    description: str | None = Field(default=None, max_length=5000)
    unconfirmed: list[str] = Field(default_factory=list, sa_type=PortableJSON)

    memberships: list["Membership"] = Relationship(
        back_populates="organization", sa_relationship_kwargs={"lazy": "raise"}
    )

    @property
    def is_public_body(self) -> bool:
        return self.kind in PUBLIC_BODY_KINDS


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    uuid: UUID = Field(default_factory=uuid4, unique=True)
    email: str = Field(max_length=254, unique=True, index=True)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    platform_role: str | None = Field(default=None, max_length=20)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The language notices are written in for this person: "de" (the default) or "en".
    language: str = Field(default="de", max_length=5, sa_column_kwargs={"server_default": "de"})
    # --- issue 14: the way in. A registered person confirms the address before signing in; people
    # created by an operator or an identity provider are confirmed from the start.
    email_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # TOTP (RFC 6238): the shared secret, in effect once confirmed with a first code.
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_enabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The time step (RFC 6238, 30 s) of the last accepted code: a code is taken only for a later step, so
    # a used code (or an older one still in the window) cannot be used again.
    totp_last_step: int | None = Field(default=None)
    # Notices always reach the inbox; this says whether they also come by e-mail.
    mail_notices: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    # Set when the person deleted the account: name and address are anonymised, the row stays so that
    # what they wrote for an organization keeps its author reference.
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    memberships: list["Membership"] = Relationship(back_populates="user", sa_relationship_kwargs={"lazy": "raise"})


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "organization_id", name="uq_membership_user_org"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # issue 14: a membership from an organization claim waits for a moderator. Until it is verified the
    # person prepares drafts but does not publish, answer offers or join bundles for the organization.
    verified_at: datetime | None = Field(default_factory=utcnow, sa_type=UTCDateTime)

    user: "User" = Relationship(back_populates="memberships", sa_relationship_kwargs={"lazy": "raise"})
    organization: "Organization" = Relationship(back_populates="memberships", sa_relationship_kwargs={"lazy": "raise"})


class ApiToken(SQLModel, table=True):
    """A vendor API token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    uuid: UUID = Field(default_factory=uuid4, unique=True)
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    token_prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    scopes: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

"""Offer-request tables: requests, their bundle of participants, the addressed vendors, offers with their
revisions, and the conversation.

Not shared records: offer requests, offers and messages are private to the parties (design rule 6),
so they stay out of the change log that feeds search and the federation feed. They carry a UUID (the
only id that leaves the instance) and, where clients write concurrently, a version for If-Match.
Every state change writes an audit event (services).
"""

import enum
import uuid as uuid_module
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from allmende.core.records import version_checked
from allmende.core.types import PortableJSON, UTCDateTime, utcnow
from allmende.core.versions import etag


class OfferRequestState(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"
    withdrawn = "withdrawn"
    awarded = "awarded"  # the requester marked one offer as preferred
    not_awarded = "not_awarded"  # the requester declined every offer


class OfferRequestKind(enum.StrEnum):
    solution = "solution"  # for one published solution, addressed to its provider
    exploration = "exploration"  # market exploration: the providers of matching published solutions


class OfferRequest(SQLModel, table=True):
    __tablename__ = "offer_request"
    # The services change a request only under its row lock; the condition on the version keeps any
    # other write from overwriting a change it never saw (a 412, not a lost update).
    __mapper_args__ = version_checked("version")

    id: int | None = Field(default=None, primary_key=True)
    uuid: uuid_module.UUID = Field(default_factory=uuid_module.uuid4, unique=True, index=True)
    version: int = Field(default=1)  # rises with every change: the ETag
    requester_id: int = Field(foreign_key="organization.id", index=True)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    kind: str = Field(max_length=20)
    solution_id: int | None = Field(default=None, foreign_key="solution.id", index=True)
    sectors: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    standards: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    state: str = Field(default=OfferRequestState.draft.value, max_length=20, index=True)
    title: str = Field(max_length=200)
    need: str = Field(default="", sa_type=Text)  # Markdown
    desired_start: date | None = None
    deadline: datetime = Field(sa_type=UTCDateTime, index=True)
    budget_min_cents: int | None = Field(default=None, sa_type=BigInteger)
    budget_max_cents: int | None = Field(default=None, sa_type=BigInteger)
    procurement_notes: str | None = Field(default=None, sa_type=Text)  # Markdown
    bundle_version: int = Field(default=1)  # rises when a participant joins, leaves or changes quantities
    preferred_offer_id: int | None = None  # the offer the requester preferred (awarded); no FK: offers point here
    decision_reason: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminder_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def etag(self) -> str:
        return etag(self.uuid, self.version)


class OfferRequestParticipant(SQLModel, table=True):
    """A public body in the bundle, with its own quantities. The requester is the first participant.
    Leaving keeps the row (``left_at``); joining again clears it."""

    __tablename__ = "offer_request_participant"
    __table_args__ = (UniqueConstraint("request_id", "organization_id", name="uq_offer_participant"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="offer_request.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True)
    inhabitants: int = Field(default=0)
    users: int = Field(default=0)
    sites: int = Field(default=0)
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    left_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acceptance: str | None = Field(default=None, max_length=20)  # accepted | declined, once awarded
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OfferRequestVendor(SQLModel, table=True):
    """A vendor the request is addressed to, fixed when the request opens."""

    __tablename__ = "offer_request_vendor"
    __table_args__ = (UniqueConstraint("request_id", "organization_id", name="uq_offer_request_vendor"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="offer_request.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True)
    solution_id: int | None = Field(default=None, foreign_key="solution.id")  # the solution that matched
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Offer(SQLModel, table=True):
    """A vendor's answer to a request: one per vendor, its content in append-only revisions."""

    __tablename__ = "offer"
    __table_args__ = (UniqueConstraint("request_id", "vendor_id", name="uq_offer_request_vendor_once"),)
    __mapper_args__ = version_checked("current_revision")  # as for OfferRequest

    id: int | None = Field(default=None, primary_key=True)
    uuid: uuid_module.UUID = Field(default_factory=uuid_module.uuid4, unique=True, index=True)
    request_id: int = Field(foreign_key="offer_request.id", index=True, ondelete="CASCADE")
    vendor_id: int = Field(foreign_key="organization.id", index=True)
    current_revision: int = Field(default=1)  # the ETag: "<uuid>.<current_revision>"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def etag(self) -> str:
        return etag(self.uuid, self.current_revision)


class OfferRevision(SQLModel, table=True):
    """One version of an offer, never changed once written. Money in integer euro cents."""

    __tablename__ = "offer_revision"
    __table_args__ = (UniqueConstraint("offer_id", "revision", name="uq_offer_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    offer_id: int = Field(foreign_key="offer.id", index=True, ondelete="CASCADE")
    revision: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_by_token_id: int | None = Field(default=None, foreign_key="api_token.id", ondelete="SET NULL")
    currency: str = Field(default="EUR", max_length=3)
    items: list[dict[str, Any]] = Field(default_factory=list, sa_type=PortableJSON)
    total_cents: int = Field(sa_type=BigInteger)
    # [{"organization_id", "inhabitants", "users", "sites", "total_cents"}]: the bundle as priced
    per_participant: list[dict[str, Any]] = Field(default_factory=list, sa_type=PortableJSON)
    bundle_version: int
    service_level: str = Field(default="", sa_type=Text)
    hosting_location: str | None = Field(default=None, max_length=10)
    valid_until: date
    notes: str = Field(default="", sa_type=Text)  # Markdown


class OfferMessage(SQLModel, table=True):
    """One message in the thread between a request's participants and one vendor."""

    __tablename__ = "offer_message"
    __table_args__ = (Index("ix_offer_message_thread", "request_id", "vendor_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    uuid: uuid_module.UUID = Field(default_factory=uuid_module.uuid4, unique=True, index=True)
    request_id: int = Field(foreign_key="offer_request.id", ondelete="CASCADE")
    vendor_id: int = Field(foreign_key="organization.id")  # whose thread
    author_organization_id: int = Field(foreign_key="organization.id")
    author_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    author_token_id: int | None = Field(default=None, foreign_key="api_token.id", ondelete="SET NULL")
    body: str = Field(sa_type=Text)  # Markdown
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

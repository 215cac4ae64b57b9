"""Catalog tables: vocabularies, solutions (with their pending edit), references and facet rows."""

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from allmende.core.moderation import ModerationState
from allmende.core.records import SharedRecord
from allmende.core.types import PortableJSON, UTCDateTime, utcnow

# A solution's states are the shared moderation workflow's (allmende.core.moderation).
SolutionState = ModerationState


class Vocabulary(SQLModel, table=True):
    __tablename__ = "vocabulary"

    key: str = Field(primary_key=True, max_length=40)
    label_de: str = Field(max_length=120)
    label_en: str = Field(max_length=120)
    extensible: bool = False  # moderators may add terms (e.g. standards)
    sort_order: int = 0


class VocabularyTerm(SQLModel, table=True):
    __tablename__ = "vocabulary_term"
    __table_args__ = (UniqueConstraint("vocabulary_key", "key", name="uq_vocabulary_term"),)

    id: int | None = Field(default=None, primary_key=True)
    vocabulary_key: str = Field(foreign_key="vocabulary.key", max_length=40, index=True)
    key: str = Field(max_length=60)
    label_de: str = Field(max_length=200)
    label_en: str = Field(max_length=200)
    description_de: str | None = Field(default=None, sa_type=Text)
    description_en: str | None = Field(default=None, sa_type=Text)
    sort_order: int = 0


class Solution(SharedRecord, table=True):
    """A catalog entry. The columns hold what the public sees once published (or the draft before).

    An edit to a published solution goes to ``pending`` (the full proposed content) with its own
    ``pending_state``; the public keeps seeing the columns until a moderator approves it.
    """

    __tablename__ = "solution"
    __table_args__ = (UniqueConstraint("provider_id", "external_id", name="uq_solution_provider_external_id"),)
    __record_type__: ClassVar[str] = "solution"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, unique=True, index=True)
    provider_id: int = Field(foreign_key="organization.id", index=True)
    external_id: str | None = Field(default=None, max_length=100)
    state: str = Field(default=SolutionState.draft.value, max_length=20, index=True)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    moderation_reason: str | None = Field(default=None, max_length=2000)
    pending: dict[str, Any] | None = Field(default=None, sa_type=PortableJSON)
    pending_state: str | None = Field(default=None, max_length=20)
    adopters_count: int = Field(default=0, index=True)

    name: str = Field(max_length=200, index=True)
    summary: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    kind: str = Field(max_length=20)
    license: str | None = Field(default=None, max_length=200)
    is_open_source: bool = Field(default=False, index=True)
    repository_url: str | None = Field(default=None, max_length=500)
    homepage_url: str | None = Field(default=None, max_length=500)
    development_status: str | None = Field(default=None, max_length=20, index=True)
    current_version: str | None = Field(default=None, max_length=50)
    release_date: date | None = None
    stages: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    sectors: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    areas: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    standards: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    hosting_options: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    hosting_location: str | None = Field(default=None, max_length=10)
    avv_available: bool | None = None
    bsi_c5: bool | None = None
    iso_27001: bool | None = None
    protection_need: str | None = Field(default=None, max_length=20)
    accessibility: str = Field(default="unknown", max_length=20)
    pricing_model: str | None = Field(default=None, max_length=20)
    languages: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    contact_name: str | None = Field(default=None, max_length=200)
    contact_email: str | None = Field(default=None, max_length=254)
    contact_url: str | None = Field(default=None, max_length=500)
    sources: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    unconfirmed: list[str] = Field(default_factory=list, sa_type=PortableJSON)


class SolutionFacet(SQLModel, table=True):
    """One row per (published solution, vocabulary, term): lets SQL filter multi-valued fields portably."""

    __tablename__ = "solution_facet"
    __table_args__ = (Index("ix_solution_facet_lookup", "vocabulary", "term"),)

    solution_id: int = Field(foreign_key="solution.id", primary_key=True, ondelete="CASCADE")
    vocabulary: str = Field(primary_key=True, max_length=40)
    term: str = Field(primary_key=True, max_length=60)


class Reference(SharedRecord, table=True):
    """A municipality (or other public body) uses a solution: Nachnutzung. Withdrawn = tombstoned."""

    __tablename__ = "solution_reference"
    __table_args__ = (UniqueConstraint("solution_id", "organization_id", name="uq_reference_solution_org"),)
    __record_type__: ClassVar[str] = "reference"

    id: int | None = Field(default=None, primary_key=True)
    solution_id: int = Field(foreign_key="solution.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    since: date | None = None
    mode: str = Field(max_length=20)
    statement: str | None = Field(default=None, max_length=1000)
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

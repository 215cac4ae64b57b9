"""Knowledge hub tables: case studies of model projects and guides with their revisions."""

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from allmende.core.records import SharedRecord
from allmende.core.types import PortableJSON, UTCDateTime, utcnow


class CaseStudy(SharedRecord, table=True):
    """A model project's story. Moderated like a catalog entry: edits to a published case study wait
    in ``pending`` until a moderator approves them."""

    __tablename__ = "case_study"
    __record_type__: ClassVar[str] = "case_study"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, unique=True, index=True)
    author_organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    state: str = Field(default="draft", max_length=20, index=True)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    moderation_reason: str | None = Field(default=None, max_length=2000)
    pending: dict[str, Any] | None = Field(default=None, sa_type=PortableJSON)
    pending_state: str | None = Field(default=None, max_length=20)

    title: str = Field(max_length=300)
    programme: str | None = Field(default=None, max_length=100)
    cohort: int | None = Field(default=None, index=True)
    period_start: int | None = None
    period_end: int | None = None
    stages: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    sectors: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    steps: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    summary: str = Field(default="", max_length=1000)
    body: str = Field(default="", sa_type=Text)
    outcomes: list[dict[str, Any]] = Field(default_factory=list, sa_type=PortableJSON)
    contact: str | None = Field(default=None, max_length=500)
    # Public-body keys (AGS or ARS) and solution UUIDs; kept in the record so a pending edit carries them.
    organization_keys: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    solution_uuids: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    sources: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    unconfirmed: list[str] = Field(default_factory=list, sa_type=PortableJSON)


class CaseStudyOrganization(SQLModel, table=True):
    """The municipalities of a published case study, as rows so lists can filter and join on them."""

    __tablename__ = "case_study_organization"

    case_study_id: int = Field(foreign_key="case_study.id", primary_key=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", primary_key=True, index=True)


class CaseStudySolution(SQLModel, table=True):
    """Which catalog solutions a published case study used (by the solution's global UUID)."""

    __tablename__ = "case_study_solution"

    case_study_id: int = Field(foreign_key="case_study.id", primary_key=True, ondelete="CASCADE")
    solution_uuid: UUID = Field(primary_key=True, index=True)


class Guide(SharedRecord, table=True):
    """A Leitfaden. Its content is the latest revision; every save writes a new revision."""

    __tablename__ = "guide"
    __record_type__: ClassVar[str] = "guide"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, unique=True, index=True)
    author_organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    state: str = Field(default="draft", max_length=20, index=True)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revision: int = 0
    title: str = Field(max_length=300)
    stage: str = Field(max_length=5, index=True)
    step: str = Field(max_length=60, index=True)
    tags: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    summary: str = Field(default="", max_length=1000)
    body: str = Field(default="", sa_type=Text)


class GuideRevision(SQLModel, table=True):
    __tablename__ = "guide_revision"
    __table_args__ = (UniqueConstraint("guide_id", "number", name="uq_guide_revision_number"),)

    id: int | None = Field(default=None, primary_key=True)
    guide_id: int = Field(foreign_key="guide.id", index=True, ondelete="CASCADE")
    number: int
    author_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    note: str | None = Field(default=None, max_length=500)
    title: str = Field(max_length=300)
    stage: str = Field(max_length=5)
    step: str = Field(max_length=60)
    tags: list[str] = Field(default_factory=list, sa_type=PortableJSON)
    summary: str = Field(default="", max_length=1000)
    body: str = Field(default="", sa_type=Text)

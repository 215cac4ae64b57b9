"""Request and response bodies of the knowledge hub API."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from allmende.accounts.schemas import Slug, Strict, patch_of

BODY_MAX_BYTES = 200_000
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Terms = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=60)]], Field(max_length=20)]


def _body(value: str) -> str:
    if len(value.encode()) > BODY_MAX_BYTES:
        raise ValueError(f"the Markdown is longer than {BODY_MAX_BYTES // 1000} KB")
    return value


Body = Annotated[str, AfterValidator(_body)]  # Markdown, bounded so that rendering stays cheap


class Outcome(Strict):
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    value: float
    unit: Annotated[str, StringConstraints(max_length=40)] | None = None
    note: Annotated[str, StringConstraints(max_length=200)] | None = None


class CaseStudyFields(Strict):
    title: Title
    organizations: list[Annotated[str, StringConstraints(pattern=r"^(\d{8}|\d{12})$")]] = Field(
        min_length=1, max_length=50, description="AGS (8 digits) or ARS (12 digits) of the public bodies"
    )
    programme: Annotated[str, StringConstraints(max_length=100)] | None = None
    cohort: int | None = Field(default=None, ge=1990, le=2100)
    period_start: int | None = Field(default=None, ge=1990, le=2100)
    period_end: int | None = Field(default=None, ge=1990, le=2100)
    stages: Terms = Field(default_factory=list)
    sectors: Terms = Field(default_factory=list)
    steps: Terms = Field(default_factory=list)
    summary: Summary = ""
    body: Body = ""
    solutions: list[Slug] = Field(default_factory=list, max_length=50, description="slugs of published solutions")
    outcomes: list[Outcome] = Field(default_factory=list, max_length=50)
    contact: Annotated[str, StringConstraints(max_length=500)] | None = None


class CaseStudyCreate(CaseStudyFields):
    slug: Slug | None = None
    author_organization: Slug = Field(description="the organization whose members write it")


class CaseStudyPatch(patch_of(CaseStudyFields)):  # type: ignore[misc]  # a generated base
    """Partial update: only the fields sent change; the merged case study is validated whole."""


class LinkRef(BaseModel):
    slug: str
    title: str


class PlaceRef(BaseModel):
    slug: str
    name: str
    kind: str
    key: str | None
    bundesland: str | None


class TocEntryOut(BaseModel):
    level: int
    text: str
    anchor: str


class CaseStudyOut(BaseModel):
    uuid: uuid.UUID
    slug: str
    state: str
    version: int
    origin: str
    title: str
    organizations: list[PlaceRef]
    programme: str | None
    cohort: int | None
    period_start: int | None
    period_end: int | None
    stages: list[str]
    sectors: list[str]
    steps: list[str]
    summary: str
    body: str
    body_html: str
    toc: list[TocEntryOut]
    solutions: list[LinkRef]
    outcomes: list[dict[str, Any]]
    contact: str | None
    author_organization: str | None
    published_at: datetime | None
    updated_at: datetime
    moderation_reason: str | None
    pending: dict[str, Any] | None
    sources: list[str]
    unconfirmed: list[str]


class GuideFields(Strict):
    title: Title
    stage: Annotated[str, StringConstraints(min_length=1, max_length=5)]
    step: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    tags: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    summary: Summary = ""
    body: Body = ""


class GuideCreate(GuideFields):
    slug: Slug | None = None
    author_organization: Slug | None = None
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class GuidePatch(patch_of(GuideFields)):  # type: ignore[misc]  # a generated base
    """Partial update: only the fields sent change; the merged guide is validated whole and saved as a new
    revision with the optional ``note``."""

    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class GuideOut(BaseModel):
    uuid: uuid.UUID
    slug: str
    state: str
    version: int
    revision: int
    origin: str
    title: str
    stage: str
    step: str
    tags: list[str]
    summary: str
    body: str
    body_html: str
    toc: list[TocEntryOut]
    author_organization: str | None
    published_at: datetime | None
    updated_at: datetime


class RevisionOut(BaseModel):
    number: int
    created_at: datetime
    author: str | None
    note: str | None
    title: str
    stage: str
    step: str
    tags: list[str]
    summary: str
    body: str


class RevisionDiffOut(BaseModel):
    guide: str
    from_revision: int
    to_revision: int
    fields: dict[str, dict[str, Any]]  # changed metadata fields: {"title": {"from": …, "to": …}}
    body_diff: str  # unified diff of the Markdown


class StageSummary(BaseModel):
    number: int
    title_de: str
    title_en: str
    description_de: str | None
    description_en: str | None
    counts: dict[str, int]


class StageDetail(StageSummary):
    solutions: list[LinkRef]
    case_studies: list[LinkRef]
    guides: list[LinkRef]


class ReasonIn(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]

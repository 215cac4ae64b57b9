"""Request and response bodies of the catalog API."""

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from license_expression import get_spdx_licensing
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from allmende.accounts.schemas import Name, OrganizationRef, Slug, Strict, patch_of

SUMMARY_MAX = 200
DESCRIPTION_MAX_BYTES = 100_000
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_licensing = get_spdx_licensing()

# SPDX identifiers for licences that publish source but are not open source (no OSI/FSF approval).
SOURCE_AVAILABLE_NOT_OPEN = frozenset(
    {
        "BUSL-1.1",
        "SSPL-1.0",
        "Elastic-2.0",
        "CC-BY-NC-4.0",
        "CC-BY-NC-SA-4.0",
        "CC-BY-NC-ND-4.0",
        "CC-BY-ND-4.0",
        "Commons-Clause",
        "PolyForm-Noncommercial-1.0.0",
        "PolyForm-Small-Business-1.0.0",
    }
)

VocabularyTerms = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=60)]], Field(max_length=60)]


def check_spdx(expression: str) -> str:
    """A valid SPDX licence expression, or ``LicenseRef-…`` for a proprietary licence. Kept as written."""
    expression = expression.strip()
    if re.fullmatch(r"LicenseRef-[A-Za-z0-9.\-]+", expression):
        return expression
    try:
        info = _licensing.validate(expression)
    except Exception as exc:  # the library raises its own errors (with broken messages) for some inputs
        raise ValueError("not a valid SPDX licence expression") from exc
    if info.errors:
        raise ValueError(f"not a valid SPDX licence expression: {'; '.join(info.errors)}")
    return expression


def is_open_source(expression: str | None) -> bool:
    """Open source when every licence in the expression is a known SPDX licence that is not merely
    source-available. ``LicenseRef-…`` (proprietary) or no licence at all is not open source."""
    if not expression or "LicenseRef-" in expression:
        return False
    symbols = {s.key for s in _licensing.license_symbols(_licensing.parse(expression))}
    return bool(symbols) and not (symbols & SOURCE_AVAILABLE_NOT_OPEN)


class SolutionFields(Strict):
    """Every field a vendor maintains. Vocabulary terms are checked against the database by the service."""

    name: Name
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUMMARY_MAX)]
    description: str = Field(default="", description="Markdown, up to 100 KB")
    kind: str = Field(description="solution-kinds term")
    license: str | None = Field(default=None, description="SPDX expression, or LicenseRef-… for proprietary")
    repository_url: AnyHttpUrl | None = None
    homepage_url: AnyHttpUrl | None = None
    development_status: str | None = None
    current_version: Annotated[str, StringConstraints(max_length=50)] | None = None
    release_date: date | None = None
    stages: VocabularyTerms = Field(default_factory=list)
    sectors: VocabularyTerms = Field(default_factory=list)
    areas: VocabularyTerms = Field(default_factory=list)
    standards: VocabularyTerms = Field(default_factory=list)
    hosting_options: VocabularyTerms = Field(default_factory=list)
    hosting_location: str | None = None
    avv_available: bool | None = Field(default=None, description="DSGVO data-processing agreement offered")
    bsi_c5: bool | None = None
    iso_27001: bool | None = None
    protection_need: str | None = None
    accessibility: str = "unknown"
    pricing_model: str | None = None
    languages: list[str] = Field(default_factory=lambda: ["de"], max_length=30)
    contact_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    contact_email: EmailStr | None = None
    contact_url: AnyHttpUrl | None = None

    @field_validator("license")
    @classmethod
    def _license(cls, value: str | None) -> str | None:
        return None if value in (None, "") else check_spdx(str(value))

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        if len(value.encode()) > DESCRIPTION_MAX_BYTES:
            raise ValueError(f"description is longer than {DESCRIPTION_MAX_BYTES // 1000} KB")
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for code in value:
            if not _LANGUAGE.fullmatch(code):
                raise ValueError(f"'{code}' is not a two-letter ISO 639-1 language code")
        return value

    def stored(self) -> dict[str, Any]:
        """The fields as the database keeps them (URLs as strings)."""
        data = self.model_dump(mode="json")
        data["release_date"] = self.release_date
        return data


class SolutionCreate(SolutionFields):
    slug: Slug | None = None
    provider: Slug | None = Field(default=None, description="the vendor's slug; a token's own organization if left out")
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class SolutionPatch(patch_of(SolutionFields, "external_id")):  # type: ignore[misc]  # a generated base
    """Partial update: only the fields sent change. The merged record is validated as a whole."""


class ReasonIn(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class AdopterOut(BaseModel):
    organization: OrganizationRef
    since: date | None
    mode: str
    statement: str | None


class PendingOut(BaseModel):
    state: str
    reason: str | None
    content: dict[str, Any]


class SolutionOut(SolutionFields):
    model_config = ConfigDict(extra="ignore")

    uuid: uuid.UUID
    slug: str
    provider: OrganizationRef
    external_id: str | None
    state: str
    version: int
    origin: str
    is_open_source: bool
    description_html: str
    published_at: datetime | None
    updated_at: datetime
    moderation_reason: str | None
    adopters_count: int
    adopters: list[AdopterOut]
    pending: PendingOut | None
    sources: list[str]
    unconfirmed: list[str]
    related: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="content elsewhere that links here, e.g. case_studies: [{slug, title}]"
    )


class BulkItemError(BaseModel):
    index: int
    external_id: str | None
    field: str | None
    detail: str


class BulkIn(Strict):
    items: list[dict[str, Any]] = Field(min_length=1, max_length=500)


class BulkOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    items: list[SolutionOut]


class ReferenceIn(Strict):
    since: date | None = None
    mode: str = "own-operation"
    statement: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class ReferenceOut(BaseModel):
    solution: str  # slug
    solution_name: str
    organization: OrganizationRef
    since: date | None
    mode: str
    statement: str | None
    claimed_at: datetime


class TermOut(BaseModel):
    key: str
    label_de: str
    label_en: str
    description_de: str | None = None
    description_en: str | None = None


class VocabularyOut(BaseModel):
    key: str
    label_de: str
    label_en: str
    extensible: bool
    terms: list[TermOut]


class TermIn(Strict):
    key: Slug
    label_de: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    label_en: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description_de: Annotated[str, StringConstraints(max_length=2000)] | None = None
    description_en: Annotated[str, StringConstraints(max_length=2000)] | None = None

"""Request and response bodies of the catalog API."""

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from license_expression import get_spdx_licensing
from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from allmende.accounts.schemas import Name, OrganizationRef, Slug, Strict

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


class SolutionPatch(Strict):
    """Partial update: only the fields sent change. The merged record is validated as a whole."""

    model_config = ConfigDict(extra="forbid")

    name: Any = None
    summary: Any = None
    description: Any = None
    kind: Any = None
    license: Any = None
    repository_url: Any = None
    homepage_url: Any = None
    development_status: Any = None
    current_version: Any = None
    release_date: Any = None
    stages: Any = None
    sectors: Any = None
    areas: Any = None
    standards: Any = None
    hosting_options: Any = None
    hosting_location: Any = None
    avv_available: Any = None
    bsi_c5: Any = None
    iso_27001: Any = None
    protection_need: Any = None
    accessibility: Any = None
    pricing_model: Any = None
    languages: Any = None
    contact_name: Any = None
    contact_email: Any = None
    contact_url: Any = None
    external_id: Any = None


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


# --- offer requests, bundled demand and offers (issue 7) -----------------------------------------------
#
# Money is integer euro cents, never floats; the currency is fixed to EUR and anything else is a 422
# naming the field. Quantities are the participants' own figures, bounded so a typo cannot become a
# bundle of a billion inhabitants.

MAX_INHABITANTS = 20_000_000
MAX_USERS = 1_000_000
MAX_SITES = 100_000
MAX_CENTS = 100_000_000_000  # one billion euro
NEED_MAX_BYTES = 20_000
NOTES_MAX_BYTES = 20_000
MESSAGE_MAX_BYTES = 10_000
PROCUREMENT_NOTES_MAX_BYTES = 5_000


def _whole_number(value: Any) -> Any:
    # Litestar validates request bodies with strict=False, which would turn 10.0 and true into 10 and 1:
    # money and quantities are JSON integers, and nothing else passes.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number (a JSON integer)")
    return value


def _boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Boolean = Annotated[bool, BeforeValidator(_boolean)]
Currency = Literal["EUR"]
Cents = Annotated[WholeNumber, Field(ge=0, le=MAX_CENTS)]
PriceKind = Literal["one_off", "recurring_yearly", "per_inhabitant", "per_user", "per_site"]
HostingLocation = Literal["de", "eu", "other"]  # the fixed vocabulary 'hosting-locations'


def _max_bytes(value: str, limit: int, what: str) -> str:
    if len(value.encode()) > limit:
        raise ValueError(f"{what} is longer than {limit // 1000} KB")
    return value


class Quantities(Strict):
    """What drives the price, as the participant's own figures. At least one must be positive."""

    inhabitants: WholeNumber = Field(default=0, ge=0, le=MAX_INHABITANTS, description="inhabitants covered")
    users: WholeNumber = Field(default=0, ge=0, le=MAX_USERS, description="users (staff or citizens with accounts)")
    sites: WholeNumber = Field(default=0, ge=0, le=MAX_SITES, description="sites, locations or devices")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not (self.inhabitants or self.users or self.sites):
            raise ValueError("name at least one quantity above zero (inhabitants, users or sites)")
        return self


class Budget(Strict):
    min_cents: Cents | None = None
    max_cents: Cents | None = None
    currency: Currency = "EUR"

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_cents is None and self.max_cents is None:
            raise ValueError("give min_cents, max_cents or both")
        if self.min_cents is not None and self.max_cents is not None and self.min_cents > self.max_cents:
            raise ValueError("min_cents is larger than max_cents")
        return self


class OfferRequestFields(Strict):
    """What the requester writes. Whether the deadline lies ahead is checked by the service (it knows now)."""

    title: Name
    need: str = Field(min_length=1, description="the need, in Markdown (up to 20 KB)")
    quantities: Quantities
    desired_start: date | None = None
    deadline: AwareDatetime = Field(description="offers are accepted until then (timezone-aware)")
    budget: Budget | None = None
    procurement_notes: str | None = Field(default=None, description="e.g. the intended procedure; Markdown, 5 KB")
    solution: Slug | None = Field(default=None, description="a published solution: the request goes to its provider")
    sectors: VocabularyTerms = Field(default_factory=list, description="market exploration: sectors terms")
    standards: VocabularyTerms = Field(default_factory=list, description="market exploration: standards terms")

    @field_validator("need")
    @classmethod
    def _need(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("describe the need")
        return _max_bytes(value, NEED_MAX_BYTES, "need")

    @field_validator("procurement_notes")
    @classmethod
    def _procurement_notes(cls, value: str | None) -> str | None:
        return None if value is None else _max_bytes(value, PROCUREMENT_NOTES_MAX_BYTES, "procurement_notes")

    @model_validator(mode="after")
    def _addressing(self) -> Self:
        if self.solution and (self.sectors or self.standards):
            raise ValueError("either name a solution or explore the market by sectors and standards, not both")
        if not self.solution and not (self.sectors or self.standards):
            raise ValueError("name a solution, or sectors and/or standards for a market exploration")
        return self


class OfferRequestCreate(OfferRequestFields):
    organization: Slug = Field(description="the requesting public body")


class OfferRequestPatch(Strict):
    """Partial update of a draft: only the fields sent change; the merged request is validated whole."""

    title: Any = None
    need: Any = None
    quantities: Any = None
    desired_start: Any = None
    deadline: Any = None
    budget: Any = None
    procurement_notes: Any = None
    solution: Any = None
    sectors: Any = None
    standards: Any = None


class QuantitiesOut(BaseModel):
    inhabitants: int
    users: int
    sites: int


class ParticipantOut(BaseModel):
    organization: OrganizationRef
    quantities: QuantitiesOut
    requester: bool
    joined_at: datetime
    acceptance: str | None = Field(description="accepted | declined, once the request is awarded")


class BundleOut(BaseModel):
    version: int = Field(description="send it with an offer: the bundle the offer is priced for")
    participants_count: int
    inhabitants: int
    users: int
    sites: int
    participants: list[ParticipantOut] | None = Field(description="per participant: for participants and vendors")


class BudgetOut(BaseModel):
    min_cents: int | None
    max_cents: int | None
    currency: str


class SolutionRefOut(BaseModel):
    slug: str
    name: str
    provider: OrganizationRef


class DecisionOut(BaseModel):
    outcome: str  # preferred | declined_all
    preferred_offer: uuid.UUID | None
    preferred_vendor: OrganizationRef | None
    reason: str | None
    decided_at: datetime | None


class OfferRequestOut(BaseModel):
    uuid: uuid.UUID
    version: int
    state: str
    kind: str
    title: str
    need: str
    need_html: str
    desired_start: date | None
    deadline: datetime
    budget: BudgetOut | None
    procurement_notes: str | None
    procurement_notes_html: str | None
    requester: OrganizationRef
    solution: SolutionRefOut | None
    sectors: list[str]
    standards: list[str]
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    withdrawn_at: datetime | None
    decided_at: datetime | None
    bundle: BundleOut
    relation: list[str] = Field(description="how you relate to it: requester, participant, vendor, prospect")
    vendors: list[OrganizationRef] | None = Field(description="the addressed vendors: for participants only")
    offers_received: int | None = Field(description="for participants only")
    decision: DecisionOut | None


class PriceItem(Strict):
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: PriceKind
    amount_cents: Cents = Field(description="per unit for per_* kinds, per year for recurring_yearly")


class ParticipantPrice(Strict):
    organization: Slug
    total_cents: Cents


class OfferFields(Strict):
    """One revision of an offer. ``per_participant`` must name every participant of the bundle version
    it is priced for, once, and add up to ``total_cents``."""

    bundle_version: WholeNumber = Field(ge=1, description="bundle.version of the request you priced")
    currency: Currency = "EUR"
    items: list[PriceItem] = Field(min_length=1, max_length=100)
    total_cents: Cents = Field(description="the total for the whole bundle")
    per_participant: list[ParticipantPrice] = Field(min_length=1, max_length=1000)
    service_level: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
    hosting_location: HostingLocation | None = None
    valid_until: date
    notes: str = Field(default="", description="Markdown, up to 20 KB")

    @field_validator("notes")
    @classmethod
    def _notes(cls, value: str) -> str:
        return _max_bytes(value, NOTES_MAX_BYTES, "notes")

    @model_validator(mode="after")
    def _shares(self) -> Self:
        slugs = [p.organization for p in self.per_participant]
        if len(set(slugs)) != len(slugs):
            raise ValueError("per_participant names an organization twice")
        if sum(p.total_cents for p in self.per_participant) != self.total_cents:
            raise ValueError("the per_participant totals do not add up to total_cents")
        return self


class OfferCreate(OfferFields):
    vendor: Slug | None = Field(
        default=None, description="the answering vendor; a token's own organization if left out"
    )


class PriceItemOut(BaseModel):
    label: str
    kind: str
    amount_cents: int


class ParticipantPriceOut(BaseModel):
    organization: OrganizationRef
    total_cents: int
    quantities: QuantitiesOut
    participating: bool = Field(description="false if the organization has left the bundle since")


class OfferRevisionOut(BaseModel):
    revision: int
    created_at: datetime
    currency: str
    items: list[PriceItemOut]
    total_cents: int
    per_participant: list[ParticipantPriceOut]
    bundle_version: int
    service_level: str
    hosting_location: str | None
    valid_until: date
    notes: str
    notes_html: str


class OfferOut(BaseModel):
    request: uuid.UUID = Field(description="the offer request's uuid")
    uuid: uuid.UUID
    vendor: OrganizationRef
    current_revision: int
    created_at: datetime
    updated_at: datetime
    sealed: bool = Field(
        description="participants see an offer's content once the deadline has passed (never, if withdrawn before)"
    )
    latest: OfferRevisionOut | None
    priced_for_current_bundle: bool
    preferred: bool


class DecisionIn(Strict):
    outcome: Literal["preferred", "declined_all"]
    offer: uuid.UUID | None = Field(default=None, description="the preferred offer (outcome preferred)")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _offer(self) -> Self:
        if self.outcome == "preferred" and self.offer is None:
            raise ValueError("name the preferred offer")
        if self.outcome == "declined_all" and self.offer is not None:
            raise ValueError("declining all offers names none")
        return self


class AcceptanceIn(Strict):
    accepted: Boolean


class MessageIn(Strict):
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _max_bytes(value, MESSAGE_MAX_BYTES, "body")


class MessageOut(BaseModel):
    uuid: uuid.UUID
    vendor: OrganizationRef = Field(description="whose thread")
    author: OrganizationRef
    from_vendor: bool
    body: str
    body_html: str
    created_at: datetime


class ThreadOut(BaseModel):
    vendor: OrganizationRef
    messages: int
    last_message_at: datetime | None

"""Request and response bodies of the offer-request API.

Money is integer euro cents, never floats; the currency is fixed to EUR and anything else is a 422
naming the field. Quantities are the participants' own figures, bounded so a typo cannot become a
bundle of a billion inhabitants.
"""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from allmende.accounts.schemas import Name, OrganizationRef, Slug, Strict, patch_of

# The catalog's vocabulary terms (the bounds of marketplace.schemas.VocabularyTerms); which terms exist is
# checked against the catalog's vocabularies by its services (check_terms).
VocabularyTerms = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=60)]], Field(max_length=60)]

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


class OfferRequestPatch(patch_of(OfferRequestFields)):  # type: ignore[misc]  # a generated base
    """Partial update of a draft: only the fields sent change; the merged request is validated whole."""


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

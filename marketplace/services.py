"""The catalog's rules: vocabularies, the solution lifecycle, references and public listing.

No HTTP and no commits here; the unit of work around the request or job commits.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy import and_, delete, exists, false, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import PUBLIC_BODY_KINDS, MemberRole, Membership, Organization, User
from allmende.accounts.principal import Principal
from allmende.accounts.regions import BUNDESLAENDER
from allmende.accounts.schemas import OrganizationRef
from allmende.core import markdown, notifications
from allmende.core.audit import record_audit
from allmende.core.pagination import Page, check_limit, decode_cursor, encode_cursor
from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound, Problem, invalid_input_from
from allmende.core.records import hold_for_change
from allmende.core.text import slugify
from allmende.core.types import utcnow
from marketplace.models import (
    Offer,
    OfferMessage,
    OfferRequest,
    OfferRequestKind,
    OfferRequestParticipant,
    OfferRequestState,
    OfferRequestVendor,
    OfferRevision,
    Reference,
    Solution,
    SolutionFacet,
    SolutionState,
    Vocabulary,
    VocabularyTerm,
)
from marketplace.schemas import (
    DESCRIPTION_MAX_BYTES,
    MESSAGE_MAX_BYTES,
    NEED_MAX_BYTES,
    NOTES_MAX_BYTES,
    PROCUREMENT_NOTES_MAX_BYTES,
    AdopterOut,
    BudgetOut,
    BundleOut,
    DecisionIn,
    DecisionOut,
    MessageOut,
    OfferCreate,
    OfferFields,
    OfferOut,
    OfferRequestCreate,
    OfferRequestFields,
    OfferRequestOut,
    OfferRevisionOut,
    ParticipantOut,
    ParticipantPriceOut,
    PendingOut,
    PriceItemOut,
    Quantities,
    QuantitiesOut,
    ReferenceIn,
    ReferenceOut,
    SolutionCreate,
    SolutionFields,
    SolutionOut,
    SolutionRefOut,
    TermIn,
    TermOut,
    ThreadOut,
    VocabularyOut,
    is_open_source,
)

# Which vocabulary each coded field draws its terms from.
FIELD_VOCABULARY: dict[str, str] = {
    "kind": "solution-kinds",
    "development_status": "development-status",
    "stages": "stages",
    "sectors": "sectors",
    "areas": "areas",
    "standards": "standards",
    "hosting_options": "hosting-options",
    "hosting_location": "hosting-locations",
    "protection_need": "protection-needs",
    "accessibility": "accessibility",
    "pricing_model": "pricing-models",
}
# Other packages add what links to a solution (e.g. the knowledge hub's case studies) through this
# registry, which the composition root fills; the catalog itself knows none of them.
RelatedProvider = Callable[[AsyncSession, Sequence[uuid.UUID]], Awaitable[dict[uuid.UUID, list[Any]]]]
RELATED_PROVIDERS: dict[str, RelatedProvider] = {}

# Multi-valued fields that the public list filters on, kept as rows in solution_facet.
FACET_FIELDS = ("stages", "sectors", "areas", "standards", "hosting_options")
CONTENT_FIELDS = tuple(SolutionFields.model_fields)


# --- vocabularies ------------------------------------------------------------------------------------


async def vocabulary_index(session: AsyncSession) -> dict[str, set[str]]:
    rows = await session.exec(select(VocabularyTerm.vocabulary_key, VocabularyTerm.key))
    index: dict[str, set[str]] = {}
    for vocabulary, key in rows:
        index.setdefault(vocabulary, set()).add(key)
    return index


async def list_vocabularies(session: AsyncSession) -> list[VocabularyOut]:
    vocabularies = list(await session.exec(select(Vocabulary).order_by(col(Vocabulary.sort_order))))
    terms = list(
        await session.exec(select(VocabularyTerm).order_by(col(VocabularyTerm.sort_order), col(VocabularyTerm.key)))
    )
    by_vocabulary: dict[str, list[TermOut]] = {}
    for term in terms:
        by_vocabulary.setdefault(term.vocabulary_key, []).append(TermOut.model_validate(term, from_attributes=True))
    return [
        VocabularyOut(
            key=v.key,
            label_de=v.label_de,
            label_en=v.label_en,
            extensible=v.extensible,
            terms=by_vocabulary.get(v.key, []),
        )
        for v in vocabularies
    ]


async def get_vocabulary(session: AsyncSession, key: str) -> VocabularyOut:
    for vocabulary in await list_vocabularies(session):
        if vocabulary.key == key:
            return vocabulary
    raise NotFound(f"no vocabulary '{key}'", field="vocabulary")


async def add_term(session: AsyncSession, principal: Principal, vocabulary_key: str, data: TermIn) -> TermOut:
    principal.require_moderator()
    vocabulary = await session.get(Vocabulary, vocabulary_key)
    if vocabulary is None:
        raise NotFound(f"no vocabulary '{vocabulary_key}'", field="vocabulary")
    if not vocabulary.extensible:
        raise Conflict(f"the vocabulary '{vocabulary_key}' is fixed by the source documents", field="vocabulary")
    if (
        await session.exec(
            select(VocabularyTerm).where(
                VocabularyTerm.vocabulary_key == vocabulary_key, VocabularyTerm.key == data.key
            )
        )
    ).first():
        raise Conflict(f"the term '{data.key}' exists already", field="key")
    term = VocabularyTerm(vocabulary_key=vocabulary_key, sort_order=1000, **data.model_dump())
    session.add(term)
    record_audit(
        session,
        action="vocabulary.add_term",
        record_type="vocabulary",
        actor_user_id=principal.user_id,
        data={"vocabulary": vocabulary_key, "term": data.key},
    )
    return TermOut.model_validate(term, from_attributes=True)


def check_terms(content: dict[str, Any], index: dict[str, set[str]]) -> None:
    """Every coded value must be a term of its vocabulary; the error names the field."""
    for field_name, vocabulary in FIELD_VOCABULARY.items():
        value = content.get(field_name)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        known = index.get(vocabulary, set())
        for term in values:
            if term not in known:
                raise InvalidInput(f"'{term}' is not a term of the vocabulary '{vocabulary}'", field=field_name)
        if isinstance(value, list) and len(set(value)) != len(value):
            raise InvalidInput("a term is listed twice", field=field_name)


# --- reading -------------------------------------------------------------------------------------------


def _org_ref(org: Organization) -> OrganizationRef:
    return OrganizationRef(slug=org.slug, name=org.name, kind=org.kind, bundesland=org.bundesland)


def license_type(solution: Solution) -> str:
    """open-source, proprietary, or unknown when no licence is confirmed (never guessed as proprietary)."""
    if solution.license is None:
        return "unknown"
    return "open-source" if solution.is_open_source else "proprietary"


def _as_dict(value: Any) -> dict[str, Any]:
    return value.model_dump() if hasattr(value, "model_dump") else dict(value)


def can_see_drafts(principal: Principal, solution: Solution) -> bool:
    return principal.is_moderator or principal.has_role(solution.provider_id, MemberRole.member)


def content_of(solution: Solution) -> dict[str, Any]:
    return {name: getattr(solution, name) for name in CONTENT_FIELDS}


async def adopters_of(session: AsyncSession, solution_ids: Sequence[int]) -> dict[int, list[AdopterOut]]:
    if not solution_ids:
        return {}
    rows = await session.exec(
        select(Reference, Organization)
        .join(Organization, col(Organization.id) == Reference.organization_id)
        .where(col(Reference.solution_id).in_(solution_ids), col(Reference.deleted_at).is_(None))
        .order_by(col(Organization.name))
    )
    result: dict[int, list[AdopterOut]] = {}
    for reference, org in rows:
        result.setdefault(reference.solution_id, []).append(
            AdopterOut(
                organization=_org_ref(org), since=reference.since, mode=reference.mode, statement=reference.statement
            )
        )
    return result


async def solution_outs(
    session: AsyncSession, principal: Principal, solutions: Sequence[Solution], base_url: str
) -> list[SolutionOut]:
    providers = {
        o.id: o
        for o in await session.exec(
            select(Organization).where(col(Organization.id).in_({s.provider_id for s in solutions}))
        )
    }
    adopters = await adopters_of(session, [s.id for s in solutions if s.id is not None])
    uuids = [s.uuid for s in solutions]
    related = {name: await provider(session, uuids) for name, provider in RELATED_PROVIDERS.items()}
    outs = []
    for solution in solutions:
        pending = None
        if solution.pending is not None and can_see_drafts(principal, solution):
            pending = PendingOut(
                state=solution.pending_state or "draft", reason=solution.moderation_reason, content=solution.pending
            )
        outs.append(
            SolutionOut(
                **content_of(solution),
                uuid=solution.uuid,
                slug=solution.slug,
                provider=_org_ref(providers[solution.provider_id]),
                external_id=solution.external_id,
                state=solution.state,
                version=solution.version,
                origin=solution.origin or base_url,
                is_open_source=solution.is_open_source,
                description_html=markdown.render(solution.description, max_bytes=DESCRIPTION_MAX_BYTES).html,
                published_at=solution.published_at,
                updated_at=solution.updated_at,
                moderation_reason=solution.moderation_reason if can_see_drafts(principal, solution) else None,
                adopters_count=solution.adopters_count,
                adopters=adopters.get(solution.id or 0, []),
                pending=pending,
                sources=solution.sources,
                unconfirmed=solution.unconfirmed,
                related={
                    name: [_as_dict(link) for link in links.get(solution.uuid, [])] for name, links in related.items()
                },
            )
        )
    return outs


async def solution_out(session: AsyncSession, principal: Principal, solution: Solution, base_url: str) -> SolutionOut:
    return (await solution_outs(session, principal, [solution], base_url))[0]


async def get_solution(session: AsyncSession, principal: Principal, slug: str) -> Solution:
    """The solution if the principal may see it: published/archived for all, drafts for its members."""
    solution = (await session.exec(select(Solution).where(Solution.slug == slug))).first()
    if solution is None or solution.is_deleted:
        raise NotFound(f"no solution '{slug}'", field="slug")
    if solution.state not in (SolutionState.published, SolutionState.archived) and not can_see_drafts(
        principal, solution
    ):
        raise NotFound(f"no solution '{slug}'", field="slug")
    return solution


async def get_solution_by_uuid(session: AsyncSession, solution_uuid: uuid.UUID) -> Solution | None:
    """For other packages (knowledge links, search documents): any non-deleted solution."""
    solution = (await session.exec(select(Solution).where(Solution.uuid == solution_uuid))).first()
    return None if solution is None or solution.is_deleted else solution


async def published_by_slugs(session: AsyncSession, slugs: Iterable[str]) -> dict[str, Solution]:
    rows = await session.exec(
        select(Solution).where(
            col(Solution.slug).in_(set(slugs)),
            Solution.state == SolutionState.published.value,
            col(Solution.deleted_at).is_(None),
        )
    )
    return {s.slug: s for s in rows}


@dataclass
class SolutionFilters:
    stages: list[str] = field(default_factory=list)
    sectors: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    standards: list[str] = field(default_factory=list)
    hosting_options: list[str] = field(default_factory=list)
    license_type: str | None = None  # open-source | proprietary
    development_status: list[str] = field(default_factory=list)
    provider: str | None = None
    bundesland: list[str] = field(default_factory=list)  # Bundesland of adopters
    q: str | None = None


SORTS = {"name", "newest", "most_adopted"}


async def list_published(
    session: AsyncSession,
    principal: Principal,
    filters: SolutionFilters,
    *,
    sort: str,
    limit: int,
    cursor: str | None,
    base_url: str,
) -> Page[SolutionOut]:
    check_limit(limit)
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(sorted(SORTS))}", field="sort")
    index = await vocabulary_index(session)
    query = select(Solution).where(Solution.state == SolutionState.published.value, col(Solution.deleted_at).is_(None))
    for field_name in FACET_FIELDS:
        wanted: list[str] = getattr(filters, field_name)
        if not wanted:
            continue
        known = index.get(FIELD_VOCABULARY[field_name], set())
        for term in wanted:
            if term not in known:
                raise InvalidInput(
                    f"'{term}' is not a term of '{FIELD_VOCABULARY[field_name]}'",
                    field=field_name.rstrip("s") if field_name != "hosting_options" else "hosting",
                )
        query = query.where(
            exists().where(
                col(SolutionFacet.solution_id) == col(Solution.id),
                col(SolutionFacet.vocabulary) == field_name,
                col(SolutionFacet.term).in_(wanted),
            )
        )
    if filters.license_type is not None:
        if filters.license_type not in ("open-source", "proprietary", "unknown"):
            raise InvalidInput("license_type must be open-source, proprietary or unknown", field="license_type")
        if filters.license_type == "unknown":
            query = query.where(col(Solution.license).is_(None))
        else:
            query = query.where(
                Solution.is_open_source == (filters.license_type == "open-source"), col(Solution.license).is_not(None)
            )
    if filters.development_status:
        for term in filters.development_status:
            if term not in index.get("development-status", set()):
                raise InvalidInput(f"'{term}' is not a development status", field="development_status")
        query = query.where(col(Solution.development_status).in_(filters.development_status))
    if filters.provider:
        provider = await accounts.get_organization(session, filters.provider)
        query = query.where(Solution.provider_id == provider.id)
    if filters.bundesland:
        for code in filters.bundesland:
            if code not in BUNDESLAENDER:
                raise InvalidInput("Bundesland must be a 2-digit code from 01 to 16", field="bundesland")
        query = query.where(
            exists().where(
                col(Reference.solution_id) == col(Solution.id),
                col(Reference.deleted_at).is_(None),
                col(Reference.organization_id) == col(Organization.id),
                col(Organization.bundesland).in_(filters.bundesland),
            )
        )
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        query = query.where(or_(func.lower(Solution.name).like(pattern), func.lower(Solution.summary).like(pattern)))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    query = _apply_sort(query, sort, cursor)
    rows = list(await session.exec(query.limit(limit + 1)))
    next_cursor = _cursor_for(rows[limit - 1], sort) if len(rows) > limit else None
    items = await solution_outs(session, principal, rows[:limit], base_url)
    return Page(items=items, total=total, next_cursor=next_cursor)


def _apply_sort(query: Any, sort: str, cursor: str | None) -> Any:
    if sort == "name":
        after = decode_cursor(cursor, arity=2)
        if after:
            query = query.where(
                or_(
                    col(Solution.name) > after[0],
                    and_(col(Solution.name) == after[0], col(Solution.id) > int(after[1])),
                )
            )
        return query.order_by(col(Solution.name), col(Solution.id))
    if sort == "newest":
        after = decode_cursor(cursor, arity=2, dates=(0,))
        if after:
            from datetime import datetime

            moment = datetime.fromisoformat(str(after[0]))
            query = query.where(
                or_(
                    col(Solution.published_at) < moment,
                    and_(col(Solution.published_at) == moment, col(Solution.id) < int(after[1])),
                )
            )
        return query.order_by(col(Solution.published_at).desc(), col(Solution.id).desc())
    after = decode_cursor(cursor, arity=3)
    if after:
        count, name, last_id = int(after[0]), str(after[1]), int(after[2])
        query = query.where(
            or_(
                col(Solution.adopters_count) < count,
                and_(
                    col(Solution.adopters_count) == count,
                    or_(col(Solution.name) > name, and_(col(Solution.name) == name, col(Solution.id) > last_id)),
                ),
            )
        )
    return query.order_by(col(Solution.adopters_count).desc(), col(Solution.name), col(Solution.id))


def _cursor_for(solution: Solution, sort: str) -> str:
    if sort == "name":
        return encode_cursor([solution.name, solution.id])
    if sort == "newest":
        return encode_cursor([solution.published_at.isoformat() if solution.published_at else "", solution.id])
    return encode_cursor([solution.adopters_count, solution.name, solution.id])


async def list_for_provider(
    session: AsyncSession, principal: Principal, provider: Organization, base_url: str
) -> list[SolutionOut]:
    """A vendor's own list: every state for its members and moderators, published ones for everybody else."""
    query = select(Solution).where(Solution.provider_id == provider.id, col(Solution.deleted_at).is_(None))
    if not (principal.is_moderator or principal.has_role(provider.id, MemberRole.member)):
        query = query.where(col(Solution.state).in_([SolutionState.published.value, SolutionState.archived.value]))
    rows = list(await session.exec(query.order_by(col(Solution.name))))
    return await solution_outs(session, principal, rows, base_url)


# --- writing ---------------------------------------------------------------------------------------------


def _validated(content: dict[str, Any]) -> SolutionFields:
    try:
        return SolutionFields.model_validate(content)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None


async def _provider_for(session: AsyncSession, principal: Principal, provider_slug: str | None) -> Organization:
    if provider_slug is None:
        if principal.token is None:
            raise InvalidInput("name the provider organization", field="provider")
        provider = await session.get(Organization, principal.token.organization_id)
        assert provider is not None
    else:
        provider = await accounts.get_organization(session, provider_slug)
    if not principal.has_role(provider.id, MemberRole.editor):
        principal.require_authenticated()
        raise Forbidden("only editors of the provider organization create its solutions")
    return provider


def _apply_content(solution: Solution, content: SolutionFields) -> None:
    for name, value in content.stored().items():
        setattr(solution, name, value)
    solution.is_open_source = is_open_source(solution.license)


async def _unique_slug(session: AsyncSession, wanted: str) -> str:
    slug, n = wanted, 2
    while (await session.exec(select(Solution.id).where(Solution.slug == slug))).first() is not None:
        slug = f"{wanted[:95]}-{n}"
        n += 1
    return slug


def _audit(
    session: AsyncSession,
    principal: Principal | None,
    solution: Solution,
    action: str,
    from_state: str | None,
    to_state: str | None,
    reason: str | None = None,
) -> None:
    record_audit(
        session,
        action=action,
        record_type="solution",
        record_uuid=solution.uuid,
        actor_user_id=principal.user_id if principal else None,
        actor_token_id=principal.token_id if principal else None,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
    )


async def create_solution(session: AsyncSession, principal: Principal, data: SolutionCreate) -> Solution:
    principal.require_authenticated()
    provider = await _provider_for(session, principal, data.provider)
    content = SolutionFields.model_validate(data.model_dump(include=set(CONTENT_FIELDS)))
    check_terms(content.stored(), await vocabulary_index(session))
    if data.slug:
        if (await session.exec(select(Solution.id).where(Solution.slug == data.slug))).first() is not None:
            raise Conflict(f"the slug '{data.slug}' is taken", field="slug")
        slug = data.slug
    else:
        slug = await _unique_slug(session, slugify(data.name))
    if (
        data.external_id
        and (
            await session.exec(
                select(Solution.id).where(Solution.provider_id == provider.id, Solution.external_id == data.external_id)
            )
        ).first()
    ):
        raise Conflict(f"external id '{data.external_id}' is used already", field="external_id")
    solution = Solution(
        slug=slug,
        provider_id=provider.id or 0,
        external_id=data.external_id,
        name=content.name,
        summary=content.summary,
        kind=content.kind,
    )
    _apply_content(solution, content)
    session.add(solution)
    await session.flush()
    _audit(session, principal, solution, "solution.create", None, SolutionState.draft)
    return solution


def _require_editor(principal: Principal, solution: Solution) -> None:
    principal.require_authenticated()
    if not principal.has_role(solution.provider_id, MemberRole.editor):
        raise Forbidden("only editors of the provider organization change this solution")


async def update_solution(
    session: AsyncSession, principal: Principal, solution: Solution, changes: dict[str, Any], if_match: str | None
) -> Solution:
    """Edit a draft in place; an edit to a published solution becomes its pending version."""
    _require_editor(principal, solution)
    await hold_for_change(session, solution)
    accounts.check_version(solution.etag, if_match)
    external_id = changes.pop("external_id", solution.external_id)
    state = SolutionState(solution.state)
    if state in (SolutionState.submitted, SolutionState.archived):
        raise Conflict(f"a {state.value} solution cannot be edited", field="state")
    is_live = state is SolutionState.published
    if is_live and solution.pending_state == SolutionState.submitted.value:
        raise Conflict("the pending edit is under review; wait for the moderators", field="state")
    base = dict(solution.pending) if is_live and solution.pending else content_of(solution)
    base = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in base.items()}
    merged = _validated(base | changes)
    check_terms(merged.stored(), await vocabulary_index(session))
    if external_id != solution.external_id:
        if (
            external_id
            and (
                await session.exec(
                    select(Solution.id).where(
                        Solution.provider_id == solution.provider_id,
                        Solution.external_id == external_id,
                        Solution.id != solution.id,
                    )
                )
            ).first()
        ):
            raise Conflict(f"external id '{external_id}' is used already", field="external_id")
        solution.external_id = external_id
    if is_live:
        solution.pending = merged.model_dump(mode="json")
        solution.pending_state = SolutionState.draft.value if solution.pending_state is None else solution.pending_state
        _audit(session, principal, solution, "solution.edit_pending", SolutionState.published, "pending")
    else:
        _apply_content(solution, merged)
        _audit(session, principal, solution, "solution.edit", state, state)
    await session.flush()
    return solution


async def submit(session: AsyncSession, principal: Principal, solution: Solution, if_match: str | None) -> Solution:
    _require_editor(principal, solution)
    await _check_optional_version(session, solution, if_match)
    state = SolutionState(solution.state)
    if state is SolutionState.published and solution.pending is not None:
        if solution.pending_state == SolutionState.submitted.value:
            raise Conflict("the edit is submitted already", field="state")
        solution.pending_state = SolutionState.submitted.value
        solution.submitted_at = utcnow()
        _audit(session, principal, solution, "solution.submit_edit", "pending", SolutionState.submitted)
    elif state in (SolutionState.draft, SolutionState.changes_requested):
        solution.state = SolutionState.submitted.value
        solution.submitted_at = utcnow()
        _audit(session, principal, solution, "solution.submit", state, SolutionState.submitted)
    else:
        raise Conflict(f"a {state.value} solution without a pending edit cannot be submitted", field="state")
    await session.flush()
    return solution


async def _check_optional_version(session: AsyncSession, solution: Solution, if_match: str | None) -> None:
    """Check If-Match, if sent, against the latest committed version; the state checks that follow see it
    too, so two moderators publishing at once publish once."""
    await hold_for_change(session, solution)
    if if_match is not None:
        accounts.check_version(solution.etag, if_match)


def _require_moderator_for(principal: Principal, solution: Solution) -> None:
    principal.require_moderator()
    if principal.has_role(solution.provider_id, MemberRole.member):
        # Four eyes: nobody reviews the solutions of an organization they belong to.
        raise Forbidden("moderators cannot review solutions of their own organization")


async def publish(session: AsyncSession, principal: Principal, solution: Solution, if_match: str | None) -> Solution:
    _require_moderator_for(principal, solution)
    await _check_optional_version(session, solution, if_match)
    state = SolutionState(solution.state)
    if state is SolutionState.published and solution.pending_state == SolutionState.submitted.value:
        assert solution.pending is not None
        _apply_content(solution, _validated(solution.pending))
        solution.pending = None
        solution.pending_state = None
        solution.moderation_reason = None
        _audit(session, principal, solution, "solution.approve_edit", SolutionState.submitted, SolutionState.published)
    elif state is SolutionState.submitted:
        solution.state = SolutionState.published.value
        solution.published_at = solution.published_at or utcnow()
        solution.moderation_reason = None
        _audit(session, principal, solution, "solution.publish", state, SolutionState.published)
    else:
        raise Conflict(f"only submitted solutions or edits can be published; this one is {state.value}", field="state")
    await sync_facets(session, solution)
    await session.flush()
    return solution


async def request_changes(
    session: AsyncSession, principal: Principal, solution: Solution, reason: str, if_match: str | None
) -> Solution:
    _require_moderator_for(principal, solution)
    await _check_optional_version(session, solution, if_match)
    state = SolutionState(solution.state)
    if state is SolutionState.published and solution.pending_state == SolutionState.submitted.value:
        solution.pending_state = SolutionState.changes_requested.value
        _audit(
            session,
            principal,
            solution,
            "solution.request_changes_edit",
            SolutionState.submitted,
            SolutionState.changes_requested,
            reason,
        )
    elif state is SolutionState.submitted:
        solution.state = SolutionState.changes_requested.value
        _audit(session, principal, solution, "solution.request_changes", state, SolutionState.changes_requested, reason)
    else:
        raise Conflict(
            f"changes can be requested only for submitted solutions; this one is {state.value}", field="state"
        )
    solution.moderation_reason = reason
    await session.flush()
    return solution


async def archive(
    session: AsyncSession, principal: Principal, solution: Solution, reason: str | None, if_match: str | None
) -> Solution:
    principal.require_authenticated()
    if not (principal.is_moderator or principal.has_role(solution.provider_id, MemberRole.editor)):
        raise Forbidden("only moderators and editors of the provider archive a solution")
    await _check_optional_version(session, solution, if_match)
    if solution.state != SolutionState.published.value:
        raise Conflict(f"only published solutions can be archived; this one is {solution.state}", field="state")
    solution.state = SolutionState.archived.value
    solution.pending = None
    solution.pending_state = None
    await session.exec(delete(SolutionFacet).where(col(SolutionFacet.solution_id) == solution.id))
    _audit(session, principal, solution, "solution.archive", SolutionState.published, SolutionState.archived, reason)
    await session.flush()
    return solution


async def delete_draft(session: AsyncSession, principal: Principal, solution: Solution, if_match: str | None) -> None:
    _require_editor(principal, solution)
    await _check_optional_version(session, solution, if_match)
    if solution.published_at is not None or solution.state in (SolutionState.published, SolutionState.archived):
        raise Conflict("only drafts that were never published can be deleted; archive published ones", field="state")
    solution.deleted_at = utcnow()
    _audit(session, principal, solution, "solution.delete", solution.state, "deleted")
    await session.flush()


async def sync_facets(session: AsyncSession, solution: Solution) -> None:
    """Rewrite the facet rows of a published solution from its public content."""
    await session.exec(delete(SolutionFacet).where(col(SolutionFacet.solution_id) == solution.id))
    if solution.state != SolutionState.published.value:
        return
    for field_name in FACET_FIELDS:
        for term in getattr(solution, field_name) or []:
            session.add(SolutionFacet(solution_id=solution.id or 0, vocabulary=field_name, term=term))


# --- bulk upsert -------------------------------------------------------------------------------------------


@dataclass
class BulkResult:
    created: list[Solution]
    updated: list[Solution]
    unchanged: list[Solution]


async def bulk_upsert(
    session: AsyncSession, principal: Principal, provider: Organization, items: list[dict[str, Any]]
) -> BulkResult:
    """Create or update a vendor's solutions by external id, all or nothing: any bad item fails the whole
    request with every item's errors listed, and nothing is written."""
    if not principal.has_role(provider.id, MemberRole.editor):
        principal.require_authenticated()
        raise Forbidden("only editors of the provider organization upsert its solutions")
    index = await vocabulary_index(session)
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[str, SolutionFields, str | None]] = []
    seen: set[str] = set()
    for position, item in enumerate(items):
        external_id = item.get("external_id")
        if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 100:
            errors.append(
                {
                    "index": position,
                    "external_id": None,
                    "field": "external_id",
                    "detail": "each item needs an external_id (1–100 characters)",
                }
            )
            continue
        if external_id in seen:
            errors.append(
                {
                    "index": position,
                    "external_id": external_id,
                    "field": "external_id",
                    "detail": "external_id appears twice in this request",
                }
            )
            continue
        seen.add(external_id)
        slug = item.get("slug")
        try:
            content = _validated({k: v for k, v in item.items() if k not in ("external_id", "slug")})
            check_terms(content.stored(), index)
        except Problem as problem:
            errors.append(
                {"index": position, "external_id": external_id, "field": problem.field, "detail": problem.detail}
            )
            continue
        parsed.append((external_id, content, slug if isinstance(slug, str) else None))
    if errors:
        raise InvalidInput(
            f"{len(errors)} of {len(items)} items are invalid; nothing was written",
            errors=[{"field": f"items[{e['index']}].{e['field']}", **e} for e in errors],
        )
    existing = {
        s.external_id: s
        for s in await session.exec(
            select(Solution).where(
                Solution.provider_id == provider.id,
                col(Solution.external_id).in_(seen),
                col(Solution.deleted_at).is_(None),
            )
        )
    }
    result = BulkResult([], [], [])
    for external_id, content, slug in parsed:
        solution = existing.get(external_id)
        if solution is None:
            data = SolutionCreate.model_validate(
                content.model_dump(mode="json") | {"external_id": external_id, "provider": provider.slug, "slug": slug}
            )
            result.created.append(await create_solution(session, principal, data))
            continue
        current = SolutionFields.model_validate(
            solution.pending if solution.pending is not None else content_of(solution)
        ).model_dump(mode="json")
        wanted = content.model_dump(mode="json")
        if current == wanted:
            result.unchanged.append(solution)
            continue
        if (
            solution.state in (SolutionState.submitted, SolutionState.archived)
            or solution.pending_state == SolutionState.submitted.value
        ):
            raise Conflict(
                f"'{external_id}' is {solution.state} and cannot be changed now",
                field="items",
                errors=[{"field": "items", "external_id": external_id, "detail": f"state {solution.state}"}],
            )
        result.updated.append(await update_solution(session, principal, solution, wanted, solution.etag))
    return result


# --- references (Nachnutzung) ------------------------------------------------------------------------------


async def _adopters_count(session: AsyncSession, solution: Solution) -> int:
    return int(
        (
            await session.exec(
                select(func.count())
                .select_from(Reference)
                .where(Reference.solution_id == solution.id, col(Reference.deleted_at).is_(None))
            )
        ).one()
    )


def _require_reference_rights(principal: Principal, org: Organization, what: str) -> None:
    """Members of the public body record and withdraw its references; a token needs the write scope."""
    principal.require_authenticated()
    if not principal.has_role(org.id, MemberRole.member) or (
        principal.token is not None and not principal.has_role(org.id, MemberRole.editor)
    ):
        raise Forbidden(f"only members of the municipality {what}")


async def _reference(session: AsyncSession, solution: Solution, org: Organization) -> Reference | None:
    return (
        await session.exec(
            select(Reference).where(Reference.solution_id == solution.id, Reference.organization_id == org.id)
        )
    ).first()


async def _reference_changed(
    session: AsyncSession,
    principal: Principal,
    solution: Solution,
    org: Organization,
    reference: Reference,
    action: str,
) -> None:
    """Recount the adopters and audit the change (claim or withdraw)."""
    await session.flush()
    solution.adopters_count = await _adopters_count(session, solution)
    record_audit(
        session,
        action=action,
        record_type="reference",
        record_uuid=reference.uuid,
        actor_user_id=principal.user_id,
        actor_token_id=principal.token_id,
        data={"solution": solution.slug, "organization": org.slug},
    )
    await session.flush()


async def claim_reference(
    session: AsyncSession, principal: Principal, solution: Solution, org: Organization, data: ReferenceIn
) -> Reference:
    _require_reference_rights(principal, org, "record what it uses")
    if not org.is_public_body:
        raise InvalidInput(
            "only public bodies (Kommune, Landkreis, Verbund, Land) record references", field="organization"
        )
    if solution.state != SolutionState.published.value:
        raise Conflict("references can be recorded only for published solutions", field="solution")
    if data.mode not in (await vocabulary_index(session)).get("reference-modes", set()):
        raise InvalidInput(f"'{data.mode}' is not a reference mode", field="mode")
    reference = await _reference(session, solution, org)
    if reference is None:
        reference = Reference(solution_id=solution.id or 0, organization_id=org.id or 0, mode=data.mode)
        session.add(reference)
    reference.since, reference.mode, reference.statement = data.since, data.mode, data.statement
    reference.deleted_at = None
    await _reference_changed(session, principal, solution, org, reference, "reference.claim")
    return reference


async def withdraw_reference(
    session: AsyncSession, principal: Principal, solution: Solution, org: Organization
) -> None:
    _require_reference_rights(principal, org, "withdraw what it recorded")
    reference = await _reference(session, solution, org)
    if reference is None or reference.deleted_at is not None:
        raise NotFound("this organization has not recorded that it uses this solution", field="organization")
    reference.deleted_at = utcnow()
    await _reference_changed(session, principal, solution, org, reference, "reference.withdraw")


async def references_of(session: AsyncSession, org: Organization) -> list[ReferenceOut]:
    """What an organization uses (published solutions only)."""
    rows = await session.exec(
        select(Reference, Solution)
        .join(Solution, col(Solution.id) == Reference.solution_id)
        .where(
            Reference.organization_id == org.id,
            col(Reference.deleted_at).is_(None),
            Solution.state == SolutionState.published.value,
        )
        .order_by(col(Solution.name))
    )
    return [
        ReferenceOut(
            solution=s.slug,
            solution_name=s.name,
            organization=_org_ref(org),
            since=r.since,
            mode=r.mode,
            statement=r.statement,
            claimed_at=r.claimed_at,
        )
        for r, s in rows
    ]


async def token_organization(session: AsyncSession, principal: Principal) -> Organization:
    """The organization a vendor token acts for (bulk upsert without ?provider=)."""
    if principal.token is None:
        principal.require_authenticated()
        raise InvalidInput("name the provider with ?provider=<slug>", field="provider")
    org = await session.get(Organization, principal.token.organization_id)
    assert org is not None
    return org


async def published_in_stage(session: AsyncSession, stage: str) -> list[Solution]:
    """Published solutions tagged with a Stufenplan stage, by name (for the stage navigation)."""
    rows = await session.exec(
        select(Solution)
        .join(SolutionFacet, col(SolutionFacet.solution_id) == col(Solution.id))
        .where(
            SolutionFacet.vocabulary == "stages",
            SolutionFacet.term == stage,
            Solution.state == SolutionState.published.value,
            col(Solution.deleted_at).is_(None),
        )
        .order_by(col(Solution.name))
    )
    return list(rows)


# --- search documents ------------------------------------------------------------------------------------

SOLUTION_DOCUMENT = "solution"


async def vocabulary_labels(session: AsyncSession) -> dict[tuple[str, str], list[str]]:
    """(vocabulary, key) → its German and English labels: search finds a term by either language."""
    rows = await session.exec(select(VocabularyTerm))
    return {(t.vocabulary_key, t.key): [t.label_de, t.label_en] for t in rows}


def _labels(labels: dict[tuple[str, str], list[str]], vocabulary: str, keys: Iterable[str]) -> list[str]:
    return [label for key in keys for label in labels.get((vocabulary, key), [key])]


async def _solution_document(
    session: AsyncSession, solution: Solution, provider: Organization, labels: dict[tuple[str, str], list[str]]
) -> dict[str, Any]:
    adopters = list(
        await session.exec(
            select(Organization)
            .join(Reference, col(Reference.organization_id) == col(Organization.id))
            .where(Reference.solution_id == solution.id, col(Reference.deleted_at).is_(None))
        )
    )
    tags = (
        _labels(labels, "sectors", solution.sectors)
        + _labels(labels, "standards", solution.standards)
        + _labels(labels, "areas", solution.areas)
        + _labels(labels, "solution-kinds", [solution.kind])
    )
    return {
        "id": f"{SOLUTION_DOCUMENT}:{solution.uuid}",
        "type": SOLUTION_DOCUMENT,
        "slug": solution.slug,
        "title": solution.name,
        "summary": solution.summary,
        "body": markdown.to_plain_text(solution.description, max_bytes=DESCRIPTION_MAX_BYTES),
        "tags": tags,
        "provider": provider.name,
        "places": [o.name for o in adopters],
        "stage": solution.stages,
        "sector": solution.sectors,
        "area": solution.areas,
        "standard": solution.standards,
        "hosting": solution.hosting_options,
        "license_type": license_type(solution),
        "development_status": solution.development_status or "unknown",
        "bundesland": sorted({o.bundesland for o in adopters if o.bundesland}),
        "name": solution.name.casefold(),
        "adopters": solution.adopters_count,
        "published": solution.published_at.timestamp() if solution.published_at else 0,
    }


async def solution_documents(
    session: AsyncSession, solution_ids: Sequence[int]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Current public documents of these solutions; non-public ones (drafts, archived, deleted) to delete."""
    rows = list(await session.exec(select(Solution).where(col(Solution.id).in_(solution_ids))))
    providers = await accounts.organizations_by_ids(session, {s.provider_id for s in rows})
    labels = await vocabulary_labels(session)
    upserts, deletes = [], []
    for solution in rows:
        if solution.state == SolutionState.published.value and not solution.is_deleted:
            upserts.append(await _solution_document(session, solution, providers[solution.provider_id], labels))
        else:
            deletes.append(f"{SOLUTION_DOCUMENT}:{solution.uuid}")
    return upserts, deletes


async def solution_ids_for(session: AsyncSession, record_type: str, uuids: Sequence[uuid.UUID]) -> list[int]:
    """Which solutions' documents a change to a solution, reference or organization touches."""
    if record_type == "solution":
        query = select(Solution.id).where(col(Solution.uuid).in_(uuids))
    elif record_type == "reference":
        query = select(Reference.solution_id).where(col(Reference.uuid).in_(uuids))
    else:  # organization: as provider or as adopter
        org_ids = select(Organization.id).where(col(Organization.uuid).in_(uuids))
        query = select(Solution.id).where(
            or_(
                col(Solution.provider_id).in_(org_ids),
                col(Solution.id).in_(select(Reference.solution_id).where(col(Reference.organization_id).in_(org_ids))),
            )
        )
    return [i for i in await session.exec(query) if i is not None]


async def all_solution_documents(session: AsyncSession) -> AsyncIterator[dict[str, Any]]:
    ids = list(
        await session.exec(
            select(Solution.id).where(
                Solution.state == SolutionState.published.value, col(Solution.deleted_at).is_(None)
            )
        )
    )
    for start in range(0, len(ids), 200):
        upserts, _ = await solution_documents(session, [i for i in ids[start : start + 200] if i is not None])
        for document in upserts:
            yield document


# --- for other domains: what they may know of the catalog ----------------------------------------------------
#
# Other packages (offer requests) address solutions and their providers but do not read the catalog's
# tables: they call these and get plain values back.


@dataclass(frozen=True)
class SolutionSummary:
    """A solution as other domains see it: its local id, slug, name and provider, and whether it is live."""

    id: int
    slug: str
    name: str
    provider_id: int
    published: bool  # published and not deleted: what the public sees


def _summary(solution: Solution) -> SolutionSummary:
    return SolutionSummary(
        id=solution.id or 0,
        slug=solution.slug,
        name=solution.name,
        provider_id=solution.provider_id,
        published=not solution.is_deleted and solution.state == SolutionState.published.value,
    )


async def solution_by_slug(session: AsyncSession, slug: str) -> SolutionSummary | None:
    """The solution with this slug in whatever state (deleted ones too; see ``published``), or None."""
    solution = (await session.exec(select(Solution).where(Solution.slug == slug))).first()
    return _summary(solution) if solution is not None else None


async def solution_by_id(session: AsyncSession, solution_id: int) -> SolutionSummary | None:
    """The solution with this local id in whatever state (deleted ones too; see ``published``), or None."""
    solution = await session.get(Solution, solution_id)
    return _summary(solution) if solution is not None else None


async def providers_of_matching_solutions(
    session: AsyncSession, sectors: Sequence[str], standards: Sequence[str], *, excluding_provider_id: int
) -> list[tuple[int, int]]:
    """(provider organization, its first matching solution) for every provider of a published solution that
    carries one of ``sectors`` and one of ``standards`` (an empty list does not narrow), by solution id, leaving
    out ``excluding_provider_id`` (a body does not ask itself). A market exploration goes to these providers."""
    query = select(Solution.provider_id, Solution.id).where(
        Solution.state == SolutionState.published.value,
        col(Solution.deleted_at).is_(None),
        Solution.provider_id != excluding_provider_id,
    )
    for vocabulary, terms in (("sectors", sectors), ("standards", standards)):
        if terms:
            query = query.where(
                exists().where(
                    col(SolutionFacet.solution_id) == col(Solution.id),
                    col(SolutionFacet.vocabulary) == vocabulary,
                    col(SolutionFacet.term).in_(terms),
                )
            )
    vendors: dict[int, int] = {}
    for provider_id, solution_id in await session.exec(query.order_by(col(Solution.id))):
        vendors.setdefault(provider_id, solution_id or 0)
    return list(vendors.items())


# --- offer requests (Angebotsanfragen), bundled demand and offers: issue 7 ---------------------------------
#
# Who sees what is decided here, never in the controllers. A caller relates to a request through the
# organizations it belongs to (a token: its one organization):
#
# - requester: a member of the requesting public body (always a participant too);
# - participant: a member of a public body in the bundle (joined and not left);
# - vendor: a member of a vendor the request is addressed to (from the moment it opens);
# - prospect: a member of any other public body, while the request is open (so it can join).
#
# Nobody else sees a request: anonymous callers, vendors not addressed, moderators and admins get a
# 404, as if it did not exist. A caller who sees a request but may not do an action gets a 403.
# Offers are sealed while the request is open: participants see who answered, the content only after
# the deadline. A vendor only ever sees its own offer and its own thread.
#
# Writers lock the request row (SELECT … FOR UPDATE; a no-op on SQLite, which serialises writers
# anyway), so a join, a leave and an offer revision never interleave. An offer is priced for a bundle
# version; a revision for an outdated bundle is a 409, and offers priced before a participant left are
# flagged, never silently rewritten. Revisions are append-only rows.

OFFER_REQUEST_RECORD = "offer_request"
OFFER_RECORD = "offer"
MAX_DEADLINE_AHEAD = timedelta(days=366)
REMINDER_BEFORE = timedelta(days=1)
# Offers are opened at the deadline: a request withdrawn before it keeps them sealed for good.
_OPENED_STATES = (OfferRequestState.closed.value, OfferRequestState.awarded.value, OfferRequestState.not_awarded.value)
_DECIDED_STATES = (OfferRequestState.awarded.value, OfferRequestState.not_awarded.value)
try:
    _LOCAL_TIME: tzinfo = ZoneInfo("Europe/Berlin")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without time zone data
    _LOCAL_TIME = UTC


@dataclass
class Relation:
    """How the caller relates to one offer request (see above)."""

    request: OfferRequest
    requester: bool = False
    participant_orgs: set[int] = field(default_factory=set)
    vendor_orgs: set[int] = field(default_factory=set)
    prospect_orgs: set[int] = field(default_factory=set)

    @property
    def participant(self) -> bool:
        return bool(self.participant_orgs)

    @property
    def vendor(self) -> bool:
        return bool(self.vendor_orgs)

    @property
    def prospect(self) -> bool:
        return bool(self.prospect_orgs)

    @property
    def visible(self) -> bool:
        return self.participant or self.vendor or self.prospect

    @property
    def labels(self) -> list[str]:
        labels = ["requester"] if self.requester else []
        labels += ["participant"] if self.participant else []
        labels += ["vendor"] if self.vendor else []
        labels += ["prospect"] if self.prospect and not self.participant else []
        return labels


def _local(moment: datetime) -> str:
    return moment.astimezone(_LOCAL_TIME).strftime("%d.%m.%Y, %H:%M Uhr")


def _may_act(principal: Principal, organization_id: int | None, at_least: MemberRole = MemberRole.member) -> bool:
    """Users act for an organization with the given role; tokens need the write scope (editor)."""
    if principal.token is not None:
        return principal.has_role(organization_id, MemberRole.editor)
    return principal.has_role(organization_id, at_least)


async def _public_bodies_among(session: AsyncSession, organization_ids: Iterable[int]) -> set[int]:
    ids = set(organization_ids)
    if not ids:
        return set()
    rows = await session.exec(
        select(Organization.id).where(
            col(Organization.id).in_(ids),
            col(Organization.kind).in_([k.value for k in PUBLIC_BODY_KINDS]),
            col(Organization.deleted_at).is_(None),
        )
    )
    return {i for i in rows if i is not None}


async def _active_participant_ids(session: AsyncSession, request: OfferRequest) -> set[int]:
    rows = await session.exec(
        select(OfferRequestParticipant.organization_id).where(
            OfferRequestParticipant.request_id == request.id, col(OfferRequestParticipant.left_at).is_(None)
        )
    )
    return set(rows)


async def _vendor_ids(session: AsyncSession, request: OfferRequest) -> set[int]:
    rows = await session.exec(
        select(OfferRequestVendor.organization_id).where(OfferRequestVendor.request_id == request.id)
    )
    return set(rows)


async def relation_to(session: AsyncSession, principal: Principal, request: OfferRequest) -> Relation:
    relation = Relation(request)
    mine = set(principal.roles)
    if not mine:
        return relation
    active = await _active_participant_ids(session, request)
    relation.participant_orgs = mine & active
    relation.requester = request.requester_id in mine
    if request.state != OfferRequestState.draft.value:
        relation.vendor_orgs = mine & await _vendor_ids(session, request)
    if request.state == OfferRequestState.open.value:
        relation.prospect_orgs = await _public_bodies_among(session, mine - active)
    return relation


async def load_offer_request(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, *, lock: bool = False
) -> Relation:
    """The request with the caller's relation to it; 404 unless the caller may see it."""
    if not principal.roles:  # anonymous callers, moderators and admins: nothing to see, nothing to lock
        raise NotFound("no such offer request (or it is not visible to you)", field="offer_request")
    query = select(OfferRequest).where(OfferRequest.uuid == request_uuid)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    request = (await session.exec(query)).first()
    relation = await relation_to(session, principal, request) if request is not None else None
    if relation is None or not relation.visible:
        raise NotFound("no such offer request (or it is not visible to you)", field="offer_request")
    return relation


def _require_requester(principal: Principal, relation: Relation) -> None:
    if not (relation.requester and _may_act(principal, relation.request.requester_id)):
        raise Forbidden("only the requesting public body does this (API tokens need the write scope)")


def _touch(request: OfferRequest, now: datetime) -> None:
    request.version += 1
    request.updated_at = now


def _audit_offer_request(
    session: AsyncSession,
    principal: Principal | None,
    request: OfferRequest,
    action: str,
    from_state: str | None,
    to_state: str | None,
    *,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    record_type: str = OFFER_REQUEST_RECORD,
    record_uuid: uuid.UUID | None = None,
) -> None:
    record_audit(
        session,
        action=action,
        record_type=record_type,
        record_uuid=record_uuid or request.uuid,
        actor_user_id=principal.user_id if principal else None,
        actor_token_id=principal.token_id if principal else None,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data={"offer_request": str(request.uuid)} | (data or {}),
    )


async def _organization_named(session: AsyncSession, slug: str, field_name: str, *, body: bool) -> Organization:
    org = (await session.exec(select(Organization).where(Organization.slug == slug))).first()
    if org is None or org.is_deleted:
        if body:
            raise InvalidInput(f"no organization '{slug}'", field=field_name)
        raise NotFound(f"no organization '{slug}'", field=field_name)
    return org


# --- notifications -------------------------------------------------------------------------------------


async def _recipients(session: AsyncSession, organization_ids: Iterable[int]) -> list[notifications.Recipient]:
    ids = set(organization_ids)
    if not ids:
        return []
    rows = await session.exec(
        select(User.id, User.email)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(col(Membership.organization_id).in_(ids), col(User.is_active).is_(True))
        .order_by(col(User.id))
    )
    return [notifications.Recipient(user_id=user_id or 0, email=email) for user_id, email in rows]


def offer_request_link(request: OfferRequest) -> str:
    return f"/anfragen/{request.uuid}"  # the web page: mails and the inbox link people, not API clients


async def _notify(
    session: AsyncSession,
    request: OfferRequest,
    organization_ids: Iterable[int],
    kind: str,
    subject: str,
    body: str,
    *,
    exclude: Iterable[int] = (),
) -> None:
    ids = set(organization_ids) - set(exclude)
    notifications.notify(
        session,
        await _recipients(session, ids),
        kind,
        subject,
        body,
        link=offer_request_link(request),
        record_uuid=request.uuid,
    )


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")  # German digit grouping: 1.620.000


def _bundle_line(participants: Sequence[OfferRequestParticipant]) -> str:
    return (
        f"Gebündelter Bedarf: {len(participants)} Teilnehmende, "
        f"{_number(sum(p.inhabitants for p in participants))} Einwohnerinnen und Einwohner, "
        f"{_number(sum(p.users for p in participants))} Nutzende, "
        f"{_number(sum(p.sites for p in participants))} Standorte."
    )


async def _offer_vendor_ids(session: AsyncSession, request: OfferRequest) -> set[int]:
    return set(await session.exec(select(Offer.vendor_id).where(Offer.request_id == request.id)))


# --- creating and editing ----------------------------------------------------------------------------------


def _check_schedule(fields: OfferRequestFields, now: datetime) -> datetime:
    deadline = fields.deadline.astimezone(UTC)
    if deadline <= now:
        raise InvalidInput("the deadline for offers lies in the past", field="deadline")
    if deadline > now + MAX_DEADLINE_AHEAD:
        raise InvalidInput("the deadline for offers is more than a year ahead", field="deadline")
    if fields.desired_start is not None and fields.desired_start < deadline.date():
        raise InvalidInput("the desired start lies before the deadline for offers", field="desired_start")
    return deadline


async def _addressing(
    session: AsyncSession, fields: OfferRequestFields, requester: Organization
) -> tuple[OfferRequestKind, SolutionSummary | None]:
    if fields.solution:
        solution = await solution_by_slug(session, fields.solution)
        if solution is None or not solution.published:
            raise InvalidInput(
                f"'{fields.solution}' is not a published solution; offers are requested for published ones only",
                field="solution",
            )
        if solution.provider_id == requester.id:
            raise InvalidInput("this solution is provided by the requesting organization itself", field="solution")
        return OfferRequestKind.solution, solution
    check_terms({"sectors": fields.sectors, "standards": fields.standards}, await vocabulary_index(session))
    return OfferRequestKind.exploration, None


def _apply_request_fields(
    request: OfferRequest,
    fields: OfferRequestFields,
    deadline: datetime,
    kind: OfferRequestKind,
    solution: SolutionSummary | None,
) -> None:
    request.kind = kind.value
    request.solution_id = solution.id if solution else None
    request.sectors = list(fields.sectors)
    request.standards = list(fields.standards)
    request.title = fields.title
    request.need = fields.need
    request.desired_start = fields.desired_start
    request.deadline = deadline
    request.budget_min_cents = fields.budget.min_cents if fields.budget else None
    request.budget_max_cents = fields.budget.max_cents if fields.budget else None
    request.procurement_notes = fields.procurement_notes


async def create_offer_request(
    session: AsyncSession, principal: Principal, data: OfferRequestCreate, *, now: datetime | None = None
) -> OfferRequest:
    """A draft, with the requester as the first participant of the bundle."""
    principal.require_authenticated()
    now = now or utcnow()
    org = await _organization_named(session, data.organization, "organization", body=True)
    if not _may_act(principal, org.id):
        raise Forbidden("only members of the public body request offers for it", field="organization")
    if not org.is_public_body:
        raise InvalidInput(
            "only public bodies (Kommune, Landkreis, Verbund, Land) request offers", field="organization"
        )
    deadline = _check_schedule(data, now)
    kind, solution = await _addressing(session, data, org)
    request = OfferRequest(
        requester_id=org.id or 0,
        created_by_user_id=principal.user_id,
        kind=kind.value,
        title=data.title,
        deadline=deadline,
        created_at=now,
        updated_at=now,
    )
    _apply_request_fields(request, data, deadline, kind, solution)
    session.add(request)
    await session.flush()
    session.add(
        OfferRequestParticipant(
            request_id=request.id or 0, organization_id=org.id or 0, joined_at=now, **data.quantities.model_dump()
        )
    )
    _audit_offer_request(session, principal, request, "offer_request.create", None, OfferRequestState.draft)
    await session.flush()
    return request


async def _requester_row(session: AsyncSession, request: OfferRequest) -> OfferRequestParticipant:
    row = (
        await session.exec(
            select(OfferRequestParticipant).where(
                OfferRequestParticipant.request_id == request.id,
                OfferRequestParticipant.organization_id == request.requester_id,
            )
        )
    ).one()
    return row


async def _request_fields(session: AsyncSession, request: OfferRequest) -> dict[str, Any]:
    """The stored request as the input it came from (for merging a partial update)."""
    solution = await solution_by_id(session, request.solution_id) if request.solution_id else None
    own = await _requester_row(session, request)
    budget = None
    if request.budget_min_cents is not None or request.budget_max_cents is not None:
        budget = {"min_cents": request.budget_min_cents, "max_cents": request.budget_max_cents, "currency": "EUR"}
    return {
        "title": request.title,
        "need": request.need,
        "quantities": {"inhabitants": own.inhabitants, "users": own.users, "sites": own.sites},
        "desired_start": request.desired_start,
        "deadline": request.deadline,
        "budget": budget,
        "procurement_notes": request.procurement_notes,
        "solution": solution.slug if solution else None,
        "sectors": list(request.sectors),
        "standards": list(request.standards),
    }


async def update_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    changes: dict[str, Any],
    if_match: str | None,
    *,
    now: datetime | None = None,
) -> OfferRequest:
    """Edit a draft (If-Match required). Once open, a request no longer changes: it was sent."""
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    _require_requester(principal, relation)
    accounts.check_version(request.etag, if_match)
    if request.state != OfferRequestState.draft.value:
        raise Conflict(f"only drafts can be edited; this request is {request.state}", field="state")
    try:
        merged = OfferRequestFields.model_validate((await _request_fields(session, request)) | changes)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None
    deadline = _check_schedule(merged, now)
    requester = await session.get(Organization, request.requester_id)
    assert requester is not None
    kind, solution = await _addressing(session, merged, requester)
    _apply_request_fields(request, merged, deadline, kind, solution)
    own = await _requester_row(session, request)
    own.inhabitants, own.users, own.sites = (
        merged.quantities.inhabitants,
        merged.quantities.users,
        merged.quantities.sites,
    )
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.update",
        request.state,
        request.state,
        data={"fields": sorted(changes)},
    )
    await session.flush()
    return request


async def _matching_vendors(session: AsyncSession, request: OfferRequest) -> list[tuple[int, int]]:
    """(vendor organization, the solution that matched) for every vendor the request goes to."""
    if request.kind == OfferRequestKind.solution.value:
        solution = await solution_by_id(session, request.solution_id) if request.solution_id else None
        if solution is None or not solution.published:
            raise InvalidInput("the solution is no longer published; edit the draft", field="solution")
        return [(solution.provider_id, solution.id)]
    return await providers_of_matching_solutions(
        session, request.sectors, request.standards, excluding_provider_id=request.requester_id
    )


def _check_optional_request_version(request: OfferRequest, if_match: str | None) -> None:
    if if_match is not None:
        accounts.check_version(request.etag, if_match)


async def open_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    if_match: str | None = None,
    *,
    now: datetime | None = None,
) -> OfferRequest:
    """draft → open: fixes the addressed vendors and tells them."""
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    _require_requester(principal, relation)
    _check_optional_request_version(request, if_match)
    if request.state != OfferRequestState.draft.value:
        raise Conflict(f"only a draft can be opened; this request is {request.state}", field="state")
    if request.deadline <= now:
        raise InvalidInput("the deadline for offers has passed; set a new one in the draft", field="deadline")
    vendors = await _matching_vendors(session, request)
    if not vendors:
        raise InvalidInput(
            "no published solution matches these sectors and standards, so no vendor would receive the request",
            field="sectors" if request.sectors else "standards",
        )
    for vendor_id, solution_id in vendors:
        session.add(
            OfferRequestVendor(
                request_id=request.id or 0, organization_id=vendor_id, solution_id=solution_id, added_at=now
            )
        )
    request.state = OfferRequestState.open.value
    request.opened_at = now
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.open",
        OfferRequestState.draft,
        OfferRequestState.open,
        data={"vendors": sorted(v for v, _ in vendors)},
    )
    await session.flush()
    requester = await session.get(Organization, request.requester_id)
    participants = await _active_participants(session, request)
    await _notify(
        session,
        request,
        (v for v, _ in vendors),
        "offer_request.new",
        f"Neue Angebotsanfrage: {request.title}",
        f"{requester.name if requester else 'Eine Kommune'} bittet Sie um ein Angebot: „{request.title}“.\n"
        f"Angebote werden bis {_local(request.deadline)} angenommen.\n"
        f"{_bundle_line([p for p, _ in participants])}",
    )
    return request


async def withdraw_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    reason: str | None,
    if_match: str | None = None,
    *,
    now: datetime | None = None,
) -> OfferRequest:
    """draft or open → withdrawn."""
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    _require_requester(principal, relation)
    _check_optional_request_version(request, if_match)
    previous = request.state
    if previous not in (OfferRequestState.draft.value, OfferRequestState.open.value):
        raise Conflict(f"only a draft or an open request can be withdrawn; this one is {previous}", field="state")
    request.state = OfferRequestState.withdrawn.value
    request.withdrawn_at = now
    _touch(request, now)
    _audit_offer_request(
        session, principal, request, "offer_request.withdraw", previous, OfferRequestState.withdrawn, reason=reason
    )
    await session.flush()
    if previous == OfferRequestState.open.value:
        await _notify(
            session,
            request,
            (await _active_participant_ids(session, request)) | await _vendor_ids(session, request),
            "offer_request.withdrawn",
            f"Angebotsanfrage zurückgezogen: {request.title}",
            f"Die Angebotsanfrage „{request.title}“ wurde zurückgezogen." + (f"\nGrund: {reason}" if reason else ""),
            exclude={request.requester_id},
        )
    return request


# --- the bundle (Bedarfsbündelung) --------------------------------------------------------------------------


async def _active_participant(
    session: AsyncSession, request: OfferRequest, org: Organization
) -> OfferRequestParticipant:
    """The organization's current place in the bundle; 404 when it has none (never joined, or left)."""
    participant = (
        await session.exec(
            select(OfferRequestParticipant).where(
                OfferRequestParticipant.request_id == request.id,
                OfferRequestParticipant.organization_id == org.id,
                col(OfferRequestParticipant.left_at).is_(None),
            )
        )
    ).first()
    if participant is None:
        raise NotFound(f"'{org.slug}' does not take part in this request", field="organization")
    return participant


async def _active_participants(
    session: AsyncSession, request: OfferRequest
) -> list[tuple[OfferRequestParticipant, Organization]]:
    rows = await session.exec(
        select(OfferRequestParticipant, Organization)
        .join(Organization, col(Organization.id) == col(OfferRequestParticipant.organization_id))
        .where(OfferRequestParticipant.request_id == request.id, col(OfferRequestParticipant.left_at).is_(None))
        .order_by(col(OfferRequestParticipant.joined_at), col(OfferRequestParticipant.id))
    )
    return [(p, o) for p, o in rows]


def _accepts_changes(request: OfferRequest, now: datetime, what: str) -> None:
    if request.state != OfferRequestState.open.value:
        raise Conflict(f"the request is {request.state}; {what}", field="state")
    if request.deadline <= now:
        raise Conflict(f"the deadline has passed ({request.deadline.isoformat()}); {what}", field="state")


async def join_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    organization_slug: str,
    quantities: Quantities,
    *,
    now: datetime | None = None,
) -> tuple[OfferRequest, bool]:
    """Join the bundle with the organization's own quantities, or change them. True if it joined now."""
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    org = await _organization_named(session, organization_slug, "organization", body=False)
    if not _may_act(principal, org.id):
        raise Forbidden(f"only members of '{org.slug}' add it to the bundle (API tokens need the write scope)")
    if not org.is_public_body:
        raise InvalidInput("only public bodies join a request; vendors answer it", field="organization")
    participant = (
        await session.exec(
            select(OfferRequestParticipant).where(
                OfferRequestParticipant.request_id == request.id, OfferRequestParticipant.organization_id == org.id
            )
        )
    ).first()
    is_requester_draft = request.state == OfferRequestState.draft.value and org.id == request.requester_id
    if not is_requester_draft:
        _accepts_changes(request, now, "the bundle can no longer change")
    joined = participant is None or participant.left_at is not None
    wanted = quantities.model_dump()
    if participant is None:
        participant = OfferRequestParticipant(request_id=request.id or 0, organization_id=org.id or 0, joined_at=now)
        session.add(participant)
    elif not joined and all(getattr(participant, k) == v for k, v in wanted.items()):
        return request, False  # nothing changed
    if joined:
        participant.left_at, participant.joined_at = None, now
        participant.acceptance, participant.accepted_at = None, None
    for key, value in wanted.items():
        setattr(participant, key, value)
    request.bundle_version += 1
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.join" if joined else "offer_request.update_quantities",
        request.state,
        request.state,
        data={"organization": org.slug, "quantities": wanted, "bundle_version": request.bundle_version},
    )
    await session.flush()
    if joined:
        participants = await _active_participants(session, request)
        await _notify(
            session,
            request,
            {request.requester_id} | await _vendor_ids(session, request),
            "offer_request.participant_joined",
            f"{org.name} schließt sich an: {request.title}",
            f"{org.name} hat sich der Angebotsanfrage „{request.title}“ angeschlossen.\n"
            f"{_bundle_line([p for p, _ in participants])}",
            exclude={org.id or 0},
        )
    return request, joined


async def leave_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    organization_slug: str,
    *,
    now: datetime | None = None,
) -> OfferRequest:
    """A participant leaves the bundle before the deadline; the requester cannot (it withdraws)."""
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    org = await _organization_named(session, organization_slug, "organization", body=False)
    participant = await _active_participant(session, request, org)
    if not _may_act(principal, org.id):
        raise Forbidden(f"only members of '{org.slug}' take it out of the bundle")
    if org.id == request.requester_id:
        raise Conflict("the requester cannot leave its own request; withdraw it instead", field="organization")
    _accepts_changes(request, now, "participants can no longer leave")
    participant.left_at = now
    request.bundle_version += 1
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.leave",
        request.state,
        request.state,
        data={"organization": org.slug, "bundle_version": request.bundle_version},
    )
    await session.flush()
    participants = await _active_participants(session, request)
    await _notify(
        session,
        request,
        {request.requester_id} | await _vendor_ids(session, request),
        "offer_request.participant_left",
        f"{org.name} nimmt nicht mehr teil: {request.title}",
        f"{org.name} hat die Angebotsanfrage „{request.title}“ verlassen.\n"
        f"{_bundle_line([p for p, _ in participants])}",
        exclude={org.id or 0},
    )
    return request


def _participant_out(participant: OfferRequestParticipant, org: Organization, requester_id: int) -> ParticipantOut:
    return ParticipantOut(
        organization=_org_ref(org),
        quantities=QuantitiesOut(inhabitants=participant.inhabitants, users=participant.users, sites=participant.sites),
        requester=org.id == requester_id,
        joined_at=participant.joined_at,
        acceptance=participant.acceptance,
    )


async def list_participants(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID
) -> Page[ParticipantOut]:
    relation = await load_offer_request(session, principal, request_uuid)
    if not (relation.participant or relation.vendor):
        raise Forbidden("the participants are shown to the participants and the addressed vendors")
    request = relation.request
    items = [_participant_out(p, o, request.requester_id) for p, o in await _active_participants(session, request)]
    return Page(items=items, total=len(items), next_cursor=None)


async def set_acceptance(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    organization_slug: str,
    accepted: bool,
    *,
    now: datetime | None = None,
) -> OfferRequest:
    """Each participant decides for itself whether to accept the preferred offer; once."""
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    org = await _organization_named(session, organization_slug, "organization", body=False)
    participant = await _active_participant(session, request, org)
    if not _may_act(principal, org.id):
        raise Forbidden(f"only members of '{org.slug}' decide for it")
    if request.state != OfferRequestState.awarded.value:
        raise Conflict(
            f"a participant accepts or declines once an offer is preferred; this request is {request.state}",
            field="state",
        )
    value = "accepted" if accepted else "declined"
    if participant.acceptance == value:
        return request
    if participant.acceptance is not None:
        raise Conflict(f"'{org.slug}' has {participant.acceptance} already", field="accepted")
    participant.acceptance, participant.accepted_at = value, now
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        f"offer_request.{'accept' if accepted else 'decline'}",
        request.state,
        request.state,
        data={"organization": org.slug, "acceptance": value},
    )
    await session.flush()
    preferred = await session.get(Offer, request.preferred_offer_id) if request.preferred_offer_id else None
    await _notify(
        session,
        request,
        await _active_participant_ids(session, request) | ({preferred.vendor_id} if preferred else set()),
        "offer_request.participant_decided",
        f"{org.name} hat {'angenommen' if accepted else 'abgelehnt'}: {request.title}",
        f"{org.name} hat das bevorzugte Angebot zu „{request.title}“ {'angenommen' if accepted else 'abgelehnt'}.",
        exclude={org.id or 0},
    )
    return request


# --- offers ---------------------------------------------------------------------------------------------------


async def _answering_vendor(
    session: AsyncSession, principal: Principal, relation: Relation, slug: str | None
) -> Organization:
    if not relation.vendor:
        raise Forbidden("only the vendors this request is addressed to answer it")
    if slug is not None:
        org = await _organization_named(session, slug, "vendor", body=True)
        if org.id not in relation.vendor_orgs:
            raise Forbidden(f"the request is not addressed to '{slug}'", field="vendor")
    elif len(relation.vendor_orgs) == 1:
        org_or_none = await session.get(Organization, next(iter(relation.vendor_orgs)))
        assert org_or_none is not None
        org = org_or_none
    else:
        raise InvalidInput("name the vendor you answer for", field="vendor")
    if not _may_act(principal, org.id, MemberRole.editor):
        raise Forbidden("offers are made by editors of the vendor or with a token that has the write scope")
    return org


def _priced_bundle(
    request: OfferRequest,
    participants: Sequence[tuple[OfferRequestParticipant, Organization]],
    data: OfferFields,
) -> list[dict[str, Any]]:
    """The bundle as the offer prices it; 409 if the bundle changed, 422 if the shares do not fit it."""
    if data.bundle_version != request.bundle_version:
        raise Conflict(
            f"the bundle changed since you priced it (it is now version {request.bundle_version}); "
            "read the request again and price the current bundle",
            field="bundle_version",
            extra={"bundle_version": request.bundle_version},
        )
    by_slug = {org.slug: (p, org) for p, org in participants}
    named = [share.organization for share in data.per_participant]
    unknown = sorted(set(named) - by_slug.keys())
    if unknown:
        raise InvalidInput(f"not in the bundle: {', '.join(unknown)}", field="per_participant")
    missing = sorted(by_slug.keys() - set(named))
    if missing:
        raise InvalidInput(f"every participant needs a share; missing: {', '.join(missing)}", field="per_participant")
    if data.valid_until < request.deadline.date():
        raise InvalidInput("the offer must be valid at least until the deadline for offers", field="valid_until")
    priced = []
    for share in data.per_participant:
        participant, org = by_slug[share.organization]
        priced.append(
            {
                "organization_id": org.id,
                "inhabitants": participant.inhabitants,
                "users": participant.users,
                "sites": participant.sites,
                "total_cents": share.total_cents,
            }
        )
    return priced


def _new_revision(
    offer: Offer, number: int, data: OfferFields, priced: list[dict[str, Any]], principal: Principal, now: datetime
) -> OfferRevision:
    return OfferRevision(
        offer_id=offer.id or 0,
        revision=number,
        created_at=now,
        created_by_user_id=principal.user_id,
        created_by_token_id=principal.token_id,
        currency=data.currency,
        items=[item.model_dump() for item in data.items],
        total_cents=data.total_cents,
        per_participant=priced,
        bundle_version=data.bundle_version,
        service_level=data.service_level,
        hosting_location=data.hosting_location,
        valid_until=data.valid_until,
        notes=data.notes,
    )


async def submit_offer(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    data: OfferCreate,
    *,
    now: datetime | None = None,
) -> Offer:
    """A vendor's first answer (revision 1). A second one is a revision of the same offer."""
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    vendor = await _answering_vendor(session, principal, relation, data.vendor)
    _accepts_changes(request, now, "offers are no longer accepted")
    existing = (
        await session.exec(select(Offer).where(Offer.request_id == request.id, Offer.vendor_id == vendor.id))
    ).first()
    if existing is not None:
        raise Conflict(
            "this vendor has answered already: revise the offer (PUT …/offers/{uuid} with If-Match)",
            field="vendor",
            extra={"offer": str(existing.uuid)},
        )
    priced = _priced_bundle(request, await _active_participants(session, request), data)
    offer = Offer(request_id=request.id or 0, vendor_id=vendor.id or 0, created_at=now, updated_at=now)
    session.add(offer)
    await session.flush()
    session.add(_new_revision(offer, 1, data, priced, principal, now))
    _audit_offer_request(
        session,
        principal,
        request,
        "offer.submit",
        None,
        "submitted",
        record_type=OFFER_RECORD,
        record_uuid=offer.uuid,
        data={"vendor": vendor.slug, "revision": 1, "total_cents": data.total_cents},
    )
    await session.flush()
    await _notify(
        session,
        request,
        await _active_participant_ids(session, request),
        "offer.submitted",
        f"Neues Angebot zu „{request.title}“",
        f"{vendor.name} hat ein Angebot zu „{request.title}“ abgegeben.\n"
        f"Die Angebote werden nach Ablauf der Frist ({_local(request.deadline)}) sichtbar.",
    )
    return offer


async def _offer_in(session: AsyncSession, relation: Relation, offer_uuid: uuid.UUID, *, lock: bool = False) -> Offer:
    """An offer of this request that the caller may see (its vendor, or a participant)."""
    query = select(Offer).where(Offer.uuid == offer_uuid, Offer.request_id == relation.request.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    offer = (await session.exec(query)).first()
    if offer is None or not (relation.participant or offer.vendor_id in relation.vendor_orgs):
        raise NotFound("no such offer (or it is not visible to you)", field="offer")
    return offer


async def revise_offer(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    offer_uuid: uuid.UUID,
    data: OfferFields,
    if_match: str | None,
    *,
    now: datetime | None = None,
) -> Offer:
    """A new revision before the deadline; every earlier one is kept. If-Match names the revision read."""
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    offer = await _offer_in(session, relation, offer_uuid, lock=True)
    if offer.vendor_id not in relation.vendor_orgs or not _may_act(principal, offer.vendor_id, MemberRole.editor):
        raise Forbidden("only the vendor's editors (or its token with the write scope) revise its offer")
    accounts.check_version(offer.etag, if_match)
    _accepts_changes(request, now, "offers can no longer be revised")
    priced = _priced_bundle(request, await _active_participants(session, request), data)
    number = offer.current_revision + 1
    offer.current_revision, offer.updated_at = number, now
    session.add(_new_revision(offer, number, data, priced, principal, now))
    vendor = await session.get(Organization, offer.vendor_id)
    assert vendor is not None
    _audit_offer_request(
        session,
        principal,
        request,
        "offer.revise",
        "submitted",
        "submitted",
        record_type=OFFER_RECORD,
        record_uuid=offer.uuid,
        data={"vendor": vendor.slug, "revision": number, "total_cents": data.total_cents},
    )
    await session.flush()
    await _notify(
        session,
        request,
        await _active_participant_ids(session, request),
        "offer.revised",
        f"Angebot überarbeitet: {request.title}",
        f"{vendor.name} hat sein Angebot zu „{request.title}“ überarbeitet (Fassung {number}).\n"
        f"Die Angebote werden nach Ablauf der Frist ({_local(request.deadline)}) sichtbar.",
    )
    return offer


async def _revision_outs(
    session: AsyncSession, request: OfferRequest, revisions: Sequence[OfferRevision]
) -> list[OfferRevisionOut]:
    org_ids = {int(share["organization_id"]) for r in revisions for share in r.per_participant}
    orgs = await accounts.organizations_by_ids(session, org_ids)
    active = await _active_participant_ids(session, request)
    return [
        OfferRevisionOut(
            revision=r.revision,
            created_at=r.created_at,
            currency=r.currency,
            items=[PriceItemOut.model_validate(item) for item in r.items],
            total_cents=r.total_cents,
            per_participant=[
                ParticipantPriceOut(
                    organization=_org_ref(orgs[int(share["organization_id"])]),
                    total_cents=int(share["total_cents"]),
                    quantities=QuantitiesOut(
                        inhabitants=int(share["inhabitants"]), users=int(share["users"]), sites=int(share["sites"])
                    ),
                    participating=int(share["organization_id"]) in active,
                )
                for share in r.per_participant
            ],
            bundle_version=r.bundle_version,
            service_level=r.service_level,
            hosting_location=r.hosting_location,
            valid_until=r.valid_until,
            notes=r.notes,
            notes_html=markdown.render(r.notes, max_bytes=NOTES_MAX_BYTES).html,
        )
        for r in revisions
    ]


async def _latest_revisions(session: AsyncSession, offers: Sequence[Offer]) -> dict[int, OfferRevision]:
    if not offers:
        return {}
    rows = await session.exec(
        select(OfferRevision).where(
            or_(
                *(
                    and_(col(OfferRevision.offer_id) == o.id, col(OfferRevision.revision) == o.current_revision)
                    for o in offers
                )
            )
        )
    )
    return {r.offer_id: r for r in rows}


async def offer_outs(session: AsyncSession, relation: Relation, offers: Sequence[Offer]) -> list[OfferOut]:
    request = relation.request
    latest = await _latest_revisions(session, offers)
    vendors = await accounts.organizations_by_ids(session, {o.vendor_id for o in offers})
    outs = []
    for offer in offers:
        sealed = request.state not in _OPENED_STATES and offer.vendor_id not in relation.vendor_orgs
        revision = latest[offer.id or 0]
        content = None if sealed else (await _revision_outs(session, request, [revision]))[0]
        outs.append(
            OfferOut(
                uuid=offer.uuid,
                request=request.uuid,
                vendor=_org_ref(vendors[offer.vendor_id]),
                current_revision=offer.current_revision,
                created_at=offer.created_at,
                updated_at=offer.updated_at,
                sealed=sealed,
                latest=content,
                priced_for_current_bundle=revision.bundle_version == request.bundle_version,
                preferred=request.preferred_offer_id is not None and request.preferred_offer_id == offer.id,
            )
        )
    return outs


async def list_offers(session: AsyncSession, principal: Principal, request_uuid: uuid.UUID) -> Page[OfferOut]:
    """Participants: every offer, side by side once the deadline passed. A vendor: its own."""
    relation = await load_offer_request(session, principal, request_uuid)
    query = select(Offer).where(Offer.request_id == relation.request.id)
    if not relation.participant:
        if not relation.vendor:
            raise Forbidden("offers are shown to the participants and to the vendor that made them")
        query = query.where(col(Offer.vendor_id).in_(relation.vendor_orgs))
    offers = list(await session.exec(query.order_by(col(Offer.created_at), col(Offer.id))))
    items = await offer_outs(session, relation, offers)
    return Page(items=items, total=len(items), next_cursor=None)


async def get_offer(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, offer_uuid: uuid.UUID
) -> tuple[Offer, OfferOut]:
    relation = await load_offer_request(session, principal, request_uuid)
    offer = await _offer_in(session, relation, offer_uuid)
    return offer, (await offer_outs(session, relation, [offer]))[0]


async def offer_out(session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, offer: Offer) -> OfferOut:
    relation = await load_offer_request(session, principal, request_uuid)
    return (await offer_outs(session, relation, [offer]))[0]


async def list_revisions(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, offer_uuid: uuid.UUID
) -> Page[OfferRevisionOut]:
    """Every revision, oldest first: for the vendor always, for participants after the deadline."""
    relation = await load_offer_request(session, principal, request_uuid)
    offer = await _offer_in(session, relation, offer_uuid)
    if offer.vendor_id not in relation.vendor_orgs and relation.request.state not in _OPENED_STATES:
        raise Forbidden("offers are sealed until the deadline for offers has passed")
    revisions = list(
        await session.exec(
            select(OfferRevision).where(OfferRevision.offer_id == offer.id).order_by(col(OfferRevision.revision))
        )
    )
    items = await _revision_outs(session, relation.request, revisions)
    return Page(items=items, total=len(items), next_cursor=None)


# --- the end: closing, deciding ------------------------------------------------------------------------------


async def decide_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    data: DecisionIn,
    *,
    now: datetime | None = None,
) -> OfferRequest:
    """After the deadline the requester prefers one offer (awarded) or declines them all (not awarded)."""
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    _require_requester(principal, relation)
    if request.state in _DECIDED_STATES:
        raise Conflict(f"the request is decided already ({request.state})", field="state")
    if request.state != OfferRequestState.closed.value:
        raise Conflict(
            f"a decision follows the deadline for offers, when the request is closed; it is {request.state}",
            field="state",
        )
    preferred: Offer | None = None
    if data.outcome == "preferred":
        preferred = (
            await session.exec(select(Offer).where(Offer.uuid == data.offer, Offer.request_id == request.id))
        ).first()
        if preferred is None:
            raise InvalidInput("not an offer to this request", field="offer")
        request.preferred_offer_id = preferred.id
        request.state = OfferRequestState.awarded.value
    else:
        request.state = OfferRequestState.not_awarded.value
    request.decision_reason = data.reason
    request.decided_at = now
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.decide",
        OfferRequestState.closed,
        request.state,
        reason=data.reason,
        data={"offer": str(preferred.uuid) if preferred else None},
    )
    await session.flush()
    participants = await _active_participant_ids(session, request)
    others = await _offer_vendor_ids(session, request) - ({preferred.vendor_id} if preferred else set())
    reason = f"\nBegründung: {data.reason}" if data.reason else ""
    if preferred is not None:
        vendor = await session.get(Organization, preferred.vendor_id)
        outcome = f"Bevorzugt wird das Angebot von {vendor.name if vendor else 'einem Anbieter'}."
        await _notify(
            session,
            request,
            {preferred.vendor_id},
            "offer_request.decided",
            f"Ihr Angebot wird bevorzugt: {request.title}",
            f"Die anfragende Stelle bevorzugt Ihr Angebot zu „{request.title}“. "
            "Jede teilnehmende Stelle entscheidet nun selbst über die Annahme.",
        )
    else:
        outcome = "Alle Angebote wurden abgelehnt."
    await _notify(
        session,
        request,
        participants,
        "offer_request.decided",
        f"Entscheidung zu „{request.title}“",
        f"Zur Angebotsanfrage „{request.title}“ ist entschieden: {outcome}{reason}",
        exclude={request.requester_id},
    )
    # Vendors whose offer was not preferred learn that, not who was (as the API shows them).
    await _notify(
        session,
        request,
        others,
        "offer_request.decided",
        f"Entscheidung zu „{request.title}“",
        f"Zur Angebotsanfrage „{request.title}“ ist entschieden: Ihr Angebot wird nicht berücksichtigt.",
    )
    return request


async def close_due_offer_requests(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """The deadline job's work: every open request whose deadline has passed becomes closed. Idempotent;
    rows another transaction holds are skipped and closed on the next run."""
    due = list(
        await session.exec(
            select(OfferRequest)
            .where(OfferRequest.state == OfferRequestState.open.value, col(OfferRequest.deadline) <= now)
            .order_by(col(OfferRequest.id))
            .limit(500)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    for request in due:
        request.state = OfferRequestState.closed.value
        request.closed_at = now
        _touch(request, now)
        offers = await _offer_vendor_ids(session, request)
        _audit_offer_request(
            session,
            None,
            request,
            "offer_request.close",
            OfferRequestState.open,
            OfferRequestState.closed,
            reason="deadline",
            data={"offers": len(offers)},
        )
        await _notify(
            session,
            request,
            await _active_participant_ids(session, request),
            "offer_request.closed",
            f"Angebotsfrist abgelaufen: {request.title}",
            f"Die Frist der Angebotsanfrage „{request.title}“ ist abgelaufen. Es liegen {len(offers)} "
            f"Angebot(e) vor; sie sind jetzt für alle Teilnehmenden sichtbar.",
        )
        await _notify(
            session,
            request,
            await _vendor_ids(session, request),
            "offer_request.closed",
            f"Angebotsfrist abgelaufen: {request.title}",
            f"Die Frist der Angebotsanfrage „{request.title}“ ist abgelaufen; Angebote sind nicht mehr möglich.",
        )
    await session.flush()
    return [r.uuid for r in due]


async def remind_offer_requests(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """A day before the deadline: tell participants and addressed vendors, once per request."""
    due = list(
        await session.exec(
            select(OfferRequest)
            .where(
                OfferRequest.state == OfferRequestState.open.value,
                col(OfferRequest.deadline) > now,
                col(OfferRequest.deadline) <= now + REMINDER_BEFORE,
                col(OfferRequest.reminder_sent_at).is_(None),
            )
            .order_by(col(OfferRequest.id))
            .limit(500)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    for request in due:
        request.reminder_sent_at = now
        await _notify(
            session,
            request,
            await _active_participant_ids(session, request) | await _vendor_ids(session, request),
            "offer_request.deadline_approaching",
            f"Frist endet bald: {request.title}",
            f"Die Frist der Angebotsanfrage „{request.title}“ endet am {_local(request.deadline)}.",
        )
    await session.flush()
    return [r.uuid for r in due]


# --- the conversation: one thread per request and vendor ------------------------------------------------------


async def _thread_vendor(session: AsyncSession, relation: Relation, vendor_slug: str) -> Organization:
    if not (relation.participant or relation.vendor):
        raise Forbidden("the conversation is between the participants and each vendor")
    vendor = (await session.exec(select(Organization).where(Organization.slug == vendor_slug))).first()
    addressed = await _vendor_ids(session, relation.request)
    if vendor is None or vendor.id not in addressed or not (relation.participant or vendor.id in relation.vendor_orgs):
        raise NotFound("no such thread (or it is not visible to you)", field="vendor")
    return vendor


async def list_threads(session: AsyncSession, principal: Principal, request_uuid: uuid.UUID) -> Page[ThreadOut]:
    relation = await load_offer_request(session, principal, request_uuid)
    if not (relation.participant or relation.vendor):
        raise Forbidden("the conversation is between the participants and each vendor")
    vendor_ids = await _vendor_ids(session, relation.request) if relation.participant else relation.vendor_orgs
    stats = {
        vendor_id: (count, last)
        for vendor_id, count, last in await session.exec(
            select(OfferMessage.vendor_id, func.count(), func.max(OfferMessage.created_at))
            .where(OfferMessage.request_id == relation.request.id)
            .group_by(col(OfferMessage.vendor_id))
        )
    }
    orgs = await accounts.organizations_by_ids(session, set(vendor_ids))
    threads = []
    for vendor_id in sorted(vendor_ids, key=lambda i: orgs[i].name):
        count, last = stats.get(vendor_id, (0, None))
        if isinstance(last, datetime) and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)  # SQLite's max() returns the naive stored value
        threads.append(ThreadOut(vendor=_org_ref(orgs[vendor_id]), messages=int(count), last_message_at=last))
    return Page(items=threads, total=len(threads), next_cursor=None)


def _message_out(message: OfferMessage, orgs: dict[int, Organization]) -> MessageOut:
    return MessageOut(
        uuid=message.uuid,
        vendor=_org_ref(orgs[message.vendor_id]),
        author=_org_ref(orgs[message.author_organization_id]),
        from_vendor=message.author_organization_id == message.vendor_id,
        body=message.body,
        body_html=markdown.render(message.body, max_bytes=MESSAGE_MAX_BYTES).html,
        created_at=message.created_at,
    )


async def list_messages(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    vendor_slug: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[MessageOut]:
    """A thread, oldest first."""
    check_limit(limit)
    relation = await load_offer_request(session, principal, request_uuid)
    vendor = await _thread_vendor(session, relation, vendor_slug)
    query = select(OfferMessage).where(
        OfferMessage.request_id == relation.request.id, OfferMessage.vendor_id == vendor.id
    )
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    after = decode_cursor(cursor, arity=1)
    if after is not None:
        query = query.where(col(OfferMessage.id) > int(after[0]))
    rows = list(await session.exec(query.order_by(col(OfferMessage.id)).limit(limit + 1)))
    orgs = await accounts.organizations_by_ids(
        session, {vendor.id or 0} | {m.author_organization_id for m in rows[:limit]}
    )
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return Page(items=[_message_out(m, orgs) for m in rows[:limit]], total=total, next_cursor=next_cursor)


async def post_message(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    vendor_slug: str,
    body: str,
    *,
    now: datetime | None = None,
) -> MessageOut:
    now = now or utcnow()
    relation = await load_offer_request(session, principal, request_uuid)
    request = relation.request
    vendor = await _thread_vendor(session, relation, vendor_slug)
    if vendor.id in relation.vendor_orgs:
        author_id: int | None = vendor.id if _may_act(principal, vendor.id) else None
    else:
        mine = sorted(relation.participant_orgs, key=lambda i: (i != request.requester_id, i))
        author_id = next((i for i in mine if _may_act(principal, i)), None)
    if author_id is None:
        raise Forbidden("write as a member of a participant or of this vendor (API tokens need the write scope)")
    if request.state in (OfferRequestState.draft.value, OfferRequestState.withdrawn.value):
        raise Conflict(f"the request is {request.state}; the conversation is closed", field="state")
    message = OfferMessage(
        request_id=request.id or 0,
        vendor_id=vendor.id or 0,
        author_organization_id=author_id,
        author_user_id=principal.user_id,
        author_token_id=principal.token_id,
        body=body,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_message.post",
        None,
        None,
        record_type="offer_message",
        record_uuid=message.uuid,
        data={"vendor": vendor.slug},
    )
    orgs = await accounts.organizations_by_ids(session, {vendor.id or 0, author_id})
    return _message_out(message, orgs)


# --- reading requests ----------------------------------------------------------------------------------------


async def offer_request_out(session: AsyncSession, relation: Relation) -> OfferRequestOut:
    request = relation.request
    participants = await _active_participants(session, request)
    sees_people = relation.participant or relation.vendor
    requester = await session.get(Organization, request.requester_id)
    assert requester is not None
    solution_ref = None
    if request.solution_id is not None:
        solution = await solution_by_id(session, request.solution_id)
        provider = await session.get(Organization, solution.provider_id) if solution else None
        if solution is not None and provider is not None:
            solution_ref = SolutionRefOut(slug=solution.slug, name=solution.name, provider=_org_ref(provider))
    vendors = None
    offers_received = None
    if relation.participant:
        vendor_orgs = await accounts.organizations_by_ids(session, await _vendor_ids(session, request))
        vendors = sorted((_org_ref(o) for o in vendor_orgs.values()), key=lambda r: r.name)
        offers_received = len(await _offer_vendor_ids(session, request))
    decision = None
    if request.state in _DECIDED_STATES and sees_people:
        preferred = await session.get(Offer, request.preferred_offer_id) if request.preferred_offer_id else None
        if preferred is not None and not relation.participant and preferred.vendor_id not in relation.vendor_orgs:
            preferred = None  # a vendor learns only whether its own offer is preferred
        preferred_vendor = await session.get(Organization, preferred.vendor_id) if preferred else None
        decision = DecisionOut(
            outcome="preferred" if request.state == OfferRequestState.awarded.value else "declined_all",
            preferred_offer=preferred.uuid if preferred else None,
            preferred_vendor=_org_ref(preferred_vendor) if preferred_vendor else None,
            reason=request.decision_reason if relation.participant else None,
            decided_at=request.decided_at,
        )
    budget = None
    if sees_people and (request.budget_min_cents is not None or request.budget_max_cents is not None):
        budget = BudgetOut(min_cents=request.budget_min_cents, max_cents=request.budget_max_cents, currency="EUR")
    rows = [p for p, _ in participants]
    return OfferRequestOut(
        uuid=request.uuid,
        version=request.version,
        state=request.state,
        kind=request.kind,
        title=request.title,
        need=request.need,
        need_html=markdown.render(request.need, max_bytes=NEED_MAX_BYTES).html,
        desired_start=request.desired_start,
        deadline=request.deadline,
        budget=budget,
        procurement_notes=request.procurement_notes,
        procurement_notes_html=(
            markdown.render(request.procurement_notes, max_bytes=PROCUREMENT_NOTES_MAX_BYTES).html
            if request.procurement_notes
            else None
        ),
        requester=_org_ref(requester),
        solution=solution_ref,
        sectors=list(request.sectors),
        standards=list(request.standards),
        created_at=request.created_at,
        updated_at=request.updated_at,
        opened_at=request.opened_at,
        closed_at=request.closed_at,
        withdrawn_at=request.withdrawn_at,
        decided_at=request.decided_at,
        bundle=BundleOut(
            version=request.bundle_version,
            participants_count=len(rows),
            inhabitants=sum(p.inhabitants for p in rows),
            users=sum(p.users for p in rows),
            sites=sum(p.sites for p in rows),
            participants=[_participant_out(p, o, request.requester_id) for p, o in participants]
            if sees_people
            else None,
        ),
        relation=relation.labels,
        vendors=vendors,
        offers_received=offers_received,
        decision=decision,
    )


async def get_offer_request(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID
) -> tuple[OfferRequest, OfferRequestOut]:
    relation = await load_offer_request(session, principal, request_uuid)
    return relation.request, await offer_request_out(session, relation)


async def offer_request_view(session: AsyncSession, principal: Principal, request: OfferRequest) -> OfferRequestOut:
    """The request as the caller sees it after a change it made."""
    return await offer_request_out(session, await relation_to(session, principal, request))


OFFER_REQUEST_RELATIONS = ("requester", "participant", "vendor", "joinable")


async def list_offer_requests(
    session: AsyncSession,
    principal: Principal,
    *,
    relation: str | None = None,
    state: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[OfferRequestOut]:
    """The requests the caller may see, newest first; ``relation`` narrows to one way of relating."""
    principal.require_authenticated()
    check_limit(limit)
    mine = set(principal.roles)
    public_bodies = await _public_bodies_among(session, mine)
    as_participant = exists().where(
        col(OfferRequestParticipant.request_id) == col(OfferRequest.id),
        col(OfferRequestParticipant.organization_id).in_(mine),
        col(OfferRequestParticipant.left_at).is_(None),
    )
    as_vendor = and_(
        col(OfferRequest.state) != OfferRequestState.draft.value,
        exists().where(
            col(OfferRequestVendor.request_id) == col(OfferRequest.id),
            col(OfferRequestVendor.organization_id).in_(mine),
        ),
    )
    is_open = col(OfferRequest.state) == OfferRequestState.open.value
    joinable = and_(is_open, ~as_participant) if public_bodies else false()
    conditions = {
        "requester": col(OfferRequest.requester_id).in_(mine),
        "participant": as_participant,
        "vendor": as_vendor,
        "joinable": joinable,
    }
    query = select(OfferRequest)
    if relation is None:
        query = query.where(or_(as_participant, as_vendor, is_open if public_bodies else false()))
    elif relation in conditions:
        query = query.where(conditions[relation])
    else:
        raise InvalidInput(f"relation must be one of {', '.join(OFFER_REQUEST_RELATIONS)}", field="relation")
    if state is not None:
        if state not in {s.value for s in OfferRequestState}:
            raise InvalidInput(f"state must be one of {', '.join(s.value for s in OfferRequestState)}", field="state")
        query = query.where(OfferRequest.state == state)
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    after = decode_cursor(cursor, arity=2, dates=(0,))
    if after is not None:
        moment, last_id = datetime.fromisoformat(str(after[0])), int(after[1])
        query = query.where(
            or_(
                col(OfferRequest.created_at) < moment,
                and_(col(OfferRequest.created_at) == moment, col(OfferRequest.id) < last_id),
            )
        )
    rows = list(
        await session.exec(
            query.order_by(col(OfferRequest.created_at).desc(), col(OfferRequest.id).desc()).limit(limit + 1)
        )
    )
    next_cursor = (
        encode_cursor([rows[limit - 1].created_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    )
    items = [await offer_request_out(session, await relation_to(session, principal, r)) for r in rows[:limit]]
    return Page(items=items, total=total, next_cursor=next_cursor)

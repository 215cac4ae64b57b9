"""The catalog's rules: vocabularies, the solution lifecycle, references and public listing.

No HTTP and no commits here; the unit of work around the request or job commits.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, delete, exists, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.accounts.regions import BUNDESLAENDER
from allmende.accounts.schemas import OrganizationRef
from allmende.core import markdown, moderation
from allmende.core.audit import record_for
from allmende.core.pagination import Page, check_limit, decode_cursor, encode_cursor
from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound, Problem, invalid_input_from
from allmende.core.records import hold_checked
from allmende.core.text import slugify
from allmende.core.types import utcnow
from marketplace import policies
from marketplace.models import (
    Reference,
    Solution,
    SolutionFacet,
    SolutionState,
    Vocabulary,
    VocabularyTerm,
)
from marketplace.schemas import (
    DESCRIPTION_MAX_BYTES,
    AdopterOut,
    PendingOut,
    ReferenceIn,
    ReferenceOut,
    SolutionCreate,
    SolutionFields,
    SolutionOut,
    TermIn,
    TermOut,
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
WORKFLOW = moderation.Workflow(record_type="solution", noun="solution", plural="solutions")


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
    record_for(
        session,
        principal,
        action="vocabulary.add_term",
        record_type="vocabulary",
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


def content_of(solution: Solution) -> dict[str, Any]:
    return {name: getattr(solution, name) for name in CONTENT_FIELDS}


def editable_content(solution: Solution) -> dict[str, Any]:
    """What an editor edits: the pending version of a published solution, else the record itself."""
    return WORKFLOW.working_copy(solution) or content_of(solution)


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
        if solution.pending is not None and policies.can_see_drafts(principal, solution):
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
                moderation_reason=solution.moderation_reason if policies.can_see_drafts(principal, solution) else None,
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
    if not policies.may_see(principal, solution):
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
    if not policies.can_see_drafts_of(principal, provider.id):
        query = query.where(col(Solution.state).in_(moderation.PUBLIC_STATES))
    rows = list(await session.exec(query.order_by(col(Solution.name))))
    return await solution_outs(session, principal, rows, base_url)


# --- counts and lists for the pages ------------------------------------------------------------------------


@dataclass
class FacetCounts:
    """How many published solutions carry each value (independent of the other filters)."""

    total: int = 0
    by_field: dict[str, dict[str, int]] = field(default_factory=dict)

    def get(self, field_name: str, key: str) -> int:
        return self.by_field.get(field_name, {}).get(key, 0)


async def facet_counts(session: AsyncSession) -> FacetCounts:
    live = (Solution.state == SolutionState.published.value, col(Solution.deleted_at).is_(None))
    counts = FacetCounts()
    counts.total = int((await session.exec(select(func.count()).select_from(Solution).where(*live))).one())
    rows = await session.exec(
        select(SolutionFacet.vocabulary, SolutionFacet.term, func.count())
        .join(Solution, col(Solution.id) == SolutionFacet.solution_id)
        .where(*live)
        .group_by(col(SolutionFacet.vocabulary), col(SolutionFacet.term))
    )
    for vocabulary, term, n in rows:
        counts.by_field.setdefault(vocabulary, {})[term] = int(n)
    status_rows = await session.exec(
        select(Solution.development_status, func.count()).where(*live).group_by(col(Solution.development_status))
    )
    counts.by_field["development_status"] = {str(k): int(n) for k, n in status_rows if k}
    licence_rows = await session.exec(
        select(Solution.is_open_source, col(Solution.license).is_(None), func.count())
        .where(*live)
        .group_by(col(Solution.is_open_source), col(Solution.license).is_(None))
    )
    licence: dict[str, int] = {}
    for is_open, unknown, n in licence_rows:
        # The catalog's licence types: unknown when no licence is confirmed, never guessed as proprietary.
        key = "unknown" if unknown else ("open-source" if is_open else "proprietary")
        licence[key] = licence.get(key, 0) + int(n)
    counts.by_field["license_type"] = licence
    land_rows = await session.exec(
        select(Organization.bundesland, func.count(func.distinct(Solution.id)))
        .select_from(Reference)
        .join(Solution, col(Solution.id) == Reference.solution_id)
        .join(Organization, col(Organization.id) == Reference.organization_id)
        .where(*live, col(Reference.deleted_at).is_(None), col(Organization.bundesland).is_not(None))
        .group_by(col(Organization.bundesland))
    )
    counts.by_field["bundesland"] = {str(k): int(n) for k, n in land_rows}
    return counts


async def adopter_total(session: AsyncSession) -> int:
    """Distinct organizations that recorded using at least one published solution."""
    return int(
        (
            await session.exec(
                select(func.count(func.distinct(Reference.organization_id)))
                .join(Solution, col(Solution.id) == Reference.solution_id)
                .where(Solution.state == SolutionState.published.value, col(Reference.deleted_at).is_(None))
            )
        ).one()
    )


async def review_queue(session: AsyncSession) -> list[Solution]:
    """Submitted solutions and submitted edits of published ones, oldest first."""
    rows = await session.exec(
        select(Solution)
        .where(
            col(Solution.deleted_at).is_(None),
            or_(
                col(Solution.state) == SolutionState.submitted.value,
                and_(
                    col(Solution.state) == SolutionState.published.value,
                    col(Solution.pending_state) == SolutionState.submitted.value,
                ),
            ),
        )
        .order_by(col(Solution.submitted_at), col(Solution.id))
    )
    return list(rows)


async def published_options(session: AsyncSession) -> list[tuple[str, str]]:
    """(slug, name) of every published solution, by name: the choices of the reference form."""
    rows = await session.exec(
        select(Solution.slug, Solution.name)
        .where(Solution.state == SolutionState.published.value, col(Solution.deleted_at).is_(None))
        .order_by(col(Solution.name))
    )
    return [(slug, name) for slug, name in rows]


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
    if not policies.may_edit_for(principal, provider.id):
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
    record_for(
        session,
        principal,
        action=action,
        record_type="solution",
        record_uuid=solution.uuid,
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
    if not policies.may_edit(principal, solution):
        raise Forbidden("only editors of the provider organization change this solution")


async def update_solution(
    session: AsyncSession, principal: Principal, solution: Solution, changes: dict[str, Any], if_match: str | None
) -> Solution:
    """Edit a draft in place; an edit to a published solution becomes its pending version."""
    _require_editor(principal, solution)
    await hold_checked(session, solution, if_match)
    external_id = changes.pop("external_id", solution.external_id)
    is_live = WORKFLOW.check_editable(solution)
    base = editable_content(solution)
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
    if not is_live:
        _apply_content(solution, merged)
    step = WORKFLOW.edit(solution, merged.model_dump(mode="json") if is_live else None)
    WORKFLOW.audit(session, principal, solution, step)
    await session.flush()
    return solution


async def submit(session: AsyncSession, principal: Principal, solution: Solution, if_match: str | None) -> Solution:
    _require_editor(principal, solution)
    await hold_checked(session, solution, if_match, required=False)
    step = WORKFLOW.submit(solution)
    solution.submitted_at = utcnow()  # the moderators' queue is oldest first
    WORKFLOW.audit(session, principal, solution, step)
    await session.flush()
    return solution


async def publish(session: AsyncSession, principal: Principal, solution: Solution, if_match: str | None) -> Solution:
    WORKFLOW.require_reviewer(principal, solution.provider_id)
    await hold_checked(session, solution, if_match, required=False)

    async def apply_pending(pending: dict[str, Any]) -> None:
        _apply_content(solution, _validated(pending))

    step = await WORKFLOW.publish(solution, apply_pending)
    WORKFLOW.audit(session, principal, solution, step)
    await sync_facets(session, solution)
    await session.flush()
    return solution


async def request_changes(
    session: AsyncSession, principal: Principal, solution: Solution, reason: str, if_match: str | None
) -> Solution:
    WORKFLOW.require_reviewer(principal, solution.provider_id)
    await hold_checked(session, solution, if_match, required=False)
    WORKFLOW.audit(session, principal, solution, WORKFLOW.request_changes(solution, reason))
    await session.flush()
    return solution


async def archive(
    session: AsyncSession, principal: Principal, solution: Solution, reason: str | None, if_match: str | None
) -> Solution:
    principal.require_authenticated()
    if not policies.may_archive(principal, solution):
        raise Forbidden("only moderators and editors of the provider archive a solution")
    await hold_checked(session, solution, if_match, required=False)
    step = WORKFLOW.archive(solution, reason)
    await session.exec(delete(SolutionFacet).where(col(SolutionFacet.solution_id) == solution.id))
    WORKFLOW.audit(session, principal, solution, step)
    await session.flush()
    return solution


async def delete_draft(session: AsyncSession, principal: Principal, solution: Solution, if_match: str | None) -> None:
    _require_editor(principal, solution)
    await hold_checked(session, solution, if_match, required=False)
    if solution.published_at is not None or solution.state in moderation.PUBLIC_STATES:
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
    if not policies.may_edit_for(principal, provider.id):
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
        if not moderation.is_editable(solution):
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
    principal.require_authenticated()
    if not policies.may_record_references(principal, org.id):
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
    record_for(
        session,
        principal,
        action=action,
        record_type="reference",
        record_uuid=reference.uuid,
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

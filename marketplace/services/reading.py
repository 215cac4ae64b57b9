"""Reading: solutions as the caller may see them, and the lists of solutions."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.accounts.regions import BUNDESLAENDER
from allmende.core import markdown, moderation
from allmende.core.pagination import Page, check_limit, decode_cursor, encode_cursor
from allmende.core.problems import InvalidInput, NotFound
from allmende.core.records import out_of
from marketplace import policies
from marketplace.models import Reference, Solution, SolutionFacet, SolutionState
from marketplace.schemas import DESCRIPTION_MAX_BYTES, AdopterOut, PendingOut, SolutionOut
from marketplace.services.common import CONTENT_FIELDS, FACET_FIELDS, WORKFLOW, _org_ref
from marketplace.services.vocabularies import FIELD_VOCABULARY, vocabulary_index

# Other packages add what links to a solution (e.g. the knowledge hub's case studies) through this
# registry, which the composition root fills; the catalog itself knows none of them.
RelatedProvider = Callable[[AsyncSession, Sequence[uuid.UUID]], Awaitable[dict[uuid.UUID, list[Any]]]]
RELATED_PROVIDERS: dict[str, RelatedProvider] = {}


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
            out_of(
                SolutionOut,
                solution,
                provider=_org_ref(providers[solution.provider_id]),
                origin=solution.origin or base_url,
                description_html=markdown.render(solution.description, max_bytes=DESCRIPTION_MAX_BYTES).html,
                moderation_reason=solution.moderation_reason if policies.can_see_drafts(principal, solution) else None,
                adopters=adopters.get(solution.id or 0, []),
                pending=pending,
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

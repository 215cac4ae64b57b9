"""Bulk upsert: a vendor writes its solutions by external id, all or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.core import moderation
from allmende.core.problems import Conflict, Forbidden, InvalidInput, Problem
from marketplace import policies
from marketplace.models import Solution
from marketplace.schemas import SolutionCreate, SolutionFields
from marketplace.services.common import _validated
from marketplace.services.lifecycle import create_solution, update_solution
from marketplace.services.reading import content_of
from marketplace.services.vocabularies import check_terms, vocabulary_index


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


async def token_organization(session: AsyncSession, principal: Principal) -> Organization:
    """The organization a vendor token acts for (bulk upsert without ?provider=)."""
    if principal.token is None:
        principal.require_authenticated()
        raise InvalidInput("name the provider with ?provider=<slug>", field="provider")
    org = await session.get(Organization, principal.token.organization_id)
    assert org is not None
    return org

"""For other domains: what they may know of the catalog.

Other packages (offer requests) address solutions and their providers but do not read the catalog's
tables: they call these and get plain values back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from marketplace.models import Solution, SolutionFacet, SolutionState


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

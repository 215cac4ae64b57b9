"""Counts and lists for the pages: facet counts, adopters, the review queue, the reference form's choices."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Organization
from marketplace.models import Reference, Solution, SolutionFacet, SolutionState


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

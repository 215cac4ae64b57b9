"""What the catalog contributes to the shared search index: one document per published solution."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import Organization
from allmende.core import markdown
from allmende.core.indexing import DocumentBatch, DocumentType
from marketplace.models import Reference, Solution, SolutionState
from marketplace.schemas import DESCRIPTION_MAX_BYTES
from marketplace.services import license_type, vocabulary_labels

SOLUTION_DOCUMENT = "solution"


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


def _builder(record_type: str):  # type: ignore[no-untyped-def]
    async def build(session: AsyncSession, uuids: Sequence[UUID]) -> DocumentBatch:
        ids = await solution_ids_for(session, record_type, uuids)
        upserts, deletes = await solution_documents(session, ids) if ids else ([], [])
        return DocumentBatch(upserts=upserts, deletes=deletes)

    return build


SOLUTIONS = DocumentType(
    name="solution",
    api_path="/api/v1/solutions/{slug}",
    searchable=(("title", 3.0), ("tags", 2.0), ("summary", 2.0), ("provider", 1.5), ("places", 1.0), ("body", 1.0)),
    filterable=("stage", "sector", "area", "standard", "license_type", "hosting", "development_status", "bundesland"),
    sortable=("name", "published", "adopters"),
    builders={record_type: _builder(record_type) for record_type in ("solution", "reference", "organization")},
    source=all_solution_documents,
)

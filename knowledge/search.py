"""What the knowledge hub contributes to the shared search index: published case studies and guides."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core import markdown
from allmende.core.indexing import DocumentBatch, DocumentType
from knowledge.models import CaseStudy, Guide
from knowledge.schemas import BODY_MAX_BYTES
from knowledge.services import PUBLISHED, resolve_places
from marketplace import services as catalog

Labels = dict[tuple[str, str], list[str]]
Written = TypeVar("Written", CaseStudy, Guide)


async def _documents(
    session: AsyncSession,
    model: type[Written],
    type_name: str,
    uuids: Sequence[UUID],
    own_fields: Callable[[Written, Labels], Awaitable[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Published, live records become documents (the fields both kinds share, plus ``own_fields``);
    every other one is deleted from the index."""
    rows = list(await session.exec(select(model).where(col(model.uuid).in_(uuids))))
    labels = await catalog.vocabulary_labels(session)
    upserts, deletes = [], []
    for row in rows:
        key = f"{type_name}:{row.uuid}"
        if row.state != PUBLISHED or row.is_deleted:
            deletes.append(key)
            continue
        upserts.append(
            {
                "id": key,
                "type": type_name,
                "slug": row.slug,
                "title": row.title,
                "summary": row.summary,
                "body": markdown.to_plain_text(row.body, max_bytes=BODY_MAX_BYTES),
                "name": row.title.casefold(),
                "published": row.published_at.timestamp() if row.published_at else 0,
            }
            | await own_fields(row, labels)
        )
    return upserts, deletes


async def case_study_documents(session: AsyncSession, uuids: Sequence[UUID]) -> tuple[list[dict[str, Any]], list[str]]:
    async def own_fields(study: CaseStudy, labels: Labels) -> dict[str, Any]:
        places = await resolve_places(session, study.organization_keys) if study.organization_keys else []
        tags = [
            label
            for vocabulary, keys in (("sectors", study.sectors), ("steps", study.steps))
            for k in keys
            for label in labels.get((vocabulary, k), [k])
        ]
        return {
            "tags": tags,
            "places": [p.name for p in places],
            "stage": study.stages,
            "sector": study.sectors,
            "step": study.steps,
            "bundesland": sorted({p.bundesland for p in places if p.bundesland}),
        }

    return await _documents(session, CaseStudy, "case_study", uuids, own_fields)


async def guide_documents(session: AsyncSession, uuids: Sequence[UUID]) -> tuple[list[dict[str, Any]], list[str]]:
    async def own_fields(guide: Guide, labels: Labels) -> dict[str, Any]:
        return {
            "tags": guide.tags + labels.get(("steps", guide.step), []),
            "stage": [guide.stage],
            "step": [guide.step],
        }

    return await _documents(session, Guide, "guide", uuids, own_fields)


async def all_case_study_documents(session: AsyncSession) -> AsyncIterator[dict[str, Any]]:
    uuids = list(await session.exec(select(CaseStudy.uuid).where(CaseStudy.state == PUBLISHED)))
    for document in (await case_study_documents(session, uuids))[0]:
        yield document


async def all_guide_documents(session: AsyncSession) -> AsyncIterator[dict[str, Any]]:
    uuids = list(await session.exec(select(Guide.uuid).where(Guide.state == PUBLISHED)))
    for document in (await guide_documents(session, uuids))[0]:
        yield document


async def _case_studies(session: AsyncSession, uuids: Sequence[UUID]) -> DocumentBatch:
    upserts, deletes = await case_study_documents(session, uuids)
    return DocumentBatch(upserts=upserts, deletes=deletes)


async def _guides(session: AsyncSession, uuids: Sequence[UUID]) -> DocumentBatch:
    upserts, deletes = await guide_documents(session, uuids)
    return DocumentBatch(upserts=upserts, deletes=deletes)


CASE_STUDIES = DocumentType(
    name="case_study",
    api_path="/api/v1/case-studies/{slug}",
    searchable=(("title", 3.0), ("tags", 2.0), ("summary", 2.0), ("places", 1.0), ("body", 1.0)),
    filterable=("stage", "sector", "step", "bundesland"),
    sortable=("name", "published"),
    builders={"case_study": _case_studies},
    source=all_case_study_documents,
)

GUIDES = DocumentType(
    name="guide",
    api_path="/api/v1/guides/{slug}",
    searchable=(("title", 3.0), ("tags", 2.0), ("summary", 2.0), ("body", 1.0)),
    filterable=("stage", "step"),
    sortable=("name", "published"),
    builders={"guide": _guides},
    source=all_guide_documents,
)

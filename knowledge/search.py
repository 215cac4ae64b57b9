"""What the knowledge hub contributes to the shared search index: published case studies and guides."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core import markdown
from allmende.core.indexing import DocumentBatch, DocumentType
from knowledge.models import CaseStudy, Guide
from knowledge.schemas import BODY_MAX_BYTES
from knowledge.services import PUBLISHED, resolve_places
from marketplace import services as catalog


async def case_study_documents(session: AsyncSession, uuids: Sequence[UUID]) -> tuple[list[dict[str, Any]], list[str]]:
    rows = list(await session.exec(select(CaseStudy).where(col(CaseStudy.uuid).in_(uuids))))
    labels = await catalog.vocabulary_labels(session)
    upserts, deletes = [], []
    for study in rows:
        key = f"case_study:{study.uuid}"
        if study.state != PUBLISHED or study.is_deleted:
            deletes.append(key)
            continue
        places = await resolve_places(session, study.organization_keys) if study.organization_keys else []
        tags = [
            label
            for vocabulary, keys in (("sectors", study.sectors), ("steps", study.steps))
            for k in keys
            for label in labels.get((vocabulary, k), [k])
        ]
        upserts.append(
            {
                "id": key,
                "type": "case_study",
                "slug": study.slug,
                "title": study.title,
                "summary": study.summary,
                "body": markdown.to_plain_text(study.body, max_bytes=BODY_MAX_BYTES),
                "tags": tags,
                "places": [p.name for p in places],
                "stage": study.stages,
                "sector": study.sectors,
                "step": study.steps,
                "bundesland": sorted({p.bundesland for p in places if p.bundesland}),
                "name": study.title.casefold(),
                "published": study.published_at.timestamp() if study.published_at else 0,
            }
        )
    return upserts, deletes


async def guide_documents(session: AsyncSession, uuids: Sequence[UUID]) -> tuple[list[dict[str, Any]], list[str]]:
    rows = list(await session.exec(select(Guide).where(col(Guide.uuid).in_(uuids))))
    labels = await catalog.vocabulary_labels(session)
    upserts, deletes = [], []
    for guide in rows:
        key = f"guide:{guide.uuid}"
        if guide.state != PUBLISHED or guide.is_deleted:
            deletes.append(key)
            continue
        upserts.append(
            {
                "id": key,
                "type": "guide",
                "slug": guide.slug,
                "title": guide.title,
                "summary": guide.summary,
                "body": markdown.to_plain_text(guide.body, max_bytes=BODY_MAX_BYTES),
                "tags": guide.tags + labels.get(("steps", guide.step), []),
                "stage": [guide.stage],
                "step": [guide.step],
                "name": guide.title.casefold(),
                "published": guide.published_at.timestamp() if guide.published_at else 0,
            }
        )
    return upserts, deletes


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

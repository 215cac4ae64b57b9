"""What the knowledge hub contributes to the shared search index: published case studies and guides."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.indexing import DocumentBatch, DocumentType
from knowledge import services


async def _case_studies(session: AsyncSession, uuids: Sequence[UUID]) -> DocumentBatch:
    upserts, deletes = await services.case_study_documents(session, uuids)
    return DocumentBatch(upserts=upserts, deletes=deletes)


async def _guides(session: AsyncSession, uuids: Sequence[UUID]) -> DocumentBatch:
    upserts, deletes = await services.guide_documents(session, uuids)
    return DocumentBatch(upserts=upserts, deletes=deletes)


CASE_STUDIES = DocumentType(
    name="case_study",
    api_path="/api/v1/case-studies/{slug}",
    searchable=(("title", 3.0), ("tags", 2.0), ("summary", 2.0), ("places", 1.0), ("body", 1.0)),
    filterable=("stage", "sector", "step", "bundesland"),
    sortable=("name", "published"),
    builders={"case_study": _case_studies},
    source=services.all_case_study_documents,
)

GUIDES = DocumentType(
    name="guide",
    api_path="/api/v1/guides/{slug}",
    searchable=(("title", 3.0), ("tags", 2.0), ("summary", 2.0), ("body", 1.0)),
    filterable=("stage", "step"),
    sortable=("name", "published"),
    builders={"guide": _guides},
    source=services.all_guide_documents,
)

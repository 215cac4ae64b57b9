"""What the catalog contributes to the shared search index: one document per published solution."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.indexing import DocumentBatch, DocumentType
from marketplace import services


def _builder(record_type: str):  # type: ignore[no-untyped-def]
    async def build(session: AsyncSession, uuids: Sequence[UUID]) -> DocumentBatch:
        ids = await services.solution_ids_for(session, record_type, uuids)
        upserts, deletes = await services.solution_documents(session, ids) if ids else ([], [])
        return DocumentBatch(upserts=upserts, deletes=deletes)

    return build


SOLUTIONS = DocumentType(
    name="solution",
    api_path="/api/v1/solutions/{slug}",
    searchable=(("title", 3.0), ("tags", 2.0), ("summary", 2.0), ("provider", 1.5), ("places", 1.0), ("body", 1.0)),
    filterable=("stage", "sector", "area", "standard", "license_type", "hosting", "development_status", "bundesland"),
    sortable=("name", "published", "adopters"),
    builders={record_type: _builder(record_type) for record_type in ("solution", "reference", "organization")},
    source=services.all_solution_documents,
)

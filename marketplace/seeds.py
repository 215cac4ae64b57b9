"""Loading vocabularies and the seeded catalog from ``seeds/``: idempotent upserts by natural key.

Seeded solutions are published content that the platform curates from checked facts; they are
created as published, with their provider as vendor organization and their known users as references.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Organization
from allmende.core.records import assign_changed
from allmende.core.types import utcnow
from marketplace.models import Reference, Solution, SolutionState, Vocabulary, VocabularyTerm
from marketplace.schemas import SolutionFields, is_open_source
from marketplace.services import CONTENT_FIELDS, check_terms, sync_facets, vocabulary_index


async def load_vocabularies(session: AsyncSession, items: list[dict[str, Any]]) -> tuple[int, int]:
    created = updated = 0
    vocabularies = {v.key: v for v in await session.exec(select(Vocabulary))}
    terms = {(t.vocabulary_key, t.key): t for t in await session.exec(select(VocabularyTerm))}
    for order, item in enumerate(items):
        values = {
            "label_de": item["label_de"],
            "label_en": item["label_en"],
            "extensible": bool(item.get("extensible")),
            "sort_order": order,
        }
        vocabulary = vocabularies.get(item["key"])
        if vocabulary is None:
            session.add(Vocabulary(key=item["key"], **values))
            created += 1
        elif assign_changed(vocabulary, values):
            updated += 1
        for term_order, term_item in enumerate(item["terms"]):
            term_values = {
                "label_de": term_item["label_de"],
                "label_en": term_item["label_en"],
                "description_de": term_item.get("description_de"),
                "description_en": term_item.get("description_en"),
                "sort_order": term_order,
            }
            term = terms.get((item["key"], str(term_item["key"])))
            if term is None:
                session.add(VocabularyTerm(vocabulary_key=item["key"], key=str(term_item["key"]), **term_values))
                created += 1
            elif assign_changed(term, term_values):
                updated += 1
    await session.flush()
    return created, updated


def _content(item: dict[str, Any]) -> dict[str, Any]:
    contact = item.get("contact") or {}
    raw = {name: item.get(name) for name in CONTENT_FIELDS if name in item}
    raw.update(
        {"contact_name": contact.get("name"), "contact_email": contact.get("email"), "contact_url": contact.get("url")}
        if isinstance(contact, dict)
        else {}
    )
    raw = {k: v for k, v in raw.items() if v is not None}
    content = SolutionFields.model_validate(raw)
    return content.stored()


async def load_solutions(session: AsyncSession, items: list[dict[str, Any]]) -> tuple[int, int]:
    index = await vocabulary_index(session)
    orgs = {o.slug: o for o in await session.exec(select(Organization))}
    solutions = {s.slug: s for s in await session.exec(select(Solution))}
    created = updated = 0
    for item in items:
        content = _content(item)
        check_terms(content, index)
        provider = orgs[item["provider"]]
        values = content | {
            "provider_id": provider.id,
            "is_open_source": is_open_source(content["license"]),
            "sources": list(item.get("sources") or []),
            "unconfirmed": sorted(item.get("unconfirmed") or []),
            "state": SolutionState.published.value,
        }
        solution = solutions.get(item["slug"])
        is_new = solution is None
        if solution is None:
            solution = Solution(slug=item["slug"], published_at=utcnow(), **values)
            session.add(solution)
            await session.flush()
            created += 1
        elif assign_changed(solution, values):
            updated += 1
        changed_refs = await _load_references(session, solution, item.get("references") or [], orgs)
        if is_new or changed_refs or session.is_modified(solution):
            await sync_facets(session, solution)
    await session.flush()
    return created, updated


async def _load_references(
    session: AsyncSession, solution: Solution, items: list[dict[str, Any]], orgs: dict[str, Organization]
) -> bool:
    existing = {
        r.organization_id: r for r in await session.exec(select(Reference).where(Reference.solution_id == solution.id))
    }
    changed = False
    for item in items:
        org = orgs[item["organization"]]
        since = item.get("since")
        values: dict[str, Any] = {
            "mode": item.get("mode") or "own-operation",
            "statement": item.get("statement"),
            "since": date.fromisoformat(str(since)) if since else None,
            "deleted_at": None,
        }
        reference = existing.get(org.id or 0)
        if reference is None:
            session.add(Reference(solution_id=solution.id or 0, organization_id=org.id or 0, **values))
            changed = True
        elif assign_changed(reference, values):
            changed = True
    if changed:
        await session.flush()
    count = len(
        (
            await session.exec(
                select(Reference.id).where(Reference.solution_id == solution.id, col(Reference.deleted_at).is_(None))
            )
        ).all()
    )
    if solution.adopters_count != count:
        solution.adopters_count = count
    return changed

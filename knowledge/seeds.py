"""Loading case studies (``seeds/case_studies.yaml``) and guides (``seeds/guides/*.md``): idempotent.

Seeded records are curated by the platform from checked facts and are created as published.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.records import assign_changed
from allmende.core.types import utcnow
from knowledge.models import CaseStudy, Guide, GuideRevision
from knowledge.schemas import CaseStudyFields, GuideFields
from knowledge.services import _case_study_content, _check_vocabulary, sync_links


async def load_case_studies(session: AsyncSession, items: list[dict[str, Any]]) -> tuple[int, int]:
    existing = {c.slug: c for c in await session.exec(select(CaseStudy))}
    created = updated = 0
    for item in items:
        fields = CaseStudyFields.model_validate({k: v for k, v in item.items() if k in CaseStudyFields.model_fields})
        values = await _case_study_content(session, fields)
        values |= {
            "sources": list(item.get("sources") or []),
            "unconfirmed": sorted(item.get("unconfirmed") or []),
            "state": "published",
        }
        study = existing.get(item["slug"])
        if study is None:
            study = CaseStudy(slug=item["slug"], published_at=utcnow(), **values)
            session.add(study)
            await session.flush()
            await sync_links(session, study)
            created += 1
        elif assign_changed(study, values):
            await session.flush()
            await sync_links(session, study)
            updated += 1
    await session.flush()
    return created, updated


def read_guides(folder: Path) -> list[dict[str, Any]]:
    guides = []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        if not text.startswith("---\n"):
            raise ValueError(f"{path}: a guide starts with YAML front matter")
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front)
        guides.append(meta | {"body": body.lstrip("\n")})
    return guides


async def load_guides(session: AsyncSession, items: list[dict[str, Any]]) -> tuple[int, int]:
    existing = {g.slug: g for g in await session.exec(select(Guide))}
    created = updated = 0
    for item in items:
        fields = GuideFields.model_validate({k: v for k, v in item.items() if k in GuideFields.model_fields})
        await _check_vocabulary(session, {"stage": fields.stage, "step": fields.step})
        guide = existing.get(item["slug"])
        if guide is None:
            guide = Guide(
                slug=item["slug"],
                state="published",
                published_at=utcnow(),
                title=fields.title,
                stage=fields.stage,
                step=fields.step,
            )
            session.add(guide)
            await session.flush()
            created += 1
        elif all(getattr(guide, k) == v for k, v in fields.model_dump().items()):
            continue
        else:
            updated += 1
        assign_changed(guide, fields.model_dump())
        guide.revision += 1
        session.add(
            GuideRevision(
                guide_id=guide.id or 0, number=guide.revision, note="Aus den Seeds geladen", **fields.model_dump()
            )
        )
    await session.flush()
    return created, updated

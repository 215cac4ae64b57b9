"""``allmende seed``: loads ``seeds/`` into the database through each package's own loader.

Running it twice changes nothing: every loader upserts by a natural key and leaves equal records alone.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.seeds import load_organizations
from allmende.core.db import Database
from knowledge.seeds import load_case_studies, load_guides, read_guides
from marketplace.seeds import load_solutions, load_vocabularies

SEEDS_DIR = Path(os.environ.get("ALLMENDE_SEEDS_DIR", Path(__file__).resolve().parent.parent / "seeds"))


@dataclass
class SeedResult:
    name: str
    created: int
    updated: int


def read_yaml(name: str, key: str, seeds_dir: Path = SEEDS_DIR) -> list[dict[str, Any]]:
    path = seeds_dir / name
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get(key, [])
    assert isinstance(items, list), f"{path}: '{key}' must be a list"
    return items


Loader = Callable[[AsyncSession, Path], Awaitable[SeedResult]]


async def _organizations(session: AsyncSession, seeds_dir: Path) -> SeedResult:
    created, updated = await load_organizations(session, read_yaml("organizations.yaml", "organizations", seeds_dir))
    return SeedResult("organizations", created, updated)


async def _vocabularies(session: AsyncSession, seeds_dir: Path) -> SeedResult:
    created, updated = await load_vocabularies(session, read_yaml("vocabularies.yaml", "vocabularies", seeds_dir))
    return SeedResult("vocabularies", created, updated)


async def _solutions(session: AsyncSession, seeds_dir: Path) -> SeedResult:
    created, updated = await load_solutions(session, read_yaml("solutions.yaml", "solutions", seeds_dir))
    return SeedResult("solutions", created, updated)


async def _case_studies(session: AsyncSession, seeds_dir: Path) -> SeedResult:
    created, updated = await load_case_studies(session, read_yaml("case_studies.yaml", "case_studies", seeds_dir))
    return SeedResult("case studies", created, updated)


async def _guides(session: AsyncSession, seeds_dir: Path) -> SeedResult:
    folder = seeds_dir / "guides"
    created, updated = await load_guides(session, read_guides(folder) if folder.exists() else [])
    return SeedResult("guides", created, updated)


# In dependency order: later loaders refer to what earlier ones created.
LOADERS: list[Loader] = [_organizations, _vocabularies, _solutions, _case_studies, _guides]


async def seed(database: Database, seeds_dir: Path = SEEDS_DIR) -> list[SeedResult]:
    results = []
    async with database.unit_of_work() as session:  # all or nothing
        for loader in LOADERS:
            results.append(await loader(session, seeds_dir))
    return results

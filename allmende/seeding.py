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


Reader = Callable[[Path], list[dict[str, Any]]]
Load = Callable[[AsyncSession, list[dict[str, Any]]], Awaitable[tuple[int, int]]]


def _yaml(name: str, key: str) -> Reader:
    return lambda seeds_dir: read_yaml(name, key, seeds_dir)


def _guide_files(seeds_dir: Path) -> list[dict[str, Any]]:
    folder = seeds_dir / "guides"
    return read_guides(folder) if folder.exists() else []


# In dependency order: later loaders refer to what earlier ones created. (name, reader, the package's loader)
LOADERS: list[tuple[str, Reader, Load]] = [
    ("organizations", _yaml("organizations.yaml", "organizations"), load_organizations),
    ("vocabularies", _yaml("vocabularies.yaml", "vocabularies"), load_vocabularies),
    ("solutions", _yaml("solutions.yaml", "solutions"), load_solutions),
    ("case studies", _yaml("case_studies.yaml", "case_studies"), load_case_studies),
    ("guides", _guide_files, load_guides),
]


async def seed(database: Database, seeds_dir: Path = SEEDS_DIR) -> list[SeedResult]:
    results = []
    async with database.unit_of_work() as session:  # all or nothing
        for name, read, load in LOADERS:
            created, updated = await load(session, read(seeds_dir))
            results.append(SeedResult(name, created, updated))
    return results

"""Helpers of the knowledge tests: a municipality beside a published solution, the bodies of a case study
and of a guide."""

from __future__ import annotations

from typing import Any

from allmende.accounts.models import Organization, OrganizationKind
from allmende.core.db import Database
from marketplace.models import Solution
from marketplace.schemas import SolutionFields
from marketplace.services import sync_facets
from tests.support.factories import make_organization, seed_vocabularies, solution_payload


async def town_with_solution(database: Database) -> tuple[Organization, str]:
    await seed_vocabularies(database)
    town = await make_organization(
        database, kind=OrganizationKind.municipality, name="Musterstadt", ags="08111000", bundesland="08"
    )
    vendor = await make_organization(database)

    async with database.unit_of_work() as session:
        solution = Solution(
            slug="parkleitsystem",
            provider_id=vendor.id or 0,
            state="published",
            **SolutionFields.model_validate(solution_payload(name="Parkleitsystem")).stored(),
        )
        session.add(solution)
        await session.flush()
        await sync_facets(session, solution)
    return town, "parkleitsystem"


def study(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "Digitale Parkraumbewirtschaftung",
        "organizations": ["08111000"],
        "programme": "eigen",
        "cohort": 2022,
        "stages": ["2"],
        "sectors": ["smart-transport-mobility"],
        "steps": ["pilotprojekte-skalierung"],
        "summary": "Sensoren zeigen freie Plätze.",
        "body": "## Ausgangslage\n\nZu viel Suchverkehr.",
        "solutions": ["parkleitsystem"],
        "outcomes": [{"label": "Sensoren", "value": 120, "unit": "Stück"}],
        **overrides,
    }


def guide_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "Open Data starten",
        "stage": "1",
        "step": "datenmanagement-analyse",
        "summary": "Erste Schritte.",
        "body": "## Start\n\nErst Daten finden.\n",
        **overrides,
    }

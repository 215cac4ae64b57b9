"""The knowledge hub: case studies linked to the catalog, guides with revisions, the Stufenplan stages."""

from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, Organization, PlatformRole
from allmende.core.db import Database
from knowledge.models import CaseStudy, GuideRevision
from tests.support.factories import csrf_headers, login, make_organization, make_user, make_user_in, seed_vocabularies
from tests.support.knowledge import guide_payload, study, town_with_solution


@pytest.fixture
def seeded(request: pytest.FixtureRequest) -> None:
    """The tests that use this are marked `seeded`: their database starts with seeds/ loaded."""
    assert request.node.get_closest_marker("seeded") is not None


async def _signed_in(
    client: httpx.AsyncClient,
    database: Database,
    *,
    role: PlatformRole | None = None,
    org: Organization | None = None,
    member_role: MemberRole = MemberRole.editor,
) -> httpx.AsyncClient:
    user = await make_user_in(database, org, member_role) if org else await make_user(database, role=role)
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (await login(other, user.email)).status_code == 201
    return other


@pytest.mark.seeded
async def test_seeded_hub_serves_case_studies_guides_and_stage_3(client: httpx.AsyncClient, seeded: None) -> None:
    studies = (await client.get("/api/v1/case-studies", params={"limit": 100})).json()
    assert studies["total"] >= 40
    guides = (await client.get("/api/v1/guides")).json()
    assert guides["total"] >= 8
    assert {g["stage"] for g in guides["items"]} == {"1", "2", "3", "4"}
    assert {g["step"] for g in guides["items"]} == {
        "planung-strategie",
        "infrastruktur-technologie",
        "datenmanagement-analyse",
        "buergerbeteiligung-zusammenarbeit",
        "pilotprojekte-skalierung",
    }
    stage = (await client.get("/api/v1/stages/3")).json()
    assert stage["number"] == 3 and stage["title_de"]
    assert stage["counts"] == {
        "solutions": len(stage["solutions"]),
        "case_studies": len(stage["case_studies"]),
        "guides": len(stage["guides"]),
    }
    assert stage["counts"]["guides"] >= 1 and stage["counts"]["case_studies"] >= 1
    stages = (await client.get("/api/v1/stages")).json()
    assert [s["number"] for s in stages] == [1, 2, 3, 4]
    assert (await client.get("/api/v1/stages/5")).status_code == 404


@pytest.mark.seeded
async def test_case_study_and_solution_link_both_ways(client: httpx.AsyncClient, seeded: None) -> None:
    study = (await client.get("/api/v1/case-studies/mpsc-solingen")).json()
    assert study["organizations"][0]["key"] == "05122000"
    assert study["organizations"][0]["bundesland"] == "05"
    assert {"slug": "open-smartcity-app"}.items() <= study["solutions"][0].items()
    solution = (await client.get("/api/v1/solutions/open-smartcity-app")).json()
    assert "mpsc-solingen" in {c["slug"] for c in solution["related"]["case_studies"]}
    assert study["toc"] and study["toc"][0]["anchor"].startswith("h-")
    by_land = (await client.get("/api/v1/case-studies", params={"bundesland": "05", "limit": 100})).json()
    assert by_land["total"] >= 1 and all(
        any(o["bundesland"] == "05" for o in s["organizations"]) for s in by_land["items"]
    )


@pytest.mark.seeded
async def test_counties_are_linked_by_their_key(client: httpx.AsyncClient, seeded: None) -> None:
    study = (await client.get("/api/v1/case-studies/mpsc-lk-wunsiedel")).json()
    assert study["organizations"][0]["kind"] == "county"


async def test_a_municipality_writes_a_case_study_and_a_moderator_publishes_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    town, solution = await town_with_solution(database)
    author = await _signed_in(client, database, org=town)
    created = await author.post(
        "/api/v1/case-studies", headers=csrf_headers(author), json=study(author_organization=town.slug)
    )
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    assert (await client.get(f"/api/v1/case-studies/{slug}")).status_code == 404  # drafts are not public
    await author.post(f"/api/v1/case-studies/{slug}/submit", headers=csrf_headers(author))
    moderator = await _signed_in(client, database, role=PlatformRole.moderator)
    published = await moderator.post(f"/api/v1/case-studies/{slug}/publish", headers=csrf_headers(moderator))
    assert published.status_code == 200 and published.json()["state"] == "published"
    linked = (await client.get(f"/api/v1/solutions/{solution}")).json()["related"]["case_studies"]
    assert [c["slug"] for c in linked] == [slug]

    etag = (await author.get(f"/api/v1/case-studies/{slug}")).headers["etag"]
    edit = await author.patch(
        f"/api/v1/case-studies/{slug}",
        json={"title": "Neuer Titel"},
        headers={"If-Match": etag, **csrf_headers(author)},
    )
    assert edit.status_code == 200 and edit.json()["pending"]["content"]["title"] == "Neuer Titel"
    assert (await client.get(f"/api/v1/case-studies/{slug}")).json()["title"] == "Digitale Parkraumbewirtschaftung"


@pytest.mark.parametrize(
    ("overrides", "field", "status"),
    [
        ({"organizations": ["09999999"]}, "organizations", 422),
        ({"organizations": ["123"]}, "organizations.0", 422),
        ({"solutions": ["gibt-es-nicht"]}, "solutions", 422),
        ({"steps": ["tanzen"]}, "steps", 422),
        ({"body": "x" * 200_001}, "body", 422),
    ],
)
async def test_bad_case_study_input_writes_nothing(
    client: httpx.AsyncClient, database: Database, overrides: dict[str, Any], field: str, status: int
) -> None:
    town, _ = await town_with_solution(database)
    author = await _signed_in(client, database, org=town)
    response = await author.post(
        "/api/v1/case-studies", headers=csrf_headers(author), json=study(author_organization=town.slug, **overrides)
    )
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    async with database.sessionmaker() as session:
        assert (await session.exec(select(CaseStudy))).all() == []


async def test_guides_keep_every_revision_diff_and_restore(client: httpx.AsyncClient, database: Database) -> None:
    await seed_vocabularies(database)
    moderator = await _signed_in(client, database, role=PlatformRole.moderator)
    created = await moderator.post(
        "/api/v1/guides",
        headers=csrf_headers(moderator),
        json=guide_payload(tags=["daten"]),
    )
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for body in ("## Start\n\nErst Daten finden.\nDann veröffentlichen.\n", "## Start\n\nAlles anders.\n"):
        etag = (await moderator.get(f"/api/v1/guides/{slug}")).headers["etag"]
        saved = await moderator.patch(
            f"/api/v1/guides/{slug}",
            json={"body": body, "note": "Ergänzt"},
            headers={"If-Match": etag, **csrf_headers(moderator)},
        )
        assert saved.status_code == 200
    history = (await moderator.get(f"/api/v1/guides/{slug}/revisions")).json()
    assert [r["number"] for r in history] == [3, 2, 1]
    diff = (await moderator.get(f"/api/v1/guides/{slug}/diff", params={"from": 1, "to": 2})).json()
    assert "+Dann veröffentlichen." in diff["body_diff"] and diff["fields"] == {}
    restored = await moderator.post(f"/api/v1/guides/{slug}/revisions/2/restore", headers=csrf_headers(moderator))
    assert restored.status_code == 200 and restored.json()["revision"] == 4
    assert restored.json()["body"] == "## Start\n\nErst Daten finden.\nDann veröffentlichen.\n"
    async with database.sessionmaker() as session:
        notes = [r.note for r in await session.exec(select(GuideRevision).order_by(col(GuideRevision.number)))]
    assert notes[-1] == "Wiederhergestellt aus Revision 2"

    other = await moderator.post(
        "/api/v1/guides",
        headers=csrf_headers(moderator),
        json={"title": "Andere Anleitung", "stage": "2", "step": "planung-strategie"},
    )
    other_slug = other.json()["slug"]
    # Revision numbers belong to one guide: revision 3 of another guide cannot be diffed against this one.
    crossed = await moderator.get(f"/api/v1/guides/{other_slug}/diff", params={"from": 1, "to": 3})
    assert crossed.status_code == 404 and crossed.json()["field"] == "to"

    outsider_org = await make_organization(database)
    outsider = await _signed_in(client, database, org=outsider_org)
    denied = await outsider.post(f"/api/v1/guides/{slug}/revisions/1/restore", headers=csrf_headers(outsider))
    assert denied.status_code in (403, 404)
    assert (await moderator.get(f"/api/v1/guides/{slug}")).json()["revision"] == 4


@pytest.mark.seeded
async def test_a_published_guide_restore_needs_rights(
    client: httpx.AsyncClient, seeded: None, database: Database
) -> None:
    outsider = await _signed_in(client, database, org=await make_organization(database))
    denied = await outsider.post(
        "/api/v1/guides/pilotieren-und-skalieren/revisions/1/restore", headers=csrf_headers(outsider)
    )
    assert denied.status_code == 403
    anonymous = await client.post("/api/v1/guides/pilotieren-und-skalieren/revisions/1/restore")
    assert anonymous.status_code in (401, 403)

"""The solution catalog: the vendor flow, moderation, references, bulk upsert, listing and bad input."""

from typing import Any

import httpx
import pytest
from sqlmodel import select

from allmende.accounts.models import MemberRole, OrganizationKind, PlatformRole
from allmende.core.audit import AuditEvent
from allmende.core.db import Database
from marketplace.models import Solution
from tests.support.factories import (
    bearer,
    csrf_headers,
    login,
    make_organization,
    make_user,
    make_user_in,
    seed_vocabularies,
    solution_payload,
)


@pytest.fixture
async def vendor(database: Database) -> Any:
    await seed_vocabularies(database)
    return await make_organization(database, name="Offene Kommunalsoftware eG", slug="oks")


async def _write_token(client: httpx.AsyncClient, database: Database, org: Any) -> str:
    owner = await make_user_in(database, org, MemberRole.owner)
    await login(client, owner.email)
    response = await client.post(
        f"/api/v1/organizations/{org.slug}/tokens",
        headers=csrf_headers(client),
        json={"name": "Katalog", "scopes": ["read", "write"]},
    )
    await client.post("/api/v1/auth/logout", headers=csrf_headers(client))
    return str(response.json()["token"])


async def _as_moderator(client: httpx.AsyncClient, database: Database) -> httpx.AsyncClient:
    moderator = await make_user(database, role=PlatformRole.moderator)
    moderator_client = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (await login(moderator_client, moderator.email)).status_code == 201
    return moderator_client


async def _submitted(
    client: httpx.AsyncClient, database: Database, vendor: Any
) -> tuple[httpx.AsyncClient, str, httpx.AsyncClient]:
    """The vendor's API client, a solution it wrote and submitted, and a signed-in moderator."""
    api = bearer(client, await _write_token(client, database, vendor))
    slug = (await api.post("/api/v1/solutions", json=solution_payload())).json()["slug"]
    await api.post(f"/api/v1/solutions/{slug}/submit")
    return api, slug, await _as_moderator(client, database)


async def test_the_whole_vendor_flow_over_http(client: httpx.AsyncClient, database: Database, vendor: Any) -> None:
    """token → draft → submit → moderator publishes → public → vendor edits → public sees the old version
    until the moderator approves the edit."""
    api = bearer(client, await _write_token(client, database, vendor))
    created = await api.post("/api/v1/solutions", json=solution_payload(name="Mitmachportal"))
    assert created.status_code == 201, created.text
    slug, etag = created.json()["slug"], created.headers["etag"]
    assert created.json()["state"] == "draft" and created.json()["provider"]["slug"] == "oks"
    assert created.json()["is_open_source"] is True
    public = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (await public.get(f"/api/v1/solutions/{slug}")).status_code == 404

    submitted = await api.post(f"/api/v1/solutions/{slug}/submit", headers={"If-Match": etag})
    assert submitted.status_code == 200 and submitted.json()["state"] == "submitted"
    moderator = await _as_moderator(client, database)
    published = await moderator.post(f"/api/v1/solutions/{slug}/publish", headers=csrf_headers(moderator))
    assert published.status_code == 200 and published.json()["state"] == "published"

    seen = await public.get(f"/api/v1/solutions/{slug}")
    assert seen.status_code == 200 and seen.json()["name"] == "Mitmachportal"
    assert seen.json()["pending"] is None
    assert "<strong>Bürgerbeteiligung</strong>" in seen.json()["description_html"]
    listed = (await public.get("/api/v1/solutions")).json()
    assert [s["slug"] for s in listed["items"]] == [slug]

    edit = await api.patch(
        f"/api/v1/solutions/{slug}", json={"name": "Mitmachportal 2"}, headers={"If-Match": seen.headers["etag"]}
    )
    assert edit.status_code == 200, edit.text
    assert edit.json()["name"] == "Mitmachportal" and edit.json()["pending"]["content"]["name"] == "Mitmachportal 2"
    assert (await public.get(f"/api/v1/solutions/{slug}")).json()["name"] == "Mitmachportal"
    assert (await public.get(f"/api/v1/solutions/{slug}")).json()["pending"] is None  # not shown to the public
    await api.post(f"/api/v1/solutions/{slug}/submit")
    assert (await public.get(f"/api/v1/solutions/{slug}")).json()["name"] == "Mitmachportal"
    approved = await moderator.post(f"/api/v1/solutions/{slug}/publish", headers=csrf_headers(moderator))
    assert approved.status_code == 200
    final = (await public.get(f"/api/v1/solutions/{slug}")).json()
    assert final["name"] == "Mitmachportal 2" and final["state"] == "published"

    async with database.sessionmaker() as session:
        events = [
            (e.action, e.from_state, e.to_state)
            for e in await session.exec(select(AuditEvent).where(AuditEvent.record_type == "solution"))
        ]
    assert ("solution.publish", "submitted", "published") in events
    assert ("solution.approve_edit", "submitted", "published") in events


async def test_moderator_requests_changes_with_a_reason(
    client: httpx.AsyncClient, database: Database, vendor: Any
) -> None:
    api, slug, moderator = await _submitted(client, database, vendor)
    missing_reason = await moderator.post(
        f"/api/v1/solutions/{slug}/request-changes", json={}, headers=csrf_headers(moderator)
    )
    assert missing_reason.status_code == 422 and missing_reason.json()["field"] == "reason"
    sent_back = await moderator.post(
        f"/api/v1/solutions/{slug}/request-changes",
        headers=csrf_headers(moderator),
        json={"reason": "Bitte die Lizenz ergänzen."},
    )
    assert sent_back.json()["state"] == "changes_requested"
    mine = (await api.get(f"/api/v1/solutions/{slug}")).json()
    assert mine["moderation_reason"] == "Bitte die Lizenz ergänzen."
    etag = (await api.get(f"/api/v1/solutions/{slug}")).headers["etag"]
    assert (
        await api.patch(f"/api/v1/solutions/{slug}", json={"license": "MIT"}, headers={"If-Match": etag})
    ).status_code == 200
    assert (await api.post(f"/api/v1/solutions/{slug}/submit")).json()["state"] == "submitted"


async def test_forbidden_transitions_are_409_and_change_nothing(
    client: httpx.AsyncClient, database: Database, vendor: Any
) -> None:
    api = bearer(client, await _write_token(client, database, vendor))
    slug = (await api.post("/api/v1/solutions", json=solution_payload())).json()["slug"]
    moderator = await _as_moderator(client, database)
    draft_publish = await moderator.post(f"/api/v1/solutions/{slug}/publish", headers=csrf_headers(moderator))
    assert draft_publish.status_code == 409 and draft_publish.json()["field"] == "state"
    own_publish = await api.post(f"/api/v1/solutions/{slug}/publish")
    assert own_publish.status_code == 403  # an editor never publishes its own solution
    assert (await api.post(f"/api/v1/solutions/{slug}/archive")).status_code == 409
    assert (await api.get(f"/api/v1/solutions/{slug}")).json()["state"] == "draft"


async def test_stale_or_missing_if_match_is_refused(client: httpx.AsyncClient, database: Database, vendor: Any) -> None:
    api = bearer(client, await _write_token(client, database, vendor))
    created = await api.post("/api/v1/solutions", json=solution_payload())
    slug, etag = created.json()["slug"], created.headers["etag"]
    assert (await api.patch(f"/api/v1/solutions/{slug}", json={"name": "A"})).status_code == 428
    assert (
        await api.patch(f"/api/v1/solutions/{slug}", json={"name": "A"}, headers={"If-Match": etag})
    ).status_code == 200
    stale = await api.patch(f"/api/v1/solutions/{slug}", json={"name": "B"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert (await api.get(f"/api/v1/solutions/{slug}")).json()["name"] == "A"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"license": "GPL-9.9-only"}, "license"),
        ({"license": "MIT OR"}, "license"),
        ({"sectors": ["smart-space"]}, "sectors"),
        ({"standards": ["made-up-standard"]}, "standards"),
        ({"stages": ["5"]}, "stages"),
        ({"kind": "gadget"}, "kind"),
        ({"accessibility": "mostly"}, "accessibility"),
        ({"repository_url": "ftp://example.org/x"}, "repository_url"),
        ({"homepage_url": "javascript:alert(1)"}, "homepage_url"),
        ({"description": "x" * 100_001}, "description"),
        ({"summary": "s" * 201}, "summary"),
        ({"summary": ""}, "summary"),
        ({"languages": ["deutsch"]}, "languages"),
        ({"contact_email": "not-an-address"}, "contact_email"),
        ({"colour": "green"}, "colour"),
    ],
)
async def test_bad_solution_input_is_422_naming_the_field(
    client: httpx.AsyncClient, database: Database, vendor: Any, overrides: dict[str, Any], field: str
) -> None:
    api = bearer(client, await _write_token(client, database, vendor))
    response = await api.post("/api/v1/solutions", json=solution_payload(**overrides))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field
    async with database.sessionmaker() as session:
        assert (await session.exec(select(Solution))).all() == []


async def test_duplicate_slug_is_409(client: httpx.AsyncClient, database: Database, vendor: Any) -> None:
    api = bearer(client, await _write_token(client, database, vendor))
    assert (await api.post("/api/v1/solutions", json=solution_payload(slug="dup"))).status_code == 201
    again = await api.post("/api/v1/solutions", json=solution_payload(slug="dup"))
    assert again.status_code == 409 and again.json()["field"] == "slug"


async def test_spdx_and_the_derived_open_source_flag(
    client: httpx.AsyncClient, database: Database, vendor: Any
) -> None:
    api = bearer(client, await _write_token(client, database, vendor))
    cases = {"EUPL-1.2 OR AGPL-3.0-or-later": True, "LicenseRef-Proprietary": False, "BUSL-1.1": False, "MIT": True}
    for expression, expected in cases.items():
        body = (await api.post("/api/v1/solutions", json=solution_payload(license=expression))).json()
        assert (body["license"], body["is_open_source"]) == (expression, expected)


async def test_bulk_upsert_is_all_or_nothing_with_per_item_errors(
    client: httpx.AsyncClient, database: Database, vendor: Any
) -> None:
    api = bearer(client, await _write_token(client, database, vendor))
    items = [solution_payload(external_id="a-1"), solution_payload(external_id="a-2")]
    bad = await api.post(
        "/api/v1/solutions/bulk",
        json={"items": [*items, solution_payload(external_id="a-3", license="nope"), {"name": "no id"}]},
    )
    assert bad.status_code == 422
    errors = bad.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(2, "license"), (3, "external_id")]
    async with database.sessionmaker() as session:
        assert (await session.exec(select(Solution))).all() == []

    first = await api.post("/api/v1/solutions/bulk", json={"items": items})
    assert first.status_code == 200
    assert (first.json()["created"], first.json()["updated"]) == (2, 0)
    again = await api.post("/api/v1/solutions/bulk", json={"items": items})
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 2)
    changed = await api.post(
        "/api/v1/solutions/bulk", json={"items": [items[0] | {"summary": "Neue Kurzbeschreibung."}, items[1]]}
    )
    assert (changed.json()["updated"], changed.json()["unchanged"]) == (1, 1)


async def test_a_municipality_claims_and_withdraws_a_reference(
    client: httpx.AsyncClient, database: Database, vendor: Any
) -> None:
    _, slug, moderator = await _submitted(client, database, vendor)
    await moderator.post(f"/api/v1/solutions/{slug}/publish", headers=csrf_headers(moderator))

    town = await make_organization(
        database, kind=OrganizationKind.municipality, name="Musterstadt", ags="05111000", bundesland="05"
    )
    staff = await make_user_in(database, town, MemberRole.member)
    await login(client, staff.email)
    claimed = await client.put(
        f"/api/v1/solutions/{slug}/references/{town.slug}",
        headers=csrf_headers(client),
        json={"since": "2023-04-01", "mode": "shared-deployment", "statement": "Läuft im Rechenzentrum des Kreises."},
    )
    assert claimed.status_code == 200, claimed.text
    record = (await client.get(f"/api/v1/solutions/{slug}")).json()
    assert record["adopters_count"] == 1
    assert record["adopters"][0]["organization"] == {
        "slug": town.slug,
        "name": "Musterstadt",
        "kind": "municipality",
        "bundesland": "05",
    }
    uses = (await client.get(f"/api/v1/organizations/{town.slug}/references")).json()
    assert [u["solution"] for u in uses] == [slug]
    by_land = (await client.get("/api/v1/solutions", params={"bundesland": "05"})).json()
    assert by_land["total"] == 1
    assert (await client.get("/api/v1/solutions", params={"bundesland": "09"})).json()["total"] == 0
    bad_mode = await client.put(
        f"/api/v1/solutions/{slug}/references/{town.slug}", headers=csrf_headers(client), json={"mode": "borrowed"}
    )
    assert bad_mode.status_code == 422 and bad_mode.json()["field"] == "mode"

    withdrawn = await client.delete(f"/api/v1/solutions/{slug}/references/{town.slug}", headers=csrf_headers(client))
    assert withdrawn.status_code == 204
    assert (await client.get(f"/api/v1/solutions/{slug}")).json()["adopters"] == []


async def test_vocabularies_carry_german_and_english_labels(
    client: httpx.AsyncClient, database: Database, vendor: Any
) -> None:
    vocabularies = {v["key"]: v for v in (await client.get("/api/v1/vocabularies")).json()}
    assert {"stages", "sectors", "areas", "steps", "standards", "solution-kinds"} <= set(vocabularies)
    assert len(vocabularies["sectors"]["terms"]) == 8 and len(vocabularies["areas"]["terms"]) == 5
    assert all(t["label_de"] and t["label_en"] for v in vocabularies.values() for t in v["terms"])
    moderator = await _as_moderator(client, database)
    added = await moderator.post(
        "/api/v1/vocabularies/standards/terms",
        headers=csrf_headers(moderator),
        json={"key": "xbreitband", "label_de": "XBreitband", "label_en": "XBreitband"},
    )
    assert added.status_code == 201
    fixed = await moderator.post(
        "/api/v1/vocabularies/sectors/terms",
        headers=csrf_headers(moderator),
        json={"key": "smart-space", "label_de": "Weltraum", "label_en": "Space"},
    )
    assert fixed.status_code == 409


@pytest.mark.seeded
async def test_seeded_catalog_is_published_and_filterable(client: httpx.AsyncClient, database: Database) -> None:
    everything = (await client.get("/api/v1/solutions", params={"limit": 100})).json()
    assert everything["total"] >= 40
    assert all(s["state"] == "published" for s in everything["items"])
    governance = (await client.get("/api/v1/solutions", params={"sector": "smart-governance"})).json()
    assert 0 < governance["total"] < everything["total"]
    open_source = (await client.get("/api/v1/solutions", params={"license_type": "open-source", "limit": 100})).json()
    assert all(s["is_open_source"] for s in open_source["items"])
    popular = (await client.get("/api/v1/solutions", params={"sort": "most_adopted", "limit": 5})).json()["items"]
    counts = [s["adopters_count"] for s in popular]
    assert counts == sorted(counts, reverse=True) and counts[0] >= 2
    pages, cursor, seen = 0, None, []
    while True:
        params: dict[str, Any] = {"limit": 7, "sort": "newest"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/solutions", params=params)).json()
        seen += [s["slug"] for s in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == everything["total"]
    for params in ({"sector": "nope"}, {"sort": "cheapest"}, {"bundesland": "99"}, {"license_type": "free"}):
        bad = await client.get("/api/v1/solutions", params=params)
        assert bad.status_code == 422, params

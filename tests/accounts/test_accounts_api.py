"""Sign-in, organizations, members and API tokens over HTTP, with the bad input each must refuse."""

from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from allmende.accounts.models import ApiToken, MemberRole, OrganizationKind, PlatformRole
from allmende.core.audit import AuditEvent
from allmende.core.db import Database
from allmende.core.types import utcnow
from tests.support.factories import add_membership, csrf_headers, login, make_organization, make_user


async def _as_admin(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_user(database, role=PlatformRole.admin)
    assert (await login(client, admin.email)).status_code == 201


# --- sign-in -------------------------------------------------------------------------------------------


async def test_login_sets_a_session_and_me_shows_the_memberships(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database)
    org = await make_organization(database, name="Stadt Musterhausen", kind=OrganizationKind.municipality)
    await add_membership(database, user, org, MemberRole.editor)
    response = await login(client, user.email.upper())  # e-mail addresses are case-insensitive
    assert response.status_code == 201
    me = (await client.get("/api/v1/auth/me")).json()
    assert me["email"] == user.email
    assert me["memberships"] == [
        {"organization": org.slug, "organization_name": "Stadt Musterhausen", "role": "editor"}
    ]
    assert (await client.post("/api/v1/auth/logout", headers=csrf_headers(client))).status_code == 204
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_failed_logins_do_not_reveal_whether_the_account_exists(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await make_user(database)
    wrong_password = await login(client, user.email, "not the password")
    no_account = await login(client, "nobody@example.org", "not the password")
    assert wrong_password.status_code == no_account.status_code == 401
    assert wrong_password.json()["detail"] == no_account.json()["detail"]


async def test_login_is_rate_limited_per_account(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database)
    statuses = [(await login(client, user.email, "wrong")).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # Even the right password waits now, so guessing cannot go on.
    blocked = await login(client, user.email)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_a_form_post_without_the_csrf_token_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database)
    await client.get("/api/v1/organizations")
    response = await client.post("/api/v1/auth/login", json={"email": user.email, "password": "x" * 20})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


# --- organizations ---------------------------------------------------------------------------------------


async def test_moderator_creates_a_municipality_with_a_valid_ags(client: httpx.AsyncClient, database: Database) -> None:
    await _as_admin(client, database)
    response = await client.post(
        "/api/v1/organizations",
        headers=csrf_headers(client),
        json={"kind": "municipality", "name": "Gemeinde Großbeispiel", "ags": "09162000", "population": 1500},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["slug"] == "gemeinde-grossbeispiel"
    assert body["bundesland"] == "09" and body["bundesland_name"] == "Bayern"
    assert response.headers["etag"] == f'"{body["uuid"]}.1"'
    listed = (await client.get("/api/v1/organizations", params={"bundesland": "09"})).json()
    assert [o["slug"] for o in listed["items"]] == ["gemeinde-grossbeispiel"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "municipality", "name": "X", "ags": "1234567"}, "ags"),
        ({"kind": "municipality", "name": "X", "ags": "17000000"}, "ags"),
        ({"kind": "municipality", "name": "X", "ars": "0916200000001"}, "ars"),
        ({"kind": "municipality", "name": "X"}, "ags"),
        ({"kind": "municipality", "name": "X", "ags": "09162000", "bundesland": "05"}, "bundesland"),
        ({"kind": "vendor", "name": "X", "ags": "09162000"}, "ags"),
        ({"kind": "city-state", "name": "X"}, "kind"),
        ({"kind": "vendor", "name": ""}, "name"),
        ({"kind": "vendor", "name": "X" * 201}, "name"),
        ({"kind": "vendor", "name": "X", "website": "javascript:alert(1)"}, "website"),
        ({"kind": "vendor", "name": "X", "colour": "blue"}, "colour"),
        ({"kind": "vendor", "name": "X", "population": -1}, "population"),
        ({"kind": "vendor", "name": "X", "slug": "Not A Slug"}, "slug"),
    ],
)
async def test_bad_organization_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, database: Database, payload: dict[str, object], field: str
) -> None:
    await _as_admin(client, database)
    response = await client.post("/api/v1/organizations", json=payload, headers=csrf_headers(client))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field
    listed = (await client.get("/api/v1/organizations")).json()
    assert listed["total"] == 0  # nothing half-written


async def test_malformed_json_is_a_400(client: httpx.AsyncClient, database: Database) -> None:
    await _as_admin(client, database)
    response = await client.post(
        "/api/v1/organizations",
        content=b'{"kind": "vendor", "name": ',
        headers={"content-type": "application/json", **csrf_headers(client)},
    )
    assert response.status_code == 400
    assert response.json()["field"] == "body"


async def test_duplicate_slug_is_a_409(client: httpx.AsyncClient, database: Database) -> None:
    await _as_admin(client, database)
    await make_organization(database, slug="taken")
    response = await client.post(
        "/api/v1/organizations", json={"kind": "vendor", "name": "T", "slug": "taken"}, headers=csrf_headers(client)
    )
    assert response.status_code == 409
    assert response.json()["field"] == "slug"


async def test_updates_need_a_current_if_match(client: httpx.AsyncClient, database: Database) -> None:
    await _as_admin(client, database)
    org = await make_organization(database)
    url = f"/api/v1/organizations/{org.slug}"
    etag = (await client.get(url)).headers["etag"]
    missing = await client.patch(url, json={"name": "Neu"}, headers=csrf_headers(client))
    assert missing.status_code == 428 and missing.json()["field"] == "If-Match"
    ok = await client.patch(url, json={"name": "Neu"}, headers={"If-Match": etag, **csrf_headers(client)})
    assert ok.status_code == 200 and ok.json()["name"] == "Neu" and ok.json()["version"] == 2
    stale = await client.patch(url, json={"name": "Älter"}, headers={"If-Match": etag, **csrf_headers(client)})
    assert stale.status_code == 412
    assert (await client.get(url)).json()["name"] == "Neu"


async def test_only_owners_and_moderators_edit_an_organization(client: httpx.AsyncClient, database: Database) -> None:
    org = await make_organization(database)
    editor = await make_user(database)
    await add_membership(database, editor, org, MemberRole.editor)
    await login(client, editor.email)
    url = f"/api/v1/organizations/{org.slug}"
    etag = (await client.get(url)).headers["etag"]
    response = await client.patch(url, json={"name": "Neu"}, headers={"If-Match": etag, **csrf_headers(client)})
    assert response.status_code == 403
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (
        await anonymous.post(
            "/api/v1/organizations",
            json={"kind": "vendor", "name": "X"},
            headers={"authorization": "Bearer alm_unknown"},
        )
    ).status_code == 401


async def test_list_pages_with_a_cursor(client: httpx.AsyncClient, database: Database) -> None:
    for i in range(5):
        await make_organization(database, name=f"Anbieter {i}")
    first = (await client.get("/api/v1/organizations", params={"limit": 2})).json()
    assert first["total"] == 5 and len(first["items"]) == 2 and first["next_cursor"]
    seen = [o["name"] for o in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (await client.get("/api/v1/organizations", params={"limit": 2, "cursor": cursor})).json()
        seen += [o["name"] for o in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [f"Anbieter {i}" for i in range(5)]
    assert (await client.get("/api/v1/organizations", params={"limit": 101})).json()["field"] == "limit"
    assert (await client.get("/api/v1/organizations", params={"cursor": "garbage!"})).status_code == 422
    assert (await client.get("/api/v1/organizations", params={"kind": "planet"})).json()["field"] == "kind"


# --- API tokens -------------------------------------------------------------------------------------------


async def _owner_with_token(client: httpx.AsyncClient, database: Database, scopes: list[str]) -> tuple[str, str, str]:
    org = await make_organization(database)
    owner = await make_user(database)
    await add_membership(database, owner, org, MemberRole.owner)
    await login(client, owner.email)
    response = await client.post(
        f"/api/v1/organizations/{org.slug}/tokens",
        headers=csrf_headers(client),
        json={"name": "CI", "scopes": scopes, "expires_in_days": 30},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return org.slug, body["token"], body["uuid"]


async def test_token_is_shown_once_stored_hashed_and_works(client: httpx.AsyncClient, database: Database) -> None:
    slug, token, token_uuid = await _owner_with_token(client, database, ["read"])
    assert token.startswith("alm_")
    listed = (await client.get(f"/api/v1/organizations/{slug}/tokens")).json()
    assert [t["uuid"] for t in listed] == [token_uuid] and "token" not in listed[0]
    async with database.sessionmaker() as session:
        stored = (await session.exec(select(ApiToken))).one()
    assert token not in (stored.token_hash, stored.token_prefix) and len(stored.token_hash) == 64
    bearer = httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver", headers={"authorization": f"Bearer {token}"}
    )
    members = await bearer.get(f"/api/v1/organizations/{slug}/members")
    assert members.status_code == 200 and members.json()[0]["role"] == "owner"
    async with database.sessionmaker() as session:
        assert (await session.exec(select(ApiToken))).one().last_used_at is not None


async def test_read_token_cannot_write_and_tokens_cannot_make_tokens(
    client: httpx.AsyncClient, database: Database
) -> None:
    slug, token, _ = await _owner_with_token(client, database, ["read", "write"])
    bearer = httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver", headers={"authorization": f"Bearer {token}"}
    )
    response = await bearer.post(f"/api/v1/organizations/{slug}/tokens", json={"name": "x", "scopes": ["read"]})
    assert response.status_code == 403
    url = f"/api/v1/organizations/{slug}"
    etag = (await bearer.get(url)).headers["etag"]
    # Editing the organization record needs an owner; a write token acts as an editor.
    assert (await bearer.patch(url, json={"name": "N"}, headers={"If-Match": etag})).status_code == 403


async def test_revoked_and_expired_tokens_are_refused(client: httpx.AsyncClient, database: Database) -> None:
    slug, token, token_uuid = await _owner_with_token(client, database, ["read"])
    bearer = httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver", headers={"authorization": f"Bearer {token}"}
    )
    revoke = await client.delete(f"/api/v1/organizations/{slug}/tokens/{token_uuid}", headers=csrf_headers(client))
    assert revoke.status_code == 204
    refused = await bearer.get(f"/api/v1/organizations/{slug}/members")
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]

    _, token2, _ = await _owner_with_token(client, database, ["read"])
    async with database.unit_of_work() as session:
        for stored in await session.exec(select(ApiToken).where(ApiToken.revoked_at == None)):  # noqa: E711
            stored.expires_at = utcnow() - timedelta(seconds=1)
    expired = await httpx.AsyncClient(transport=client._transport, base_url="http://testserver").get(
        f"/api/v1/organizations/{slug}/members", headers={"authorization": f"Bearer {token2}"}
    )
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    async with database.sessionmaker() as session:
        actions = [e.action for e in await session.exec(select(AuditEvent))]
    assert "token.create" in actions and "token.revoke" in actions


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["admin"]},
        {"name": "x", "scopes": ["read"], "expires_in_days": 0},
        {"name": "x", "scopes": ["read"], "expires_in_days": 400},
    ],
)
async def test_bad_token_requests_are_refused(
    client: httpx.AsyncClient, database: Database, payload: dict[str, object]
) -> None:
    org = await make_organization(database)
    owner = await make_user(database)
    await add_membership(database, owner, org, MemberRole.owner)
    await login(client, owner.email)
    response = await client.post(f"/api/v1/organizations/{org.slug}/tokens", json=payload, headers=csrf_headers(client))
    assert response.status_code == 422
    assert response.json()["field"] in {"scopes", "expires_in_days", "scopes.0"}

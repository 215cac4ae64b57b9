"""Single sign-on through a real OpenID provider (``oidc-provider`` on Node, tests/support/oidc), over HTTP
against the app: sign-in with PKCE, state and nonce; linking by verified e-mail or explicitly; the membership
claim; and every way it must fail (forged state, wrong nonce, another audience, an expired token, a foreign
signature, a replayed code, a provider that is down), each refused with nothing written but the audit event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from allmende.accounts.models import MemberRole, Membership, Organization, OrganizationKind, User
from allmende.core.audit import AuditEvent
from allmende.core.db import Database
from allmende.core.settings import Settings, SettingsError, load_settings
from allmende.core.types import utcnow
from identity.models import ExternalIdentity, LoginSession
from tests.support.factories import count, csrf_headers, login, make_organization, make_user
from tests.support.oidc_provider import (
    OidcTestProvider,
    callback_uris,
    running_provider,
    sign_in_round_trip,
    start_at,
    through_provider,
)
from tests.support.servers import free_port

START = "/auth/oidc/testland"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcTestProvider]:
    with running_provider(callback_uris("http://testserver", "testland", "zweitland")) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app knows the test provider as "testland" (with the AGS claim mapped to editor) and a provider
    "down" whose issuer nobody listens on."""
    provider.reset()
    environment = {
        **provider.environment(
            "testland",
            LABEL="Testland",
            SCOPES="openid email profile ags",
            MEMBERSHIP_CLAIM="ags",
            MEMBERSHIP_ROLE="editor",
        ),
        **provider.environment("down", LABEL="Nirgendland", ISSUER=f"http://127.0.0.1:{free_port()}"),
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return Settings(**{**settings.model_dump(), "oidc_provider_names": "testland,down"})


@pytest.fixture
async def kiel(database: Database) -> Organization:
    return await make_organization(
        database, kind=OrganizationKind.municipality, name="Kiel", slug="kiel", ags="01002000", bundesland="01"
    )


async def _confirmed_user(database: Database, email: str) -> User:
    user = await make_user(database, email=email)
    async with database.unit_of_work() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.email_confirmed_at = utcnow()
    return user


async def _events(database: Database, action: str) -> list[AuditEvent]:
    async with database.sessionmaker() as session:
        return list(await session.exec(select(AuditEvent).where(AuditEvent.action == action)))


async def _nothing_written(database: Database) -> None:
    """A refused sign-in leaves no account, link, session or membership behind."""
    assert await count(database, ExternalIdentity) == 0
    assert await count(database, LoginSession) == 0
    assert await count(database, User, col(User.email) == "anna@land.example") == 0
    assert await count(database, Membership) == 0


async def test_a_first_sign_in_creates_a_confirmed_account_with_the_vouched_membership(
    client: httpx.AsyncClient, database: Database, kiel: Organization
) -> None:
    answer, _ = await sign_in_round_trip(client, START)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/anbieter"  # an editor lands where drafts are written
    me = (await client.get("/api/v1/auth/me")).json()
    assert me["email"] == "anna@land.example" and me["display_name"] == "Anna Amt"
    assert me["memberships"] == [{"organization": "kiel", "organization_name": "Kiel", "role": "editor"}]
    async with database.sessionmaker() as session:
        user = (await session.exec(select(User).where(User.email == "anna@land.example"))).one()
        assert user.email_confirmed_at is not None
        identity = (await session.exec(select(ExternalIdentity))).one()
        assert (identity.provider, identity.subject, identity.user_id) == ("testland", "anna", user.id)
        membership = (await session.exec(select(Membership))).one()
        assert membership.verified_at is not None and membership.role == MemberRole.editor.value
        login = (await session.exec(select(LoginSession))).one()
        assert login.method == "oidc:testland"
    assert [e.data["by"] for e in await _events(database, "oidc.link")] == ["new-account"]
    assert [e.data["method"] for e in await _events(database, "user.sign_in")] == ["oidc:testland"]
    added = await _events(database, "membership.add")
    assert [(e.data["provider"], e.data["value"]) for e in added] == [("testland", "01002000")]

    # Signing in again (another browser) finds the same account by its subject and adds nothing.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as again:
        answer, _ = await sign_in_round_trip(again, START)
        assert answer.status_code == 303
    assert await count(database, User) == 1
    assert await count(database, Membership) == 1
    assert await count(database, LoginSession) == 2


async def test_an_unknown_ags_is_ignored_and_next_is_followed(
    client: httpx.AsyncClient, database: Database, provider: OidcTestProvider
) -> None:
    provider.log_in_as("bert", email="bert@land.example", email_verified=True, name="Bert", ags="99999999")
    answer, _ = await sign_in_round_trip(client, f"{START}?next=/postfach")
    assert answer.status_code == 303 and answer.headers["location"] == "/postfach"
    assert await count(database, Membership) == 0


async def test_a_verified_address_links_the_confirmed_account_and_an_unconfirmed_one_never(
    client: httpx.AsyncClient, database: Database, provider: OidcTestProvider
) -> None:
    anna = await _confirmed_user(database, "anna@land.example")
    answer, _ = await sign_in_round_trip(client, START)
    assert answer.status_code == 303
    assert (await client.get("/api/v1/auth/me")).json()["email"] == anna.email
    [link] = await _events(database, "oidc.link")
    assert link.data["by"] == "verified-email" and link.actor_user_id == anna.id

    await make_user(database, email="carla@land.example", confirmed=False)  # registered, never confirmed
    provider.log_in_as("carla", email="carla@land.example", email_verified=True, name="Carla")
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as other:
        refused, _ = await sign_in_round_trip(other, START)
    assert refused.status_code == 409
    assert "noch nicht bestätigt" in refused.text
    assert await count(database, ExternalIdentity) == 1


async def test_an_unverified_address_never_links_and_explains_what_to_do(
    client: httpx.AsyncClient, database: Database, provider: OidcTestProvider
) -> None:
    await _confirmed_user(database, "anna@land.example")
    provider.log_in_as("anna", email="anna@land.example", email_verified=False, name="Anna Amt")
    refused, _ = await sign_in_round_trip(client, START)
    assert refused.status_code == 409
    assert "bestätigt Ihre E-Mail-Adresse nicht" in refused.text
    assert "Anmeldedienste" in refused.text and 'href="/anmelden"' in refused.text
    assert await count(database, ExternalIdentity) == 0 and await count(database, LoginSession) == 0
    [failure] = await _events(database, "oidc.sign_in_failed")
    assert failure.data == {"provider": "testland", "reason": "email-unverified"}
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_a_forged_state_is_refused_and_the_real_one_still_works_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    callback = await through_provider(await start_at(client, START))
    forged = callback.replace("state=", "state=forged", 1)
    refused = await client.get(forged)
    assert refused.status_code == 400
    assert "nicht in diesem Browser begonnen" in refused.text
    await _nothing_written(database)
    # Another browser cannot use this browser's state either.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as stranger:
        assert (await stranger.get(callback)).status_code == 400
    assert (await client.get(callback)).status_code == 303
    assert (await client.get(callback)).status_code == 400  # the state is good for one callback
    reasons = [e.data["reason"] for e in await _events(database, "oidc.sign_in_failed")]
    assert reasons == ["state", "state", "state"]


@pytest.mark.parametrize(
    ("mode", "check"),
    [("wrong-nonce", "nonce"), ("other-audience", "aud"), ("expired", "exp"), ("foreign-key", "signature")],
)
async def test_an_id_token_that_fails_a_check_is_refused(
    client: httpx.AsyncClient, database: Database, provider: OidcTestProvider, kiel: Organization, mode: str, check: str
) -> None:
    provider.misbehave(mode)
    refused, _ = await sign_in_round_trip(client, START)
    assert refused.status_code == 401
    assert "Aus Sicherheitsgründen wurden Sie nicht angemeldet" in refused.text
    await _nothing_written(database)
    [failure] = await _events(database, "oidc.sign_in_failed")
    assert failure.data == {"provider": "testland", "reason": "id-token", "check": check}


async def test_a_replayed_authorization_code_is_refused_by_the_provider(
    client: httpx.AsyncClient, database: Database
) -> None:
    answer, callback = await sign_in_round_trip(client, START)
    assert answer.status_code == 303
    await client.post("/api/v1/auth/logout", headers=csrf_headers(client))
    # An attacker who saw the callback URL starts a sign-in of their own and sends the old code with it.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as attacker:
        authorization = httpx.URL(await start_at(attacker, START))
        code = httpx.URL(callback).params["code"]
        replay = f"{START}/callback?code={code}&state={authorization.params['state']}"
        refused = await attacker.get(replay)
        assert refused.status_code == 400
        assert "schon verwendet" in refused.text
        assert (await attacker.get("/api/v1/auth/me")).status_code == 401
    assert await count(database, LoginSession) == 1
    [failure] = await _events(database, "oidc.sign_in_failed")
    assert failure.data["reason"] == "token-refused"


async def test_a_provider_that_is_down_is_a_german_page_and_a_503_in_the_api(
    client: httpx.AsyncClient, database: Database, provider: OidcTestProvider
) -> None:
    page = await client.get("/auth/oidc/down")
    assert page.status_code == 503
    assert "Anmeldedienst nicht erreichbar" in page.text and "Nirgendland" in page.text
    api = await client.get("/api/v1/auth/oidc/down/start")
    assert api.status_code == 503 and api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["reason"] == "unavailable"

    provider.misbehave("discovery-500")
    assert (await client.get(START)).status_code == 503
    provider.misbehave(None)
    for mode in ("token-500", "jwks-500"):  # down between the start and the callback
        authorization = await start_at(client, START)
        provider.misbehave(mode)
        callback = await through_provider(authorization)
        refused = await client.get(callback)
        assert refused.status_code == 503, mode
        assert "Anmeldedienst nicht erreichbar" in refused.text
        provider.misbehave(None)
    await _nothing_written(database)
    whats = [e.data["what"] for e in await _events(database, "oidc.sign_in_failed")]
    # (the API start answers its 503 without an audit event: no sign-in was attempted yet)
    assert [w.split(":")[0] for w in whats] == ["discovery", "discovery", "token", "jwks"]


async def test_a_signed_in_person_links_and_unlinks_a_provider(
    client: httpx.AsyncClient, database: Database, provider: OidcTestProvider
) -> None:
    person = await make_user(database, email="person@amt.example")
    assert (await login(client, person.email)).status_code == 201
    linked, _ = await sign_in_round_trip(client, f"{START}?link=1")
    assert linked.status_code == 303 and linked.headers["location"] == "/konto/anmeldedienste"
    page = await client.get("/konto/anmeldedienste")
    assert page.status_code == 200 and "Testland" in page.text and "anna@land.example" in page.text
    identities = (await client.get("/api/v1/auth/identities")).json()
    assert [(i["provider"], i["label"], i["subject"]) for i in identities] == [("testland", "Testland", "anna")]
    assert await count(database, LoginSession) == 1  # the password sign-in's: linking starts no new session
    [link] = await _events(database, "oidc.link")
    assert link.data["by"] == "explicit" and link.actor_user_id == person.id

    # The same provider account cannot be linked to a second person.
    other = await make_user(database, email="other@amt.example")
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as second:
        assert (await login(second, other.email)).status_code == 201
        taken, _ = await sign_in_round_trip(second, f"{START}?link=1")
        assert taken.status_code == 409
        assert "bereits mit einem anderen Allmende-Konto verbunden" in taken.text

    gone = await client.delete("/api/v1/auth/identities/testland", headers=csrf_headers(client))
    assert gone.status_code == 204
    assert (await client.get("/api/v1/auth/identities")).json() == []
    missing = await client.delete("/api/v1/auth/identities/testland", headers=csrf_headers(client))
    assert missing.status_code == 404 and missing.json()["field"] == "provider"
    assert len(await _events(database, "oidc.unlink")) == 1


async def test_an_account_without_password_keeps_its_only_provider(
    client: httpx.AsyncClient, database: Database
) -> None:
    answer, _ = await sign_in_round_trip(client, START)
    assert answer.status_code == 303
    refused = await client.delete("/api/v1/auth/identities/testland", headers=csrf_headers(client))
    assert refused.status_code == 409 and refused.json()["reason"] == "last-sign-in"
    page = await client.post(
        "/konto/anmeldedienste/testland/trennen", data={"_csrf_token": client.cookies["csrftoken"]}
    )
    assert page.status_code == 409 and "noch kein Passwort" in page.text
    assert await count(database, ExternalIdentity) == 1


async def test_the_sign_in_page_offers_the_providers_and_the_api_lists_them(client: httpx.AsyncClient) -> None:
    form = await client.get("/anmelden?next=/postfach")
    assert 'href="/auth/oidc/testland?next=/postfach"' in form.text
    assert "Anmelden mit Testland" in form.text and "Anmelden mit Nirgendland" in form.text
    listed = (await client.get("/api/v1/auth/oidc/providers")).json()
    assert listed == [
        {"name": "testland", "label": "Testland", "start": "/auth/oidc/testland"},
        {"name": "down", "label": "Nirgendland", "start": "/auth/oidc/down"},
    ]
    assert (await client.get("/auth/oidc/nowhere")).status_code == 404
    assert (await client.get("/api/v1/auth/oidc/nowhere/start")).status_code == 404


async def test_failed_callbacks_are_throttled_per_client(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await client.get(f"{START}/callback?code=x&state=forged")).status_code == 400
    throttled = await client.get(f"{START}/callback?code=x&state=forged")
    assert throttled.status_code == 429 and "Zu viele fehlgeschlagene Anmeldeversuche" in throttled.text


# --- the permission table ------------------------------------------------------------------------------

ROLES = ["anonymous", "person", "token"]
ENDPOINTS: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/api/v1/auth/oidc/providers", {"anonymous": 200, "person": 200, "token": 200}),
    ("GET", "/api/v1/auth/oidc/testland/start", {"anonymous": 200, "person": 200, "token": 200}),
    ("GET", "/api/v1/auth/oidc/testland/start?link=true", {"anonymous": 401, "person": 200, "token": 403}),
    ("GET", "/api/v1/auth/identities", {"anonymous": 401, "person": 200, "token": 403}),
    ("DELETE", "/api/v1/auth/identities/testland", {"anonymous": 401, "person": 404, "token": 403}),
    ("GET", "/auth/oidc/testland", {"anonymous": 303, "person": 303, "token": 303}),
    ("GET", "/auth/oidc/testland?link=1", {"anonymous": 303, "person": 303, "token": 303}),
    ("GET", "/auth/oidc/testland/callback?state=x&code=y", {"anonymous": 400, "person": 400, "token": 400}),
    ("GET", "/konto/anmeldedienste", {"anonymous": 303, "person": 200, "token": 303}),
    ("POST", "/konto/anmeldedienste/testland/trennen", {"anonymous": 303, "person": 303, "token": 303}),
]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ROLES)
async def test_permission_table(client: httpx.AsyncClient, database: Database, role: str) -> None:
    headers: dict[str, str] = {}
    if role == "person":
        person = await make_user(database)
        assert (await login(client, person.email)).status_code == 201
    elif role == "token":
        from allmende.accounts.models import TokenScope
        from allmende.accounts.services import issue_token

        org = await make_organization(database)
        async with database.unit_of_work() as session:
            _, token = await issue_token(
                session, org, name="t", scopes=[TokenScope.write], expires_in_days=1, created_by=None
            )
        headers["Authorization"] = f"Bearer {token}"
    else:
        await client.get("/anmelden")
    outcome: dict[str, int] = {}
    for method, url, _ in ENDPOINTS:
        extra: dict[str, Any] = {"headers": {**headers, **csrf_headers(client)}}
        if method == "POST":
            extra["data"] = {"_csrf_token": client.cookies.get("csrftoken", "")}
        response = await client.request(method, url, **extra)
        outcome[f"{method} {url}"] = response.status_code
    assert outcome == {f"{m} {u}": expected[role] for m, u, expected in ENDPOINTS}


# --- configuration ---------------------------------------------------------------------------------------


def test_the_settings_name_the_variable_that_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLMENDE_OIDC_PROVIDERS", "land-bw")
    with pytest.raises(SettingsError, match=r"^ALLMENDE_OIDC_LAND_BW_ISSUER: must be set"):
        load_settings()
    monkeypatch.setenv("ALLMENDE_OIDC_LAND_BW_ISSUER", "http://login.land-bw.example/realms/kommunen")
    monkeypatch.setenv("ALLMENDE_OIDC_LAND_BW_CLIENT_ID", "allmende")
    monkeypatch.setenv("ALLMENDE_OIDC_LAND_BW_CLIENT_SECRET", "s3cret")
    with pytest.raises(SettingsError, match=r"^ALLMENDE_OIDC_LAND_BW_ISSUER: must be an https:// URL"):
        load_settings()
    monkeypatch.setenv("ALLMENDE_OIDC_LAND_BW_ISSUER", "https://login.land-bw.example/realms/kommunen/")
    monkeypatch.setenv("ALLMENDE_OIDC_LAND_BW_MEMBERSHIP_ROLE", "admin")
    with pytest.raises(SettingsError, match=r"^ALLMENDE_OIDC_LAND_BW_MEMBERSHIP_ROLE: must be one of"):
        load_settings()
    monkeypatch.setenv("ALLMENDE_OIDC_LAND_BW_MEMBERSHIP_ROLE", "editor")
    monkeypatch.setenv("ALLMENDE_OIDC_LAND_BW_MEMBERSHIP_CLAIM", "ags")
    [land] = load_settings().oidc_providers
    assert (land.issuer, land.label, land.membership_claim, land.membership_role) == (
        "https://login.land-bw.example/realms/kommunen",
        "land-bw",
        "ags",
        "editor",
    )
    monkeypatch.setenv("ALLMENDE_OIDC_PROVIDERS", "land-bw,Land BW")
    with pytest.raises(SettingsError, match=r"^ALLMENDE_OIDC_PROVIDERS: 'Land BW' must be"):
        load_settings()

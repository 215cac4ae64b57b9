"""The CLI end to end: create-admin, then sign-in, a token and a token-authenticated request over HTTP."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from allmende.accounts.models import PlatformRole, User
from allmende.core.audit import AuditEvent
from allmende.core.db import Database
from identity.models import RecoveryCode
from tests.support.factories import TOTP_SECRETS, count, csrf_headers, login, make_organization, make_user

ALLMENDE = [sys.executable, "-m", "allmende.cli"]


def run_cli(
    *args: str, database_url: str, tmp_path: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ALLMENDE_", "DATABASE_", "REDIS_"))}
    environment.update({"DATABASE_URL": database_url, "ALLMENDE_DATA_DIR": str(tmp_path / "cli-data")})
    environment.update(env or {})
    return subprocess.run(
        [*ALLMENDE, *args], input=stdin, capture_output=True, text=True, env=environment, timeout=60, check=False
    )


async def test_create_admin_then_login_token_and_token_request(
    client: httpx.AsyncClient, database: Database, database_url: str, tmp_path: Path
) -> None:
    created = run_cli(
        "create-admin",
        "--email",
        "Admin@Example.org",
        "--name",
        "Ada",
        "--password-stdin",
        database_url=database_url,
        tmp_path=tmp_path,
        stdin="a long admin password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "admin admin@example.org created" in created.stdout

    vendor = await make_organization(database, name="Offene Software eG")
    assert (await login(client, "admin@example.org", "a long admin password")).status_code == 201
    token_response = await client.post(
        f"/api/v1/organizations/{vendor.slug}/tokens",
        headers=csrf_headers(client),
        json={"name": "Katalogpflege", "scopes": ["read", "write"]},
    )
    assert token_response.status_code == 201
    token = token_response.json()["token"]

    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as vendor_client:
        members = await vendor_client.get(
            f"/api/v1/organizations/{vendor.slug}/members", headers={"authorization": f"Bearer {token}"}
        )
    assert members.status_code == 200 and members.json() == []


async def test_cli_token_create_and_revoke(
    client: httpx.AsyncClient, database: Database, database_url: str, tmp_path: Path
) -> None:
    vendor = await make_organization(database)
    created = run_cli(
        "token",
        "create",
        "-o",
        vendor.slug,
        "--name",
        "Import",
        "--scope",
        "read",
        database_url=database_url,
        tmp_path=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("alm_")
    ok = await client.get(f"/api/v1/organizations/{vendor.slug}/members", headers={"authorization": f"Bearer {token}"})
    assert ok.status_code == 200

    listed = await client.get(
        f"/api/v1/organizations/{vendor.slug}/members", headers={"authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200
    async with database.sessionmaker() as session:
        from sqlmodel import select

        from allmende.accounts.models import ApiToken

        token_uuid = str((await session.exec(select(ApiToken))).one().uuid)
    revoked = run_cli("token", "revoke", token_uuid, database_url=database_url, tmp_path=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    refused = await client.get(
        f"/api/v1/organizations/{vendor.slug}/members", headers={"authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 401


async def test_reset_second_factor_removes_the_authenticator_and_ends_the_sessions(
    client: httpx.AsyncClient, database: Database, database_url: str, tmp_path: Path
) -> None:
    """A moderator lost their phone: the operator resets the second factor; the moderator's sessions end,
    and the next sign-in sets up a new authenticator before the moderation counts again."""
    moderator = await make_user(database, role=PlatformRole.moderator)
    await login(client, moderator.email)
    assert (await client.get("/api/v1/auth/me")).json()["platform_role"] == "moderator"
    confirmed = await client.post("/api/v1/auth/recovery-codes", json={"code": "x"}, headers=csrf_headers(client))
    assert confirmed.status_code == 422  # (a wrong code; the codes are made by the test below)

    reset = run_cli(
        "reset-second-factor",
        moderator.email.upper(),
        "--reason",
        "Telefon verloren, Ticket 4711",
        database_url=database_url,
        tmp_path=tmp_path,
    )
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout == f"second factor of {moderator.email} reset; 1 session(s) ended\n"
    assert (await client.get("/api/v1/auth/me")).status_code == 401  # the session ended
    async with database.sessionmaker() as session:
        user = await session.get(User, moderator.id)
        assert user is not None and user.totp_secret is None and user.totp_enabled_at is None
        events = list(await session.exec(select(AuditEvent).where(AuditEvent.action == "user.second_factor_reset")))
    assert [e.reason for e in events] == ["Telefon verloren, Ticket 4711"]
    assert await count(database, RecoveryCode) == 0

    del TOTP_SECRETS[moderator.email]  # the old app is gone: the helper sets up a new one at the sign-in
    again = await login(client, moderator.email)
    assert again.json()["second_factor_required"] is True
    assert (await client.get("/api/v1/auth/me")).json()["platform_role"] == "moderator"


def test_reset_second_factor_of_an_unknown_address_fails_in_one_line(database_url: str, tmp_path: Path) -> None:
    result = run_cli("reset-second-factor", "niemand@example.org", database_url=database_url, tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: no account with the address 'niemand@example.org'\n"


@pytest.mark.parametrize(
    ("args", "stdin", "env", "message"),
    [
        (["create-admin", "--email", "a@example.org", "--password-stdin"], "short\n", {}, "error: password:"),
        (["token", "create", "-o", "no-such-org", "--name", "x"], None, {}, "error: no organization 'no-such-org'"),
        (["token", "create", "-o", "x", "--name", "x", "--scope", "root"], None, {}, "error:"),
        (["token", "revoke", "not-a-uuid"], None, {}, "error: 'not-a-uuid' is not a token uuid"),
        (["migrate"], None, {"PORT": "eighty"}, "error: PORT:"),
        (["worker"], None, {}, "error: the worker needs REDIS_URL"),
    ],
)
def test_cli_errors_are_one_line_with_a_non_zero_exit(
    database_url: str, tmp_path: Path, args: list[str], stdin: str | None, env: dict[str, str], message: str
) -> None:
    result = run_cli(*args, database_url=database_url, tmp_path=tmp_path, stdin=stdin, env=env)
    assert result.returncode != 0
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in (
        ["serve"],
        ["worker"],
        ["migrate"],
        ["seed"],
        ["create-admin"],
        ["token", "create"],
        ["token", "revoke"],
        ["reset-second-factor"],
    ):
        result = run_cli(*command, "--help", database_url="sqlite:///x", tmp_path=tmp_path)
        assert result.returncode == 0 and "Usage" in result.stdout


def test_seed_before_migrate_says_what_to_do(tmp_path: Path) -> None:
    result = run_cli("seed", database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}", tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: the database has no schema yet; run 'allmende migrate' first\n"

"""A real OpenID provider for the single sign-on tests: the npm package ``oidc-provider``, run by Node.

``tests/support/oidc/provider.js`` is the program (``npm ci`` in that folder installs the package; CI does
it in ``.ci/run``). The fixtures start it once per test session on a free loopback port and reset it before
each test. Without Node or the installed package the tests skip locally and FAIL when ``CI=true``, as the
browser tests do without Chromium.

``through_provider`` plays the browser's part at the provider: it follows the redirects there (the program
logs in the chosen account at once) until the provider sends the browser back to the app.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import app_server, free_port

PROGRAM_DIR = Path(__file__).parent / "oidc"
CLIENT_ID = "allmende"
CLIENT_SECRET = "allmende-test-secret"
# The account the provider logs in unless a test chooses another (its claims: provider.js).
ANNA = {"email": "anna@land.example", "email_verified": True, "name": "Anna Amt", "ags": "01002000"}


def node_or_skip() -> str:
    """The node executable; a missing Node or package skips locally and fails on CI."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "Node is missing: apt-get install -y nodejs"
    elif not (PROGRAM_DIR / "node_modules" / "oidc-provider").is_dir():
        problem = f"the oidc-provider package is missing: (cd {PROGRAM_DIR} && npm ci)"
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    assert node is not None
    return node


@dataclass
class OidcTestProvider:
    """The running provider and its controls (``POST /_test/state``)."""

    issuer: str

    def control(self, **state: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.issuer}/_test/state", json=state, timeout=5)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self) -> None:
        self.control(reset=True)

    def log_in_as(self, subject: str, **claims: Any) -> None:
        """The next sign-in at the provider is ``subject``, with these claims (email, email_verified, ags …)."""
        self.control(accounts={subject: claims}, login=subject)

    def misbehave(self, mode: str | None) -> None:
        """wrong-nonce, other-audience, expired, foreign-key, discovery-500, token-500, jwks-500 (None: behave)."""
        self.control(mode=mode)

    def environment(self, name: str, **extra: str) -> dict[str, str]:
        """The variables that configure this provider in the app under ``name`` (extra: LABEL=…, …)."""
        prefix = f"ALLMENDE_OIDC_{name.upper().replace('-', '_')}_"
        values = {"ISSUER": self.issuer, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET, **extra}
        return {prefix + key: value for key, value in values.items()}


@contextmanager
def running_provider(redirect_uris: list[str]) -> Iterator[OidcTestProvider]:
    node = node_or_skip()
    port = free_port()
    process = subprocess.Popen(
        [node, str(PROGRAM_DIR / "provider.js"), str(port), ",".join(redirect_uris)],
        cwd=PROGRAM_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NODE_ENV": "test"},
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout and process.poll() is not None else ""
                raise RuntimeError(f"the OpenID provider did not start: {output[-2000:]}")
            time.sleep(0.1)
        yield OidcTestProvider(issuer=issuer)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if process.stdout:
            process.stdout.close()


def callback_uris(base_url: str, *names: str) -> list[str]:
    return [f"{base_url}/auth/oidc/{name}/callback" for name in names]


async def through_provider(authorization_url: str, app_base: str = "http://testserver") -> str:
    """Follow the provider's redirects like a browser (a fresh one: no provider session) until it sends
    the browser back to the app; returns that callback URL (path and query) on the app."""
    async with httpx.AsyncClient(timeout=10) as browser:
        url = httpx.URL(authorization_url)
        for _ in range(10):
            response = await browser.get(url)
            location = str(response.headers.get("location", ""))
            assert response.status_code in (302, 303) and location, (response.status_code, response.text[:500])
            if location.startswith(app_base + "/"):
                return location.removeprefix(app_base)
            url = url.join(location)
    raise AssertionError("the provider never sent the browser back")


async def start_at(app: httpx.AsyncClient, start: str) -> str:
    """Ask the app to start a sign-in (``/auth/oidc/<name>…``); returns the provider's authorization URL."""
    response = await app.get(start)
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return str(response.headers["location"])


async def sign_in_round_trip(app: httpx.AsyncClient, start: str) -> tuple[httpx.Response, str]:
    """Start at the app, pass the provider, come back: the app's answer to the callback, and its URL."""
    callback = await through_provider(await start_at(app, start))
    return await app.get(callback), callback


@contextmanager
def live_app(data_dir: Path, database_url: str, port: int, environment: dict[str, str]) -> Iterator[str]:
    """The real app under uvicorn on 127.0.0.1:``port`` with ``environment`` added (the providers), on an
    existing database; yields its base URL."""

    env = {
        **os.environ,
        "ALLMENDE_DATA_DIR": str(data_dir),
        "ALLMENDE_BASE_URL": f"http://127.0.0.1:{port}",
        "ALLMENDE_SECRET_KEY": "sso-live-test-secret-" + "z" * 32,
        "ALLMENDE_SEED_ON_START": "false",
        "ALLMENDE_ALLOW_PRIVATE_URLS": "true",
        "DATABASE_URL": database_url,
        **environment,
    }
    for name in ("REDIS_URL", "MEILI_URL"):
        env.pop(name, None)
    with app_server(env, data_dir, port) as url:
        yield url

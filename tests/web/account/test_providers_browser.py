"""Single sign-on in Chromium: "Anmelden mit Testland" on the sign-in page, through the real OpenID provider
(``oidc-provider`` on Node) and back, signed in; then the account's page of sign-in providers, and the page
of a provider that is down. axe finds no WCAG 2.1 A/AA violation on any of them."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import assert_accessible
from tests.support.oidc_provider import OidcTestProvider, callback_uris, live_app, running_provider
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def sso_site(seeded_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, OidcTestProvider]]:
    """The app (on a copy of the seeded database) with the test provider as "testland", and "down"."""
    data_dir = tmp_path_factory.mktemp("sso-live")
    database = data_dir / "allmende.sqlite3"
    shutil.copyfile(seeded_sqlite, database)
    port = free_port()
    with running_provider(callback_uris(f"http://127.0.0.1:{port}", "testland")) as provider:
        environment = {
            "ALLMENDE_OIDC_PROVIDERS": "testland,down",
            **provider.environment(
                "testland", LABEL="Testland", SCOPES="openid email profile ags", MEMBERSHIP_CLAIM="ags"
            ),
            **provider.environment("down", LABEL="Nirgendland", ISSUER=f"http://127.0.0.1:{free_port()}"),
        }
        with live_app(data_dir, f"sqlite:///{database}", port, environment) as url:
            yield url, provider


@pytest.fixture
async def sso_page(browser: Any, sso_site: tuple[str, OidcTestProvider]) -> AsyncIterator[Page]:
    url, _ = sso_site
    context = await browser.new_context(base_url=url, locale="de-DE", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    yield tab
    await context.close()
    assert problems == [], problems


async def test_signing_in_with_a_provider_by_clicking(sso_page: Page, screenshots: Path) -> None:
    page = sso_page
    await page.goto("/anmelden")
    await assert_accessible(page, "sso-anmelden", screenshots)
    await page.get_by_role("link", name="Anmelden mit Testland").click()
    # The provider logs the test account in at once and sends the browser back.
    await expect(page.get_by_text("Sie sind angemeldet.")).to_be_visible()
    await expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
    await page.goto("/konto/anmeldedienste")
    await expect(page.get_by_role("heading", name="Anmeldedienste", level=1)).to_be_visible()
    await expect(page.get_by_role("row", name="Testland")).to_be_visible()
    await assert_accessible(page, "sso-anmeldedienste", screenshots)
    # Unlinking the only way into an account without a password is refused, with the reason.
    await page.get_by_role("button", name=re.compile(r"^Trennen\W+Testland$")).click()
    await expect(page.get_by_role("alert")).to_contain_text("noch kein Passwort")
    await assert_accessible(page, "sso-anmeldedienste-fehler", screenshots)


async def test_a_provider_that_is_down_says_so(sso_page: Page, screenshots: Path) -> None:
    page = sso_page
    await page.goto("/anmelden")
    await page.get_by_role("link", name="Anmelden mit Nirgendland").click()
    await expect(page.get_by_role("heading", name="Anmeldedienst nicht erreichbar")).to_be_visible()
    await assert_accessible(page, "sso-nicht-erreichbar", screenshots)

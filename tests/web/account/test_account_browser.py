"""The account area in Chromium: register, confirm through the mailed link, sign in, the account page, a
forgotten password; axe-core (WCAG 2.1 A/AA) finds nothing on any of these pages, with and without errors."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.async_api import Page, expect

from allmende.core.db import Database
from tests.support.browser import assert_accessible, sign_in
from tests.support.identity import STRONG, last_token
from tests.support.web import LiveServer


async def _token(live_server: LiveServer, address: str, kind: str) -> str:
    database = Database(live_server.database_url)
    try:
        return await last_token(database, address, kind)
    finally:
        await database.dispose()


async def test_register_confirm_sign_in_and_the_account_page(
    tab: Page, live_server: LiveServer, screenshots: Path
) -> None:
    address = f"neu-{uuid.uuid4().hex[:8]}@example.org"
    await tab.goto("/anmelden")
    await tab.get_by_role("link", name="Noch kein Konto? Registrieren").click()
    await assert_accessible(tab, "account-register", screenshots)
    await tab.get_by_label("Ihr Name").fill("Nora Neu")
    await tab.get_by_label("E-Mail-Adresse").fill(address)
    await tab.get_by_label("Passwort").fill("passwort1234")
    await tab.get_by_role("button", name="Konto anlegen").click()
    await expect(tab.get_by_role("alert")).to_contain_text("zu leicht zu erraten")
    await assert_accessible(tab, "account-register-errors", screenshots)
    await tab.get_by_label("Passwort").fill(STRONG)
    await tab.get_by_role("button", name="Konto anlegen").click()
    await expect(tab.get_by_role("heading", level=1)).to_have_text("Bitte sehen Sie in Ihr Postfach")
    await assert_accessible(tab, "account-check-mailbox", screenshots)

    link = f"/email-bestaetigen?token={await _token(live_server, address, 'identity.confirm')}"
    await tab.goto(link)
    await assert_accessible(tab, "account-confirm", screenshots)
    await tab.get_by_role("button", name="E-Mail-Adresse bestätigen").click()
    await expect(tab.get_by_text("Ihre E-Mail-Adresse ist bestätigt.")).to_be_visible()
    await tab.goto(link)
    await tab.get_by_role("button", name="E-Mail-Adresse bestätigen").click()
    await expect(tab.get_by_role("alert")).to_contain_text("bereits verwendet")
    await assert_accessible(tab, "account-link-gone", screenshots)

    await sign_in(tab, address, STRONG)
    await tab.get_by_role("link", name="Konto").click()
    await expect(tab.get_by_role("heading", level=1)).to_have_text("Ihr Konto")
    await expect(tab.get_by_text("diese Sitzung")).to_be_visible()
    await assert_accessible(tab, "account-page", screenshots)
    await tab.locator("#feld-current_password").fill("falsch")
    await tab.locator("#feld-new_password").fill(STRONG + "!")
    await tab.get_by_role("button", name="Passwort ändern").click()
    await expect(tab.get_by_role("alert")).to_contain_text("Das aktuelle Passwort stimmt nicht.")
    await assert_accessible(tab, "account-page-errors", screenshots)


async def test_a_forgotten_password(tab: Page, live_server: LiveServer, screenshots: Path) -> None:
    await tab.goto("/anmelden")
    await tab.get_by_role("link", name="Passwort vergessen?").click()
    await assert_accessible(tab, "account-forgot", screenshots)
    address = live_server.people.clerk.email
    await tab.get_by_label("E-Mail-Adresse").fill(address)
    await tab.get_by_role("button", name="Link anfordern").click()
    await expect(tab.get_by_role("heading", level=1)).to_have_text("Bitte sehen Sie in Ihr Postfach")
    await tab.goto(f"/passwort-neu?token={await _token(live_server, address, 'identity.reset')}")
    await assert_accessible(tab, "account-reset", screenshots)
    await tab.get_by_label("Neues Passwort").fill("kurz")
    await tab.get_by_role("button", name="Passwort speichern").click()
    await expect(tab.get_by_role("alert")).to_contain_text("mindestens 12 Zeichen")
    await assert_accessible(tab, "account-reset-errors", screenshots)

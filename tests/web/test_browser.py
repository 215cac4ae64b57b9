"""Real browser tests in headless Chromium against the live server with the seeded catalog.

The flows a person walks: browse → filter → open → compare; vendor creates and submits, moderator
publishes, the catalog shows it; a municipality records a reference; the language switch; a whole
flow by keyboard only; the same pages without JavaScript. Every page type gets an axe-core audit
(WCAG 2.0/2.1 A and AA) with zero violations, and a screenshot under test-results/screenshots/.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.web.browser import (
    LiveClient,
    assert_accessible,
    focus_is_visible,
    sign_in,
    solution_form,
    tab_to,
)
from tests.web.conftest import LiveServer


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


async def test_browse_filter_open_and_compare(page: Page, screenshots: Path) -> None:
    await page.goto("/")
    await page.get_by_role("link", name="Lösungskatalog").first.click()
    await expect(page.get_by_role("heading", level=1, name="Lösungskatalog")).to_be_visible()
    heading = page.locator("#ergebnis-titel")
    before = await heading.inner_text()
    # A facet filter: the script updates the results in place and the URL follows.
    await page.get_by_label(re.compile(r"^Smarte Infrastruktur")).check()
    await expect(page).to_have_url(re.compile(r"sektor=smart-infrastructure"))
    await expect(heading).not_to_have_text(before)
    await expect(page.locator(".chips")).to_contain_text("Smarte Infrastruktur")
    await page.screenshot(path=str(screenshots / "catalog-filtered.png"), full_page=True)
    links = page.locator("[data-results] .card h3 a")
    first, second = await links.nth(0).inner_text(), await links.nth(1).inner_text()

    await links.nth(0).click()
    await expect(page.get_by_role("heading", level=1, name=first)).to_be_visible()
    await page.get_by_role("button", name="Zum Vergleich hinzufügen").click()
    await expect(page.locator("#vergleich-link")).to_have_text("Vergleich (1)")
    await expect(page.get_by_role("button", name="Aus dem Vergleich entfernen")).to_be_visible()

    await page.go_back()
    await expect(page).to_have_url(re.compile(r"sektor=smart-infrastructure"))
    await page.locator("[data-results] .card h3 a", has_text=second).first.click()
    await page.get_by_role("button", name="Zum Vergleich hinzufügen").click()
    await expect(page.locator("#vergleich-link")).to_have_text("Vergleich (2)")

    await page.locator("#vergleich-link").click()
    await expect(page.get_by_role("heading", level=1, name="Lösungen vergleichen")).to_be_visible()
    columns = page.locator("table.compare thead th[scope=col]")
    await expect(columns).to_have_count(2)
    await expect(columns.nth(0)).to_contain_text(first)
    await expect(columns.nth(1)).to_contain_text(second)
    await expect(page.locator("table.compare")).to_contain_text("Hosting-Standort")


async def test_everything_works_without_javascript(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    context = await browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = await context.new_page()
    try:
        await page.goto("/loesungen")
        await page.get_by_label(re.compile(r"^Smarte Verwaltung")).check()
        await page.get_by_role("button", name="Filter anwenden").click()
        await expect(page).to_have_url(re.compile(r"sektor=smart-governance"))
        await expect(page.locator(".chips")).to_contain_text("Smarte Verwaltung")
        name = await page.locator("[data-results] .card h3 a").first.inner_text()
        await page.locator("[data-results] .card").first.get_by_role("button", name=re.compile("Zum Vergleich")).click()
        await expect(page.get_by_text("Die Lösung steht jetzt auf Ihrer Vergleichsliste.")).to_be_visible()
        await expect(page).to_have_url(re.compile(r"sektor=smart-governance"))
        await page.get_by_role("link", name="Vergleich (1)").click()
        await expect(page.locator("table.compare thead th[scope=col]")).to_contain_text(name)
        await page.screenshot(path=str(screenshots / "compare-without-js.png"), full_page=True)
    finally:
        await context.close()


async def test_vendor_submits_moderator_publishes_catalog_shows_it(
    browser: Any, live_server: LiveServer, screenshots: Path
) -> None:
    name = _unique("Parkraumlotse")
    vendor_context = await browser.new_context(base_url=live_server.url)
    moderator_context = await browser.new_context(base_url=live_server.url)
    try:
        vendor = await vendor_context.new_page()
        await sign_in(vendor, live_server.people.vendor.email)
        await expect(vendor).to_have_url(re.compile("/anbieter$"))
        await vendor.get_by_role("link", name="Neue Lösung anlegen").click()
        # An incomplete form comes back with the errors next to the fields.
        await vendor.get_by_label("Quellcode-Repository").fill("kein link")
        await vendor.get_by_role("button", name="Entwurf anlegen").click()
        await expect(vendor.locator(".error-summary")).to_be_focused()
        await expect(vendor.locator("#feld-name-fehler")).to_contain_text("Bitte füllen Sie dieses Feld aus.")
        await expect(vendor.locator("#feld-repository_url")).to_have_value("kein link")
        await expect(vendor.locator("#feld-repository_url")).to_have_attribute("aria-invalid", "true")
        await vendor.screenshot(path=str(screenshots / "solution-form-errors.png"), full_page=True)

        await vendor.locator("#feld-name").fill(name)
        await vendor.get_by_label(re.compile("^Kurzbeschreibung")).fill("Freie Parkplätze in Echtzeit finden.")
        await vendor.get_by_label(re.compile("^Art der Lösung")).select_option("saas")
        await vendor.get_by_label("Quellcode-Repository").fill("https://example.org/parkraum")
        await vendor.locator("#feld-stages").get_by_label(re.compile("Gemeinsam digital handeln")).check()
        await vendor.locator("#feld-sectors").get_by_label("Smarte Mobilität & Verkehr").check()
        await vendor.get_by_role("button", name="Speichern und zur Prüfung einreichen").click()
        await expect(vendor.get_by_text("Die Lösung wurde zur Prüfung eingereicht.")).to_be_visible()
        row = vendor.locator("tr", has_text=name)
        await expect(row).to_contain_text("Zur Prüfung eingereicht")
        await vendor.screenshot(path=str(screenshots / "vendor-dashboard.png"), full_page=True)

        moderator = await moderator_context.new_page()
        await sign_in(moderator, live_server.people.moderator.email)
        await expect(moderator).to_have_url(re.compile("/moderation$"))
        item = moderator.locator("article.queue-item", has_text=name)
        await expect(item).to_contain_text("Neue Lösung")
        await moderator.screenshot(path=str(screenshots / "moderation.png"), full_page=True)
        await item.get_by_role("button", name=re.compile("^Veröffentlichen")).click()
        await expect(moderator.get_by_text("Die Lösung ist veröffentlicht.")).to_be_visible()

        await moderator.goto("/loesungen")
        await moderator.get_by_label("Suchbegriff").fill("Parkraumlotse")
        await moderator.get_by_role("button", name="Filter anwenden").click()
        await expect(moderator.locator("[data-results]")).to_contain_text(name)
        await moderator.get_by_role("link", name=name).click()
        await expect(moderator.get_by_role("heading", level=1, name=name)).to_be_visible()
        await expect(moderator.locator("main")).to_contain_text("Software as a Service")
    finally:
        await vendor_context.close()
        await moderator_context.close()


async def test_municipality_member_claims_a_reference(page: Page, live_server: LiveServer, screenshots: Path) -> None:
    await sign_in(page, live_server.people.clerk.email)
    await expect(page).to_have_url(re.compile("/kommune$"))
    await page.get_by_role("combobox", name=re.compile("^Lösung")).select_option("decidim")
    await page.get_by_label("Nutzungsform").select_option("saas")
    await page.get_by_label("Ihre Erfahrung in ein, zwei Sätzen (optional)").fill("Beteiligung zum Haushalt 2025.")
    await page.get_by_role("button", name="Referenz eintragen").click()
    await expect(page.get_by_text("Die Nutzung wurde als Referenz eingetragen.")).to_be_visible()
    await expect(page.locator("table")).to_contain_text("Decidim")
    await page.screenshot(path=str(screenshots / "municipality.png"), full_page=True)
    await page.goto("/loesungen/decidim")
    await expect(page.locator("#nachnutzer ~ div table")).to_contain_text("Kiel")
    await expect(page.locator("#nachnutzer ~ div table")).to_contain_text("Schleswig-Holstein")


async def test_language_switch(page: Page, screenshots: Path) -> None:
    await page.goto("/loesungen/masterportal")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await page.get_by_role("navigation", name="Sprache").get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("button", name="Add to comparison")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/loesungen/masterportal\?lang=en$"))
    await page.screenshot(path=str(screenshots / "solution-english.png"), full_page=True)
    # The choice sticks on the next pages, without the parameter.
    await page.get_by_role("link", name="Solution catalog").first.click()
    await expect(page.get_by_role("heading", level=1, name="Solution catalog")).to_be_visible()
    await expect(page.get_by_text("Stufenplan stage")).to_be_visible()
    await page.get_by_role("navigation", name="Language").get_by_role("link", name="Deutsch").click()
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.get_by_role("heading", level=1, name="Lösungskatalog")).to_be_visible()


async def test_a_whole_flow_by_keyboard_only(page: Page, screenshots: Path) -> None:
    """Skip link → search → facet → solution → compare → comparison page, with Tab, Enter and Space."""
    await page.goto("/")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.classList.contains('skip-link')")
    assert await focus_is_visible(page)
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "inhalt"

    await tab_to(page, "#suche")
    assert await focus_is_visible(page)
    await page.keyboard.type("Geo")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/loesungen\?q=Geo"))

    await tab_to(page, 'input[name="sektor"][value="smart-infrastructure"]')
    assert await focus_is_visible(page)
    await page.keyboard.press("Space")
    await expect(page).to_have_url(re.compile(r"sektor=smart-infrastructure"))
    await expect(page.locator(".chips")).to_contain_text("Smarte Infrastruktur")

    await tab_to(page, "[data-results] .card h3 a")
    target = await page.evaluate("document.activeElement.textContent")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1, name=target)).to_be_visible()

    await tab_to(page, "form[data-compare-form] button")
    assert await focus_is_visible(page)
    await page.keyboard.press("Enter")
    await expect(page.locator("#vergleich-link")).to_have_text("Vergleich (1)")

    await tab_to(page, "#vergleich-link", backwards=True)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1, name="Lösungen vergleichen")).to_be_visible()
    await expect(page.locator("table.compare thead th[scope=col]")).to_contain_text(target)
    await page.screenshot(path=str(screenshots / "keyboard-compare.png"), full_page=True)


async def test_every_page_type_passes_axe(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    """Zero axe-core violations (WCAG 2.0/2.1, A and AA) on every page type, including error states."""
    people = live_server.people
    setup = LiveClient(live_server.url)
    moderator_setup = LiveClient(live_server.url)
    try:
        # A published solution with a submitted edit, so the moderation page shows a diff.
        name = _unique("Ratsportal")
        setup.sign_in(people.vendor.email)
        assert setup.post("/anbieter/loesungen/neu", {**solution_form(name), "danach": "einreichen"}).status_code == 303
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        moderator_setup.sign_in(people.moderator.email)
        version = moderator_setup.version("/moderation", slug)
        assert moderator_setup.post(f"/moderation/{slug}/veroeffentlichen", {"version": version}).status_code == 303
        edit_version = setup.version(f"/anbieter/loesungen/{slug}/bearbeiten")
        changed = solution_form(name + " 2", hosting_location="eu", danach="einreichen", version=edit_version)
        assert setup.post(f"/anbieter/loesungen/{slug}/bearbeiten", changed).status_code == 303
        draft = _unique("Entwurf")
        assert setup.post("/anbieter/loesungen/neu", solution_form(draft)).status_code == 303
        draft_slug = re.sub(r"[^a-z0-9]+", "-", draft.lower()).strip("-")
    finally:
        setup.close()
        moderator_setup.close()

    anonymous = await browser.new_context(base_url=live_server.url)
    page = await anonymous.new_page()
    public = {
        "home": "/",
        "catalog": "/loesungen",
        "catalog-messages": "/loesungen?stufe=9&sort=kaputt&land=02&standard=ogc-wms",
        "solution": "/loesungen/masterportal",
        "compare": "/vergleich?l=masterportal&l=qgis&l=geoserver&l=deegree&l=mapbender",
        "compare-empty": "/vergleich",
        "organization-municipality": "/organisationen/hamburg",
        "organization-vendor": "/organisationen/lgv-hamburg",
        "login": "/anmelden",
        "not-found": "/loesungen/gibt-es-nicht",
        "home-english": "/?lang=en",
        "catalog-english": "/loesungen?stufe=2&lang=en",
    }
    try:
        for label, url in public.items():
            await page.goto(url)
            await assert_accessible(page, label, screenshots)
        await page.goto("/?lang=de")
        await page.goto("/anmelden")
        await page.get_by_label("E-Mail-Adresse").fill("niemand@example.org")
        await page.get_by_label("Passwort").fill("falsch-falsch-falsch")
        await page.get_by_role("button", name="Anmelden").click()
        await expect(page.locator(".error-summary")).to_be_visible()
        await assert_accessible(page, "login-error", screenshots)
    finally:
        await anonymous.close()

    vendor_context = await browser.new_context(base_url=live_server.url)
    vendor = await vendor_context.new_page()
    try:
        await sign_in(vendor, people.vendor.email)
        await assert_accessible(vendor, "vendor-dashboard", screenshots)
        await vendor.goto("/anbieter/loesungen/neu")
        await assert_accessible(vendor, "solution-form", screenshots)
        await vendor.get_by_label("Kontaktseite").fill("kein link")
        await vendor.get_by_role("button", name="Entwurf anlegen").click()
        await expect(vendor.locator(".error-summary")).to_be_visible()
        await assert_accessible(vendor, "solution-form-errors", screenshots)
        # A stale edit: the form is open in one tab while another tab saves.
        await vendor.goto(f"/anbieter/loesungen/{draft_slug}/bearbeiten")
        other = await vendor_context.new_page()
        await other.goto(f"/anbieter/loesungen/{draft_slug}/bearbeiten")
        await other.locator("#feld-name").fill(draft + " (neu)")
        await other.get_by_role("button", name="Änderungen speichern").click()
        await expect(other.get_by_text("Ihre Änderungen wurden gespeichert.")).to_be_visible()
        await vendor.locator("#feld-summary").fill("Meine Fassung der Kurzbeschreibung.")
        await vendor.get_by_role("button", name="Änderungen speichern").click()
        await expect(vendor.get_by_text("Jemand hat diese Lösung inzwischen geändert")).to_be_visible()
        await assert_accessible(vendor, "solution-form-stale", screenshots)
        await vendor.goto(f"/loesungen/{draft_slug}")
        await assert_accessible(vendor, "solution-draft", screenshots)
        await vendor.goto("/moderation")
        await assert_accessible(vendor, "forbidden", screenshots)
    finally:
        await vendor_context.close()

    moderator_context = await browser.new_context(base_url=live_server.url)
    moderator = await moderator_context.new_page()
    try:
        await sign_in(moderator, people.moderator.email)
        item = moderator.locator("article.queue-item", has_text=name)
        await expect(item.locator("table.diff")).to_contain_text("Europäische Union")
        await assert_accessible(moderator, "moderation-diff", screenshots)
        await item.get_by_role("button", name=re.compile("^Änderungen anfordern")).click()
        await expect(moderator.locator(".field-error").first).to_be_visible()
        await assert_accessible(moderator, "moderation-reason-error", screenshots)
    finally:
        await moderator_context.close()

    clerk_context = await browser.new_context(base_url=live_server.url)
    clerk = await clerk_context.new_page()
    try:
        await sign_in(clerk, people.clerk.email)
        await assert_accessible(clerk, "municipality", screenshots)
        await clerk.get_by_role("button", name="Referenz eintragen").click()
        await expect(clerk.locator(".error-summary")).to_be_visible()
        await assert_accessible(clerk, "municipality-errors", screenshots)
    finally:
        await clerk_context.close()

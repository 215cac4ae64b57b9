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

from tests.support.browser import (
    LiveClient,
    assert_accessible,
    assert_each_accessible,
    focus_is_visible,
    sign_in,
    solution_form,
    tab_to,
)
from tests.support.web import LiveServer


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


async def test_search_with_a_typo_filter_open_and_compare(page: Page, screenshots: Path) -> None:
    """Search with a typo → facet filter → open a solution → compare two, through the real search engine."""
    await page.goto("/")
    search = page.get_by_role("combobox", name="Lösungen, Fallstudien und Leitfäden durchsuchen")
    await search.fill("Bürgerbeteilgung")
    await search.press("Enter")
    await expect(page).to_have_url(re.compile(r"/suche\?q=B%C3%BCrgerbeteilgung$"))
    await expect(page.get_by_role("heading", level=1, name="Suche")).to_be_visible()
    heading = page.locator("#ergebnis-titel")
    await expect(heading).to_have_text(re.compile(r"^\d+ Treffer$"))
    before = await heading.inner_text()
    # The engine corrected the typo and marks what it found.
    await expect(page.locator("[data-results] mark").first).to_have_text("Bürgerbeteiligung")
    await page.screenshot(path=str(screenshots / "search-typo.png"), full_page=True)
    # A facet filter: the script updates the results in place, the URL follows, and so do the counts.
    await page.get_by_label(re.compile(r"^Lösungen \(\d+")).check()
    await expect(page).to_have_url(re.compile(r"typ=loesung"))
    await expect(heading).not_to_have_text(before)
    await expect(page.locator(".chips")).to_contain_text("Lösungen")
    links = page.locator("[data-results] .card h3 a")
    await expect(links.first).to_have_attribute("href", re.compile(r"^/loesungen/"))
    assert await links.count() >= 2
    first, second = await links.nth(0).inner_text(), await links.nth(1).inner_text()
    await page.screenshot(path=str(screenshots / "search-filtered.png"), full_page=True)

    await links.nth(0).click()
    await expect(page.get_by_role("heading", level=1, name=first)).to_be_visible()
    await page.get_by_role("button", name="Zum Vergleich hinzufügen").click()
    await expect(page.locator("#vergleich-link")).to_have_text("Vergleich (1)")
    await expect(page.get_by_role("button", name="Aus dem Vergleich entfernen")).to_be_visible()

    await page.go_back()
    await expect(page).to_have_url(re.compile(r"typ=loesung"))
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


async def test_catalog_filter_updates_results_and_counts(page: Page) -> None:
    await page.goto("/loesungen")
    heading = page.locator("#ergebnis-titel")
    before = await heading.inner_text()
    count = page.locator('label[for="f-stufe-3"] .count')
    stage_three = await count.inner_text()
    await page.get_by_label(re.compile(r"^Smarte Infrastruktur")).check()
    await expect(page).to_have_url(re.compile(r"sektor=smart-infrastructure"))
    await expect(heading).not_to_have_text(before)
    await expect(count).not_to_have_text(stage_three)  # counts over the current result
    await expect(page.locator(".chips")).to_contain_text("Smarte Infrastruktur")
    # Page numbers keep the filter.
    await page.goto("/loesungen")
    await page.get_by_role("link", name="Nächste Seite").click()
    await expect(page).to_have_url(re.compile(r"seite=2"))
    await expect(page.locator(".pagination a[aria-current=page]")).to_have_text("Seite 2")


async def test_search_as_you_type(page: Page, screenshots: Path) -> None:
    await page.goto("/")
    box = page.get_by_role("combobox", name="Lösungen, Fallstudien und Leitfäden durchsuchen")
    await expect(box).to_have_attribute("aria-expanded", "false")
    await box.press_sequentially("Bürgerbet", delay=30)
    listbox = page.get_by_role("listbox", name="Vorschläge")
    await expect(listbox).to_be_visible()
    await expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.get_by_role("option")
    await expect(options.first).to_contain_text("Bürgerbeteiligung")
    await expect(page.locator("#live-region")).to_contain_text("Vorschläge")
    await box.press("ArrowDown")
    active = await box.get_attribute("aria-activedescendant")
    assert active and await page.locator(f"#{active}").get_attribute("aria-selected") == "true"
    await page.screenshot(path=str(screenshots / "search-suggestions.png"))
    chosen = await page.locator(f"#{active}").get_attribute("data-value")
    await box.press("Escape")
    await expect(listbox).to_be_hidden()
    await box.press("ArrowDown")
    await expect(listbox).to_be_visible()
    await box.press("ArrowDown")
    await box.press("Enter")
    await expect(page).to_have_url(re.compile(r"/suche\?q="))
    assert chosen
    await expect(page.get_by_role("combobox", name="Suchbegriff")).to_have_value(chosen)


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
        # The search: a typo, a type filter by the button, page numbers.
        await page.goto("/suche")
        await page.get_by_label("Suchbegriff").fill("Datenplatform")
        await page.get_by_label(re.compile(r"^Fallstudien")).check()
        await page.get_by_role("button", name="Filter anwenden").click()
        await expect(page).to_have_url(re.compile(r"q=Datenplatform.*typ=fallstudie"))
        await expect(page.locator("[data-results] .card h3 a").first).to_have_attribute(
            "href", re.compile("^/fallstudien/")
        )
        # The guide editor's preview is a plain POST.
        await sign_in(page, live_server.people.vendor.email)
        await page.goto("/leitfaeden/neu")
        await page.get_by_label(re.compile("^Titel")).fill(_unique("Ohne Skript"))
        await page.get_by_label(re.compile("^Stufe des Stufenplans")).select_option("1")
        await page.get_by_label(re.compile("^Schritt zur Smart City")).select_option("planung-strategie")
        await page.get_by_label(re.compile("^Text")).fill("## Erster Abschnitt\n\nMit **Vorschau**.")
        await page.get_by_role("button", name="Vorschau anzeigen").click()
        preview = page.locator("section.preview")
        await expect(preview.get_by_role("heading", name="Erster Abschnitt")).to_be_visible()
        await expect(preview.locator("strong")).to_have_text("Vorschau")
        await page.screenshot(path=str(screenshots / "guide-preview-without-js.png"), full_page=True)
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

        # The server drains the change log into the index right after the write; give it a moment.
        for _ in range(40):
            await moderator.goto("/loesungen?q=Parkraumlotse")
            if await moderator.locator("[data-results] .card", has_text=name).count():
                break
            await moderator.wait_for_timeout(250)
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
    await expect(page).to_have_url(re.compile(r"/suche\?q=Geo"))

    await tab_to(page, 'input[name="typ"][value="loesung"]')
    assert await focus_is_visible(page)
    await page.keyboard.press("Space")
    await expect(page).to_have_url(re.compile(r"typ=loesung"))

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
        await assert_each_accessible(page, public, screenshots)
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


async def test_search_and_knowledge_pages_pass_axe(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    """Zero axe-core violations on the search pages, the knowledge hub's pages and their error states."""
    context = await browser.new_context(base_url=live_server.url)
    page = await context.new_page()
    pages = {
        "search": "/suche",
        "search-typo-highlights": "/suche?q=B%C3%BCrgerbeteilgung",
        "search-filtered": "/suche?q=Daten&typ=loesung&typ=fallstudie&stufe=3",
        "search-messages": "/suche?q=x&typ=video&seite=0&sort=kaputt",
        "search-nothing": "/suche?q=zzzzqqqq",
        "catalog-page-2": "/loesungen?seite=2&sort=neueste",
        "case-studies": "/fallstudien",
        "case-studies-filtered": "/fallstudien?land=05&stufe=3",
        "case-study": "/fallstudien/mpsc-solingen",
        "case-study-unconfirmed": "/fallstudien/mpsc-luebeck",
        "guides": "/leitfaeden",
        "guide": "/leitfaeden/open-source-beschaffen",
        "guide-history": "/leitfaeden/open-source-beschaffen/versionen",
        "stages": "/stufen",
        "stage": "/stufen/2",
        "case-study-not-found": "/fallstudien/gibt-es-nicht",
        "stage-not-found": "/stufen/9",
        "case-study-english": "/fallstudien/mpsc-solingen?lang=en",
        "search-english": "/suche?q=Geoportal&lang=en",
    }
    try:
        await assert_each_accessible(page, pages, screenshots)
        # The suggestions, open, with an option chosen by arrow key.
        await page.goto("/?lang=de")
        box = page.get_by_role("combobox", name="Lösungen, Fallstudien und Leitfäden durchsuchen")
        await box.press_sequentially("Geopor", delay=30)
        await expect(page.get_by_role("listbox", name="Vorschläge")).to_be_visible()
        await box.press("ArrowDown")
        await assert_accessible(page, "search-suggestions-open", screenshots)
    finally:
        await context.close()


async def test_guide_editor_pages_pass_axe(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    """The editor's form, its errors, the preview, a stale save, the history with a diff: zero violations."""
    context = await browser.new_context(base_url=live_server.url)
    editor = await context.new_page()
    title = _unique("Sensordaten teilen")
    try:
        await sign_in(editor, live_server.people.vendor.email)
        await editor.goto("/leitfaeden/neu")
        await assert_accessible(editor, "guide-form", screenshots)
        await editor.get_by_role("button", name="Entwurf anlegen").click()
        await expect(editor.locator(".error-summary")).to_be_focused()
        await expect(editor.locator("#feld-title")).to_have_attribute("aria-invalid", "true")
        await assert_accessible(editor, "guide-form-errors", screenshots)

        await editor.get_by_label(re.compile("^Titel")).fill(title)
        await editor.get_by_label(re.compile("^Stufe des Stufenplans")).select_option("3")
        await editor.get_by_label(re.compile("^Schritt zur Smart City")).select_option("datenmanagement-analyse")
        await editor.get_by_label(re.compile("^Schlagworte")).fill("sensorik, open-data")
        body = "## Warum teilen\n\nWeil es **allen** hilft.\n\n## Wie\n\n| Schritt | Wer |\n| --- | --- |\n| 1 | Amt |"
        await editor.get_by_label(re.compile("^Text")).fill(body)
        await editor.get_by_role("button", name="Vorschau anzeigen").click()
        preview = editor.locator("section.preview")
        await expect(preview).to_be_focused()
        await expect(preview.get_by_role("link", name="Warum teilen")).to_be_visible()  # its contents
        await assert_accessible(editor, "guide-preview", screenshots)
        await editor.get_by_role("button", name="Entwurf anlegen").click()
        await expect(editor.get_by_text("Der Leitfaden wurde als Entwurf angelegt.")).to_be_visible()
        await assert_accessible(editor, "guide-draft", screenshots)
        slug = editor.url.rsplit("/", 1)[1]

        # Two tabs edit at once: the second save is stale and shows both versions.
        await editor.goto(f"/leitfaeden/{slug}/bearbeiten")
        other = await context.new_page()
        await other.goto(f"/leitfaeden/{slug}/bearbeiten")
        await other.get_by_label(re.compile("^Kurzfassung")).fill("Die andere Fassung.")
        await other.get_by_role("button", name="Als neue Version speichern").click()
        await expect(other.get_by_text("Der Leitfaden wurde als neue Version gespeichert.")).to_be_visible()
        await editor.get_by_label(re.compile("^Text")).fill(body + "\n\n## Wann\n\nBald.")
        await editor.get_by_role("button", name="Als neue Version speichern").click()
        await expect(editor.get_by_text("Jemand hat diesen Leitfaden inzwischen geändert")).to_be_visible()
        await assert_accessible(editor, "guide-form-stale", screenshots)
        await editor.get_by_role("button", name="Als neue Version speichern").click()
        await expect(editor.get_by_text("Der Leitfaden wurde als neue Version gespeichert.")).to_be_visible()

        await editor.get_by_role("link", name="Versionsgeschichte").click()
        await expect(
            editor.get_by_role("heading", name=re.compile("Unterschiede von Version 2 zu Version 3"))
        ).to_be_visible()
        await expect(editor.locator(".diff-add", has_text="## Wann")).to_be_visible()
        await assert_accessible(editor, "guide-history-diff", screenshots)
        await editor.get_by_label("Ältere Version").select_option("1")
        await editor.get_by_role("button", name="Versionen vergleichen").click()
        await expect(editor).to_have_url(re.compile(r"von=1&bis=3"))
        await editor.get_by_role("button", name=re.compile(r"^Wiederherstellen\W+Version 1$")).click()
        await expect(editor.get_by_text("Die ältere Version wurde als neue Version wiederhergestellt.")).to_be_visible()
        await expect(editor.get_by_role("cell", name=re.compile("Wiederhergestellt aus Revision 1"))).to_be_visible()
    finally:
        await context.close()

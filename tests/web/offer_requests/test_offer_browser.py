"""Offer requests in headless Chromium against the live server, clicked and typed the way people do.

Kiel's clerk asks for an offer from a solution's page, Lübeck joins with its own quantities, the vendor
answers in the offer form and revises once, the deadline passes, Kiel compares and decides, Lübeck accepts.
Every offer page, in each state a person meets it, gets an axe-core audit (WCAG 2.0/2.1 A and AA) with zero
violations, and a screenshot under test-results/screenshots/.

The live server is shared with the other browser tests: everything here gets its own slug, e-mail and title.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect
from sqlmodel import select

from allmende.accounts.models import MemberRole, Organization
from allmende.core.db import Database
from allmende.core.types import utcnow
from offer_requests import services
from tests.support.browser import assert_accessible, sign_in
from tests.support.factories import add_membership, make_user, published_solution
from tests.support.offers import set_deadline
from tests.support.web import LiveServer

VENDOR = "Testanbieter Kommunal GmbH"
FORM_ERRORS = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def _in_days(days: int) -> str:
    """A day as a date field takes it from a script: ISO, whatever format the browser shows."""
    return (utcnow() + timedelta(days=days)).date().isoformat()


def _euro(text: str) -> re.Pattern[str]:
    """An amount as the pages print it: German digits, a no-break space, the euro sign."""
    return re.compile(re.escape(text) + r"\s€")


@dataclass
class Setup:
    solution: str  # slug of a published solution of the test vendor
    neighbour: str  # e-mail of a new member of Lübeck


async def _prepare(live_server: LiveServer) -> Setup:
    """What the pages cannot make: a published solution of the test vendor, and a member of Lübeck."""
    tag = uuid.uuid4().hex[:8]
    database = Database(live_server.database_url)
    try:
        await published_solution(database, live_server.people.vendor_org, f"maengelmelder-{tag}")
        async with database.unit_of_work() as session:
            luebeck = (await session.exec(select(Organization).where(Organization.slug == "luebeck"))).one()
        neighbour = await make_user(database, email=f"luebeck-{tag}@example.org")
        await add_membership(database, neighbour, luebeck, MemberRole.member)
    finally:
        await database.dispose()
    return Setup(solution=f"maengelmelder-{tag}", neighbour=neighbour.email)


async def _let_the_deadline_pass(live_server: LiveServer, rid: str) -> None:
    """The deadline moves into the past and the deadline job's work closes the request."""
    database = Database(live_server.database_url)
    try:
        await set_deadline(database, rid, utcnow() - timedelta(seconds=1))
        async with database.unit_of_work() as session:
            await services.close_due_offer_requests(session, utcnow())
    finally:
        await database.dispose()


@asynccontextmanager
async def _person(browser: Any, live_server: LiveServer, email: str) -> AsyncIterator[Page]:
    """A browser of its own, signed in through /anmelden; like the ``page`` fixture it fails on any script or
    CSP error (a form answered 422 with its errors aside)."""
    context = await browser.new_context(
        base_url=live_server.url, locale="de-DE", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    problems: list[str] = []

    def console(message: Any) -> None:
        # A form sent back with its errors is answered 422, which Chromium also logs; nothing else may be.
        if message.type == "error" and not message.text.startswith(FORM_ERRORS):
            problems.append(message.text)

    tab.on("console", console)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    try:
        await sign_in(tab, email)
        yield tab
    finally:
        await context.close()
    assert problems == [], f"{email}: {problems}"


@asynccontextmanager
async def _the_parties(browser: Any, live_server: LiveServer, setup: Setup) -> AsyncIterator[tuple[Page, Page, Page]]:
    """Kiel's clerk, the neighbour who joins, and the vendor: each in a browser of their own, signed in."""
    async with (
        _person(browser, live_server, live_server.people.clerk.email) as clerk,
        _person(browser, live_server, setup.neighbour) as neighbour,
        _person(browser, live_server, live_server.people.vendor.email) as vendor,
    ):
        yield clerk, neighbour, vendor


async def _told(page: Page, notice: str) -> None:
    """The page tells the person what just happened."""
    await expect(page.get_by_text(notice)).to_be_visible()


def _request_id(page: Page) -> str:
    found = re.search(r"/anfragen/([0-9a-f-]{36})", page.url)
    assert found, page.url
    return found.group(1)


async def _ask_for_an_offer(clerk: Page, solution: str, title: str, screenshots: Path | None = None) -> str:
    """From the solution's page to a sent request, as Kiel's clerk; returns the request's id."""
    await clerk.goto(f"/loesungen/{solution}")
    await clerk.get_by_role("link", name="Angebot anfragen").click()
    await expect(clerk).to_have_url(re.compile(rf"/anfragen/neu\?loesung={solution}$"))
    await expect(clerk.get_by_role("heading", level=1, name="Neue Angebotsanfrage")).to_be_visible()
    # The solution and the clerk's only public body are chosen already.
    await expect(clerk.get_by_label(re.compile("^Anfragende Stelle"))).to_have_value("kiel")
    await expect(clerk.get_by_label("Lösung", exact=True)).to_have_value(solution)
    await expect(clerk.get_by_label("An den Anbieter einer bestimmten Lösung aus dem Katalog")).to_be_checked()
    if screenshots is not None:
        await clerk.screenshot(path=str(screenshots / "offer-story-request-form-prefilled.png"), full_page=True)

    await clerk.get_by_label(re.compile("^Titel")).fill(title)
    await clerk.get_by_label(re.compile("^Bedarf")).fill(
        "## Bedarf\n\nMeldungen aus der **Bürgerschaft** mit Foto und Ort, für Tiefbau und Grünflächen."
    )
    await clerk.get_by_label("Einwohnerinnen und Einwohner").fill("250.000")
    await clerk.get_by_label("Nutzerinnen und Nutzer").fill("30")
    await clerk.get_by_label(re.compile("^Frist für Angebote")).fill(_in_days(4))
    await clerk.get_by_label("Budget bis (Euro, optional)").fill("40.000,50")
    await clerk.get_by_role("button", name="Speichern und an die Anbieter senden").click()
    await _told(clerk, "Die Anfrage ist versandt. Die Anbieter wurden benachrichtigt.")
    await expect(clerk.get_by_role("heading", level=1, name=title)).to_be_visible()
    return _request_id(clerk)


async def _join(neighbour: Page, title: str, screenshots: Path | None = None) -> None:
    """Lübeck finds the request among those open to join and joins with its own quantities."""
    await neighbour.goto("/anfragen")
    await neighbour.get_by_role("navigation", name="Ansicht").get_by_role("link", name="Zum Mitmachen offen").click()
    await expect(neighbour).to_have_url(re.compile(r"/anfragen\?ansicht=beitreten$"))
    row = neighbour.locator("tbody tr", has_text=title)
    await expect(row).to_contain_text("Kiel")
    await expect(row).to_contain_text("Offen für Angebote")
    await expect(row).to_contain_text("kann mitmachen")
    if screenshots is not None:
        await neighbour.screenshot(path=str(screenshots / "offer-story-requests-to-join.png"), full_page=True)
    await row.get_by_role("link", name=title).click()
    await expect(neighbour.get_by_role("heading", level=1, name=title)).to_be_visible()
    await expect(neighbour.get_by_role("heading", name="Mitmachen")).to_be_visible()
    main = neighbour.locator("main")
    await expect(main).to_contain_text("Bisher 1 Stelle mit zusammen 250.000 Einwohnerinnen und Einwohnern.")
    await expect(main).not_to_contain_text("Budget")  # a prospect sees neither budget nor vendors
    await expect(main).not_to_contain_text("Angefragte Anbieter")
    await expect(neighbour.get_by_label("Für welche Stelle?")).to_have_value("luebeck")
    if screenshots is not None:
        await neighbour.screenshot(path=str(screenshots / "offer-story-request-prospect.png"), full_page=True)
    await neighbour.get_by_label("Einwohnerinnen und Einwohner").fill("220.000")
    await neighbour.get_by_label("Nutzerinnen und Nutzer").fill("12")
    await neighbour.get_by_role("button", name="Mitmachen", exact=True).click()
    await _told(neighbour, "Ihre Stelle macht jetzt bei dieser Anfrage mit.")
    await expect(neighbour).to_have_url(re.compile(r"#buendel$"))


async def _fill_offer(vendor: Page, kiel: str, luebeck: str) -> None:
    shares = vendor.get_by_role("group", name="Preis je Teilnehmer")
    await shares.get_by_label(re.compile("^Kiel")).fill(kiel)
    await shares.get_by_label(re.compile("^Lübeck")).fill(luebeck)


async def _offer(vendor: Page, rid: str, title: str) -> None:
    """The vendor opens the request from its list and answers in the offer form (20.000 + 18.000 €)."""
    await vendor.goto("/anfragen")
    await vendor.get_by_role("link", name="An Ihr Unternehmen").click()
    await expect(vendor).to_have_url(re.compile(r"ansicht=anbieter$"))
    row = vendor.locator("tbody tr", has_text=title)
    await expect(row).to_contain_text("angefragter Anbieter")
    await row.get_by_role("link", name=title).click()
    await expect(vendor).to_have_url(re.compile(rf"/anfragen/{rid}$"))
    await _told(vendor, "Sie haben noch kein Angebot abgegeben.")
    await vendor.get_by_role("link", name="Angebot abgeben").click()
    await expect(vendor.get_by_role("heading", level=1, name="Angebot abgeben")).to_be_visible()
    bundle = vendor.locator("table.bundle-table tfoot tr")
    await expect(bundle).to_contain_text("Gebündelter Bedarf (2 Stellen)")
    await expect(bundle.locator("td").nth(0)).to_have_text("470.000")
    await expect(bundle.locator("td").nth(1)).to_have_text("42")

    await vendor.get_by_label("Bezeichnung der Position 1").fill("Einrichtung und Schulung")
    await vendor.get_by_label("Preisart der Position 1").select_option(label="einmalig")
    await vendor.get_by_label("Betrag der Position 1 in Euro").fill("8.000")
    await vendor.get_by_label("Bezeichnung der Position 2").fill("Betrieb und Support")
    await vendor.get_by_label("Preisart der Position 2").select_option(label="jährlich")
    await vendor.get_by_label("Betrag der Position 2 in Euro").fill("12.000,00")
    await _fill_offer(vendor, "20.000", "18.000")
    await vendor.get_by_label(re.compile("^Service-Level")).fill("Reaktionszeit 4 Stunden werktags")
    await vendor.get_by_label("Hosting-Standort").select_option(label="Deutschland")
    await vendor.get_by_label(re.compile("^Gültig bis")).fill(_in_days(120))
    await vendor.get_by_label(re.compile("^Anmerkungen")).fill("Preise **netto**.")
    await vendor.get_by_role("button", name="Angebot abgeben").click()
    await _told(vendor, "Ihr Angebot ist abgegeben.")
    await expect(vendor).to_have_url(re.compile(r"#angebote$"))
    mine = vendor.locator("#angebote-bereich")
    await expect(mine).to_contain_text("Fassung 1")
    await expect(mine).to_contain_text(_euro("38.000,00"))


async def _revise(vendor: Page) -> None:
    """The vendor revises once: the form starts from the first revision (19.000 + 17.500,50 €)."""
    await vendor.get_by_role("link", name="Angebot überarbeiten").click()
    await expect(vendor.get_by_role("heading", level=1, name="Angebot überarbeiten")).to_be_visible()
    await _told(vendor, "zuletzt Fassung 1")
    await expect(vendor.get_by_label("Bezeichnung der Position 1")).to_have_value("Einrichtung und Schulung")
    await expect(vendor.get_by_label("Preisart der Position 2")).to_have_value("recurring_yearly")
    await _fill_offer(vendor, "19.000", "17.500,50")
    await vendor.get_by_role("button", name="Neue Fassung abgeben").click()
    await _told(vendor, "Ihr Angebot ist überarbeitet; die frühere Fassung bleibt erhalten.")
    mine = vendor.locator("#angebote-bereich")
    await expect(mine).to_contain_text("Fassung 2")
    await expect(mine).to_contain_text(_euro("36.500,50"))


# --- the whole story -----------------------------------------------------------------------------------------


async def test_the_whole_offer_story_in_the_browser(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    setup = await _prepare(live_server)
    title = _unique("Mängelmelder für zwei Städte")
    async with _the_parties(browser, live_server, setup) as (clerk, neighbour, vendor):
        # Kiel's clerk asks the vendor of a published solution for an offer, and sends the request at once.
        rid = await _ask_for_an_offer(clerk, setup.solution, title, screenshots)
        main = clerk.locator("main")
        await expect(main).to_contain_text("Offen für Angebote")
        await expect(main.locator(".prose strong", has_text="Bürgerschaft")).to_be_visible()  # Markdown
        await expect(main).to_contain_text(_euro("40.000,50"))
        await expect(main).to_contain_text(VENDOR)  # the addressed vendor
        await expect(clerk.locator("table.bundle-table tfoot")).to_contain_text("Gebündelter Bedarf (1 Stelle)")
        await expect(main).to_contain_text("Noch ist kein Angebot eingegangen.")
        await clerk.screenshot(path=str(screenshots / "offer-story-request-sent.png"), full_page=True)

        # Lübeck joins; the bundle adds up both towns' quantities.
        await _join(neighbour, title, screenshots)
        bundle = neighbour.locator("table.bundle-table")
        await expect(bundle.locator("tbody tr", has_text="Kiel")).to_contain_text("250.000")
        await expect(bundle.locator("tbody tr", has_text="Lübeck")).to_contain_text("220.000")
        total = bundle.locator("tfoot tr")
        await expect(total).to_contain_text("Gebündelter Bedarf (2 Stellen)")
        await expect(total.locator("td").nth(0)).to_have_text("470.000")
        await expect(total.locator("td").nth(1)).to_have_text("42")
        await expect(neighbour.get_by_role("button", name=re.compile("^Aus dem Bündel austreten"))).to_be_visible()
        await neighbour.screenshot(path=str(screenshots / "offer-story-request-joined.png"), full_page=True)

        # The vendor answers for the whole bundle, then revises once.
        await _offer(vendor, rid, title)
        await _revise(vendor)
        await vendor.screenshot(path=str(screenshots / "offer-story-request-vendor.png"), full_page=True)
        await vendor.get_by_role("link", name="Alle Fassungen").click()
        heading = vendor.get_by_role("heading", level=1, name=f"Fassungen des Angebots von {VENDOR}")
        await expect(heading).to_be_visible()
        revisions = vendor.locator("section.revision h2")
        await expect(revisions).to_have_count(2)
        await expect(revisions.nth(0)).to_contain_text("Fassung 2 vom")  # newest first
        await expect(revisions.nth(1)).to_contain_text("Fassung 1 vom")

        # Before the deadline Kiel knows that an offer arrived, not what it says.
        await clerk.reload()
        await expect(main).to_contain_text("1 Angebot ist eingegangen.")
        await expect(main).not_to_contain_text("36.500,50")

        # The deadline passes; Kiel sees the offer's totals side by side with its own share.
        await _let_the_deadline_pass(live_server, rid)
        await clerk.reload()
        await expect(main).to_contain_text("Frist abgelaufen")
        comparison = clerk.get_by_role("table", name=re.compile("^Die Angebote nebeneinander"))
        await expect(comparison.get_by_role("columnheader", name=VENDOR)).to_be_visible()
        await expect(comparison.locator("tr", has_text="Summe für das Bündel")).to_contain_text(_euro("36.500,50"))
        await expect(comparison.locator("tr", has_text="Anteil Kiel")).to_contain_text(_euro("19.000,00"))
        await expect(comparison.locator("tr", has_text="Preispositionen")).to_contain_text("Betrieb und Support")
        await expect(comparison.locator("tr", has_text="Hosting-Standort")).to_contain_text("Deutschland")
        await expect(comparison.locator("tr", has_text="Fassungen")).to_contain_text("2 Fassungen")
        await clerk.screenshot(path=str(screenshots / "offer-story-request-comparison.png"), full_page=True)
        # Lübeck sees the same offer with its own share, and no decision form.
        await neighbour.reload()
        theirs = neighbour.get_by_role("table", name=re.compile("^Die Angebote nebeneinander"))
        await expect(theirs.locator("tr", has_text="Summe für das Bündel")).to_contain_text(_euro("36.500,50"))
        await expect(theirs.locator("tr", has_text="Anteil Lübeck")).to_contain_text(_euro("17.500,50"))
        await expect(neighbour.get_by_role("button", name="Entscheidung speichern")).to_have_count(0)

        # Kiel prefers the offer and gives a reason.
        await clerk.get_by_label(f"{VENDOR} bevorzugen (36.500,50\xa0€ für das Bündel)").check()
        await clerk.get_by_label(re.compile("^Begründung")).fill("Bestes Verhältnis von Preis und Leistung.")
        await clerk.get_by_role("button", name="Entscheidung speichern").click()
        await _told(clerk, "Die Entscheidung ist gespeichert. Die Beteiligten wurden benachrichtigt.")
        decision = clerk.locator("#entscheidung-bereich > p").first
        await expect(decision).to_have_text(re.compile(rf"^Bevorzugt wird das Angebot von {VENDOR}\. \(\d"))
        await expect(main).to_contain_text("Entschieden: Angebot bevorzugt")
        acceptance = clerk.get_by_role("table", name="Annahme je Stelle")
        await expect(acceptance.locator("tr", has_text="Lübeck")).to_contain_text("noch offen")
        await clerk.screenshot(path=str(screenshots / "offer-story-request-decided.png"), full_page=True)

        # Lübeck accepts for itself.
        await neighbour.reload()
        await expect(neighbour.locator("main")).to_contain_text("Begründung: Bestes Verhältnis von Preis und Leistung.")
        await neighbour.get_by_role("button", name=re.compile("^Annehmen")).click()
        await _told(neighbour, "Sie haben das bevorzugte Angebot für Ihre Stelle angenommen.")
        mine = neighbour.get_by_role("table", name="Annahme je Stelle").locator("tr", has_text="Lübeck")
        await expect(mine).to_contain_text("angenommen")
        await expect(mine.get_by_role("button")).to_have_count(0)
        await neighbour.screenshot(path=str(screenshots / "offer-story-request-accepted.png"), full_page=True)

        # Kiel and the vendor see how it ended.
        await clerk.reload()
        await expect(acceptance.locator("tr", has_text="Lübeck")).to_contain_text("angenommen")
        await vendor.goto(f"/anfragen/{rid}")
        await expect(vendor.locator("main")).to_contain_text("Die anfragende Stelle bevorzugt dieses Angebot.")


# --- axe ------------------------------------------------------------------------------------------------------


async def test_offer_pages_pass_axe(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    """Zero axe-core violations on the offer pages, in each state a person meets them, including errors."""
    setup = await _prepare(live_server)
    title = _unique("Parkraumsensoren gemeinsam")
    async with _the_parties(browser, live_server, setup) as (clerk, neighbour, vendor):
        await clerk.goto("/anfragen")
        await assert_accessible(clerk, "offer-requests", screenshots)
        await clerk.goto("/anfragen/neu")
        await assert_accessible(clerk, "offer-request-form", screenshots)
        # Almost empty: the errors come back in a summary and at the fields.
        await clerk.get_by_label(re.compile("^Titel")).fill("   ")
        await clerk.get_by_label("Einwohnerinnen und Einwohner").fill("-5")
        await clerk.get_by_role("button", name="Speichern und an die Anbieter senden").click()
        await expect(clerk.locator(".error-summary")).to_be_focused()
        await expect(clerk.locator("#feld-title")).to_have_attribute("aria-invalid", "true")
        await expect(clerk.locator("#feld-need-fehler")).to_contain_text("Bitte beschreiben Sie Ihren Bedarf.")
        await expect(clerk.get_by_label("Einwohnerinnen und Einwohner")).to_have_value("-5")
        await assert_accessible(clerk, "offer-request-form-errors", screenshots)

        rid = await _ask_for_an_offer(clerk, setup.solution, title)
        await assert_accessible(clerk, "offer-request-requester", screenshots)
        await clerk.get_by_text("Anfrage zurückziehen").click()  # the folded withdraw form, open
        await expect(clerk.get_by_role("button", name="Endgültig zurückziehen")).to_be_visible()
        await assert_accessible(clerk, "offer-request-withdraw-open", screenshots)

        await neighbour.goto(f"/anfragen/{rid}")
        await expect(neighbour.get_by_role("button", name="Mitmachen", exact=True)).to_be_visible()
        await assert_accessible(neighbour, "offer-request-prospect", screenshots)
        await neighbour.get_by_label("Nutzerinnen und Nutzer").fill("5.000.000")
        await neighbour.get_by_role("button", name="Mitmachen", exact=True).click()
        await expect(neighbour.locator("#feld-users-fehler")).to_contain_text("Das ist unplausibel viel")
        await expect(neighbour.locator(".error-summary")).to_be_focused()
        await assert_accessible(neighbour, "offer-request-join-errors", screenshots)
        await neighbour.goto("/anfragen?ansicht=beitreten")
        await assert_accessible(neighbour, "offer-requests-to-join", screenshots)
        await _join(neighbour, title)
        await assert_accessible(neighbour, "offer-request-participant", screenshots)

        await vendor.goto(f"/anfragen/{rid}/angebot")
        await expect(vendor.get_by_role("heading", level=1, name="Angebot abgeben")).to_be_visible()
        await assert_accessible(vendor, "offer-form", screenshots)
        await _fill_offer(vendor, "zwanzigtausend", "")
        await vendor.get_by_role("button", name="Angebot abgeben").click()
        await expect(vendor.locator(".error-summary")).to_be_focused()
        await assert_accessible(vendor, "offer-form-errors", screenshots)
        await _offer(vendor, rid, title)
        await assert_accessible(vendor, "offer-request-vendor", screenshots)
        await _revise(vendor)
        await vendor.get_by_role("link", name="Angebot überarbeiten").click()
        await assert_accessible(vendor, "offer-form-revision", screenshots)

        # A conversation with two messages, one from each side.
        await clerk.goto(f"/anfragen/{rid}/nachrichten/testanbieter")
        await _told(clerk, "Noch keine Nachrichten.")
        await clerk.get_by_role("button", name="Senden").click()
        await expect(clerk.get_by_text("Bitte schreiben Sie eine Nachricht.").last).to_be_visible()
        await assert_accessible(clerk, "offer-thread-error", screenshots)
        await clerk.get_by_label("Ihre Nachricht").fill("Ist **Single Sign-on** enthalten?")
        await clerk.get_by_role("button", name="Senden").click()
        await _told(clerk, "Ihre Nachricht wurde gesendet.")
        await vendor.goto(f"/anfragen/{rid}")
        await vendor.get_by_role("link", name=f"Gespräch mit {VENDOR}").click()
        await vendor.get_by_label("Ihre Nachricht").fill("Ja, per SAML.")
        await vendor.get_by_role("button", name="Senden").click()
        await _told(vendor, "Ihre Nachricht wurde gesendet.")
        await clerk.reload()
        messages = clerk.locator("ol.messages > li")
        await expect(messages).to_have_count(2)
        await expect(messages.nth(0).locator("strong", has_text="Single Sign-on")).to_be_visible()
        await expect(messages.nth(1)).to_contain_text("Ja, per SAML.")
        await assert_accessible(clerk, "offer-thread", screenshots)

        # After the deadline: the comparison and the decision form, the revisions, the decision.
        await _let_the_deadline_pass(live_server, rid)
        await clerk.goto(f"/anfragen/{rid}")
        await expect(clerk.get_by_role("button", name="Entscheidung speichern")).to_be_visible()
        await expect(clerk.get_by_role("table", name=re.compile("^Die Angebote nebeneinander"))).to_be_visible()
        await expect(clerk.get_by_role("link", name="Gespräch mit Testanbieter Kommunal GmbH")).to_be_visible()
        await assert_accessible(clerk, "offer-request-comparison", screenshots)
        await clerk.get_by_role("link", name=re.compile("^2 Fassungen")).click()
        await expect(clerk.locator("section.revision")).to_have_count(2)
        await assert_accessible(clerk, "offer-history", screenshots)
        await vendor.goto(f"/anfragen/{rid}/angebot")
        await assert_accessible(vendor, "offer-form-closed", screenshots)
        await clerk.goto(f"/anfragen/{rid}")
        await clerk.get_by_label(re.compile(f"^{VENDOR} bevorzugen")).check()
        await clerk.get_by_role("button", name="Entscheidung speichern").click()
        await expect(clerk.get_by_role("button", name=re.compile("^Annehmen"))).to_be_visible()
        await assert_accessible(clerk, "offer-request-decided", screenshots)
        await clerk.goto(f"/anfragen/{rid}/nachrichten/testanbieter")
        await assert_accessible(clerk, "offer-thread-closed", screenshots)

        # Lübeck's inbox holds the notifications of this story; opening one leads to the request.
        await neighbour.goto("/postfach")
        await expect(neighbour.locator("ol.inbox > li.inbox-unread").first).to_be_visible()
        await expect(neighbour.get_by_role("link", name=re.compile("^Postfach"))).to_contain_text("ungelesen")
        await assert_accessible(neighbour, "inbox", screenshots)
        await (
            neighbour.locator("ol.inbox > li.inbox-unread")
            .first.get_by_role("button", name=re.compile("^Öffnen"))
            .click()
        )
        await expect(neighbour).to_have_url(re.compile(f"/anfragen/{rid}"))

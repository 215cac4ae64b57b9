"""The joining pages in headless Chromium against the live server: a person asks for access to Dortmund,
a moderator sees the claim, an owner invites, an invited person opens the link. Every page, also with
its errors, gets an axe-core audit (WCAG 2.0/2.1 A and AA) with zero violations."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from allmende.accounts.models import MemberRole
from allmende.core.db import Database
from allmende.core.security import token_digest
from allmende.core.types import utcnow
from identity.models import Invitation
from tests.support.browser import assert_accessible, sign_in
from tests.support.factories import add_membership, make_user
from tests.support.web import LiveServer


async def _prepare(live_server: LiveServer) -> tuple[str, str, str]:
    """What the pages cannot make: a person, an owner of the test vendor, and an invitation whose token
    the test knows (the live server's mails go to its log)."""
    tag = uuid.uuid4().hex[:8]
    token = secrets.token_urlsafe(32)
    database = Database(live_server.database_url)
    try:
        person = await make_user(database, email=f"amt-{tag}@dortmund.example")
        owner = await make_user(database, email=f"inhaberin-{tag}@example.org")
        await add_membership(database, owner, live_server.people.vendor_org, MemberRole.owner)
        async with database.unit_of_work() as session:
            session.add(
                Invitation(
                    organization_id=live_server.people.vendor_org.id or 0,
                    email=f"neu-{tag}@example.org",
                    role="editor",
                    token_hash=token_digest(token),
                    expires_at=utcnow() + timedelta(days=7),
                )
            )
    finally:
        await database.dispose()
    return person.email, owner.email, token


async def test_the_joining_pages_pass_axe(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    person, owner, token = await _prepare(live_server)
    context = await browser.new_context(
        base_url=live_server.url, locale="de-DE", viewport={"width": 1280, "height": 900}
    )
    page = await context.new_page()
    try:
        await sign_in(page, person)
        await page.goto("/beitreten")
        await assert_accessible(page, "join", screenshots)
        await page.get_by_role("button", name="Anbieter eintragen und Zugang beantragen").click()
        await expect(page.locator(".error-summary")).to_be_visible()
        await assert_accessible(page, "join-vendor-errors", screenshots)
        await page.get_by_label("Name oder AGS").fill("Dortmund")
        await page.get_by_role("button", name="Im Verzeichnis suchen").click()
        await page.get_by_label(re.compile("^Dortmund \\(Kommune")).check()
        await page.get_by_label(re.compile("^Ihre Funktion")).fill("Amt für Digitalisierung")
        await page.get_by_role("button", name="Zugang beantragen", exact=True).click()
        await expect(page.get_by_text("Ihr Antrag ist gestellt.")).to_be_visible()
        await assert_accessible(page, "join-claim-filed", screenshots)

        await context.clear_cookies()
        await sign_in(page, live_server.people.moderator.email)
        await page.goto("/moderation")
        await expect(page.get_by_text("Amt für Digitalisierung")).to_be_visible()
        await assert_accessible(page, "moderation-claims", screenshots)

        await context.clear_cookies()
        await sign_in(page, owner)
        await page.goto("/organisationen/testanbieter/mitglieder")
        await assert_accessible(page, "members", screenshots)
        await page.get_by_label(re.compile("^E-Mail-Adresse")).fill("keine adresse")
        await page.get_by_role("button", name="Einladung senden").click()
        await expect(page.locator(".error-summary")).to_be_visible()
        await assert_accessible(page, "members-invite-errors", screenshots)

        await context.clear_cookies()
        await page.goto(f"/einladung/{token}")
        await assert_accessible(page, "invitation", screenshots)
        await page.get_by_label(re.compile("^Ihr Name")).fill("Erika Muster")
        await page.get_by_label(re.compile("^Passwort")).fill("passwort1234")
        await page.get_by_role("button", name="Konto anlegen und Einladung annehmen").click()
        await expect(page.locator(".error-summary")).to_be_visible()
        await assert_accessible(page, "invitation-errors", screenshots)
    finally:
        await context.close()

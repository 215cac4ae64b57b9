"""Two-factor login in the web: the second step of signing in (a moderator reaches the moderation queue
only after the code; one without an authenticator sets it up there), the account's two-factor page (turn
on with a first code, recovery codes shown once, new codes, turn off; not for moderators), German
messages for wrong, reused and too many codes, and every page checked by axe in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyotp
from playwright.async_api import Page, expect

from allmende.accounts.models import PlatformRole
from allmende.core.db import Database
from tests.support.browser import assert_accessible
from tests.support.browser import sign_in as browser_sign_in
from tests.support.factories import PASSWORD, TOTP_SECRETS, make_user, next_code
from tests.support.web import LiveServer, People, assert_field_errors, basic_page, post_form, sign_in

STEP = "/anmelden/zweiter-faktor"
ACCOUNT = "/konto/zwei-faktor"


def shown_secret(html: str) -> str:
    found = re.search(r'<code class="secret" lang="en">([A-Z2-7 ]+)</code>', html)
    assert found, "no secret on the page"
    return found.group(1).replace(" ", "")


def shown_codes(html: str) -> list[str]:
    return re.findall(r'<li><code lang="en">([a-z2-9]{5}-[a-z2-9]{5})</code></li>', html)


def a_wrong_code(secret: str) -> str:
    import time

    current = {pyotp.TOTP(secret).at(time.time(), counter_offset=o) for o in (-2, -1, 0, 1, 2)}
    return next(c for c in ("123456", "654321", "111111", "222222", "333333") if c not in current)


async def test_a_moderator_reaches_the_moderation_queue_only_after_the_code(
    client: httpx.AsyncClient, people: People
) -> None:
    password_only = await post_form(
        client, "/anmelden", {"email": people.moderator.email, "password": PASSWORD, "next": "/moderation"}
    )
    assert password_only.status_code == 303
    assert password_only.headers["location"] == f"{STEP}?next=/moderation"

    # With the password alone: the queue and its actions send the moderator to the second step.
    queue = await client.get("/moderation")
    assert queue.status_code == 303 and queue.headers["location"] == f"{STEP}?next=/moderation"
    publish = await post_form(client, "/moderation/irgendwas/veroeffentlichen", {"version": "1"})
    assert publish.status_code == 303 and publish.headers["location"] == f"{STEP}?next=/moderation"
    api = await client.get("/api/v1/auth/me")
    assert api.json()["platform_role"] is None

    step = await basic_page(client, f"{STEP}?next=/moderation")
    assert "Bestätigen Sie die Anmeldung mit dem Code" in step and 'autocomplete="one-time-code"' in step
    secret = TOTP_SECRETS[people.moderator.email]
    wrong = await post_form(client, STEP, {"code": a_wrong_code(secret), "next": "/moderation"})
    assert wrong.status_code == 422
    assert_field_errors(wrong.text, {"code": "Der Code ist falsch oder abgelaufen."})
    empty = await post_form(client, STEP, {"code": " ", "next": "/moderation"})
    assert empty.status_code == 422
    assert_field_errors(empty.text, {"code": "Bitte geben Sie den Code aus Ihrer App"})
    assert (await client.get("/moderation")).status_code == 303

    code = await next_code(secret)
    given = await post_form(client, STEP, {"code": code, "next": "/moderation"})
    assert given.status_code == 303 and given.headers["location"] == "/moderation"
    queue = await client.get("/moderation")
    assert queue.status_code == 200 and "Sie sind angemeldet." in queue.text
    # Given once, the step sends on; the same code cannot sign in another browser.
    assert (await client.get(STEP)).headers["location"] == "/moderation"
    replay = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await post_form(replay, "/anmelden", {"email": people.moderator.email, "password": PASSWORD})
    reused = await post_form(replay, STEP, {"code": code})
    assert reused.status_code == 422
    assert_field_errors(reused.text, {"code": "Dieser Code wurde schon verwendet."})


async def test_the_second_step_needs_a_waiting_sign_in(client: httpx.AsyncClient, people: People) -> None:
    assert (await client.get(STEP)).headers["location"] == "/anmelden"
    assert (await post_form(client, STEP, {"code": "123456"})).headers["location"] == "/anmelden"
    landed = await sign_in(client, people.vendor.email)  # no second factor: straight in
    assert landed.headers["location"] == "/anbieter"


async def test_five_wrong_codes_pause_in_german(client: httpx.AsyncClient, people: People) -> None:
    await post_form(client, "/anmelden", {"email": people.moderator.email, "password": PASSWORD})
    wrong = a_wrong_code(TOTP_SECRETS[people.moderator.email])
    for _ in range(5):
        assert (await post_form(client, STEP, {"code": wrong})).status_code == 422
    paused = await post_form(client, STEP, {"code": await next_code(TOTP_SECRETS[people.moderator.email])})
    assert paused.status_code == 429 and paused.headers["retry-after"] == "900"
    assert "Zu viele falsche Codes" in paused.text


async def test_a_moderator_without_an_authenticator_sets_it_up_to_sign_in(
    client: httpx.AsyncClient, database: Database
) -> None:
    moderator = await make_user(database, role=PlatformRole.moderator, totp=False)
    started = await post_form(client, "/anmelden", {"email": moderator.email, "password": PASSWORD})
    assert started.headers["location"] == STEP
    step = await basic_page(client, STEP)
    assert "Richten Sie sie jetzt ein" in step
    secret = shown_secret(step)
    assert shown_secret(await basic_page(client, STEP)) == secret  # a reload keeps what was scanned
    assert quote(moderator.email, safe="") in step or moderator.email.replace("@", "%40") in step  # the URI

    done = await post_form(client, STEP, {"code": await next_code(secret)})
    assert done.status_code == 200
    assert_page_has_codes(done.text)
    assert 'href="/moderation"' in done.text
    assert (await client.get("/moderation")).status_code == 200


def assert_page_has_codes(html: str) -> None:
    assert "Sie werden nur jetzt angezeigt." in html
    codes = shown_codes(html)
    assert len(codes) == 10 and len(set(codes)) == 10


async def test_the_account_page_turns_it_on_renews_the_codes_and_turns_it_off(
    client: httpx.AsyncClient, people: People
) -> None:
    await sign_in(client, people.clerk.email)
    off = await basic_page(client, ACCOUNT)
    assert "Die Zwei-Faktor-Anmeldung ist ausgeschaltet." in off

    setup = await post_form(client, f"{ACCOUNT}/einrichten", {})
    assert setup.status_code == 200
    secret = shown_secret(setup.text)
    wrong = await post_form(client, f"{ACCOUNT}/bestaetigen", {"code": a_wrong_code(secret)})
    assert wrong.status_code == 422
    assert_field_errors(wrong.text, {"code": "Der Code ist falsch oder abgelaufen."})
    assert shown_secret(wrong.text) == secret  # the same secret again, to try once more
    on = await post_form(client, f"{ACCOUNT}/bestaetigen", {"code": await next_code(secret)})
    assert on.status_code == 200
    assert_page_has_codes(on.text)
    first_codes = shown_codes(on.text)
    TOTP_SECRETS[people.clerk.email] = secret

    page = await basic_page(client, ACCOUNT)
    assert "Eingeschaltet seit" in page and "noch 10 unbenutzte Wiederherstellungscodes" in page
    renewed = await post_form(client, f"{ACCOUNT}/wiederherstellungscodes", {"code_neu": first_codes[0]})
    assert renewed.status_code == 200
    assert_page_has_codes(renewed.text)
    assert not set(shown_codes(renewed.text)) & set(first_codes)

    # Signing in again now asks for the code.
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    landed = await sign_in(other, people.clerk.email)
    assert landed.headers["location"] == "/kommune"

    refused = await post_form(client, f"{ACCOUNT}/ausschalten", {"code_aus": first_codes[1]})
    assert refused.status_code == 422  # the first codes stopped working
    assert_field_errors(refused.text, {"code_aus": "Der Code ist falsch oder abgelaufen."})
    turned_off = await post_form(client, f"{ACCOUNT}/ausschalten", {"code_aus": await next_code(secret)})
    assert turned_off.status_code == 303 and turned_off.headers["location"] == ACCOUNT
    after = await client.get(ACCOUNT)
    assert "Die Zwei-Faktor-Anmeldung ist ausgeschaltet." in after.text
    assert (await post_form(other, "/anmelden", {"email": people.clerk.email, "password": PASSWORD})).headers[
        "location"
    ] == "/kommune"


async def test_moderators_cannot_turn_it_off(client: httpx.AsyncClient, people: People) -> None:
    await sign_in(client, people.moderator.email)
    page = await basic_page(client, ACCOUNT)
    assert "vorgeschrieben" in page and f"{ACCOUNT}/ausschalten" not in page
    code = await next_code(TOTP_SECRETS[people.moderator.email])
    refused = await post_form(client, f"{ACCOUNT}/ausschalten", {"code_aus": code})
    assert refused.status_code == 403
    assert "Eingeschaltet seit" in (await client.get(ACCOUNT)).text


async def test_the_account_page_needs_the_second_factor_of_the_session(
    client: httpx.AsyncClient, people: People
) -> None:
    assert (await client.get(ACCOUNT)).headers["location"].startswith("/anmelden?next=")
    await post_form(client, "/anmelden", {"email": people.moderator.email, "password": PASSWORD})
    waiting = await client.get(ACCOUNT)
    assert waiting.headers["location"] == f"{STEP}?next={ACCOUNT}"
    for action in ("einrichten", "wiederherstellungscodes", "ausschalten"):
        answer = await post_form(client, f"{ACCOUNT}/{action}", {"code_neu": "x", "code_aus": "x"})
        assert answer.headers["location"] == f"{STEP}?next={ACCOUNT}", action


# --- in the browser, with axe ----------------------------------------------------------------------------


async def test_second_factor_pages_are_accessible(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    """(A context of its own: the forms answer 422 on purpose, which the console reports as a failed load.)"""
    database = Database(live_server.database_url)
    try:
        moderator = await make_user(database, role=PlatformRole.moderator, totp=False)
        person = await make_user(database)
    finally:
        await database.dispose()
    context = await browser.new_context(base_url=live_server.url, locale="de-DE")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        await _click_through(page, moderator.email, person.email, screenshots)
    finally:
        await context.close()
    assert problems == [], problems


async def _click_through(page: Page, moderator: str, person: str, screenshots: Path) -> None:

    # A moderator without an authenticator: the set-up is the second step of signing in.
    await page.goto("/anmelden")
    await page.get_by_label("E-Mail-Adresse").fill(moderator)
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_role("heading", name="Zweiter Faktor")).to_be_visible()
    await assert_accessible(page, "second-factor-setup-at-sign-in", screenshots)
    secret = shown_secret(await page.content())
    await page.get_by_label("Code aus der App").fill(a_wrong_code(secret))
    await page.get_by_role("button", name="Einrichten und anmelden").click()
    await expect(page.locator(".error-summary")).to_be_visible()
    await assert_accessible(page, "second-factor-setup-error", screenshots)
    await page.get_by_label("Code aus der App").fill(await next_code(secret))
    await page.get_by_role("button", name="Einrichten und anmelden").click()
    await expect(page.get_by_role("heading", name="Ihre Wiederherstellungscodes")).to_be_visible()
    await assert_accessible(page, "recovery-codes", screenshots)
    await page.get_by_role("link", name="Ich habe die Codes gesichert – weiter").click()
    await expect(page).to_have_url(re.compile(r"/moderation$"))
    await page.goto(ACCOUNT)
    await assert_accessible(page, "two-factor-account-moderator", screenshots)
    await page.get_by_role("button", name="Abmelden").first.click()

    # Anyone else: the account page turns it on; the next sign-in asks for the code.
    await browser_sign_in(page, person)
    await page.goto(ACCOUNT)
    await assert_accessible(page, "two-factor-account-off", screenshots)
    await page.get_by_role("button", name="Einrichten").click()
    await assert_accessible(page, "two-factor-setup", screenshots)
    secret = shown_secret(await page.content())
    await page.get_by_label("Code aus der App").fill(await next_code(secret))
    await page.get_by_role("button", name="Einschalten").click()
    await expect(page.get_by_text("Die Zwei-Faktor-Anmeldung ist eingeschaltet.")).to_be_visible()
    TOTP_SECRETS[person] = secret
    await page.goto(ACCOUNT)
    await assert_accessible(page, "two-factor-account-on", screenshots)
    await page.get_by_label("Aktueller Code").first.fill("falsch")
    await page.get_by_role("button", name="Neue Codes erzeugen").click()
    await expect(page.locator(".error-summary")).to_be_visible()
    await assert_accessible(page, "two-factor-account-error", screenshots)
    await page.get_by_role("button", name="Abmelden").first.click()

    await page.goto("/anmelden")
    await page.get_by_label("E-Mail-Adresse").fill(person)
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_role("heading", name="Zweiter Faktor")).to_be_visible()
    await assert_accessible(page, "second-factor-step", screenshots)
    await page.get_by_label("Code", exact=True).fill(await next_code(secret))
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_text("Sie sind angemeldet.")).to_be_visible()

"""The catalog's signed-in pages over HTTP: the vendor's dashboard and forms (field errors, kept input, stale
edits), the moderators' queue with the diff of a pending edit, and references. Signing in: tests/web/signin."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from allmende.accounts.models import MemberRole
from allmende.app import Adapters
from allmende.core.db import Database
from tests.support.factories import add_membership
from tests.support.web import People, assert_field_errors, form_version, post_form, reindex, saved_meanwhile, sign_in

SOLUTION_FORM: dict[str, Any] = {
    "provider": "testanbieter",
    "name": "Mängelmelder Nord",
    "summary": "Bürgerinnen und Bürger melden Schäden im Straßenraum mit Foto und Ort.",
    "description": "## Überblick\n\nMeldungen landen direkt beim **Bauhof**.",
    "kind": "software",
    "license": "EUPL-1.2",
    "repository_url": "https://example.org/maengelmelder",
    "homepage_url": "",
    "development_status": "stable",
    "current_version": "2.1",
    "release_date": "2024-05-31",
    "stages": ["2", "3"],
    "sectors": ["smart-governance"],
    "areas": ["verwaltung"],
    "standards": [],
    "hosting_options": ["saas"],
    "hosting_location": "de",
    "avv_available": "ja",
    "bsi_c5": "nein",
    "iso_27001": "",
    "protection_need": "normal",
    "accessibility": "partial",
    "pricing_model": "subscription",
    "languages": "de, en",
    "contact_name": "Team Mängelmelder",
    "contact_email": "kontakt@example.org",
    "contact_url": "",
}


async def _create(client: httpx.AsyncClient, **overrides: Any) -> str:
    response = await post_form(client, "/anbieter/loesungen/neu", {**SOLUTION_FORM, **overrides})
    assert response.status_code == 303, response.text[:3000]
    dashboard = await client.get("/anbieter")
    notice = "zur Prüfung eingereicht" if overrides.get("danach") else "Der Entwurf wurde angelegt."
    assert notice in dashboard.text
    found = re.search(
        r'href="/loesungen/([^"]+)">' + re.escape(overrides.get("name", SOLUTION_FORM["name"])), dashboard.text
    )
    assert found
    return found.group(1)


# --- vendor ----------------------------------------------------------------------------------------------


async def test_create_form_shows_errors_next_to_fields_and_keeps_the_input(
    client: httpx.AsyncClient, people: People
) -> None:
    await sign_in(client, people.vendor.email)
    form = await client.get("/anbieter/loesungen/neu")
    assert form.status_code == 200
    for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', form.text):
        assert f'for="{control_id}"' in form.text, control_id
    bad = {
        **SOLUTION_FORM,
        "name": "",
        "repository_url": "kein-link",
        "license": "Quatsch-Lizenz 9",
        "kind": "",
        "contact_email": "nicht-mail",
        "languages": "deutsch",
        "release_date": "31.02.2024",
    }
    response = await post_form(client, "/anbieter/loesungen/neu", bad)
    assert response.status_code == 422
    html = response.text
    assert "Bitte korrigieren Sie 7 Angaben" in html
    expected = {
        "name": "Bitte füllen Sie dieses Feld aus.",
        "repository_url": "vollständige Adresse an, die mit https:// beginnt",
        "license": "kein gültiger SPDX-Lizenzausdruck",
        "kind": "Bitte wählen Sie einen Wert aus.",
        "contact_email": "gültige E-Mail-Adresse",
        "languages": "zweibuchstabige Sprachcodes",
        "release_date": "gültiges Datum",
    }
    assert_field_errors(html, expected)
    # What the user typed is still there.
    assert 'value="kein-link"' in html and 'value="Quatsch-Lizenz 9"' in html
    assert SOLUTION_FORM["summary"] in html
    assert re.search(r'name="stages" value="3" checked', html)
    assert re.search(r'<option value="partial" selected>', html)
    assert "<title>Fehler: Neue Lösung anlegen – Allmende</title>" in html


async def test_vendor_creates_edits_and_submits(client: httpx.AsyncClient, people: People) -> None:
    await sign_in(client, people.vendor.email)
    slug = await _create(client)
    dashboard = await client.get("/anbieter")
    assert "Entwurf" in dashboard.text and "Zur Prüfung einreichen" in dashboard.text
    draft = await client.get(f"/loesungen/{slug}")
    assert draft.status_code == 200 and "Bearbeitungsstand:" in draft.text  # members see their draft
    edit = await client.get(f"/anbieter/loesungen/{slug}/bearbeiten")
    assert edit.status_code == 200 and 'value="Mängelmelder Nord"' in edit.text
    saved = await post_form(
        client,
        f"/anbieter/loesungen/{slug}/bearbeiten",
        {**SOLUTION_FORM, "summary": "Schäden im Straßenraum melden.", "version": form_version(edit.text)},
    )
    assert saved.status_code == 303
    dashboard = await client.get("/anbieter")
    submitted = await post_form(
        client, f"/anbieter/loesungen/{slug}/einreichen", {"version": form_version(dashboard.text)}
    )
    assert submitted.status_code == 303
    dashboard = await client.get("/anbieter")
    assert "Die Lösung wurde zur Prüfung eingereicht." in dashboard.text
    assert "Zur Prüfung eingereicht" in dashboard.text
    locked = await client.get(f"/anbieter/loesungen/{slug}/bearbeiten")
    assert locked.status_code == 303  # under review: no editing
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (await anonymous.get(f"/loesungen/{slug}")).status_code == 404


async def test_a_stale_edit_says_so_and_shows_both_versions(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People
) -> None:
    await sign_in(client, people.vendor.email)
    slug = await _create(client)
    edit = f"/anbieter/loesungen/{slug}/bearbeiten"
    mine = await saved_meanwhile(
        client, other_client, people.vendor.email, edit, {**SOLUTION_FORM, "name": "Mängelmelder Küste"}
    )
    stale = await post_form(
        client,
        f"/anbieter/loesungen/{slug}/bearbeiten",
        {**SOLUTION_FORM, "name": "Mängelmelder Nordsee", "version": form_version(mine.text)},
    )
    assert stale.status_code == 409
    html = stale.text
    assert "Jemand hat diese Lösung inzwischen geändert" in html
    assert re.search(
        r'<tr><th scope="row">Name</th><td>Mängelmelder Küste</td><td>Mängelmelder Nordsee</td></tr>', html
    )
    assert 'value="Mängelmelder Nordsee"' in html  # my input is kept
    assert form_version(html) != form_version(mine.text)  # saving again now overwrites knowingly
    again = await post_form(
        client,
        f"/anbieter/loesungen/{slug}/bearbeiten",
        {**SOLUTION_FORM, "name": "Mängelmelder Nordsee", "version": form_version(html)},
    )
    assert again.status_code == 303


async def test_other_users_cannot_edit(client: httpx.AsyncClient, people: People) -> None:
    await sign_in(client, people.vendor.email)
    slug = await _create(client)
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await sign_in(other, people.clerk.email)
    assert (await other.get(f"/anbieter/loesungen/{slug}/bearbeiten")).status_code == 404  # a draft is invisible
    seeded = await other.get("/anbieter/loesungen/masterportal/bearbeiten")
    assert seeded.status_code == 403 and "Kein Zugriff" in seeded.text
    assert (await other.get("/anbieter/loesungen/neu")).status_code == 403


async def _submitted_to_the_moderator(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People
) -> tuple[str, httpx.Response]:
    """The vendor (``client``) submits a new solution; the moderator (``other_client``) opens the queue."""
    await sign_in(client, people.vendor.email)
    slug = await _create(client, danach="einreichen")
    await sign_in(other_client, people.moderator.email)
    return slug, await other_client.get("/moderation")


# --- moderation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_moderator_publishes_and_it_appears_in_the_catalog(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People, adapters: Adapters
) -> None:
    await sign_in(client, people.vendor.email)
    slug = await _create(client, danach="einreichen")
    assert (await client.get("/moderation")).status_code == 403
    await sign_in(other_client, people.moderator.email)
    queue = await other_client.get("/moderation")
    assert queue.status_code == 200
    assert "Mängelmelder Nord" in queue.text and "Neue Lösung" in queue.text
    published = await post_form(
        other_client, f"/moderation/{slug}/veroeffentlichen", {"version": form_version(queue.text)}
    )
    assert published.status_code == 303
    after = await other_client.get("/moderation")
    assert "Die Lösung ist veröffentlicht." in after.text and "Nichts zu prüfen" in after.text
    await reindex(adapters)  # what the drain job does right after the write
    listed = await other_client.get("/loesungen", params={"q": "Mängelmeldr"})  # a typo, too
    assert f'href="/loesungen/{slug}"' in listed.text
    assert "<mark>Mängelmelder</mark> Nord" in listed.text


async def test_request_changes_needs_a_reason(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People
) -> None:
    slug, queue = await _submitted_to_the_moderator(client, other_client, people)
    missing = await post_form(
        other_client, f"/moderation/{slug}/aenderungen", {"reason": " x", "version": form_version(queue.text)}
    )
    assert missing.status_code == 422
    assert re.search(rf'<textarea id="grund-{slug}"[^>]*aria-invalid="true"', missing.text)
    assert "Bitte begründen Sie" in missing.text
    assert "> x</textarea>" in missing.text  # the input is kept
    sent = await post_form(
        other_client,
        f"/moderation/{slug}/aenderungen",
        {"reason": "Bitte Lizenz belegen.", "version": form_version(queue.text)},
    )
    assert sent.status_code == 303
    dashboard = await client.get("/anbieter")
    assert "Änderungen erbeten" in dashboard.text and "Bitte Lizenz belegen." in dashboard.text


async def test_a_pending_edit_is_shown_as_a_diff_and_approved(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People
) -> None:
    slug, queue = await _submitted_to_the_moderator(client, other_client, people)
    await post_form(other_client, f"/moderation/{slug}/veroeffentlichen", {"version": form_version(queue.text)})
    edit = await client.get(f"/anbieter/loesungen/{slug}/bearbeiten")
    assert "Die Lösung ist veröffentlicht. Ihre Änderungen werden als neue Fassung gespeichert" in edit.text
    changed = {
        **SOLUTION_FORM,
        "name": "Mängelmelder Nord 2",
        "hosting_location": "eu",
        "version": form_version(edit.text),
    }
    assert (
        await post_form(client, f"/anbieter/loesungen/{slug}/bearbeiten", {**changed, "danach": "einreichen"})
    ).status_code == 303
    public = await other_client.get(f"/loesungen/{slug}")
    assert "<h1>Mängelmelder Nord</h1>" in public.text  # the public keeps the published version
    queue = await other_client.get("/moderation")
    assert "Änderung einer veröffentlichten Lösung" in queue.text
    rows = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="diff-old">.*?</span>(.*?)</td>'
        r'<td class="diff-new">.*?</span>(.*?)</td></tr>',
        queue.text,
    )
    assert ("Name", "Mängelmelder Nord", "Mängelmelder Nord 2") in rows
    assert ("Hosting-Standort", "Deutschland", "Europäische Union") in rows
    assert len(rows) == 2
    approved = await post_form(
        other_client, f"/moderation/{slug}/veroeffentlichen", {"version": form_version(queue.text)}
    )
    assert approved.status_code == 303
    assert "<h1>Mängelmelder Nord 2</h1>" in (await other_client.get(f"/loesungen/{slug}")).text


async def test_four_eyes_and_stale_moderation(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People, database: Database
) -> None:
    await sign_in(client, people.vendor.email)
    slug = await _create(client, danach="einreichen")
    await add_membership(database, people.moderator, people.vendor_org, MemberRole.member)
    await sign_in(other_client, people.moderator.email)
    queue = await other_client.get("/moderation")
    refused = await post_form(
        other_client, f"/moderation/{slug}/veroeffentlichen", {"version": form_version(queue.text)}
    )
    assert "Vier-Augen-Prinzip" in (await other_client.get(refused.headers["location"])).text
    stale = await post_form(client, f"/anbieter/loesungen/{slug}/einreichen", {"version": "1"})
    assert "nicht möglich" in (await client.get(stale.headers["location"])).text or stale.status_code == 303


# --- municipality -------------------------------------------------------------------------------------------------


async def test_municipality_claims_and_withdraws_a_reference(client: httpx.AsyncClient, people: People) -> None:
    await sign_in(client, people.clerk.email)
    page = await client.get("/kommune")
    assert page.status_code == 200
    assert '<h2 id="r-kiel">Kiel</h2>' in page.text
    assert 'href="/loesungen/masterportal"' in page.text  # seeded reference
    errors = await post_form(
        client, "/kommune/kiel/referenzen", {"solution": "", "mode": "own-operation", "since": "2999-01-01"}
    )
    assert errors.status_code == 422
    assert "Bitte wählen Sie die Lösung" in errors.text and "Das Datum liegt in der Zukunft." in errors.text
    assert re.search(r'<input id="r-kiel-since"[^>]*value="2999-01-01"[^>]*aria-invalid="true"', errors.text)
    claimed = await post_form(
        client,
        "/kommune/kiel/referenzen",
        {"solution": "qgis", "mode": "own-operation", "since": "01.03.2023", "statement": "Im Bauamt im Einsatz."},
    )
    assert claimed.status_code == 303
    page = await client.get("/kommune")
    assert "Die Nutzung wurde als Referenz eingetragen." in page.text
    assert 'href="/loesungen/qgis"' in page.text and "1. März 2023" in page.text
    solution = await client.get("/loesungen/qgis")
    assert 'href="/organisationen/kiel">Kiel</a>' in solution.text and "Schleswig-Holstein" in solution.text
    withdrawn = await post_form(client, "/kommune/kiel/referenzen/qgis/zurueckziehen", {})
    assert withdrawn.status_code == 303
    assert 'href="/loesungen/qgis"' not in (await client.get("/kommune")).text


async def test_municipality_page_needs_a_public_body(client: httpx.AsyncClient, people: People) -> None:
    await sign_in(client, people.vendor.email)
    response = await client.get("/kommune")
    assert response.status_code == 403 and "Kein Zugriff" in response.text
    foreign = await post_form(client, "/kommune/kiel/referenzen", {"solution": "qgis", "mode": "own-operation"})
    assert foreign.status_code == 403

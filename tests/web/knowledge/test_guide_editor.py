"""The guide editor over HTTP: who may write, the form's German errors, the preview (a POST that saves
nothing), saving revisions, a stale save with both versions, the history with a readable diff, restore,
publishing, and the search index following along."""

from __future__ import annotations

import re
from typing import Any

import httpx

from allmende.app import Adapters
from tests.support.web import (
    GUIDE,
    People,
    assert_field_errors,
    assert_page_basics,
    form_version,
    post_form,
    reindex,
    saved_meanwhile,
    sign_in,
)


async def _create(client: httpx.AsyncClient, **changes: Any) -> str:
    response = await post_form(client, "/leitfaeden/neu", {**GUIDE, **changes})
    assert response.status_code == 303, response.text[:3000]
    return str(response.headers["location"])


async def test_who_may_write_guides(client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People) -> None:
    anonymous = await client.get("/leitfaeden/neu")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/anmelden?next=")
    await sign_in(other_client, people.clerk.email)  # a member of Kiel, no editor
    refused = await other_client.get("/leitfaeden/neu")
    assert refused.status_code == 403 and "Leitfäden schreiben die Moderation" in refused.text
    assert (await post_form(other_client, "/leitfaeden/neu", GUIDE)).status_code == 403
    await sign_in(client, people.vendor.email)
    form = await client.get("/leitfaeden/neu")
    assert form.status_code == 200
    assert_page_basics(form.text)
    assert '<option value="testanbieter" selected>Testanbieter Kommunal GmbH</option>' in form.text
    for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', form.text):
        assert f'for="{control_id}"' in form.text, control_id
    listing = await client.get("/leitfaeden")
    assert 'href="/leitfaeden/neu"' in listing.text
    # A seeded guide belongs to the platform: only moderators change it.
    seeded = await client.get("/leitfaeden/open-source-beschaffen/bearbeiten")
    assert seeded.status_code == 403 and "Kein Zugriff" in seeded.text


async def test_the_form_answers_in_german_and_keeps_the_input(client: httpx.AsyncClient, people: People) -> None:
    await sign_in(client, people.vendor.email)
    bad = {**GUIDE, "title": "", "stage": "", "step": "fliegen", "tags": ", ".join(f"t{i}" for i in range(25))}
    response = await post_form(client, "/leitfaeden/neu", {**bad, "author": "lgv-hamburg"})
    assert response.status_code == 422
    html = response.text
    assert "<title>Fehler: Neuen Leitfaden schreiben – Allmende</title>" in html
    assert "Bitte korrigieren Sie 5 Angaben" in html
    expected = {
        "title": "Bitte füllen Sie dieses Feld aus.",
        "stage": "Bitte wählen Sie einen Wert aus.",
        "step": "Bitte wählen Sie einen der angebotenen Werte.",
        "tags": "Das sind zu viele Schlagworte: höchstens 20.",
        "author": "Bitte wählen Sie die herausgebende Organisation.",
    }
    assert_field_errors(html, expected, described=False)
    assert "Viele Kommunen zählen Parkplätze" in html and 'value="Erste Fassung"' in html  # kept


async def test_preview_renders_safely_and_saves_nothing(client: httpx.AsyncClient, people: People) -> None:
    await sign_in(client, people.vendor.email)
    body = GUIDE["body"] + '\n\n<script>alert("x")</script>\n\n[Link](javascript:alert(1))'
    response = await post_form(client, "/leitfaeden/neu", {**GUIDE, "body": body, "aktion": "vorschau"})
    assert response.status_code == 200
    html = response.text
    assert "<title>Vorschau: Neuen Leitfaden schreiben – Allmende</title>" in html
    preview = re.search(r'<section class="preview".*?</section>', html, re.S)
    assert preview
    assert '<h2 id="h-ausgangslage">Ausgangslage</h2>' in preview.group(0)
    assert 'href="#h-vorgehen"' in preview.group(0)  # its table of contents
    assert "<script>alert" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;alert" in preview.group(0)
    assert "Gespeichert ist noch nichts." in html
    assert "Viele Kommunen zählen Parkplätze" in html.split('id="leitfaden-formular"')[1]  # the form is back
    assert (await client.get("/leitfaeden/parkraum-digital-bewirtschaften")).status_code == 404


async def test_write_edit_compare_restore_and_publish(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People, adapters: Adapters
) -> None:
    await sign_in(client, people.vendor.email)
    location = await _create(client)
    assert location == "/leitfaeden/parkraum-digital-bewirtschaften"
    draft = await client.get(location)
    assert "Der Leitfaden wurde als Entwurf angelegt." in draft.text and "Entwurf:" in draft.text
    assert 'href="/leitfaeden/parkraum-digital-bewirtschaften/bearbeiten"' in draft.text
    assert (await other_client.get(location)).status_code == 404  # a draft is not public
    listing = await client.get("/leitfaeden")
    assert "Unveröffentlichte Leitfäden" in listing.text and f'href="{location}"' in listing.text

    edit = await client.get(f"{location}/bearbeiten")
    assert 'value="Parkraum digital bewirtschaften"' in edit.text and 'value="parken, sensorik, open-data"' in edit.text
    changed = {
        **GUIDE,
        "title": "Parkraum digital steuern",
        "stage": "3",
        "body": GUIDE["body"].replace("von Hand", "mit Strichlisten") + "\n- Schilder",
        "note": "Genauer beschrieben",
        "version": form_version(edit.text),
    }
    saved = await post_form(client, f"{location}/bearbeiten", changed)
    assert saved.status_code == 303 and saved.headers["location"] == location
    page = await client.get(location)
    assert "Der Leitfaden wurde als neue Version gespeichert." in page.text
    assert '<h1 lang="de">Parkraum digital steuern</h1>' in page.text and "Version 2 vom" in page.text

    history = await client.get(f"{location}/versionen")
    assert history.status_code == 200
    html = history.text
    assert_page_basics(html)
    assert "2 Versionen" in html and "Genauer beschrieben" in html and "Erste Fassung" in html
    assert "Unterschiede von Version 1 zu Version 2" in html
    assert re.search(
        r'<th scope="row">Titel</th><td class="diff-old" lang="de">Parkraum digital bewirtschaften</td>'
        r'<td class="diff-new" lang="de">Parkraum digital steuern</td>',
        html,
    )
    assert "Stufe 2: Digitale Lösungen einfach beziehen" in html and "Stufe 3: " in html
    assert re.search(
        r'<li class="diff-del"><del><span class="visually-hidden"[^>]*>Entfernt: </span>'
        r"Viele Kommunen zählen Parkplätze noch von Hand.</del></li>",
        html,
    )
    assert re.search(
        r'<li class="diff-add"><ins><span class="visually-hidden"[^>]*>Hinzugefügt: </span>- Schilder</ins>', html
    )
    assert people.vendor.display_name in html  # editors see who saved
    chosen = await client.get(f"{location}/versionen?von=2&bis=2")
    assert "Die beiden Versionen sind gleich." in chosen.text
    wrong = await client.get(f"{location}/versionen?von=1&bis=9")
    assert "Diese Versionen gibt es nicht." in wrong.text

    # Restore version 1: a new version 3 with the old content; history is not rewritten.
    restored = await post_form(client, f"{location}/versionen/1/wiederherstellen", {"version": form_version(html)})
    assert restored.status_code == 303
    after = await client.get(f"{location}/versionen")
    assert "Die ältere Version wurde als neue Version wiederhergestellt." in after.text
    assert "3 Versionen" in after.text and "Wiederhergestellt aus Revision 1" in after.text
    assert '<h1 lang="de">Parkraum digital bewirtschaften</h1>' in (await client.get(location)).text
    stale = await post_form(client, f"{location}/versionen/2/wiederherstellen", {"version": "1"})
    assert "Der Leitfaden wurde inzwischen geändert." in (await client.get(stale.headers["location"])).text
    missing = await post_form(
        client, f"{location}/versionen/42/wiederherstellen", {"version": form_version(after.text)}
    )
    assert missing.status_code == 404 and "Diese Version des Leitfadens gibt es nicht." in missing.text

    # The moderators publish it; then everyone reads it and the search finds it.
    await sign_in(other_client, people.moderator.email)
    moderator_view = await other_client.get(location)
    assert 'action="/leitfaeden/parkraum-digital-bewirtschaften/veroeffentlichen"' in moderator_view.text
    refused = await post_form(client, f"{location}/veroeffentlichen", {"version": form_version(moderator_view.text)})
    assert refused.status_code == 403
    published = await post_form(
        other_client, f"{location}/veroeffentlichen", {"version": form_version(moderator_view.text)}
    )
    assert published.status_code == 303
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (await anonymous.get(location)).status_code == 200
    history_public = await anonymous.get(f"{location}/versionen")
    assert history_public.status_code == 200 and "Wiederherstellen" not in history_public.text
    assert people.vendor.display_name not in history_public.text  # names only for editors
    await reindex(adapters)
    found = await anonymous.get("/suche", params={"q": "Parkraum bewirtschaftn"})
    assert f'<h3><a href="{location}">' in found.text


async def test_a_stale_save_says_so_and_shows_both_versions(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People
) -> None:
    await sign_in(client, people.vendor.email)
    location = await _create(client)
    mine = await saved_meanwhile(
        client,
        other_client,
        people.vendor.email,
        f"{location}/bearbeiten",
        {**GUIDE, "title": "Parkraum gemeinsam bewirtschaften"},
    )
    typed = {
        **GUIDE,
        "title": "Parkraum klug bewirtschaften",
        "body": GUIDE["body"] + "\n\n## Kosten\n\nOffen.",
        "version": form_version(mine.text),
    }
    stale = await post_form(client, f"{location}/bearbeiten", typed)
    assert stale.status_code == 409
    html = stale.text
    assert "Jemand hat diesen Leitfaden inzwischen geändert" in html
    assert re.search(
        r'<tr><th scope="row">Titel</th><td lang="de">Parkraum gemeinsam bewirtschaften</td>'
        r'<td lang="de">Parkraum klug bewirtschaften</td></tr>',
        html,
    )
    assert re.search(r'<li class="diff-add"><ins>.*?## Kosten</ins></li>', html)
    assert 'value="Parkraum klug bewirtschaften"' in html  # my input is kept
    assert form_version(html) != form_version(mine.text)  # saving again now overwrites knowingly
    again = await post_form(client, f"{location}/bearbeiten", {**typed, "version": form_version(html)})
    assert again.status_code == 303


async def test_preview_while_editing_keeps_the_version(client: httpx.AsyncClient, people: People) -> None:
    await sign_in(client, people.vendor.email)
    location = await _create(client)
    edit = await client.get(f"{location}/bearbeiten")
    version = form_version(edit.text)
    preview = await post_form(
        client, f"{location}/bearbeiten", {**GUIDE, "body": "## Neu\n\nText", "version": version, "aktion": "vorschau"}
    )
    assert preview.status_code == 200 and '<h2 id="h-neu">Neu</h2>' in preview.text
    assert form_version(preview.text) == version
    assert '<h1 lang="de">Parkraum digital bewirtschaften</h1>' in (await client.get(location)).text
    assert "Version 1 vom" in (await client.get(location)).text


async def test_other_organizations_cannot_edit_and_forms_need_the_token(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People
) -> None:
    await sign_in(client, people.vendor.email)
    location = await _create(client)
    await sign_in(other_client, people.clerk.email)
    assert (await other_client.get(f"{location}/bearbeiten")).status_code == 404  # a draft of others
    await sign_in(other_client, people.moderator.email)
    assert (await other_client.get(f"{location}/bearbeiten")).status_code == 200  # moderators may
    forged = await client.post(f"{location}/bearbeiten", data={**GUIDE, "version": "1"})
    assert forged.status_code == 403 and "Formular abgelaufen" in forged.text
    unknown = await client.get("/leitfaeden/gibt-es-nicht/bearbeiten")
    assert unknown.status_code == 404 and "Diesen Leitfaden gibt es nicht" in unknown.text


async def test_a_guide_titled_like_a_page_gets_its_own_address(client: httpx.AsyncClient, people: People) -> None:
    await sign_in(client, people.vendor.email)
    assert await _create(client, title="Neu") == "/leitfaeden/leitfaden-neu"
    taken = await post_form(client, "/leitfaeden/neu", {**GUIDE, "title": "Neu"})
    assert taken.status_code == 422 and "Es gibt schon einen Leitfaden mit diesem Titel." in taken.text

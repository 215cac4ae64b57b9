"""Signing in and out over HTTP: the form, the throttle, where a person lands, local next targets only, and
signed-in pages sending anonymous visitors (and forms sent after the session ran out) to the sign-in."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx

from tests.support.web import People, post_form, sign_in


async def test_login_form_and_wrong_credentials(client: httpx.AsyncClient, people: People) -> None:
    form = await client.get("/anmelden")
    assert form.status_code == 200
    assert 'name="_csrf_token"' in form.text and 'autocomplete="current-password"' in form.text
    wrong = await post_form(client, "/anmelden", {"email": people.vendor.email, "password": "falsch-falsch-falsch"})
    unknown = await post_form(client, "/anmelden", {"email": "niemand@example.org", "password": "falsch-falsch-falsch"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "E-Mail-Adresse oder Passwort ist falsch." in response.text
        assert 'aria-invalid="true" aria-describedby="anmelde-fehler"' in response.text
    assert f'value="{people.vendor.email}"' in wrong.text  # the input is kept
    empty = await post_form(client, "/anmelden", {"email": "", "password": ""})
    assert empty.status_code == 422 and "Bitte geben Sie E-Mail-Adresse und Passwort ein." in empty.text


async def test_the_login_throttle_answers_in_german(client: httpx.AsyncClient, people: People) -> None:
    for _ in range(5):
        await post_form(client, "/anmelden", {"email": people.clerk.email, "password": "falsch-falsch-falsch"})
    throttled = await post_form(client, "/anmelden", {"email": people.clerk.email, "password": "falsch-falsch-falsch"})
    assert throttled.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in throttled.text
    assert throttled.headers["retry-after"] == "900"


async def test_sign_in_lands_by_role_and_sign_out(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People
) -> None:
    landed = await sign_in(client, people.vendor.email)
    assert landed.headers["location"] == "/anbieter"
    page = await client.get("/anbieter")
    assert "Sie sind angemeldet." in page.text and "Meine Lösungen" in page.text and "Abmelden" in page.text
    out = await post_form(client, "/abmelden", {})
    assert out.status_code == 303
    assert (await client.get("/anbieter")).status_code == 303
    moderator = await sign_in(other_client, people.moderator.email)
    assert moderator.headers["location"] == "/moderation"


async def test_sign_in_follows_only_local_next_targets(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, people: People
) -> None:
    local = await post_form(
        client,
        "/anmelden",
        {"email": people.clerk.email, "password": "correct horse battery staple", "next": "/kommune"},
    )
    assert local.headers["location"] == "/kommune"
    foreign = await post_form(
        other_client,
        "/anmelden",
        {"email": people.clerk.email, "password": "correct horse battery staple", "next": "//evil.example/x"},
    )
    assert foreign.headers["location"] == "/kommune"  # the clerk's own page, not the foreign target


async def test_signed_in_pages_send_anonymous_visitors_to_the_login(client: httpx.AsyncClient) -> None:
    for url in ("/anbieter", "/anbieter/loesungen/neu", "/moderation", "/kommune"):
        response = await client.get(url)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/anmelden?next=")


async def test_a_form_sent_after_the_session_ran_out_returns_to_its_page_after_the_login(
    client: httpx.AsyncClient,
) -> None:
    """The POST cannot be repeated by the GET after the sign-in (405), so the sign-in leads back to the page
    the form was on; a foreign or missing Referer leads to the start page, never elsewhere."""
    action = f"/anfragen/{uuid.uuid4()}/versenden"
    form_page = action.removesuffix("/versenden") + "?ansicht=eigene"
    expected = {
        f"http://testserver{form_page}": "/anmelden?next=" + quote(form_page, safe="/"),
        "https://evil.example/anfragen": "/anmelden?next=/",
        "http://testserver.evil.example/x": "/anmelden?next=/",
        None: "/anmelden?next=/",
    }
    for referer, location in expected.items():
        if referer:
            client.headers["Referer"] = referer
        response = await post_form(client, action, {"version": "1"})
        client.headers.pop("Referer", None)
        assert response.status_code == 303
        assert response.headers["location"] == location, referer

"""The inbox page (/postfach) over HTTP: own notifications newest first, the unread count in the header,
marking one or all read, opening a notification's link (same-site only), the unread filter, paging,
foreign notifications, and CSRF."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx

from allmende.accounts.models import User
from allmende.core.db import Database
from allmende.core.types import utcnow
from notifications.models import Notification
from notifications.services import Recipient, notify
from tests.support.web import People, csrf, post_form, sign_in


async def _notify(
    database: Database,
    user: User,
    subject: str,
    body: str = "Text der Benachrichtigung.",
    *,
    link: str | None = None,
    hours_ago: float = 0,
) -> uuid.UUID:
    assert user.id is not None
    async with database.unit_of_work() as session:
        (created,) = notify(session, [Recipient(user.id, user.email)], "test", subject, body, link=link)
        created.created_at = utcnow() - timedelta(hours=hours_ago)
        return created.uuid


async def _read_at(database: Database, nid: uuid.UUID) -> object:
    async with database.sessionmaker() as session:
        from sqlmodel import select

        return (await session.exec(select(Notification.read_at).where(Notification.uuid == nid))).one()


def _header(html: str) -> str:
    found = re.search(r'<nav class="main-nav".*?</nav>', html, re.S)
    assert found, "no main navigation"
    return found.group(0)


def _subjects(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", s).replace("Ungelesen: ", "")
        for s in re.findall(r'<h2 class="inbox-subject">(.*?)</h2>', html)
    ]


async def test_anonymous_visitors_are_sent_to_the_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/postfach?ungelesen=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/anmelden?next=/postfach%3Fungelesen%3D1"
    page = await client.get("/anmelden")
    assert 'href="/postfach"' not in page.text  # no inbox in the header without a user
    posted = await post_form(client, f"/postfach/{uuid.uuid4()}/gelesen", {})
    assert posted.status_code == 303 and posted.headers["location"].startswith("/anmelden?next=/postfach")
    all_read = await post_form(client, "/postfach/alle-gelesen", {})
    assert all_read.status_code == 303 and all_read.headers["location"].startswith("/anmelden?next=/postfach")


async def test_the_inbox_lists_own_notifications_newest_first(
    client: httpx.AsyncClient, database: Database, people: People
) -> None:
    await _notify(database, people.clerk, "Mittlere Nachricht", hours_ago=2)
    await _notify(database, people.clerk, "Älteste Nachricht", hours_ago=5)
    await _notify(
        database,
        people.clerk,
        "Neueste <Nachricht>",
        "Erste Zeile\nZweite Zeile <script>alert(1)</script>",
        link="/anfragen/123",
    )
    await _notify(database, people.vendor, "Fremde Nachricht")
    await sign_in(client, people.clerk.email)
    response = await client.get("/postfach")
    assert response.status_code == 200
    html = response.text
    assert _subjects(html) == ["Neueste &lt;Nachricht&gt;", "Mittlere Nachricht", "Älteste Nachricht"]
    assert "Fremde Nachricht" not in html
    # plain text: escaped, line breaks kept (by CSS white-space on the element)
    assert '<p class="inbox-body">Erste Zeile\nZweite Zeile &lt;script&gt;alert(1)&lt;/script&gt;</p>' in html
    assert "<script>alert(1)" not in html
    # unread entries say so in words, not by colour alone
    assert html.count('<span class="badge badge-unread">Ungelesen</span>') == 3
    assert "3 Benachrichtigungen" in html
    # the header: "Postfach" with the unread count, marked current
    header = _header(html)
    assert re.search(
        r'<a href="/postfach" aria-current="page">Postfach <span class="badge badge-count">3'
        r'<span class="visually-hidden"> ungelesen</span></span></a>',
        header,
    ), header
    # every form carries the CSRF token (sign-out, mark all, one per entry)
    assert len(re.findall(r'<form[^>]*method="post"', html)) == html.count('name="_csrf_token"') == 5
    # the entry with a link opens through a form button, with context for screen readers
    assert (
        '<button type="submit" name="oeffnen" value="1" class="button">Öffnen'
        '<span class="visually-hidden">: Neueste &lt;Nachricht&gt;</span></button>'
    ) in html
    assert html.count('name="oeffnen"') == 1  # only the entry with a link
    other_page = await client.get("/loesungen")
    assert "Postfach" in _header(other_page.text) and 'href="/postfach" aria-current' not in other_page.text


async def test_marking_one_read_and_opening_its_link(
    client: httpx.AsyncClient, database: Database, people: People
) -> None:
    plain = await _notify(database, people.clerk, "Ohne Verweis", hours_ago=1)
    linked = await _notify(database, people.clerk, "Mit Verweis", link="/anfragen/abc?x=1")
    await sign_in(client, people.clerk.email)
    assert 'badge-count">2<' in _header((await client.get("/postfach")).text)

    marked = await post_form(client, f"/postfach/{plain}/gelesen", {"zurueck": "/postfach?ungelesen=1"})
    assert marked.status_code == 303 and marked.headers["location"] == "/postfach?ungelesen=1"
    assert await _read_at(database, plain) is not None
    assert await _read_at(database, linked) is None
    after = await client.get("/postfach")
    assert "Die Benachrichtigung ist als gelesen markiert." in after.text
    assert 'badge-count">1<' in _header(after.text)
    assert after.text.count('<span class="badge badge-unread">') == 1
    assert "gelesen am " in after.text

    opened = await post_form(client, f"/postfach/{linked}/gelesen", {"oeffnen": "1"})
    assert opened.status_code == 303 and opened.headers["location"] == "/anfragen/abc?x=1"
    assert await _read_at(database, linked) is not None
    read_page = await client.get("/postfach")
    assert "badge-count" not in _header(read_page.text)
    # once read, "Öffnen" is a plain link to the same-site target
    assert '<a href="/anfragen/abc?x=1">Öffnen<span class="visually-hidden">: Mit Verweis</span></a>' in read_page.text
    # the return target is the inbox only
    elsewhere = await post_form(client, f"/postfach/{plain}/gelesen", {"zurueck": "//evil.example/postfach"})
    assert elsewhere.headers["location"] == "/postfach"


async def test_a_foreign_link_is_never_followed(client: httpx.AsyncClient, database: Database, people: People) -> None:
    evil = await _notify(database, people.clerk, "Böser Verweis", link="//evil.example/x")
    await sign_in(client, people.clerk.email)
    html = (await client.get("/postfach")).text
    assert "evil.example" not in html and 'name="oeffnen"' not in html
    opened = await post_form(client, f"/postfach/{evil}/gelesen", {"oeffnen": "1"})
    assert opened.status_code == 303 and opened.headers["location"] == "/postfach"
    assert await _read_at(database, evil) is not None


async def test_mark_all_read_and_the_unread_filter(
    client: httpx.AsyncClient, database: Database, people: People
) -> None:
    old = await _notify(database, people.clerk, "Schon gelesen", hours_ago=3)
    await _notify(database, people.clerk, "Noch offen eins", hours_ago=2)
    await _notify(database, people.clerk, "Noch offen zwei", hours_ago=1)
    foreign = await _notify(database, people.vendor, "Fremd und ungelesen")
    await sign_in(client, people.clerk.email)
    await post_form(client, f"/postfach/{old}/gelesen", {})

    unread = await client.get("/postfach?ungelesen=1")
    assert _subjects(unread.text) == ["Noch offen zwei", "Noch offen eins"]
    assert '<a href="/postfach?ungelesen=1" aria-current="page">Nur ungelesene</a>' in unread.text
    assert "2 ungelesene Benachrichtigungen" in unread.text
    everything = await client.get("/postfach")
    assert _subjects(everything.text) == ["Noch offen zwei", "Noch offen eins", "Schon gelesen"]
    assert '<a href="/postfach" aria-current="page">Alle</a>' in everything.text
    assert 'action="/postfach/alle-gelesen"' in everything.text

    done = await post_form(client, "/postfach/alle-gelesen", {"zurueck": "/postfach?ungelesen=1"})
    assert done.status_code == 303 and done.headers["location"] == "/postfach?ungelesen=1"
    empty = await client.get("/postfach?ungelesen=1")
    assert "Alle Benachrichtigungen sind als gelesen markiert." in empty.text
    assert _subjects(empty.text) == [] and "Sie haben keine ungelesenen Benachrichtigungen." in empty.text
    assert "badge-count" not in _header(empty.text) and 'action="/postfach/alle-gelesen"' not in empty.text
    assert await _read_at(database, foreign) is None  # another user's inbox is untouched


async def test_more_entries_by_cursor(client: httpx.AsyncClient, database: Database, people: People) -> None:
    for n in range(22):
        await _notify(database, people.clerk, f"Nachricht {n:02d}", hours_ago=n)
    await sign_in(client, people.clerk.email)
    first = await client.get("/postfach")
    assert _subjects(first.text) == [f"Nachricht {n:02d}" for n in range(20)]
    found = re.search(r'<a href="(/postfach\?weiter=[^"]+)">Weitere anzeigen</a>', first.text)
    assert found
    second = await client.get(found.group(1).replace("&amp;", "&"))
    assert _subjects(second.text) == ["Nachricht 20", "Nachricht 21"]
    assert "Weitere anzeigen" not in second.text and "Zu den neuesten" in second.text
    tampered = await client.get("/postfach?weiter=kaputt")
    assert tampered.status_code == 200 and len(_subjects(tampered.text)) == 20
    assert "Die Liste beginnt wieder oben." in tampered.text


async def test_a_foreign_or_unknown_notification_is_not_found(
    client: httpx.AsyncClient, database: Database, people: People
) -> None:
    foreign = await _notify(database, people.vendor, "Nicht Ihre")
    await sign_in(client, people.clerk.email)
    for nid in (foreign, uuid.uuid4()):
        response = await post_form(client, f"/postfach/{nid}/gelesen", {"oeffnen": "1"})
        assert response.status_code == 404
        assert "Diese Benachrichtigung gibt es nicht in Ihrem Postfach." in response.text
    assert await _read_at(database, foreign) is None


async def test_forms_without_the_csrf_token_are_refused(
    client: httpx.AsyncClient, database: Database, people: People
) -> None:
    nid = await _notify(database, people.clerk, "Geschützt")
    await sign_in(client, people.clerk.email)
    assert await csrf(client)  # the cookie is there; only the form field is missing
    for url in (f"/postfach/{nid}/gelesen", "/postfach/alle-gelesen"):
        response = await client.post(url, data={"oeffnen": "1"})
        assert response.status_code == 403
    assert await _read_at(database, nid) is None

"""Notices are written in each recipient's language and link the page the composition root's link builder names."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import select

from allmende.accounts.models import MemberRole, Organization, OrganizationKind, User
from allmende.app import Adapters
from allmende.core import links
from allmende.core.db import Database
from allmende.web.kit.links import WEB_LINKS
from offer_requests.notices import CATALOG
from tests.support.factories import make_organization, make_user, make_user_in, published_solution
from tests.support.jobs import queue_of
from tests.support.mail import SmtpSink, use_smtp
from tests.support.offers import BASE, party, request_payload, sign_in

TITLE = "Bürgerbeteiligungsplattform für drei Jahre"


async def _speaker_of(database: Database, org: Organization, language: str) -> User:
    user = await make_user_in(database, org, MemberRole.editor)
    async with database.unit_of_work() as session:
        stored = (await session.exec(select(User).where(User.id == user.id))).one()
        stored.language = language
    return user


async def _open_request(client: httpx.AsyncClient, database: Database) -> tuple[str, User, User]:
    """A request addressed to a vendor with a German- and an English-speaking editor; returns its uuid."""
    vendor = await make_organization(database, slug="vendor")
    await published_solution(database, vendor, "mitmachen")
    german, english = await _speaker_of(database, vendor, "de"), await _speaker_of(database, vendor, "en")
    town = await make_organization(database, kind=OrganizationKind.municipality, slug="town")
    requester = await party(client, database, town)
    rid = (await requester.http.post(BASE, json=request_payload("town"))).json()["uuid"]
    assert (await requester.http.post(f"{BASE}/{rid}/open")).status_code == 200
    return rid, german, english


async def test_an_english_speaking_recipient_gets_the_notice_in_english_by_mail_and_in_the_inbox(
    client: httpx.AsyncClient, adapters: Adapters, database: Database, smtp: SmtpSink
) -> None:
    use_smtp(adapters, smtp)
    rid, german, english = await _open_request(client, database)
    await queue_of(adapters).run_pending(wait_for_retries=True)

    assert smtp.subjects(german.email) == [f"Neue Angebotsanfrage: {TITLE}"]
    assert smtp.subjects(english.email) == [f"New offer request: {TITLE}"]
    german_body = smtp.to(german.email)[0].get_content()
    english_body = smtp.to(english.email)[0].get_content()
    assert f"bittet Sie um ein Angebot: „{TITLE}“" in german_body and " Uhr angenommen." in german_body
    assert "120.000 Einwohnerinnen und Einwohner" in german_body  # German digit grouping
    assert f"asks you for an offer: “{TITLE}”" in english_body and "Offers are accepted until " in english_body
    assert "120,000 inhabitants, 40 users, 2 sites." in english_body  # English digit grouping
    assert re.search(r"Offers are accepted until [A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M\.", english_body)
    assert " Uhr" not in english_body

    # The inbox keeps each entry in the language it was written in.
    for user, subject in ((german, f"Neue Angebotsanfrage: {TITLE}"), (english, f"New offer request: {TITLE}")):
        http = await sign_in(client, user)
        inbox = (await http.get("/api/v1/inbox")).json()
        assert [(n["subject"], n["record_uuid"]) for n in inbox["items"]] == [(subject, rid)]


class _OtherLinks:
    def offer_request(self, request: uuid.UUID) -> str:
        return f"/elsewhere/requests/{request}"

    def confirm_email(self, token: str) -> str:
        return f"/elsewhere/confirm/{token}"

    def reset_password(self, token: str) -> str:
        return f"/elsewhere/reset/{token}"

    def invitation(self, token: str) -> str:
        return f"/elsewhere/invitations/{token}"

    def organization_members(self, slug: str) -> str:
        return f"/elsewhere/organizations/{slug}/members"


@pytest.fixture
def other_links() -> Iterator[None]:
    previous = links.register(_OtherLinks())
    yield
    links.register(previous or WEB_LINKS)


async def test_mails_carry_the_link_the_link_builder_names(
    client: httpx.AsyncClient, adapters: Adapters, database: Database, smtp: SmtpSink, other_links: None
) -> None:
    use_smtp(adapters, smtp)
    rid, german, english = await _open_request(client, database)
    await queue_of(adapters).run_pending(wait_for_retries=True)
    for user in (german, english):
        (mail,) = smtp.to(user.email)
        assert f"http://testserver/elsewhere/requests/{rid}" in mail.get_content()
        assert "/anfragen/" not in mail.get_content()


def test_the_web_registers_its_page_of_an_offer_request_as_the_link() -> None:
    request = uuid.uuid4()
    assert links.offer_request(request) == f"/anfragen/{request}"


async def test_a_user_speaks_german_unless_told_otherwise(database: Database) -> None:
    user = await make_user(database)
    async with database.unit_of_work() as session:
        # A row written without the column (as by an older release) gets the database's default, too.
        await session.exec(  # type: ignore[call-overload]
            text(
                "INSERT INTO user_account (uuid, email, display_name, password_hash, is_active, created_at) "
                "VALUES (:uuid, 'old@example.org', 'Alt', 'x', :active, CURRENT_TIMESTAMP)"
            ),
            params={"uuid": uuid.uuid4().hex if database.dialect == "sqlite" else str(uuid.uuid4()), "active": True},
        )
    async with database.sessionmaker() as session:
        languages = {u.email: u.language for u in await session.exec(select(User))}
    assert languages == {user.email: "de", "old@example.org": "de"}


def test_every_notice_text_is_translated_into_english() -> None:
    assert CATALOG.extracted_ids()  # the notices' texts are found by the extraction
    assert CATALOG.untranslated("en") == []

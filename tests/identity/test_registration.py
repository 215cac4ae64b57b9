"""Registration with double opt-in, the confirmation link, and the password reset: no enumeration (the
same answer and the same work for known and unknown addresses), links that expire and work once, and a
reset that ends every session."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import select

from allmende.accounts.models import User
from allmende.app import Adapters
from allmende.core import security
from allmende.core.audit import AuditEvent
from allmende.core.db import Database
from allmende.core.types import utcnow
from identity.models import OneTimeToken
from tests.support.factories import PASSWORD, login, make_user, signed_in
from tests.support.identity import STRONG, last_token, mails_to, post, register, token_in
from tests.support.jobs import queue_of
from tests.support.mail import SmtpSink, use_smtp


async def _actions(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return [e.action for e in await session.exec(select(AuditEvent).order_by(AuditEvent.id))]  # type: ignore[arg-type]


async def test_a_registered_person_signs_in_only_after_confirming_the_address(
    client: httpx.AsyncClient, database: Database
) -> None:
    answer = await register(client, "Anna@Example.org")
    assert answer.status_code == 202, answer.text
    refused = await login(client, "anna@example.org", STRONG)
    assert refused.status_code == 403 and refused.json()["field"] == "email"
    assert refused.json()["type"] == "/problems/email-unconfirmed"
    token = await last_token(database, "anna@example.org", "identity.confirm")
    confirmed = await post(client, "/api/v1/auth/confirm-email", {"token": token})
    assert confirmed.status_code == 200, confirmed.text
    signed = await login(client, "anna@example.org", STRONG)
    assert signed.status_code == 201
    assert signed.json()["email"] == "anna@example.org" and signed.json()["second_factor_required"] is False
    assert (await client.get("/api/v1/auth/me")).json()["display_name"] == "Anna Beispiel"
    assert await _actions(database) == [
        "user.register",
        "user.sign_in_failed",
        "user.confirm_email",
        "user.sign_in",
    ]


async def test_registration_answers_alike_and_does_the_same_work_for_known_and_unknown_addresses(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No enumeration. The timing is checked by the work done, not by a clock: one argon2 hash and one
    mail for either address (argon2 is what costs; a clock-based assertion would be flaky)."""
    known = await make_user(database, email="known@example.org")
    hashed: list[str] = []
    real_hash = security.hash_password

    def spy(password: str) -> str:
        hashed.append(password)
        return real_hash(password)

    monkeypatch.setattr(security, "hash_password", spy)
    answers = {}
    work = {}
    for address in ("known@example.org", "unknown@example.org"):
        hashed.clear()
        answers[address] = await register(client, address)
        work[address] = (len(hashed), len(await mails_to(database, address)))
    assert answers["known@example.org"].status_code == answers["unknown@example.org"].status_code == 202
    assert answers["known@example.org"].json() == answers["unknown@example.org"].json()
    assert work["known@example.org"] == work["unknown@example.org"] == (1, 1)
    # The owner of the known address is told, with a way back in; the account is unchanged.
    [mail] = await mails_to(database, known.email)
    assert mail.kind == "identity.already-registered" and "token=" in (mail.link or "")
    assert (await login(client, known.email, PASSWORD)).status_code == 201


async def test_a_weak_password_is_refused_before_anything_is_written(
    client: httpx.AsyncClient, database: Database
) -> None:
    weak = await register(client, "neu@example.org", password="passwort1234")
    assert weak.status_code == 422 and weak.json()["field"] == "password" and weak.json()["reason"] == "guessable"
    assert await mails_to(database, "neu@example.org") == []
    nameless = await register(client, "neu@example.org", name="   ")
    assert nameless.status_code == 422


async def test_confirmation_links_work_once_and_expire(client: httpx.AsyncClient, database: Database) -> None:
    await register(client, "zweimal@example.org")
    token = await last_token(database, "zweimal@example.org", "identity.confirm")
    assert (await post(client, "/api/v1/auth/confirm-email", {"token": token})).status_code == 200
    again = await post(client, "/api/v1/auth/confirm-email", {"token": token})
    assert again.status_code == 410 and again.json()["field"] == "token" and again.json()["reason"] == "used"
    forged = await post(client, "/api/v1/auth/confirm-email", {"token": "x" * 43})
    assert forged.status_code == 422 and forged.json()["field"] == "token"

    await register(client, "spaet@example.org")
    late = await last_token(database, "spaet@example.org", "identity.confirm")
    async with database.unit_of_work() as session:
        await session.exec(update(OneTimeToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = await post(client, "/api/v1/auth/confirm-email", {"token": late})
    assert expired.status_code == 410 and expired.json()["reason"] == "expired"
    assert (await login(client, "spaet@example.org", STRONG)).status_code == 403


async def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    client: httpx.AsyncClient, database: Database
) -> None:
    person = await make_user(database, email="vergesslich@example.org")
    elsewhere = await signed_in(client, person.email)
    known = await post(client, "/api/v1/auth/password-reset", {"email": person.email})
    unknown = await post(client, "/api/v1/auth/password-reset", {"email": "niemand@example.org"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    [no_account] = await mails_to(database, "niemand@example.org")
    assert no_account.kind == "identity.no-account" and no_account.link is None
    token = await last_token(database, person.email, "identity.reset")

    weak = await post(client, "/api/v1/auth/password-reset/confirm", {"token": token, "password": "kurz"})
    assert weak.status_code == 422 and weak.json()["field"] == "password"  # the link still works after this
    done = await post(client, "/api/v1/auth/password-reset/confirm", {"token": token, "password": STRONG})
    assert done.status_code == 200, done.text
    assert (await elsewhere.get("/api/v1/auth/me")).status_code == 401  # every session ended
    reused = await post(client, "/api/v1/auth/password-reset/confirm", {"token": token, "password": STRONG + "x"})
    assert reused.status_code == 410 and reused.json()["field"] == "token"
    assert (await login(client, person.email, PASSWORD)).status_code == 401
    assert (await login(client, person.email, STRONG)).status_code == 201
    assert "user.password_reset" in await _actions(database)
    await elsewhere.aclose()


async def test_a_reset_link_lives_one_hour(client: httpx.AsyncClient, database: Database) -> None:
    person = await make_user(database)
    await post(client, "/api/v1/auth/password-reset", {"email": person.email})
    async with database.sessionmaker() as session:
        row = (await session.exec(select(OneTimeToken))).one()
    assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1)
    async with database.unit_of_work() as session:
        await session.exec(update(OneTimeToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    token = await last_token(database, person.email, "identity.reset")
    late = await post(client, "/api/v1/auth/password-reset/confirm", {"token": token, "password": STRONG})
    assert late.status_code == 410 and late.json()["reason"] == "expired"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/auth/register", {"email": "flut@example.org", "display_name": "F", "password": STRONG}),
        ("/api/v1/auth/password-reset", {"email": "flut@example.org"}),
    ],
)
async def test_mail_sending_endpoints_are_throttled_per_address(
    client: httpx.AsyncClient, url: str, body: dict[str, Any]
) -> None:
    statuses = [(await post(client, url, body)).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]


async def test_register_confirm_and_sign_in_through_a_real_mail(
    adapters: Adapters, client: httpx.AsyncClient, database: Database, smtp: SmtpSink
) -> None:
    """The start of issue 14's story: the confirmation arrives at a real SMTP server (aiosmtpd) and its
    link is what the person follows."""
    use_smtp(adapters, smtp)
    assert (await register(client, "kaemmerei@example.org", name="Karla Kämmerer")).status_code == 202
    await queue_of(adapters).run_pending()
    [message] = smtp.to("kaemmerei@example.org")
    assert message["Subject"] == "Bitte bestätigen Sie Ihre E-Mail-Adresse"
    body = message.get_content()
    assert "Guten Tag Karla Kämmerer" in body and "http://testserver/email-bestaetigen?token=" in body
    assert (await post(client, "/api/v1/auth/confirm-email", {"token": token_in(body)})).status_code == 200
    assert (await login(client, "kaemmerei@example.org", STRONG)).status_code == 201
    async with database.sessionmaker() as session:
        person = (await session.exec(select(User).where(User.email == "kaemmerei@example.org"))).one()
    assert person.email_confirmed_at is not None


async def test_mails_are_written_in_the_language_the_person_chose(
    client: httpx.AsyncClient, database: Database
) -> None:
    answer = await post(
        client,
        "/api/v1/auth/register",
        {"email": "en@example.org", "display_name": "Eve", "password": STRONG, "language": "en"},
    )
    assert answer.status_code == 202
    [mail] = await mails_to(database, "en@example.org")
    assert mail.subject == "Please confirm your e-mail address" and mail.body.startswith("Hello Eve,")


def test_every_mail_text_has_its_english_translation() -> None:
    from identity.notices import CATALOG

    assert CATALOG.extracted_ids()
    assert CATALOG.untranslated("en") == []


async def test_of_requests_racing_with_one_link_exactly_one_uses_it(pg_database: Database) -> None:
    """The conditional UPDATE of ``used_at`` decides; PostgreSQL shows the real overlap."""
    import asyncio

    from identity.models import TokenPurpose
    from identity.services import links

    person = await make_user(pg_database)
    async with pg_database.unit_of_work() as session:
        token = links.issue(session, person, TokenPurpose.reset_password)

    async def attempt() -> str:
        try:
            async with pg_database.unit_of_work() as session:
                await links.redeem(session, token, TokenPurpose.reset_password)
                await asyncio.sleep(0.05)  # hold the row while the others try
            return "used"
        except links.LinkGone:
            return "gone"

    outcomes = await asyncio.gather(*(attempt() for _ in range(8)))
    assert sorted(outcomes) == ["gone"] * 7 + ["used"]

"""The mailer of the core: e-mail through a real SMTP server (aiosmtpd, started by the test on 127.0.0.1),
its configuration, and its deadline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from allmende.app import build_adapters
from allmende.core.mail import LogMailer, Mail, MailError, SmtpConfig, SmtpMailer, build_mailer
from allmende.core.settings import Settings, SettingsError, load_settings
from tests.support.mail import SENDER, SmtpSink
from tests.support.servers import free_port

# --- the mailer alone -----------------------------------------------------------------------------------


async def test_smtp_mailer_delivers_utf8_mail_to_a_real_server(smtp: SmtpSink) -> None:
    mailer = SmtpMailer(smtp.url, SENDER, timeout=5)
    await mailer.send(Mail(to="kaemmerei@koeln.example", subject="Angebot für Köln: 1.234,50 €", body="Grüße\n"))
    [(recipients, message)] = smtp.received
    assert recipients == ["kaemmerei@koeln.example"]
    assert message["Subject"] == "Angebot für Köln: 1.234,50 €"
    assert message["From"] == SENDER and message["To"] == "kaemmerei@koeln.example"
    assert message["Auto-Submitted"] == "auto-generated" and message["Message-ID"]
    assert message.get_content().strip() == "Grüße"


async def test_a_refusing_or_missing_server_is_a_mail_error(smtp: SmtpSink) -> None:
    smtp.refuse = 1
    with pytest.raises(MailError):
        await SmtpMailer(smtp.url, SENDER, timeout=5).send(Mail(to="a@b.example", subject="x", body="y"))
    with pytest.raises(MailError):
        await SmtpMailer(f"smtp://127.0.0.1:{free_port()}", SENDER, timeout=2).send(
            Mail(to="a@b.example", subject="x", body="y")
        )


def test_smtp_url_and_sender_are_configuration(tmp_path: Any) -> None:
    config = SmtpConfig.from_url("smtps://user%40x:p%3Ass@mail.example.org?starttls=true")
    assert (config.host, config.port, config.tls, config.username, config.password) == (
        "mail.example.org",
        465,
        True,
        "user@x",
        "p:ss",
    )
    assert SmtpConfig.from_url("smtp://mail.example.org?starttls=true").starttls is True
    with pytest.raises(SettingsError, match=r"^SMTP_URL: "):
        load_settings(SMTP_URL="http://mail.example.org", ALLMENDE_DATA_DIR=tmp_path)
    with pytest.raises(SettingsError, match=r"^ALLMENDE_MAIL_FROM: "):
        load_settings(ALLMENDE_MAIL_FROM="nobody", ALLMENDE_DATA_DIR=tmp_path)
    embedded = Settings(ALLMENDE_DATA_DIR=tmp_path)
    assert isinstance(build_mailer(embedded.smtp_url, embedded.mail_from), LogMailer)  # no SMTP_URL: logged only
    production = build_adapters(Settings(ALLMENDE_DATA_DIR=tmp_path, SMTP_URL="smtp://127.0.0.1:2525"))
    assert isinstance(production.mailer, SmtpMailer) and production.mailer.config.port == 2525
    assert production.job_context().adapters["mailer"] is production.mailer


async def test_an_smtp_exchange_past_its_deadline_is_cut_and_fails(smtp: SmtpSink) -> None:
    """A server that never answers the end of DATA: the mailer gives up at its deadline, not the job's."""
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def stall(server: Any, session: Any, envelope: Any) -> str:
        await release.wait()
        return "451 too late"

    smtp.handle_DATA = stall  # type: ignore[method-assign]
    mailer = SmtpMailer(smtp.url, SENDER, timeout=30, deadline=1)
    started = loop.time()
    with pytest.raises(MailError, match="longer than 1 s"):
        await mailer.send(Mail(to="a@b.example", subject="x", body="y"))
    assert loop.time() - started < 5
    smtp._controller.loop.call_soon_threadsafe(release.set)

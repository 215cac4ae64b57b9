"""What the way in mails: the confirmation of an address, a reset link, the warnings that go with
changes to an account, the invitation to an organization and the decision on a claim. An invitation
goes to an address that may have no account yet, so it is written in German, the platform's language;
everything else in the recipient's language. German message ids in this package's own gettext catalog
(``locale/<lang>/LC_MESSAGES/notices.po``), rendered when the mail is written
(``notifications.services.mail_to``); links come from the link builder (``allmende.core.links``).

These mails go to an address, not to an inbox: a link in them is a secret for that mailbox only.

After changing a text: ``uv run python -m allmende.core.translation update identity.notices`` and
translate the new entries; ``… check identity.notices`` lists untranslated ones (a test fails on any).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from allmende.core.translation import Catalog, Moment, Text

CATALOG = Catalog(
    directory=Path(__file__).parent / "locale",
    domain="notices",
    root=Path(__file__).parent,
    sources=(("notices.py", "python"),),
    project="allmende-identity-notices",
)
_ = CATALOG.text
Notice = tuple[Text, Text]  # (subject, body)


def confirm_registration(name: str) -> Notice:
    return (
        _("Bitte bestätigen Sie Ihre E-Mail-Adresse"),
        _(
            "Guten Tag %(name)s,\n\n"
            "Sie haben sich bei Allmende registriert. Bitte bestätigen Sie Ihre E-Mail-Adresse über den "
            "folgenden Link. Er ist 24 Stunden gültig und kann einmal verwendet werden.\n\n"
            "Wenn Sie sich nicht registriert haben, ignorieren Sie diese Nachricht bitte.",
            name=name,
        ),
    )


def already_registered() -> Notice:
    return (
        _("Sie haben bereits ein Konto bei Allmende"),
        _(
            "Jemand hat versucht, mit dieser E-Mail-Adresse ein neues Konto anzulegen. Sie haben bereits ein "
            "Konto. Falls Sie Ihr Passwort vergessen haben, können Sie über den folgenden Link ein neues "
            "festlegen. Er ist eine Stunde gültig und kann einmal verwendet werden.\n\n"
            "Wenn Sie das nicht waren, ignorieren Sie diese Nachricht bitte. Ihr Konto bleibt unverändert."
        ),
    )


def reset_password() -> Notice:
    return (
        _("Neues Passwort für Allmende festlegen"),
        _(
            "Sie haben ein neues Passwort angefordert. Über den folgenden Link legen Sie es fest. Der Link ist "
            "eine Stunde gültig und kann einmal verwendet werden. Danach sind Sie auf allen Geräten abgemeldet.\n\n"
            "Wenn Sie kein neues Passwort angefordert haben, ignorieren Sie diese Nachricht bitte. Ihr "
            "Passwort bleibt unverändert."
        ),
    )


def no_account() -> Notice:
    return (
        _("Passwort-Anfrage bei Allmende"),
        _(
            "Jemand hat für diese E-Mail-Adresse ein neues Passwort angefordert. Zu dieser Adresse gibt es "
            "bei Allmende aber kein Konto. Wenn Sie das waren, haben Sie sich vielleicht mit einer anderen "
            "Adresse registriert.\n\n"
            "Wenn Sie das nicht waren, ignorieren Sie diese Nachricht bitte."
        ),
    )


def confirm_new_address(name: str) -> Notice:
    return (
        _("Bitte bestätigen Sie Ihre neue E-Mail-Adresse"),
        _(
            "Guten Tag %(name)s,\n\n"
            "Sie möchten Ihr Allmende-Konto künftig mit dieser E-Mail-Adresse nutzen. Bitte bestätigen Sie "
            "sie über den folgenden Link. Er ist 24 Stunden gültig und kann einmal verwendet werden. Bis "
            "dahin gilt Ihre bisherige Adresse.",
            name=name,
        ),
    )


def address_changing(new_address: str) -> Notice:
    return (
        _("Ihre E-Mail-Adresse bei Allmende wird geändert"),
        _(
            "Für Ihr Allmende-Konto wurde die neue E-Mail-Adresse %(address)s angegeben. Sobald sie "
            "bestätigt ist, gilt sie statt dieser.\n\n"
            "Wenn Sie das nicht waren, ändern Sie bitte sofort Ihr Passwort.",
            address=new_address,
        ),
    )


def password_changed() -> Notice:
    return (
        _("Ihr Passwort bei Allmende wurde geändert"),
        _(
            "Das Passwort Ihres Allmende-Kontos wurde soeben geändert. Ihre anderen Sitzungen wurden beendet.\n\n"
            "Wenn Sie das nicht waren, fordern Sie bitte sofort ein neues Passwort an."
        ),
    )


def account_deleted() -> Notice:
    return (
        _("Ihr Konto bei Allmende wurde gelöscht"),
        _(
            "Ihr Allmende-Konto wurde gelöscht. Ihr Name und Ihre E-Mail-Adresse sind entfernt; was Sie für "
            "eine Organisation geschrieben haben, bleibt bei ihr."
        ),
    )


# --- joining an organization ---------------------------------------------------------------------------


def _role(role: str) -> Text:
    return {
        "owner": _("Inhaberin oder Inhaber"),
        "editor": _("Redakteurin oder Redakteur"),
        "member": _("Mitglied"),
    }.get(role, _("Mitglied"))


def invitation(organization: str, inviter: str, role: str, expires_at: datetime) -> Notice:
    return (
        _("Einladung zu %(organization)s auf Allmende", organization=organization),
        _(
            "%(inviter)s lädt Sie ein, auf Allmende für %(organization)s mitzuarbeiten (Rolle: %(role)s). "
            "Über den folgenden Link nehmen Sie die Einladung an; haben Sie noch kein Konto, legen Sie dort "
            "eines an. Der Link gilt bis %(expires)s und nur einmal. Wenn Sie die Einladung nicht erwartet "
            "haben, ignorieren Sie diese Nachricht.",
            inviter=inviter,
            organization=organization,
            role=_role(role),
            expires=Moment(expires_at),
        ),
    )


def claim_verified(organization: str, role: str) -> Notice:
    return (
        _("Bestätigt: Sie handeln für %(organization)s", organization=organization),
        _(
            "Die Moderation hat bestätigt, dass Sie für %(organization)s handeln. Ihre Rolle: %(role)s. "
            "Sie können jetzt Entwürfe zur Veröffentlichung einreichen und Kolleginnen und Kollegen einladen.",
            organization=organization,
            role=_role(role),
        ),
    )


def claim_rejected(organization: str, note: str) -> Notice:
    return (
        _("Nicht bestätigt: %(organization)s", organization=organization),
        _(
            "Die Moderation konnte nicht bestätigen, dass Sie für %(organization)s handeln. Begründung: %(note)s",
            organization=organization,
            note=note,
        ),
    )

"""What joining an organization tells people: the invitation mail and the claim decisions.

German message ids in this package's catalog ``locale/<lang>/LC_MESSAGES/organizations.po``, rendered
when ``notifications`` writes the mail (an invitation goes to an address that may have no account yet,
so it is written in German, the platform's language; a claim decision in the claimant's language).

After changing a text: ``uv run python -m allmende.core.translation update identity.organization_notices``
and translate the new entries.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from allmende.core.translation import Catalog, Moment, Text

CATALOG = Catalog(
    directory=Path(__file__).parent / "locale",
    domain="organizations",
    root=Path(__file__).parent,
    sources=(("organization_notices.py", "python"),),
    project="allmende-identity",
)
_ = CATALOG.text
Notice = tuple[Text, Text]  # (subject, body)


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

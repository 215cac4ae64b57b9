"""What offer requests tell people: the recipients of a notice, the page it links, and its text.

The texts are German message ids in this package's own gettext catalog (``locale/<lang>/LC_MESSAGES/
notices.po``), marked with ``_`` and translated only when ``notifications.services.notify`` writes the
notice for one recipient, in that person's language (``User.language``). Dates (in Berlin time) and numbers
are formatted for that language too (``allmende.core.locale``). The link comes from the link builder the
composition root registered (``allmende.core.links``): this package never spells a web path. The notices
go to the inbox and the mail outbox (``notifications``) in the same transaction as the change they announce.

After changing a text: ``uv run python -m allmende.core.translation update offer_requests.notices`` and
translate the new entries; ``… check offer_requests.notices`` lists untranslated ones (a test fails on any).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Membership, Organization, User
from allmende.core import links
from allmende.core.translation import Catalog, Moment, Number, Text
from notifications import services as notifications
from offer_requests.models import OfferRequest, OfferRequestParticipant

CATALOG = Catalog(
    directory=Path(__file__).parent / "locale",
    domain="notices",
    root=Path(__file__).parent,
    sources=(("notices.py", "python"),),
    project="allmende-notices",
)
_ = CATALOG.text
Notice = tuple[Text, Text]  # (subject, body)


async def _recipients(session: AsyncSession, organization_ids: Iterable[int]) -> list[notifications.Recipient]:
    ids = set(organization_ids)
    if not ids:
        return []
    rows = await session.exec(
        select(User.id, User.email, User.language, User.mail_notices)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(col(Membership.organization_id).in_(ids), col(User.is_active).is_(True))
        .order_by(col(User.id))
    )
    return [
        notifications.Recipient(user_id=user_id or 0, email=email, language=language, mail=mail)
        for user_id, email, language, mail in rows
    ]


def offer_request_link(request: OfferRequest) -> str:
    return links.offer_request(request.uuid)  # the web page: mails and the inbox link people, not API clients


async def _notify(
    session: AsyncSession,
    request: OfferRequest,
    organization_ids: Iterable[int],
    kind: str,
    subject: Text,
    body: Text,
    *,
    exclude: Iterable[int] = (),
) -> None:
    ids = set(organization_ids) - set(exclude)
    notifications.notify(
        session,
        await _recipients(session, ids),
        kind,
        subject,
        body,
        link=offer_request_link(request),
        record_uuid=request.uuid,
    )


def _bundle_line(participants: Sequence[OfferRequestParticipant]) -> Text:
    return _(
        "Gebündelter Bedarf: %(participants)s Teilnehmende, %(inhabitants)s Einwohnerinnen und Einwohner, "
        "%(users)s Nutzende, %(sites)s Standorte.",
        participants=len(participants),
        inhabitants=Number(sum(p.inhabitants for p in participants)),
        users=Number(sum(p.users for p in participants)),
        sites=Number(sum(p.sites for p in participants)),
    )


# --- the texts: (subject, body) of each notice, named after its kind ----------------------------------------


def new_request(
    request: OfferRequest, requester: Organization | None, participants: Sequence[OfferRequestParticipant]
) -> Notice:
    """To the addressed vendors when the request opens."""
    return (
        _("Neue Angebotsanfrage: %(title)s", title=request.title),
        _(
            "%(requester)s bittet Sie um ein Angebot: „%(title)s“.\n"
            "Angebote werden bis %(deadline)s Uhr angenommen.\n"
            "%(bundle)s",
            requester=requester.name if requester else _("Eine Kommune"),
            title=request.title,
            deadline=Moment(request.deadline),
            bundle=_bundle_line(participants),
        ),
    )


def withdrawn(request: OfferRequest, reason: str | None) -> Notice:
    return (
        _("Angebotsanfrage zurückgezogen: %(title)s", title=request.title),
        _("Die Angebotsanfrage „%(title)s“ wurde zurückgezogen.\nGrund: %(reason)s", title=request.title, reason=reason)
        if reason
        else _("Die Angebotsanfrage „%(title)s“ wurde zurückgezogen.", title=request.title),
    )


def participant_joined(
    request: OfferRequest, org: Organization, participants: Sequence[OfferRequestParticipant]
) -> Notice:
    return (
        _("%(organization)s schließt sich an: %(title)s", organization=org.name, title=request.title),
        _(
            "%(organization)s hat sich der Angebotsanfrage „%(title)s“ angeschlossen.\n%(bundle)s",
            organization=org.name,
            title=request.title,
            bundle=_bundle_line(participants),
        ),
    )


def participant_left(
    request: OfferRequest, org: Organization, participants: Sequence[OfferRequestParticipant]
) -> Notice:
    return (
        _("%(organization)s nimmt nicht mehr teil: %(title)s", organization=org.name, title=request.title),
        _(
            "%(organization)s hat die Angebotsanfrage „%(title)s“ verlassen.\n%(bundle)s",
            organization=org.name,
            title=request.title,
            bundle=_bundle_line(participants),
        ),
    )


def participant_decided(request: OfferRequest, org: Organization, accepted: bool) -> Notice:
    if accepted:
        return (
            _("%(organization)s hat angenommen: %(title)s", organization=org.name, title=request.title),
            _(
                "%(organization)s hat das bevorzugte Angebot zu „%(title)s“ angenommen.",
                organization=org.name,
                title=request.title,
            ),
        )
    return (
        _("%(organization)s hat abgelehnt: %(title)s", organization=org.name, title=request.title),
        _(
            "%(organization)s hat das bevorzugte Angebot zu „%(title)s“ abgelehnt.",
            organization=org.name,
            title=request.title,
        ),
    )


def offer_submitted(request: OfferRequest, vendor: Organization) -> Notice:
    return (
        _("Neues Angebot zu „%(title)s“", title=request.title),
        _(
            "%(vendor)s hat ein Angebot zu „%(title)s“ abgegeben.\n"
            "Die Angebote werden nach Ablauf der Frist (%(deadline)s Uhr) sichtbar.",
            vendor=vendor.name,
            title=request.title,
            deadline=Moment(request.deadline),
        ),
    )


def offer_revised(request: OfferRequest, vendor: Organization, number: int) -> Notice:
    return (
        _("Angebot überarbeitet: %(title)s", title=request.title),
        _(
            "%(vendor)s hat sein Angebot zu „%(title)s“ überarbeitet (Fassung %(number)s).\n"
            "Die Angebote werden nach Ablauf der Frist (%(deadline)s Uhr) sichtbar.",
            vendor=vendor.name,
            title=request.title,
            number=number,
            deadline=Moment(request.deadline),
        ),
    )


def decided_preferred_vendor(request: OfferRequest) -> Notice:
    """To the vendor whose offer the requester prefers."""
    return (
        _("Ihr Angebot wird bevorzugt: %(title)s", title=request.title),
        _(
            "Die anfragende Stelle bevorzugt Ihr Angebot zu „%(title)s“. "
            "Jede teilnehmende Stelle entscheidet nun selbst über die Annahme.",
            title=request.title,
        ),
    )


def decided_participants(
    request: OfferRequest, preferred: bool, vendor: Organization | None, reason: str | None
) -> Notice:
    """To the other participants: the outcome, and the requester's reason."""
    if preferred:
        outcome = _("Bevorzugt wird das Angebot von %(vendor)s.", vendor=vendor.name if vendor else _("einem Anbieter"))
    else:
        outcome = _("Alle Angebote wurden abgelehnt.")
    subject = _("Entscheidung zu „%(title)s“", title=request.title)
    if reason:
        return subject, _(
            "Zur Angebotsanfrage „%(title)s“ ist entschieden: %(outcome)s\nBegründung: %(reason)s",
            title=request.title,
            outcome=outcome,
            reason=reason,
        )
    return subject, _(
        "Zur Angebotsanfrage „%(title)s“ ist entschieden: %(outcome)s", title=request.title, outcome=outcome
    )


def decided_other_vendors(request: OfferRequest) -> Notice:
    """Vendors whose offer was not preferred learn that, not who was (as the API shows them)."""
    return (
        _("Entscheidung zu „%(title)s“", title=request.title),
        _(
            "Zur Angebotsanfrage „%(title)s“ ist entschieden: Ihr Angebot wird nicht berücksichtigt.",
            title=request.title,
        ),
    )


def closed_participants(request: OfferRequest, offers: int) -> Notice:
    return (
        _("Angebotsfrist abgelaufen: %(title)s", title=request.title),
        _(
            "Die Frist der Angebotsanfrage „%(title)s“ ist abgelaufen. Es liegen %(offers)s Angebot(e) vor; "
            "sie sind jetzt für alle Teilnehmenden sichtbar.",
            title=request.title,
            offers=offers,
        ),
    )


def closed_vendors(request: OfferRequest) -> Notice:
    return (
        _("Angebotsfrist abgelaufen: %(title)s", title=request.title),
        _(
            "Die Frist der Angebotsanfrage „%(title)s“ ist abgelaufen; Angebote sind nicht mehr möglich.",
            title=request.title,
        ),
    )


def deadline_approaching(request: OfferRequest) -> Notice:
    return (
        _("Frist endet bald: %(title)s", title=request.title),
        _(
            "Die Frist der Angebotsanfrage „%(title)s“ endet am %(deadline)s Uhr.",
            title=request.title,
            deadline=Moment(request.deadline),
        ),
    )

"""What offer requests tell people: the recipients of a notice, the link it carries, and the German
wording of dates, numbers and the bundle in its text. The notices go to the inbox and the mail outbox
(``notifications``) in the same transaction as the change they announce.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Membership, Organization, User
from allmende.core.locale import local_moment, number
from notifications import services as notifications
from offer_requests.models import OfferRequest, OfferRequestParticipant


def _local(moment: datetime) -> str:
    return f"{local_moment(moment, 'de')} Uhr"


async def _recipients(session: AsyncSession, organization_ids: Iterable[int]) -> list[notifications.Recipient]:
    ids = set(organization_ids)
    if not ids:
        return []
    rows = await session.exec(
        select(User.id, User.email)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(col(Membership.organization_id).in_(ids), col(User.is_active).is_(True))
        .order_by(col(User.id))
    )
    return [notifications.Recipient(user_id=user_id or 0, email=email) for user_id, email in rows]


def offer_request_link(request: OfferRequest) -> str:
    return f"/anfragen/{request.uuid}"  # the web page: mails and the inbox link people, not API clients


async def _notify(
    session: AsyncSession,
    request: OfferRequest,
    organization_ids: Iterable[int],
    kind: str,
    subject: str,
    body: str,
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


def _number(value: int) -> str:
    return number(value, "de")  # German digit grouping: 1.620.000


def _bundle_line(participants: Sequence[OfferRequestParticipant]) -> str:
    return (
        f"Gebündelter Bedarf: {len(participants)} Teilnehmende, "
        f"{_number(sum(p.inhabitants for p in participants))} Einwohnerinnen und Einwohner, "
        f"{_number(sum(p.users for p in participants))} Nutzende, "
        f"{_number(sum(p.sites for p in participants))} Standorte."
    )


# --- the texts: (subject, body) of each notice, named after its kind ----------------------------------------


def new_request(
    request: OfferRequest, requester: Organization | None, participants: Sequence[OfferRequestParticipant]
) -> tuple[str, str]:
    """To the addressed vendors when the request opens."""
    return (
        f"Neue Angebotsanfrage: {request.title}",
        f"{requester.name if requester else 'Eine Kommune'} bittet Sie um ein Angebot: „{request.title}“.\n"
        f"Angebote werden bis {_local(request.deadline)} angenommen.\n"
        f"{_bundle_line(participants)}",
    )


def withdrawn(request: OfferRequest, reason: str | None) -> tuple[str, str]:
    return (
        f"Angebotsanfrage zurückgezogen: {request.title}",
        f"Die Angebotsanfrage „{request.title}“ wurde zurückgezogen." + (f"\nGrund: {reason}" if reason else ""),
    )


def participant_joined(
    request: OfferRequest, org: Organization, participants: Sequence[OfferRequestParticipant]
) -> tuple[str, str]:
    return (
        f"{org.name} schließt sich an: {request.title}",
        f"{org.name} hat sich der Angebotsanfrage „{request.title}“ angeschlossen.\n{_bundle_line(participants)}",
    )


def participant_left(
    request: OfferRequest, org: Organization, participants: Sequence[OfferRequestParticipant]
) -> tuple[str, str]:
    return (
        f"{org.name} nimmt nicht mehr teil: {request.title}",
        f"{org.name} hat die Angebotsanfrage „{request.title}“ verlassen.\n{_bundle_line(participants)}",
    )


def participant_decided(request: OfferRequest, org: Organization, accepted: bool) -> tuple[str, str]:
    return (
        f"{org.name} hat {'angenommen' if accepted else 'abgelehnt'}: {request.title}",
        f"{org.name} hat das bevorzugte Angebot zu „{request.title}“ {'angenommen' if accepted else 'abgelehnt'}.",
    )


def offer_submitted(request: OfferRequest, vendor: Organization) -> tuple[str, str]:
    return (
        f"Neues Angebot zu „{request.title}“",
        f"{vendor.name} hat ein Angebot zu „{request.title}“ abgegeben.\n"
        f"Die Angebote werden nach Ablauf der Frist ({_local(request.deadline)}) sichtbar.",
    )


def offer_revised(request: OfferRequest, vendor: Organization, number: int) -> tuple[str, str]:
    return (
        f"Angebot überarbeitet: {request.title}",
        f"{vendor.name} hat sein Angebot zu „{request.title}“ überarbeitet (Fassung {number}).\n"
        f"Die Angebote werden nach Ablauf der Frist ({_local(request.deadline)}) sichtbar.",
    )


def decided_preferred_vendor(request: OfferRequest) -> tuple[str, str]:
    """To the vendor whose offer the requester prefers."""
    return (
        f"Ihr Angebot wird bevorzugt: {request.title}",
        f"Die anfragende Stelle bevorzugt Ihr Angebot zu „{request.title}“. "
        "Jede teilnehmende Stelle entscheidet nun selbst über die Annahme.",
    )


def decided_participants(
    request: OfferRequest, preferred: bool, vendor: Organization | None, reason: str | None
) -> tuple[str, str]:
    """To the other participants: the outcome, and the requester's reason."""
    if preferred:
        outcome = f"Bevorzugt wird das Angebot von {vendor.name if vendor else 'einem Anbieter'}."
    else:
        outcome = "Alle Angebote wurden abgelehnt."
    because = f"\nBegründung: {reason}" if reason else ""
    return (
        f"Entscheidung zu „{request.title}“",
        f"Zur Angebotsanfrage „{request.title}“ ist entschieden: {outcome}{because}",
    )


def decided_other_vendors(request: OfferRequest) -> tuple[str, str]:
    """Vendors whose offer was not preferred learn that, not who was (as the API shows them)."""
    return (
        f"Entscheidung zu „{request.title}“",
        f"Zur Angebotsanfrage „{request.title}“ ist entschieden: Ihr Angebot wird nicht berücksichtigt.",
    )


def closed_participants(request: OfferRequest, offers: int) -> tuple[str, str]:
    return (
        f"Angebotsfrist abgelaufen: {request.title}",
        f"Die Frist der Angebotsanfrage „{request.title}“ ist abgelaufen. Es liegen {offers} "
        f"Angebot(e) vor; sie sind jetzt für alle Teilnehmenden sichtbar.",
    )


def closed_vendors(request: OfferRequest) -> tuple[str, str]:
    return (
        f"Angebotsfrist abgelaufen: {request.title}",
        f"Die Frist der Angebotsanfrage „{request.title}“ ist abgelaufen; Angebote sind nicht mehr möglich.",
    )


def deadline_approaching(request: OfferRequest) -> tuple[str, str]:
    return (
        f"Frist endet bald: {request.title}",
        f"Die Frist der Angebotsanfrage „{request.title}“ endet am {_local(request.deadline)}.",
    )

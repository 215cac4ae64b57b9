"""The bundle (Bedarfsbündelung): public bodies join with their own quantities, change them, leave, and
each decides for itself on the preferred offer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.core.pagination import Page
from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound
from allmende.core.types import utcnow
from offer_requests import notices
from offer_requests.models import Offer, OfferRequest, OfferRequestParticipant, OfferRequestState
from offer_requests.notices import _notify
from offer_requests.policies import _active_participant_ids, _may_act, _vendor_ids, load_offer_request
from offer_requests.schemas import ParticipantOut, Quantities
from offer_requests.services.common import (
    _accepts_changes,
    _active_participants,
    _audit_offer_request,
    _organization_named,
    _participant_out,
    _touch,
)


async def _active_participant(
    session: AsyncSession, request: OfferRequest, org: Organization
) -> OfferRequestParticipant:
    """The organization's current place in the bundle; 404 when it has none (never joined, or left)."""
    participant = (
        await session.exec(
            select(OfferRequestParticipant).where(
                OfferRequestParticipant.request_id == request.id,
                OfferRequestParticipant.organization_id == org.id,
                col(OfferRequestParticipant.left_at).is_(None),
            )
        )
    ).first()
    if participant is None:
        raise NotFound(f"'{org.slug}' does not take part in this request", field="organization")
    return participant


async def join_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    organization_slug: str,
    quantities: Quantities,
) -> tuple[OfferRequest, bool]:
    """Join the bundle with the organization's own quantities, or change them. True if it joined now."""
    now = utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    org = await _organization_named(session, organization_slug, "organization", body=False)
    if not _may_act(principal, org.id):
        raise Forbidden(f"only members of '{org.slug}' add it to the bundle (API tokens need the write scope)")
    if not org.is_public_body:
        raise InvalidInput("only public bodies join a request; vendors answer it", field="organization")
    participant = (
        await session.exec(
            select(OfferRequestParticipant).where(
                OfferRequestParticipant.request_id == request.id, OfferRequestParticipant.organization_id == org.id
            )
        )
    ).first()
    is_requester_draft = request.state == OfferRequestState.draft.value and org.id == request.requester_id
    if not is_requester_draft:
        _accepts_changes(request, now, "the bundle can no longer change")
    joined = participant is None or participant.left_at is not None
    wanted = quantities.model_dump()
    if participant is None:
        participant = OfferRequestParticipant(request_id=request.id or 0, organization_id=org.id or 0, joined_at=now)
        session.add(participant)
    elif not joined and all(getattr(participant, k) == v for k, v in wanted.items()):
        return request, False  # nothing changed
    if joined:
        participant.left_at, participant.joined_at = None, now
        participant.acceptance, participant.accepted_at = None, None
    for key, value in wanted.items():
        setattr(participant, key, value)
    _touch(request, now, bundle_changed=True)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.join" if joined else "offer_request.update_quantities",
        request.state,
        request.state,
        data={"organization": org.slug, "quantities": wanted, "bundle_version": request.bundle_version},
    )
    await session.flush()
    if joined:
        await _tell_bundle_changed(
            session, request, org, "offer_request.participant_joined", notices.participant_joined
        )
    return request, joined


async def _tell_bundle_changed(
    session: AsyncSession,
    request: OfferRequest,
    org: Organization,
    kind: str,
    notice: Callable[[OfferRequest, Organization, Sequence[OfferRequestParticipant]], notices.Notice],
) -> None:
    """The requester and the addressed vendors hear that ``org`` joined or left (``org`` itself does not)."""
    participants = await _active_participants(session, request)
    await _notify(
        session,
        request,
        {request.requester_id} | await _vendor_ids(session, request),
        kind,
        *notice(request, org, [p for p, _ in participants]),
        exclude={org.id or 0},
    )


async def _participant_acting(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, organization_slug: str, refusal: str
) -> tuple[OfferRequest, Organization, OfferRequestParticipant]:
    """The request (locked), the participant named in the URL and its place in the bundle, if the caller
    acts for it; ``refusal`` names the step (``{slug}`` is the organization)."""
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    org = await _organization_named(session, organization_slug, "organization", body=False)
    participant = await _active_participant(session, relation.request, org)
    if not _may_act(principal, org.id):
        raise Forbidden(refusal.format(slug=org.slug))
    return relation.request, org, participant


async def leave_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    organization_slug: str,
) -> OfferRequest:
    """A participant leaves the bundle before the deadline; the requester cannot (it withdraws)."""
    now = utcnow()
    request, org, participant = await _participant_acting(
        session, principal, request_uuid, organization_slug, "only members of '{slug}' take it out of the bundle"
    )
    if org.id == request.requester_id:
        raise Conflict("the requester cannot leave its own request; withdraw it instead", field="organization")
    _accepts_changes(request, now, "participants can no longer leave")
    participant.left_at = now
    _touch(request, now, bundle_changed=True)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.leave",
        request.state,
        request.state,
        data={"organization": org.slug, "bundle_version": request.bundle_version},
    )
    await session.flush()
    await _tell_bundle_changed(session, request, org, "offer_request.participant_left", notices.participant_left)
    return request


async def list_participants(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID
) -> Page[ParticipantOut]:
    relation = await load_offer_request(session, principal, request_uuid)
    if not (relation.participant or relation.vendor):
        raise Forbidden("the participants are shown to the participants and the addressed vendors")
    request = relation.request
    items = [_participant_out(p, o, request.requester_id) for p, o in await _active_participants(session, request)]
    return Page(items=items, total=len(items), next_cursor=None)


async def set_acceptance(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    organization_slug: str,
    accepted: bool,
) -> OfferRequest:
    """Each participant decides for itself whether to accept the preferred offer; once."""
    now = utcnow()
    request, org, participant = await _participant_acting(
        session, principal, request_uuid, organization_slug, "only members of '{slug}' decide for it"
    )
    if request.state != OfferRequestState.awarded.value:
        raise Conflict(
            f"a participant accepts or declines once an offer is preferred; this request is {request.state}",
            field="state",
        )
    value = "accepted" if accepted else "declined"
    if participant.acceptance == value:
        return request
    if participant.acceptance is not None:
        raise Conflict(f"'{org.slug}' has {participant.acceptance} already", field="accepted")
    participant.acceptance, participant.accepted_at = value, now
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        f"offer_request.{'accept' if accepted else 'decline'}",
        request.state,
        request.state,
        data={"organization": org.slug, "acceptance": value},
    )
    await session.flush()
    preferred = await session.get(Offer, request.preferred_offer_id) if request.preferred_offer_id else None
    await _notify(
        session,
        request,
        await _active_participant_ids(session, request) | ({preferred.vendor_id} if preferred else set()),
        "offer_request.participant_decided",
        *notices.participant_decided(request, org, accepted),
        exclude={org.id or 0},
    )
    return request

"""The end of a request: closed at its deadline (a job), reminded a day before, then decided by the requester."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.core.problems import Conflict, InvalidInput
from allmende.core.types import utcnow
from offer_requests import notices
from offer_requests.models import Offer, OfferRequest, OfferRequestState
from offer_requests.notices import _notify
from offer_requests.policies import (
    _active_participant_ids,
    _vendor_ids,
    requester_holds,
)
from offer_requests.schemas import DecisionIn
from offer_requests.services.common import _DECIDED_STATES, _audit_offer_request, _offer_vendor_ids, _touch

REMINDER_BEFORE = timedelta(days=1)


async def decide_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    data: DecisionIn,
) -> OfferRequest:
    """After the deadline the requester prefers one offer (awarded) or declines them all (not awarded)."""
    now = utcnow()
    request = await requester_holds(session, principal, request_uuid)
    if request.state in _DECIDED_STATES:
        raise Conflict(f"the request is decided already ({request.state})", field="state")
    if request.state != OfferRequestState.closed.value:
        raise Conflict(
            f"a decision follows the deadline for offers, when the request is closed; it is {request.state}",
            field="state",
        )
    preferred: Offer | None = None
    if data.outcome == "preferred":
        preferred = (
            await session.exec(select(Offer).where(Offer.uuid == data.offer, Offer.request_id == request.id))
        ).first()
        if preferred is None:
            raise InvalidInput("not an offer to this request", field="offer")
        request.preferred_offer_id = preferred.id
        request.state = OfferRequestState.awarded.value
    else:
        request.state = OfferRequestState.not_awarded.value
    request.decision_reason = data.reason
    request.decided_at = now
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.decide",
        OfferRequestState.closed,
        request.state,
        reason=data.reason,
        data={"offer": str(preferred.uuid) if preferred else None},
    )
    await session.flush()
    participants = await _active_participant_ids(session, request)
    others = await _offer_vendor_ids(session, request) - ({preferred.vendor_id} if preferred else set())
    vendor: Organization | None = None
    if preferred is not None:
        vendor = await session.get(Organization, preferred.vendor_id)
        await _notify(
            session, request, {preferred.vendor_id}, "offer_request.decided", *notices.decided_preferred_vendor(request)
        )
    await _notify(
        session,
        request,
        participants,
        "offer_request.decided",
        *notices.decided_participants(request, preferred is not None, vendor, data.reason),
        exclude={request.requester_id},
    )
    # Vendors whose offer was not preferred learn that, not who was (as the API shows them).
    await _notify(session, request, others, "offer_request.decided", *notices.decided_other_vendors(request))
    return request


async def close_due_offer_requests(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """The deadline job's work: every open request whose deadline has passed becomes closed. Idempotent;
    rows another transaction holds are skipped and closed on the next run."""
    due = list(
        await session.exec(
            select(OfferRequest)
            .where(OfferRequest.state == OfferRequestState.open.value, col(OfferRequest.deadline) <= now)
            .order_by(col(OfferRequest.id))
            .limit(500)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    for request in due:
        request.state = OfferRequestState.closed.value
        request.closed_at = now
        _touch(request, now)
        offers = await _offer_vendor_ids(session, request)
        _audit_offer_request(
            session,
            None,
            request,
            "offer_request.close",
            OfferRequestState.open,
            OfferRequestState.closed,
            reason="deadline",
            data={"offers": len(offers)},
        )
        await _notify(
            session,
            request,
            await _active_participant_ids(session, request),
            "offer_request.closed",
            *notices.closed_participants(request, len(offers)),
        )
        await _notify(
            session,
            request,
            await _vendor_ids(session, request),
            "offer_request.closed",
            *notices.closed_vendors(request),
        )
    await session.flush()
    return [r.uuid for r in due]


async def remind_offer_requests(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """A day before the deadline: tell participants and addressed vendors, once per request."""
    due = list(
        await session.exec(
            select(OfferRequest)
            .where(
                OfferRequest.state == OfferRequestState.open.value,
                col(OfferRequest.deadline) > now,
                col(OfferRequest.deadline) <= now + REMINDER_BEFORE,
                col(OfferRequest.reminder_sent_at).is_(None),
            )
            .order_by(col(OfferRequest.id))
            .limit(500)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    for request in due:
        request.reminder_sent_at = now
        await _notify(
            session,
            request,
            await _active_participant_ids(session, request) | await _vendor_ids(session, request),
            "offer_request.deadline_approaching",
            *notices.deadline_approaching(request),
        )
    await session.flush()
    return [r.uuid for r in due]

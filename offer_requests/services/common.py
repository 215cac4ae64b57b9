"""What several parts of the offer-request services share: record names, the audit, the bundle's rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.accounts.schemas import OrganizationRef
from allmende.core.audit import record_audit
from allmende.core.problems import Conflict, InvalidInput, NotFound
from offer_requests.models import Offer, OfferRequest, OfferRequestParticipant, OfferRequestState
from offer_requests.schemas import ParticipantOut, QuantitiesOut

OFFER_REQUEST_RECORD = "offer_request"
OFFER_RECORD = "offer"
# Offers are opened at the deadline: a request withdrawn before it keeps them sealed for good.
_OPENED_STATES = (OfferRequestState.closed.value, OfferRequestState.awarded.value, OfferRequestState.not_awarded.value)
_DECIDED_STATES = (OfferRequestState.awarded.value, OfferRequestState.not_awarded.value)


def _org_ref(org: Organization) -> OrganizationRef:
    return OrganizationRef(slug=org.slug, name=org.name, kind=org.kind, bundesland=org.bundesland)


def _touch(request: OfferRequest, now: datetime, *, bundle_changed: bool = False) -> None:
    """A new version of the request; ``bundle_changed``: also of its bundle, so that offers priced for
    the old bundle say so (``priced_for_current_bundle``)."""
    request.version += 1
    request.updated_at = now
    if bundle_changed:
        request.bundle_version += 1


def _audit_offer_request(
    session: AsyncSession,
    principal: Principal | None,
    request: OfferRequest,
    action: str,
    from_state: str | None,
    to_state: str | None,
    *,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    record_type: str = OFFER_REQUEST_RECORD,
    record_uuid: uuid.UUID | None = None,
) -> None:
    record_audit(
        session,
        action=action,
        record_type=record_type,
        record_uuid=record_uuid or request.uuid,
        actor_user_id=principal.user_id if principal else None,
        actor_token_id=principal.token_id if principal else None,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data={"offer_request": str(request.uuid)} | (data or {}),
    )


async def _organization_named(session: AsyncSession, slug: str, field_name: str, *, body: bool) -> Organization:
    org = (await session.exec(select(Organization).where(Organization.slug == slug))).first()
    if org is None or org.is_deleted:
        if body:
            raise InvalidInput(f"no organization '{slug}'", field=field_name)
        raise NotFound(f"no organization '{slug}'", field=field_name)
    return org


async def _offer_vendor_ids(session: AsyncSession, request: OfferRequest) -> set[int]:
    return set(await session.exec(select(Offer.vendor_id).where(Offer.request_id == request.id)))


async def _active_participants(
    session: AsyncSession, request: OfferRequest
) -> list[tuple[OfferRequestParticipant, Organization]]:
    rows = await session.exec(
        select(OfferRequestParticipant, Organization)
        .join(Organization, col(Organization.id) == col(OfferRequestParticipant.organization_id))
        .where(OfferRequestParticipant.request_id == request.id, col(OfferRequestParticipant.left_at).is_(None))
        .order_by(col(OfferRequestParticipant.joined_at), col(OfferRequestParticipant.id))
    )
    return [(p, o) for p, o in rows]


def _accepts_changes(request: OfferRequest, now: datetime, what: str) -> None:
    if request.state != OfferRequestState.open.value:
        raise Conflict(f"the request is {request.state}; {what}", field="state")
    if request.deadline <= now:
        raise Conflict(f"the deadline has passed ({request.deadline.isoformat()}); {what}", field="state")


def _participant_out(participant: OfferRequestParticipant, org: Organization, requester_id: int) -> ParticipantOut:
    return ParticipantOut(
        organization=_org_ref(org),
        quantities=QuantitiesOut(inhabitants=participant.inhabitants, users=participant.users, sites=participant.sites),
        requester=org.id == requester_id,
        joined_at=participant.joined_at,
        acceptance=participant.acceptance,
    )

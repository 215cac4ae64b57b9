"""Creating and editing a request, sending it to the vendors (open) and withdrawing it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.core.problems import Conflict, Forbidden, InvalidInput, invalid_input_from
from allmende.core.types import utcnow
from allmende.core.versions import check_version
from marketplace import services as catalog
from offer_requests import notices
from offer_requests.models import (
    OfferRequest,
    OfferRequestKind,
    OfferRequestParticipant,
    OfferRequestState,
    OfferRequestVendor,
)
from offer_requests.notices import _notify
from offer_requests.policies import (
    _active_participant_ids,
    _vendor_ids,
    may_draft,
    requester_holds,
)
from offer_requests.schemas import OfferRequestCreate, OfferRequestFields
from offer_requests.services.common import _active_participants, _audit_offer_request, _organization_named, _touch

MAX_DEADLINE_AHEAD = timedelta(days=366)


def _check_schedule(fields: OfferRequestFields, now: datetime) -> datetime:
    deadline = fields.deadline.astimezone(UTC)
    if deadline <= now:
        raise InvalidInput("the deadline for offers lies in the past", field="deadline")
    if deadline > now + MAX_DEADLINE_AHEAD:
        raise InvalidInput("the deadline for offers is more than a year ahead", field="deadline")
    if fields.desired_start is not None and fields.desired_start < deadline.date():
        raise InvalidInput("the desired start lies before the deadline for offers", field="desired_start")
    return deadline


async def _addressing(
    session: AsyncSession, fields: OfferRequestFields, requester: Organization
) -> tuple[OfferRequestKind, catalog.SolutionSummary | None]:
    if fields.solution:
        solution = await catalog.solution_by_slug(session, fields.solution)
        if solution is None or not solution.published:
            raise InvalidInput(
                f"'{fields.solution}' is not a published solution; offers are requested for published ones only",
                field="solution",
            )
        if solution.provider_id == requester.id:
            raise InvalidInput("this solution is provided by the requesting organization itself", field="solution")
        return OfferRequestKind.solution, solution
    catalog.check_terms(
        {"sectors": fields.sectors, "standards": fields.standards}, await catalog.vocabulary_index(session)
    )
    return OfferRequestKind.exploration, None


def _apply_request_fields(
    request: OfferRequest,
    fields: OfferRequestFields,
    deadline: datetime,
    kind: OfferRequestKind,
    solution: catalog.SolutionSummary | None,
) -> None:
    request.kind = kind.value
    request.solution_id = solution.id if solution else None
    request.sectors = list(fields.sectors)
    request.standards = list(fields.standards)
    request.title = fields.title
    request.need = fields.need
    request.desired_start = fields.desired_start
    request.deadline = deadline
    request.budget_min_cents = fields.budget.min_cents if fields.budget else None
    request.budget_max_cents = fields.budget.max_cents if fields.budget else None
    request.procurement_notes = fields.procurement_notes


async def create_offer_request(session: AsyncSession, principal: Principal, data: OfferRequestCreate) -> OfferRequest:
    """A draft, with the requester as the first participant of the bundle."""
    principal.require_authenticated()
    now = utcnow()
    org = await _organization_named(session, data.organization, "organization", body=True)
    if not may_draft(principal, org.id):
        raise Forbidden("only members of the public body request offers for it", field="organization")
    if not org.is_public_body:
        raise InvalidInput(
            "only public bodies (Kommune, Landkreis, Verbund, Land) request offers", field="organization"
        )
    deadline = _check_schedule(data, now)
    kind, solution = await _addressing(session, data, org)
    request = OfferRequest(
        requester_id=org.id or 0,
        created_by_user_id=principal.user_id,
        kind=kind.value,
        title=data.title,
        deadline=deadline,
        created_at=now,
        updated_at=now,
    )
    _apply_request_fields(request, data, deadline, kind, solution)
    session.add(request)
    await session.flush()
    session.add(
        OfferRequestParticipant(
            request_id=request.id or 0, organization_id=org.id or 0, joined_at=now, **data.quantities.model_dump()
        )
    )
    _audit_offer_request(session, principal, request, "offer_request.create", None, OfferRequestState.draft)
    await session.flush()
    return request


async def _requester_row(session: AsyncSession, request: OfferRequest) -> OfferRequestParticipant:
    row = (
        await session.exec(
            select(OfferRequestParticipant).where(
                OfferRequestParticipant.request_id == request.id,
                OfferRequestParticipant.organization_id == request.requester_id,
            )
        )
    ).one()
    return row


async def _request_fields(session: AsyncSession, request: OfferRequest) -> dict[str, Any]:
    """The stored request as the input it came from (for merging a partial update)."""
    solution = await catalog.solution_by_id(session, request.solution_id) if request.solution_id else None
    own = await _requester_row(session, request)
    budget = None
    if request.budget_min_cents is not None or request.budget_max_cents is not None:
        budget = {"min_cents": request.budget_min_cents, "max_cents": request.budget_max_cents, "currency": "EUR"}
    return {
        "title": request.title,
        "need": request.need,
        "quantities": {"inhabitants": own.inhabitants, "users": own.users, "sites": own.sites},
        "desired_start": request.desired_start,
        "deadline": request.deadline,
        "budget": budget,
        "procurement_notes": request.procurement_notes,
        "solution": solution.slug if solution else None,
        "sectors": list(request.sectors),
        "standards": list(request.standards),
    }


async def update_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    changes: dict[str, Any],
    if_match: str | None,
) -> OfferRequest:
    """Edit a draft (If-Match required). Once open, a request no longer changes: it was sent."""
    now = utcnow()
    request = await requester_holds(session, principal, request_uuid, drafting=True)
    check_version(request.etag, if_match)
    if request.state != OfferRequestState.draft.value:
        raise Conflict(f"only drafts can be edited; this request is {request.state}", field="state")
    try:
        merged = OfferRequestFields.model_validate((await _request_fields(session, request)) | changes)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None
    deadline = _check_schedule(merged, now)
    requester = await session.get(Organization, request.requester_id)
    assert requester is not None
    kind, solution = await _addressing(session, merged, requester)
    _apply_request_fields(request, merged, deadline, kind, solution)
    own = await _requester_row(session, request)
    own.inhabitants, own.users, own.sites = (
        merged.quantities.inhabitants,
        merged.quantities.users,
        merged.quantities.sites,
    )
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.update",
        request.state,
        request.state,
        data={"fields": sorted(changes)},
    )
    await session.flush()
    return request


async def _matching_vendors(session: AsyncSession, request: OfferRequest) -> list[tuple[int, int]]:
    """(vendor organization, the solution that matched) for every vendor the request goes to."""
    if request.kind == OfferRequestKind.solution.value:
        solution = await catalog.solution_by_id(session, request.solution_id) if request.solution_id else None
        if solution is None or not solution.published:
            raise InvalidInput("the solution is no longer published; edit the draft", field="solution")
        return [(solution.provider_id, solution.id)]
    return await catalog.providers_of_matching_solutions(
        session, request.sectors, request.standards, excluding_provider_id=request.requester_id
    )


def _check_optional_request_version(request: OfferRequest, if_match: str | None) -> None:
    if if_match is not None:
        check_version(request.etag, if_match)


async def open_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    if_match: str | None = None,
) -> OfferRequest:
    """draft → open: fixes the addressed vendors and tells them."""
    now = utcnow()
    request = await requester_holds(session, principal, request_uuid)
    _check_optional_request_version(request, if_match)
    if request.state != OfferRequestState.draft.value:
        raise Conflict(f"only a draft can be opened; this request is {request.state}", field="state")
    if request.deadline <= now:
        raise InvalidInput("the deadline for offers has passed; set a new one in the draft", field="deadline")
    vendors = await _matching_vendors(session, request)
    if not vendors:
        raise InvalidInput(
            "no published solution matches these sectors and standards, so no vendor would receive the request",
            field="sectors" if request.sectors else "standards",
        )
    for vendor_id, solution_id in vendors:
        session.add(
            OfferRequestVendor(
                request_id=request.id or 0, organization_id=vendor_id, solution_id=solution_id, added_at=now
            )
        )
    request.state = OfferRequestState.open.value
    request.opened_at = now
    _touch(request, now)
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_request.open",
        OfferRequestState.draft,
        OfferRequestState.open,
        data={"vendors": sorted(v for v, _ in vendors)},
    )
    await session.flush()
    requester = await session.get(Organization, request.requester_id)
    participants = await _active_participants(session, request)
    await _notify(
        session,
        request,
        (v for v, _ in vendors),
        "offer_request.new",
        *notices.new_request(request, requester, [p for p, _ in participants]),
    )
    return request


async def withdraw_offer_request(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    reason: str | None,
    if_match: str | None = None,
) -> OfferRequest:
    """draft or open → withdrawn."""
    now = utcnow()
    request = await requester_holds(session, principal, request_uuid)
    _check_optional_request_version(request, if_match)
    previous = request.state
    if previous not in (OfferRequestState.draft.value, OfferRequestState.open.value):
        raise Conflict(f"only a draft or an open request can be withdrawn; this one is {previous}", field="state")
    request.state = OfferRequestState.withdrawn.value
    request.withdrawn_at = now
    _touch(request, now)
    _audit_offer_request(
        session, principal, request, "offer_request.withdraw", previous, OfferRequestState.withdrawn, reason=reason
    )
    await session.flush()
    if previous == OfferRequestState.open.value:
        await _notify(
            session,
            request,
            (await _active_participant_ids(session, request)) | await _vendor_ids(session, request),
            "offer_request.withdrawn",
            *notices.withdrawn(request, reason),
            exclude={request.requester_id},
        )
    return request

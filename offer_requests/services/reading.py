"""Reading requests: one request as the caller may see it, and the lists of requests."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, exists, false, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.core import markdown
from allmende.core.pagination import Page, check_limit, newest_first
from allmende.core.problems import InvalidInput
from allmende.core.records import out_of
from marketplace import services as catalog
from offer_requests.models import Offer, OfferRequest, OfferRequestParticipant, OfferRequestState, OfferRequestVendor
from offer_requests.policies import Relation, _public_bodies_among, _vendor_ids, load_offer_request, relation_to
from offer_requests.schemas import (
    NEED_MAX_BYTES,
    PROCUREMENT_NOTES_MAX_BYTES,
    BudgetOut,
    BundleOut,
    DecisionOut,
    OfferRequestOut,
    SolutionRefOut,
)
from offer_requests.services.common import (
    _DECIDED_STATES,
    _active_participants,
    _offer_vendor_ids,
    _org_ref,
    _participant_out,
)


async def offer_request_out(session: AsyncSession, relation: Relation) -> OfferRequestOut:
    request = relation.request
    participants = await _active_participants(session, request)
    sees_people = relation.participant or relation.vendor
    requester = await session.get(Organization, request.requester_id)
    assert requester is not None
    solution_ref = None
    if request.solution_id is not None:
        solution = await catalog.solution_by_id(session, request.solution_id)
        provider = await session.get(Organization, solution.provider_id) if solution else None
        if solution is not None and provider is not None:
            solution_ref = SolutionRefOut(slug=solution.slug, name=solution.name, provider=_org_ref(provider))
    vendors = None
    offers_received = None
    if relation.participant:
        vendor_orgs = await accounts.organizations_by_ids(session, await _vendor_ids(session, request))
        vendors = sorted((_org_ref(o) for o in vendor_orgs.values()), key=lambda r: r.name)
        offers_received = len(await _offer_vendor_ids(session, request))
    decision = None
    if request.state in _DECIDED_STATES and sees_people:
        preferred = await session.get(Offer, request.preferred_offer_id) if request.preferred_offer_id else None
        if preferred is not None and not relation.participant and preferred.vendor_id not in relation.vendor_orgs:
            preferred = None  # a vendor learns only whether its own offer is preferred
        preferred_vendor = await session.get(Organization, preferred.vendor_id) if preferred else None
        decision = DecisionOut(
            outcome="preferred" if request.state == OfferRequestState.awarded.value else "declined_all",
            preferred_offer=preferred.uuid if preferred else None,
            preferred_vendor=_org_ref(preferred_vendor) if preferred_vendor else None,
            reason=request.decision_reason if relation.participant else None,
            decided_at=request.decided_at,
        )
    budget = None
    if sees_people and (request.budget_min_cents is not None or request.budget_max_cents is not None):
        budget = BudgetOut(min_cents=request.budget_min_cents, max_cents=request.budget_max_cents, currency="EUR")
    rows = [p for p, _ in participants]
    return out_of(
        OfferRequestOut,
        request,
        need_html=markdown.render(request.need, max_bytes=NEED_MAX_BYTES).html,
        budget=budget,
        procurement_notes_html=(
            markdown.render(request.procurement_notes, max_bytes=PROCUREMENT_NOTES_MAX_BYTES).html
            if request.procurement_notes
            else None
        ),
        requester=_org_ref(requester),
        solution=solution_ref,
        sectors=list(request.sectors),
        standards=list(request.standards),
        bundle=BundleOut(
            version=request.bundle_version,
            participants_count=len(rows),
            inhabitants=sum(p.inhabitants for p in rows),
            users=sum(p.users for p in rows),
            sites=sum(p.sites for p in rows),
            participants=[_participant_out(p, o, request.requester_id) for p, o in participants]
            if sees_people
            else None,
        ),
        relation=relation.labels,
        vendors=vendors,
        offers_received=offers_received,
        decision=decision,
    )


async def get_offer_request(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID
) -> tuple[OfferRequest, OfferRequestOut]:
    relation = await load_offer_request(session, principal, request_uuid)
    return relation.request, await offer_request_out(session, relation)


async def offer_request_view(session: AsyncSession, principal: Principal, request: OfferRequest) -> OfferRequestOut:
    """The request as the caller sees it after a change it made."""
    return await offer_request_out(session, await relation_to(session, principal, request))


OFFER_REQUEST_RELATIONS = ("requester", "participant", "vendor", "joinable")


async def list_offer_requests(
    session: AsyncSession,
    principal: Principal,
    *,
    relation: str | None = None,
    state: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[OfferRequestOut]:
    """The requests the caller may see, newest first; ``relation`` narrows to one way of relating."""
    principal.require_authenticated()
    check_limit(limit)
    mine = set(principal.roles) - principal.unverified
    # A claimant whose membership waits for a moderator sees the drafts they wrote, nothing else of the body.
    own_drafts = (
        and_(
            col(OfferRequest.state) == OfferRequestState.draft.value,
            col(OfferRequest.requester_id).in_(principal.unverified),
            col(OfferRequest.created_by_user_id) == principal.user_id,
        )
        if principal.unverified and principal.user_id is not None
        else false()
    )
    public_bodies = await _public_bodies_among(session, mine)
    as_participant = or_(
        exists().where(
            col(OfferRequestParticipant.request_id) == col(OfferRequest.id),
            col(OfferRequestParticipant.organization_id).in_(mine),
            col(OfferRequestParticipant.left_at).is_(None),
        ),
        own_drafts,
    )
    as_vendor = and_(
        col(OfferRequest.state) != OfferRequestState.draft.value,
        exists().where(
            col(OfferRequestVendor.request_id) == col(OfferRequest.id),
            col(OfferRequestVendor.organization_id).in_(mine),
        ),
    )
    is_open = col(OfferRequest.state) == OfferRequestState.open.value
    joinable = and_(is_open, ~as_participant) if public_bodies else false()
    conditions = {
        "requester": or_(col(OfferRequest.requester_id).in_(mine), own_drafts),
        "participant": as_participant,
        "vendor": as_vendor,
        "joinable": joinable,
    }
    query = select(OfferRequest)
    if relation is None:
        query = query.where(or_(as_participant, as_vendor, is_open if public_bodies else false()))
    elif relation in conditions:
        query = query.where(conditions[relation])
    else:
        raise InvalidInput(f"relation must be one of {', '.join(OFFER_REQUEST_RELATIONS)}", field="relation")
    if state is not None:
        if state not in {s.value for s in OfferRequestState}:
            raise InvalidInput(f"state must be one of {', '.join(s.value for s in OfferRequestState)}", field="state")
        query = query.where(OfferRequest.state == state)
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows, next_cursor = await newest_first(session, query, OfferRequest, limit=limit, cursor=cursor)
    items = [await offer_request_out(session, await relation_to(session, principal, r)) for r in rows]
    return Page(items=items, total=total, next_cursor=next_cursor)

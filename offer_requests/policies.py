"""Who relates to an offer request how, and so who sees it and may act on it: the one place for these rules.

Used by the services and by the web pages; nothing else decides access to offer requests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import PUBLIC_BODY_KINDS, MemberRole, Organization
from allmende.accounts.principal import Principal
from allmende.core.problems import Forbidden, NotFound
from offer_requests.models import OfferRequest, OfferRequestParticipant, OfferRequestState, OfferRequestVendor

# Who sees what is decided here and in the services, never in the controllers. A caller relates to a
# request through the organizations it belongs to (a token: its one organization):
#
# - requester: a member of the requesting public body (always a participant too);
# - participant: a member of a public body in the bundle (joined and not left);
# - vendor: a member of a vendor the request is addressed to (from the moment it opens);
# - prospect: a member of any other public body, while the request is open (so it can join).
#
# A claimant whose membership waits for a moderator (issue 14: ``Principal.unverified``) relates to the
# public body only through the drafts they wrote themselves: they prepare a request but do not open it,
# join bundles or answer offers until the membership is verified.
#
# Nobody else sees a request: anonymous callers, vendors not addressed, moderators and admins get a
# 404, as if it did not exist. A caller who sees a request but may not do an action gets a 403.
# Offers are sealed while the request is open: participants see who answered, the content only after
# the deadline. A vendor only ever sees its own offer and its own thread.


@dataclass
class Relation:
    """How the caller relates to one offer request (see above)."""

    request: OfferRequest
    requester: bool = False
    participant_orgs: set[int] = field(default_factory=set)
    vendor_orgs: set[int] = field(default_factory=set)
    prospect_orgs: set[int] = field(default_factory=set)

    @property
    def participant(self) -> bool:
        return bool(self.participant_orgs)

    @property
    def vendor(self) -> bool:
        return bool(self.vendor_orgs)

    @property
    def prospect(self) -> bool:
        return bool(self.prospect_orgs)

    @property
    def visible(self) -> bool:
        return self.participant or self.vendor or self.prospect

    @property
    def labels(self) -> list[str]:
        labels = ["requester"] if self.requester else []
        labels += ["participant"] if self.participant else []
        labels += ["vendor"] if self.vendor else []
        labels += ["prospect"] if self.prospect and not self.participant else []
        return labels


def _may_act(principal: Principal, organization_id: int | None, at_least: MemberRole = MemberRole.member) -> bool:
    """Users act for an organization with the given role; tokens need the write scope (editor)."""
    if principal.token is not None:
        return principal.has_role(organization_id, MemberRole.editor)
    return principal.has_role(organization_id, at_least)


def may_draft(principal: Principal, organization_id: int | None) -> bool:
    """Write an offer-request draft for a public body: its members, and a claimant whose membership waits
    for a moderator (who opens nothing until verified)."""
    if _may_act(principal, organization_id):
        return True
    return (
        principal.user is not None
        and organization_id in principal.unverified
        and principal.may_draft_for(organization_id)
    )


async def _public_bodies_among(session: AsyncSession, organization_ids: Iterable[int]) -> set[int]:
    ids = set(organization_ids)
    if not ids:
        return set()
    rows = await session.exec(
        select(Organization.id).where(
            col(Organization.id).in_(ids),
            col(Organization.kind).in_([k.value for k in PUBLIC_BODY_KINDS]),
            col(Organization.deleted_at).is_(None),
        )
    )
    return {i for i in rows if i is not None}


async def _active_participant_ids(session: AsyncSession, request: OfferRequest) -> set[int]:
    rows = await session.exec(
        select(OfferRequestParticipant.organization_id).where(
            OfferRequestParticipant.request_id == request.id, col(OfferRequestParticipant.left_at).is_(None)
        )
    )
    return set(rows)


async def _vendor_ids(session: AsyncSession, request: OfferRequest) -> set[int]:
    rows = await session.exec(
        select(OfferRequestVendor.organization_id).where(OfferRequestVendor.request_id == request.id)
    )
    return set(rows)


async def relation_to(session: AsyncSession, principal: Principal, request: OfferRequest) -> Relation:
    relation = Relation(request)
    mine = set(principal.roles) - principal.unverified
    own_draft = (
        request.state == OfferRequestState.draft.value
        and request.requester_id in principal.unverified
        and principal.user_id is not None
        and request.created_by_user_id == principal.user_id
    )
    if own_draft:
        relation.requester = True
        relation.participant_orgs = {request.requester_id}
    if not mine:
        return relation
    active = await _active_participant_ids(session, request)
    relation.participant_orgs |= mine & active
    relation.requester = relation.requester or request.requester_id in mine
    if request.state != OfferRequestState.draft.value:
        relation.vendor_orgs = mine & await _vendor_ids(session, request)
    if request.state == OfferRequestState.open.value:
        relation.prospect_orgs = await _public_bodies_among(session, mine - active)
    return relation


async def load_offer_request(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, *, lock: bool = False
) -> Relation:
    """The request with the caller's relation to it; 404 unless the caller may see it."""
    if not principal.roles:  # anonymous callers, moderators and admins: nothing to see, nothing to lock
        raise NotFound("no such offer request (or it is not visible to you)", field="offer_request")
    query = select(OfferRequest).where(OfferRequest.uuid == request_uuid)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    request = (await session.exec(query)).first()
    relation = await relation_to(session, principal, request) if request is not None else None
    if relation is None or not relation.visible:
        raise NotFound("no such offer request (or it is not visible to you)", field="offer_request")
    return relation


def _require_requester(principal: Principal, relation: Relation, *, drafting: bool = False) -> None:
    allowed = may_draft if drafting else _may_act
    if not (relation.requester and allowed(principal, relation.request.requester_id)):
        if relation.requester and relation.request.requester_id in principal.unverified:
            raise Forbidden("your membership waits for a moderator's verification; until then you write drafts only")
        raise Forbidden("only the requesting public body does this (API tokens need the write scope)")


async def requester_holds(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, *, drafting: bool = False
) -> OfferRequest:
    """The request, locked for a change that only its requester makes (edit, open, withdraw, decide);
    ``drafting``: a change to the draft, which an unverified claimant may make too."""
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    _require_requester(principal, relation, drafting=drafting)
    return relation.request

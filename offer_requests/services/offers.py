"""Offers: a vendor's answer priced for one bundle version, revised in append-only revisions, sealed for
the participants until the deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import MemberRole, Organization
from allmende.accounts.principal import Principal
from allmende.core import markdown
from allmende.core.pagination import Page
from allmende.core.problems import Conflict, Forbidden, InvalidInput, NotFound
from allmende.core.records import out_of
from allmende.core.types import utcnow
from allmende.core.versions import check_version
from offer_requests import notices
from offer_requests.models import Offer, OfferRequest, OfferRequestParticipant, OfferRevision
from offer_requests.notices import _notify
from offer_requests.policies import Relation, _active_participant_ids, _may_act, load_offer_request
from offer_requests.schemas import (
    NOTES_MAX_BYTES,
    OfferCreate,
    OfferFields,
    OfferOut,
    OfferRevisionOut,
    ParticipantPriceOut,
    PriceItemOut,
    QuantitiesOut,
)
from offer_requests.services.common import (
    _OPENED_STATES,
    OFFER_RECORD,
    _accepts_changes,
    _active_participants,
    _audit_offer_request,
    _org_ref,
    _organization_named,
)


async def _answering_vendor(
    session: AsyncSession, principal: Principal, relation: Relation, slug: str | None
) -> Organization:
    if not relation.vendor:
        raise Forbidden("only the vendors this request is addressed to answer it")
    if slug is not None:
        org = await _organization_named(session, slug, "vendor", body=True)
        if org.id not in relation.vendor_orgs:
            raise Forbidden(f"the request is not addressed to '{slug}'", field="vendor")
    elif len(relation.vendor_orgs) == 1:
        org_or_none = await session.get(Organization, next(iter(relation.vendor_orgs)))
        assert org_or_none is not None
        org = org_or_none
    else:
        raise InvalidInput("name the vendor you answer for", field="vendor")
    if not _may_act(principal, org.id, MemberRole.editor):
        raise Forbidden("offers are made by editors of the vendor or with a token that has the write scope")
    return org


def _priced_bundle(
    request: OfferRequest,
    participants: Sequence[tuple[OfferRequestParticipant, Organization]],
    data: OfferFields,
) -> list[dict[str, Any]]:
    """The bundle as the offer prices it; 409 if the bundle changed, 422 if the shares do not fit it."""
    if data.bundle_version != request.bundle_version:
        raise Conflict(
            f"the bundle changed since you priced it (it is now version {request.bundle_version}); "
            "read the request again and price the current bundle",
            field="bundle_version",
            extra={"bundle_version": request.bundle_version},
        )
    by_slug = {org.slug: (p, org) for p, org in participants}
    named = [share.organization for share in data.per_participant]
    unknown = sorted(set(named) - by_slug.keys())
    if unknown:
        raise InvalidInput(f"not in the bundle: {', '.join(unknown)}", field="per_participant")
    missing = sorted(by_slug.keys() - set(named))
    if missing:
        raise InvalidInput(f"every participant needs a share; missing: {', '.join(missing)}", field="per_participant")
    if data.valid_until < request.deadline.date():
        raise InvalidInput("the offer must be valid at least until the deadline for offers", field="valid_until")
    priced = []
    for share in data.per_participant:
        participant, org = by_slug[share.organization]
        priced.append(
            {
                "organization_id": org.id,
                "inhabitants": participant.inhabitants,
                "users": participant.users,
                "sites": participant.sites,
                "total_cents": share.total_cents,
            }
        )
    return priced


def _new_revision(
    offer: Offer, number: int, data: OfferFields, priced: list[dict[str, Any]], principal: Principal, now: datetime
) -> OfferRevision:
    return OfferRevision(
        offer_id=offer.id or 0,
        revision=number,
        created_at=now,
        created_by_user_id=principal.user_id,
        created_by_token_id=principal.token_id,
        currency=data.currency,
        items=[item.model_dump() for item in data.items],
        total_cents=data.total_cents,
        per_participant=priced,
        bundle_version=data.bundle_version,
        service_level=data.service_level,
        hosting_location=data.hosting_location,
        valid_until=data.valid_until,
        notes=data.notes,
    )


async def submit_offer(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    data: OfferCreate,
) -> Offer:
    """A vendor's first answer (revision 1). A second one is a revision of the same offer."""
    now = utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    vendor = await _answering_vendor(session, principal, relation, data.vendor)
    _accepts_changes(request, now, "offers are no longer accepted")
    existing = (
        await session.exec(select(Offer).where(Offer.request_id == request.id, Offer.vendor_id == vendor.id))
    ).first()
    if existing is not None:
        raise Conflict(
            "this vendor has answered already: revise the offer (PUT …/offers/{uuid} with If-Match)",
            field="vendor",
            extra={"offer": str(existing.uuid)},
        )
    priced = _priced_bundle(request, await _active_participants(session, request), data)
    offer = Offer(request_id=request.id or 0, vendor_id=vendor.id or 0, created_at=now, updated_at=now)
    session.add(offer)
    await session.flush()
    session.add(_new_revision(offer, 1, data, priced, principal, now))
    _audit_offer_request(
        session,
        principal,
        request,
        "offer.submit",
        None,
        "submitted",
        record_type=OFFER_RECORD,
        record_uuid=offer.uuid,
        data={"vendor": vendor.slug, "revision": 1, "total_cents": data.total_cents},
    )
    await session.flush()
    await _notify(
        session,
        request,
        await _active_participant_ids(session, request),
        "offer.submitted",
        *notices.offer_submitted(request, vendor),
    )
    return offer


async def _offer_in(session: AsyncSession, relation: Relation, offer_uuid: uuid.UUID, *, lock: bool = False) -> Offer:
    """An offer of this request that the caller may see (its vendor, or a participant)."""
    query = select(Offer).where(Offer.uuid == offer_uuid, Offer.request_id == relation.request.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    offer = (await session.exec(query)).first()
    if offer is None or not (relation.participant or offer.vendor_id in relation.vendor_orgs):
        raise NotFound("no such offer (or it is not visible to you)", field="offer")
    return offer


async def revise_offer(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    offer_uuid: uuid.UUID,
    data: OfferFields,
    if_match: str | None,
) -> Offer:
    """A new revision before the deadline; every earlier one is kept. If-Match names the revision read."""
    now = utcnow()
    relation = await load_offer_request(session, principal, request_uuid, lock=True)
    request = relation.request
    offer = await _offer_in(session, relation, offer_uuid, lock=True)
    if offer.vendor_id not in relation.vendor_orgs or not _may_act(principal, offer.vendor_id, MemberRole.editor):
        raise Forbidden("only the vendor's editors (or its token with the write scope) revise its offer")
    check_version(offer.etag, if_match)
    _accepts_changes(request, now, "offers can no longer be revised")
    priced = _priced_bundle(request, await _active_participants(session, request), data)
    number = offer.current_revision + 1
    offer.current_revision, offer.updated_at = number, now
    session.add(_new_revision(offer, number, data, priced, principal, now))
    vendor = await session.get(Organization, offer.vendor_id)
    assert vendor is not None
    _audit_offer_request(
        session,
        principal,
        request,
        "offer.revise",
        "submitted",
        "submitted",
        record_type=OFFER_RECORD,
        record_uuid=offer.uuid,
        data={"vendor": vendor.slug, "revision": number, "total_cents": data.total_cents},
    )
    await session.flush()
    await _notify(
        session,
        request,
        await _active_participant_ids(session, request),
        "offer.revised",
        *notices.offer_revised(request, vendor, number),
    )
    return offer


async def _revision_outs(
    session: AsyncSession, request: OfferRequest, revisions: Sequence[OfferRevision]
) -> list[OfferRevisionOut]:
    org_ids = {int(share["organization_id"]) for r in revisions for share in r.per_participant}
    orgs = await accounts.organizations_by_ids(session, org_ids)
    active = await _active_participant_ids(session, request)
    return [
        out_of(
            OfferRevisionOut,
            r,
            items=[PriceItemOut.model_validate(item) for item in r.items],
            per_participant=[
                ParticipantPriceOut(
                    organization=_org_ref(orgs[int(share["organization_id"])]),
                    total_cents=int(share["total_cents"]),
                    quantities=QuantitiesOut(
                        inhabitants=int(share["inhabitants"]), users=int(share["users"]), sites=int(share["sites"])
                    ),
                    participating=int(share["organization_id"]) in active,
                )
                for share in r.per_participant
            ],
            notes_html=markdown.render(r.notes, max_bytes=NOTES_MAX_BYTES).html,
        )
        for r in revisions
    ]


async def _latest_revisions(session: AsyncSession, offers: Sequence[Offer]) -> dict[int, OfferRevision]:
    if not offers:
        return {}
    rows = await session.exec(
        select(OfferRevision).where(
            or_(
                *(
                    and_(col(OfferRevision.offer_id) == o.id, col(OfferRevision.revision) == o.current_revision)
                    for o in offers
                )
            )
        )
    )
    return {r.offer_id: r for r in rows}


async def offer_outs(session: AsyncSession, relation: Relation, offers: Sequence[Offer]) -> list[OfferOut]:
    request = relation.request
    latest = await _latest_revisions(session, offers)
    vendors = await accounts.organizations_by_ids(session, {o.vendor_id for o in offers})
    outs = []
    for offer in offers:
        sealed = request.state not in _OPENED_STATES and offer.vendor_id not in relation.vendor_orgs
        revision = latest[offer.id or 0]
        content = None if sealed else (await _revision_outs(session, request, [revision]))[0]
        outs.append(
            out_of(
                OfferOut,
                offer,
                request=request.uuid,
                vendor=_org_ref(vendors[offer.vendor_id]),
                sealed=sealed,
                latest=content,
                priced_for_current_bundle=revision.bundle_version == request.bundle_version,
                preferred=request.preferred_offer_id is not None and request.preferred_offer_id == offer.id,
            )
        )
    return outs


async def list_offers(session: AsyncSession, principal: Principal, request_uuid: uuid.UUID) -> Page[OfferOut]:
    """Participants: every offer, side by side once the deadline passed. A vendor: its own."""
    relation = await load_offer_request(session, principal, request_uuid)
    query = select(Offer).where(Offer.request_id == relation.request.id)
    if not relation.participant:
        if not relation.vendor:
            raise Forbidden("offers are shown to the participants and to the vendor that made them")
        query = query.where(col(Offer.vendor_id).in_(relation.vendor_orgs))
    offers = list(await session.exec(query.order_by(col(Offer.created_at), col(Offer.id))))
    items = await offer_outs(session, relation, offers)
    return Page(items=items, total=len(items), next_cursor=None)


async def get_offer(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, offer_uuid: uuid.UUID
) -> tuple[Offer, OfferOut]:
    relation = await load_offer_request(session, principal, request_uuid)
    offer = await _offer_in(session, relation, offer_uuid)
    return offer, (await offer_outs(session, relation, [offer]))[0]


async def offer_out(session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, offer: Offer) -> OfferOut:
    relation = await load_offer_request(session, principal, request_uuid)
    return (await offer_outs(session, relation, [offer]))[0]


async def list_revisions(
    session: AsyncSession, principal: Principal, request_uuid: uuid.UUID, offer_uuid: uuid.UUID
) -> Page[OfferRevisionOut]:
    """Every revision, oldest first: for the vendor always, for participants after the deadline."""
    relation = await load_offer_request(session, principal, request_uuid)
    offer = await _offer_in(session, relation, offer_uuid)
    if offer.vendor_id not in relation.vendor_orgs and relation.request.state not in _OPENED_STATES:
        raise Forbidden("offers are sealed until the deadline for offers has passed")
    revisions = list(
        await session.exec(
            select(OfferRevision).where(OfferRevision.offer_id == offer.id).order_by(col(OfferRevision.revision))
        )
    )
    items = await _revision_outs(session, relation.request, revisions)
    return Page(items=items, total=len(items), next_cursor=None)

"""The conversation: one thread per request and vendor, between the participants and that vendor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import Organization
from allmende.accounts.principal import Principal
from allmende.core import markdown
from allmende.core.pagination import Page, check_limit, decode_cursor, encode_cursor
from allmende.core.problems import Conflict, Forbidden, NotFound
from allmende.core.types import utcnow
from offer_requests.models import OfferMessage, OfferRequestState
from offer_requests.policies import Relation, _may_act, _vendor_ids, load_offer_request
from offer_requests.schemas import MESSAGE_MAX_BYTES, MessageOut, ThreadOut
from offer_requests.services.common import _audit_offer_request, _org_ref


async def _thread_vendor(session: AsyncSession, relation: Relation, vendor_slug: str) -> Organization:
    if not (relation.participant or relation.vendor):
        raise Forbidden("the conversation is between the participants and each vendor")
    vendor = (await session.exec(select(Organization).where(Organization.slug == vendor_slug))).first()
    addressed = await _vendor_ids(session, relation.request)
    if vendor is None or vendor.id not in addressed or not (relation.participant or vendor.id in relation.vendor_orgs):
        raise NotFound("no such thread (or it is not visible to you)", field="vendor")
    return vendor


async def list_threads(session: AsyncSession, principal: Principal, request_uuid: uuid.UUID) -> Page[ThreadOut]:
    relation = await load_offer_request(session, principal, request_uuid)
    if not (relation.participant or relation.vendor):
        raise Forbidden("the conversation is between the participants and each vendor")
    vendor_ids = await _vendor_ids(session, relation.request) if relation.participant else relation.vendor_orgs
    stats = {
        vendor_id: (count, last)
        for vendor_id, count, last in await session.exec(
            select(OfferMessage.vendor_id, func.count(), func.max(OfferMessage.created_at))
            .where(OfferMessage.request_id == relation.request.id)
            .group_by(col(OfferMessage.vendor_id))
        )
    }
    orgs = await accounts.organizations_by_ids(session, set(vendor_ids))
    threads = []
    for vendor_id in sorted(vendor_ids, key=lambda i: orgs[i].name):
        count, last = stats.get(vendor_id, (0, None))
        if isinstance(last, datetime) and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)  # SQLite's max() returns the naive stored value
        threads.append(ThreadOut(vendor=_org_ref(orgs[vendor_id]), messages=int(count), last_message_at=last))
    return Page(items=threads, total=len(threads), next_cursor=None)


def _message_out(message: OfferMessage, orgs: dict[int, Organization]) -> MessageOut:
    return MessageOut(
        uuid=message.uuid,
        vendor=_org_ref(orgs[message.vendor_id]),
        author=_org_ref(orgs[message.author_organization_id]),
        from_vendor=message.author_organization_id == message.vendor_id,
        body=message.body,
        body_html=markdown.render(message.body, max_bytes=MESSAGE_MAX_BYTES).html,
        created_at=message.created_at,
    )


async def list_messages(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    vendor_slug: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[MessageOut]:
    """A thread, oldest first."""
    check_limit(limit)
    relation = await load_offer_request(session, principal, request_uuid)
    vendor = await _thread_vendor(session, relation, vendor_slug)
    query = select(OfferMessage).where(
        OfferMessage.request_id == relation.request.id, OfferMessage.vendor_id == vendor.id
    )
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    after = decode_cursor(cursor, arity=1)
    if after is not None:
        query = query.where(col(OfferMessage.id) > int(after[0]))
    rows = list(await session.exec(query.order_by(col(OfferMessage.id)).limit(limit + 1)))
    orgs = await accounts.organizations_by_ids(
        session, {vendor.id or 0} | {m.author_organization_id for m in rows[:limit]}
    )
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return Page(items=[_message_out(m, orgs) for m in rows[:limit]], total=total, next_cursor=next_cursor)


async def post_message(
    session: AsyncSession,
    principal: Principal,
    request_uuid: uuid.UUID,
    vendor_slug: str,
    body: str,
) -> MessageOut:
    now = utcnow()
    relation = await load_offer_request(session, principal, request_uuid)
    request = relation.request
    vendor = await _thread_vendor(session, relation, vendor_slug)
    if vendor.id in relation.vendor_orgs:
        author_id: int | None = vendor.id if _may_act(principal, vendor.id) else None
    else:
        mine = sorted(relation.participant_orgs, key=lambda i: (i != request.requester_id, i))
        author_id = next((i for i in mine if _may_act(principal, i)), None)
    if author_id is None:
        raise Forbidden("write as a member of a participant or of this vendor (API tokens need the write scope)")
    if request.state in (OfferRequestState.draft.value, OfferRequestState.withdrawn.value):
        raise Conflict(f"the request is {request.state}; the conversation is closed", field="state")
    message = OfferMessage(
        request_id=request.id or 0,
        vendor_id=vendor.id or 0,
        author_organization_id=author_id,
        author_user_id=principal.user_id,
        author_token_id=principal.token_id,
        body=body,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    _audit_offer_request(
        session,
        principal,
        request,
        "offer_message.post",
        None,
        None,
        record_type="offer_message",
        record_uuid=message.uuid,
        data={"vendor": vendor.slug},
    )
    orgs = await accounts.organizations_by_ids(session, {vendor.id or 0, author_id})
    return _message_out(message, orgs)

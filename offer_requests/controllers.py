"""HTTP for offer requests, bundled demand, offers and messages (issue 7).

Who may see or do what is decided in the services; these handlers only parse and shape.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.principal import Principal
from allmende.accounts.schemas import OptionalReasonIn
from allmende.core.pagination import DEFAULT_LIMIT, Limit, Page
from offer_requests import services
from offer_requests.schemas import (
    AcceptanceIn,
    DecisionIn,
    MessageIn,
    MessageOut,
    OfferCreate,
    OfferFields,
    OfferOut,
    OfferRequestCreate,
    OfferRequestOut,
    OfferRequestPatch,
    OfferRevisionOut,
    ParticipantOut,
    Quantities,
    ThreadOut,
)

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False)]


def _request_response(out: OfferRequestOut, status: int = 200) -> Response[OfferRequestOut]:
    return Response(out, status_code=status, headers={"ETag": f'"{out.uuid}.{out.version}"'})


def _offer_response(out: OfferOut, etag: str, status: int = 200) -> Response[OfferOut]:
    return Response(out, status_code=status, headers={"ETag": etag})


class OfferRequestController(Controller):
    path = "/api/v1/offer-requests"
    tags = ["offer-requests"]  # noqa: RUF012

    @get("/", summary="Offer requests you take part in, answer, or (public bodies) could join")
    async def list_offer_requests(
        self,
        db_session: Session,
        principal: Caller,
        relation: Annotated[
            str | None, QueryParameter(required=False, description="requester | participant | vendor | joinable")
        ] = None,
        state_filter: Annotated[str | None, QueryParameter(name="state", required=False)] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Page[OfferRequestOut]:
        return await services.list_offer_requests(
            db_session, principal, relation=relation, state=state_filter, limit=limit, cursor=cursor
        )

    @post("/", summary="Draft an offer request for a public body (for a solution, or a market exploration)")
    async def create_offer_request(
        self, data: JSONBody[OfferRequestCreate], db_session: Session, principal: Caller
    ) -> Response[OfferRequestOut]:
        request = await services.create_offer_request(db_session, principal, data)
        return _request_response(await services.offer_request_view(db_session, principal, request), 201)

    @get("/{request_id:uuid}")
    async def get_offer_request(
        self, request_id: FromPath[uuid.UUID], db_session: Session, principal: Caller
    ) -> Response[OfferRequestOut]:
        _, out = await services.get_offer_request(db_session, principal, request_id)
        return _request_response(out)

    @patch("/{request_id:uuid}", summary="Edit a draft (If-Match required)")
    async def update_offer_request(
        self,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[OfferRequestPatch],
        db_session: Session,
        principal: Caller,
        if_match: IfMatch,
    ) -> Response[OfferRequestOut]:
        changes = data.model_dump(exclude_unset=True)
        request = await services.update_offer_request(db_session, principal, request_id, changes, if_match)
        return _request_response(await services.offer_request_view(db_session, principal, request))

    @post("/{request_id:uuid}/open", status_code=200, summary="Send the draft to the vendors")
    async def open_offer_request(
        self, request_id: FromPath[uuid.UUID], db_session: Session, principal: Caller, if_match: IfMatch
    ) -> Response[OfferRequestOut]:
        request = await services.open_offer_request(db_session, principal, request_id, if_match)
        return _request_response(await services.offer_request_view(db_session, principal, request))

    @post("/{request_id:uuid}/withdraw", status_code=200, summary="Withdraw a draft or an open request")
    async def withdraw_offer_request(
        self,
        request_id: FromPath[uuid.UUID],
        db_session: Session,
        principal: Caller,
        if_match: IfMatch,
        data: JSONBody[OptionalReasonIn | None] = None,
    ) -> Response[OfferRequestOut]:
        reason = data.reason if data else None
        request = await services.withdraw_offer_request(db_session, principal, request_id, reason, if_match)
        return _request_response(await services.offer_request_view(db_session, principal, request))

    @get("/{request_id:uuid}/participants", summary="The bundle, per participant")
    async def list_participants(
        self, request_id: FromPath[uuid.UUID], db_session: Session, principal: Caller
    ) -> Page[ParticipantOut]:
        return await services.list_participants(db_session, principal, request_id)

    @put("/{request_id:uuid}/participants/{organization:str}", summary="Join the bundle, or change own quantities")
    async def join(
        self,
        request_id: FromPath[uuid.UUID],
        organization: FromPath[str],
        data: JSONBody[Quantities],
        db_session: Session,
        principal: Caller,
    ) -> Response[OfferRequestOut]:
        request, joined = await services.join_offer_request(db_session, principal, request_id, organization, data)
        view = await services.offer_request_view(db_session, principal, request)
        return _request_response(view, 201 if joined else 200)

    @delete(
        "/{request_id:uuid}/participants/{organization:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Leave the bundle before the deadline",
    )
    async def leave(
        self, request_id: FromPath[uuid.UUID], organization: FromPath[str], db_session: Session, principal: Caller
    ) -> None:
        await services.leave_offer_request(db_session, principal, request_id, organization)

    @put(
        "/{request_id:uuid}/participants/{organization:str}/acceptance",
        summary="A participant accepts or declines the preferred offer for itself",
    )
    async def set_acceptance(
        self,
        request_id: FromPath[uuid.UUID],
        organization: FromPath[str],
        data: JSONBody[AcceptanceIn],
        db_session: Session,
        principal: Caller,
    ) -> Response[OfferRequestOut]:
        request = await services.set_acceptance(db_session, principal, request_id, organization, data.accepted)
        return _request_response(await services.offer_request_view(db_session, principal, request))

    @post("/{request_id:uuid}/decision", status_code=200, summary="Prefer one offer or decline all (requester)")
    async def decide(
        self, request_id: FromPath[uuid.UUID], data: JSONBody[DecisionIn], db_session: Session, principal: Caller
    ) -> Response[OfferRequestOut]:
        request = await services.decide_offer_request(db_session, principal, request_id, data)
        return _request_response(await services.offer_request_view(db_session, principal, request))

    @get("/{request_id:uuid}/offers", summary="Participants: all offers (sealed until the deadline); vendors: own")
    async def list_offers(
        self, request_id: FromPath[uuid.UUID], db_session: Session, principal: Caller
    ) -> Page[OfferOut]:
        return await services.list_offers(db_session, principal, request_id)

    @post("/{request_id:uuid}/offers", summary="A vendor answers (vendor API: a token with the write scope)")
    async def submit_offer(
        self, request_id: FromPath[uuid.UUID], data: JSONBody[OfferCreate], db_session: Session, principal: Caller
    ) -> Response[OfferOut]:
        offer = await services.submit_offer(db_session, principal, request_id, data)
        out = await services.offer_out(db_session, principal, request_id, offer)
        return _offer_response(out, offer.etag, 201)

    @get("/{request_id:uuid}/offers/{offer_id:uuid}")
    async def get_offer(
        self, request_id: FromPath[uuid.UUID], offer_id: FromPath[uuid.UUID], db_session: Session, principal: Caller
    ) -> Response[OfferOut]:
        offer, out = await services.get_offer(db_session, principal, request_id, offer_id)
        return _offer_response(out, offer.etag)

    @put("/{request_id:uuid}/offers/{offer_id:uuid}", summary="Revise an offer before the deadline (If-Match)")
    async def revise_offer(
        self,
        request_id: FromPath[uuid.UUID],
        offer_id: FromPath[uuid.UUID],
        data: JSONBody[OfferFields],
        db_session: Session,
        principal: Caller,
        if_match: IfMatch,
    ) -> Response[OfferOut]:
        offer = await services.revise_offer(db_session, principal, request_id, offer_id, data, if_match)
        out = await services.offer_out(db_session, principal, request_id, offer)
        return _offer_response(out, offer.etag)

    @get("/{request_id:uuid}/offers/{offer_id:uuid}/revisions", summary="Every revision of an offer, oldest first")
    async def list_revisions(
        self, request_id: FromPath[uuid.UUID], offer_id: FromPath[uuid.UUID], db_session: Session, principal: Caller
    ) -> Page[OfferRevisionOut]:
        return await services.list_revisions(db_session, principal, request_id, offer_id)

    @get("/{request_id:uuid}/threads", summary="The conversations: one per vendor")
    async def list_threads(
        self, request_id: FromPath[uuid.UUID], db_session: Session, principal: Caller
    ) -> Page[ThreadOut]:
        return await services.list_threads(db_session, principal, request_id)

    @get("/{request_id:uuid}/threads/{vendor:str}/messages")
    async def list_messages(
        self,
        request_id: FromPath[uuid.UUID],
        vendor: FromPath[str],
        db_session: Session,
        principal: Caller,
        limit: Limit = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Page[MessageOut]:
        return await services.list_messages(db_session, principal, request_id, vendor, limit=limit, cursor=cursor)

    @post("/{request_id:uuid}/threads/{vendor:str}/messages", summary="Write to the participants or to a vendor")
    async def post_message(
        self,
        request_id: FromPath[uuid.UUID],
        vendor: FromPath[str],
        data: JSONBody[MessageIn],
        db_session: Session,
        principal: Caller,
    ) -> MessageOut:
        return await services.post_message(db_session, principal, request_id, vendor, data.body)


ROUTES = [OfferRequestController]

"""HTTP for joining organizations: claims and their decisions, invitations and accepting them. Thin: the
rules are in ``identity.services.claims`` and ``identity.services.invitations``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import MemberRole
from allmende.accounts.principal import Principal
from allmende.accounts.schemas import OrganizationRef
from allmende.accounts.throttle import LoginThrottle, throttle_in
from allmende.core.problems import Problem
from identity.models import ClaimState
from identity.schemas import (
    AcceptedOut,
    AcceptIn,
    ClaimIn,
    ClaimOut,
    InvitationIn,
    InvitationOut,
    RejectIn,
    VerifyIn,
)
from identity.services import claims, invitations, sessions

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]


class ClaimController(Controller):
    path = "/api/v1/organization-claims"
    tags = ["organizations"]  # noqa: RUF012 (Litestar reads it as a class attribute)

    @post("/", summary="Claim a public body from the register, or bring a new vendor onto the platform")
    async def file(self, data: JSONBody[ClaimIn], db_session: Session, principal: Caller) -> Response[ClaimOut]:
        claim, org = await claims.file_claim(db_session, principal, data)
        out = claims.ClaimView(claim, org, principal.user).out()
        return Response(out, status_code=201, headers={"Location": f"{self.path}/{claim.uuid}"})

    @get("/", summary="Moderators: the queue of claims; anyone else: their own")
    async def list_claims(
        self,
        db_session: Session,
        principal: Caller,
        claim_state: Annotated[ClaimState | None, QueryParameter(name="state")] = None,
    ) -> list[ClaimOut]:
        return [view.out() for view in await claims.list_claims(db_session, principal, state=claim_state)]

    @post("/{claim_uuid:uuid}/verify", status_code=200)
    async def verify(
        self, claim_uuid: FromPath[uuid.UUID], data: JSONBody[VerifyIn], db_session: Session, principal: Caller
    ) -> ClaimOut:
        view = await claims.verify(db_session, principal, claim_uuid, evidence=data.evidence, note=data.note)
        return view.out()

    @post("/{claim_uuid:uuid}/reject", status_code=200)
    async def reject(
        self, claim_uuid: FromPath[uuid.UUID], data: JSONBody[RejectIn], db_session: Session, principal: Caller
    ) -> ClaimOut:
        return (await claims.reject(db_session, principal, claim_uuid, note=data.note)).out()


def _invitation_out(view: invitations.InvitationView) -> InvitationOut:
    invitation = view.invitation
    return InvitationOut(
        uuid=invitation.uuid,
        email=invitation.email,
        role=MemberRole(invitation.role),
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        expired=view.expired,
        invited_by=view.invited_by,
    )


class InvitationController(Controller):
    path = "/api/v1/organizations/{slug:str}/invitations"
    tags = ["organizations"]  # noqa: RUF012

    @get("/")
    async def list_invitations(
        self, slug: FromPath[str], db_session: Session, principal: Caller
    ) -> list[InvitationOut]:
        org = await accounts.get_organization(db_session, slug)
        return [_invitation_out(v) for v in await invitations.list_open(db_session, principal, org)]

    @post("/", summary="Invite a colleague by e-mail; the link goes by mail only")
    async def invite(
        self, slug: FromPath[str], data: JSONBody[InvitationIn], db_session: Session, principal: Caller
    ) -> Response[InvitationOut]:
        org = await accounts.get_organization(db_session, slug)
        invitation = await invitations.invite(db_session, principal, org, email=data.email, role=data.role)
        out = _invitation_out(
            invitations.InvitationView(invitation, principal.user.display_name if principal.user else None)
        )
        return Response(out, status_code=201)

    @delete("/{invitation_uuid:uuid}", status_code=HTTP_204_NO_CONTENT)
    async def revoke(
        self, slug: FromPath[str], invitation_uuid: FromPath[uuid.UUID], db_session: Session, principal: Caller
    ) -> None:
        org = await accounts.get_organization(db_session, slug)
        await invitations.revoke(db_session, principal, org, invitation_uuid)


def invitation_throttle(request: Request[Any, Any, Any]) -> LoginThrottle:
    """Failed uses of invitation links, per link and per client, in the shared store (Redis in production)."""
    return throttle_in(request.app.stores, "invitation")


def client_of(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class AcceptInvitationController(Controller):
    path = "/api/v1/invitations"
    tags = ["organizations"]  # noqa: RUF012

    @post("/{token:str}/accept", status_code=200, summary="Accept an invitation (signed in, or with name and password)")
    async def accept(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        data: JSONBody[AcceptIn],
        db_session: Session,
        principal: Caller,
    ) -> AcceptedOut:
        throttle = invitation_throttle(request)
        client = client_of(request)
        await throttle.check(email=token, client=client)
        try:
            accepted = await invitations.accept(db_session, principal, token, name=data.name, password=data.password)
        except Problem as problem:
            if problem.status in (404, 410):
                await throttle.failed(email=token, client=client)
            raise
        if accepted.account_created:
            login = await sessions.start(
                db_session, accepted.user, method="invitation", device=request.headers.get("user-agent", "")
            )
            request.set_session(sessions.session_cookie(accepted.user, login))
        org = accepted.organization
        return AcceptedOut(
            organization=OrganizationRef(slug=org.slug, name=org.name, kind=org.kind, bundesland=org.bundesland),
            role=accepted.role,
            email=accepted.user.email,
            account_created=accepted.account_created,
        )


ROUTES = [ClaimController, InvitationController, AcceptInvitationController]

"""HTTP for accounts: organizations, members and API tokens. Thin: the rules are in services.

Signing in and one's own account are the identity package's (``identity/controllers/auth.py``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services
from allmende.accounts.models import OrganizationKind
from allmende.accounts.principal import Principal
from allmende.accounts.schemas import (
    MemberIn,
    MemberOut,
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
    TokenCreate,
    TokenCreated,
    TokenOut,
)
from allmende.core.pagination import DEFAULT_LIMIT, Limit, Page
from allmende.core.settings import Settings

IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False)]
Session = NamedDependency[AsyncSession]


def _token_out(token: Any, plaintext: str | None = None) -> TokenOut | TokenCreated:
    fields = {
        "uuid": token.uuid,
        "name": token.name,
        "prefix": token.token_prefix,
        "scopes": token.scopes,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
    }
    return TokenCreated(**fields, token=plaintext) if plaintext else TokenOut(**fields)


class OrganizationController(Controller):
    path = "/api/v1/organizations"
    tags = ["organizations"]  # noqa: RUF012

    @get("/")
    async def list_organizations(
        self,
        db_session: Session,
        settings: NamedDependency[Settings],
        kind: FromQuery[OrganizationKind | None] = None,
        bundesland: FromQuery[str | None] = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Page[OrganizationOut]:
        return await services.list_organizations(
            db_session, kind=kind, bundesland=bundesland, q=q, limit=limit, cursor=cursor, base_url=settings.base_url
        )

    @get("/{slug:str}")
    async def get_organization(
        self, slug: FromPath[str], db_session: Session, settings: NamedDependency[Settings]
    ) -> Response[Any]:
        org = await services.get_organization(db_session, slug)
        return Response(services.organization_out(org, settings.base_url), headers={"ETag": org.etag})

    @post("/")
    async def create_organization(
        self,
        data: JSONBody[OrganizationCreate],
        db_session: Session,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        org = await services.create_organization(db_session, principal, data)
        return Response(
            services.organization_out(org, settings.base_url),
            status_code=201,
            headers={"ETag": org.etag, "Location": f"{self.path}/{org.slug}"},
        )

    @patch("/{slug:str}")
    async def update_organization(
        self,
        slug: FromPath[str],
        data: JSONBody[OrganizationUpdate],
        db_session: Session,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        if_match: IfMatch,
    ) -> Response[Any]:
        org = await services.update_organization(
            db_session, principal, await services.get_organization(db_session, slug), data, if_match
        )
        return Response(services.organization_out(org, settings.base_url), headers={"ETag": org.etag})

    @get("/{slug:str}/members")
    async def list_members(
        self, slug: FromPath[str], db_session: Session, principal: NamedDependency[Principal]
    ) -> list[MemberOut]:
        rows = await services.members_of(db_session, principal, await services.get_organization(db_session, slug))
        return [
            MemberOut(email=u.email, display_name=u.display_name, role=m.role, verified=m.verified_at is not None)
            for u, m in rows
        ]

    @put("/{slug:str}/members")
    async def set_member(
        self, slug: FromPath[str], data: JSONBody[MemberIn], db_session: Session, principal: NamedDependency[Principal]
    ) -> MemberOut:
        org = await services.get_organization(db_session, slug)
        user, membership = await services.add_member(db_session, principal, org, email=data.email, role=data.role)
        return MemberOut(
            email=user.email,
            display_name=user.display_name,
            role=membership.role,
            verified=membership.verified_at is not None,
        )

    @delete("/{slug:str}/members/{email:str}", status_code=HTTP_204_NO_CONTENT)
    async def remove_member(
        self, slug: FromPath[str], email: FromPath[str], db_session: Session, principal: NamedDependency[Principal]
    ) -> None:
        await services.remove_member(
            db_session, principal, await services.get_organization(db_session, slug), email=email
        )

    @get("/{slug:str}/tokens")
    async def list_tokens(
        self, slug: FromPath[str], db_session: Session, principal: NamedDependency[Principal]
    ) -> list[TokenOut]:
        org = await services.get_organization(db_session, slug)
        return [_token_out(t) for t in await services.list_tokens(db_session, principal, org)]

    @post("/{slug:str}/tokens", summary="Create an API token; the response shows it once")
    async def create_token(
        self,
        slug: FromPath[str],
        data: JSONBody[TokenCreate],
        db_session: Session,
        principal: NamedDependency[Principal],
    ) -> TokenCreated:
        org = await services.get_organization(db_session, slug)
        token, plaintext = await services.create_token(
            db_session, principal, org, name=data.name, scopes=data.scopes, expires_in_days=data.expires_in_days
        )
        return _token_out(token, plaintext)  # type: ignore[return-value]

    @delete("/{slug:str}/tokens/{token_uuid:uuid}", status_code=HTTP_204_NO_CONTENT)
    async def revoke_token(
        self,
        slug: FromPath[str],
        token_uuid: FromPath[uuid.UUID],
        db_session: Session,
        principal: NamedDependency[Principal],
    ) -> None:
        token, org = await services.find_token(db_session, token_uuid)
        if org.slug != slug:
            from allmende.core.problems import NotFound

            raise NotFound("no such token in this organization", field="token")
        await services.revoke_token(db_session, principal, token)

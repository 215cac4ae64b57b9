"""Single sign-on in the API: the configured providers, starting a sign-in, and the signed-in person's
linked provider accounts. The browser's round trip itself (``/auth/oidc/{provider}`` and its callback)
is a page of the web (``allmende/web/account/providers.py``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.principal import Principal
from allmende.core.settings import Settings
from identity.schemas import LinkedIdentityOut, OidcProviderOut, OidcStartOut
from identity.services import oidc
from identity.services.oidc_http import OidcHttp

Session = NamedDependency[AsyncSession]


class OidcController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]  # noqa: RUF012 (Litestar reads it as a class attribute)

    @get("/oidc/providers", summary="The sign-in providers of this instance")
    async def list_providers(self, settings: NamedDependency[Settings]) -> list[OidcProviderOut]:
        return [
            OidcProviderOut(name=p.name, label=p.label, start=f"/auth/oidc/{p.name}") for p in oidc.providers(settings)
        ]

    @get(
        "/oidc/{provider:str}/start",
        summary="Start a sign-in (or, with link=true, a link to the signed-in account); 503 if the provider is down",
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        provider: FromPath[str],
        settings: NamedDependency[Settings],
        oidc_http: NamedDependency[OidcHttp],
        principal: NamedDependency[Principal],
        link: FromQuery[bool] = False,
    ) -> OidcStartOut:
        link_user = principal.require_user().uuid if link else None
        pending = oidc.pending_of(request.session)
        url = await oidc.begin(oidc_http, settings, provider, pending, link_user=link_user)
        request.set_session(oidc.with_pending(request.session, pending))
        return OidcStartOut(authorization_url=url)

    @get("/identities", summary="The provider accounts linked to the signed-in person's account")
    async def list_identities(
        self, db_session: Session, principal: NamedDependency[Principal], settings: NamedDependency[Settings]
    ) -> list[LinkedIdentityOut]:
        labels = {p.name: p.label for p in oidc.providers(settings)}
        return [
            LinkedIdentityOut(
                provider=i.provider,
                label=labels.get(i.provider, i.provider),
                subject=i.subject,
                email=i.email,
                created_at=i.created_at,
                last_used_at=i.last_used_at,
            )
            for i in await oidc.list_identities(db_session, principal)
        ]

    @delete("/identities/{provider:str}", status_code=HTTP_204_NO_CONTENT, summary="Unlink a provider")
    async def unlink(self, provider: FromPath[str], db_session: Session, principal: NamedDependency[Principal]) -> None:
        await oidc.unlink(db_session, principal, provider)

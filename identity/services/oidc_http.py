"""Talking to OpenID providers: discovery, their keys (JWKS) and the code exchange, and nothing else.

All outbound HTTP of single sign-on is here (authlib over httpx), so a switch of the HTTP library stays
in one module. A provider that cannot be reached, times out or answers a server error is
:class:`ProviderUnavailable` (503); a provider that answers but refuses (a replayed code, a PKCE
mismatch) is :class:`~identity.services.oidc_errors.SignInRefused`.

Discovery documents and key sets are kept for a few minutes per app (``OidcHttp`` lives as long as the
app); a key id the cached set does not know makes one fresh fetch, so a provider's key rotation works.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import authlib.deprecate  # installs its own "always" filter, which must come before ours
import httpx
import structlog
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from allmende.core.settings import OidcProvider
from identity.services.oidc_errors import ProviderUnavailable, SignInRefused

with warnings.catch_warnings():
    # Authlib 1.9 warns that plain httpx is deprecated in favour of its fork httpx2; Litestar still uses
    # httpx (stack notes). The warning is about the import, not about our use.
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = structlog.get_logger("allmende.oidc")

TIMEOUT_SECONDS = 5.0
CACHE_SECONDS = 300.0
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


@dataclass
class OidcHttp:
    """The provider-facing side of single sign-on, with its small cache. One per app."""

    timeout: float = TIMEOUT_SECONDS
    cache_seconds: float = CACHE_SECONDS
    _discovery: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _keys: dict[str, tuple[float, KeySet]] = field(default_factory=dict)

    def _fresh(self, entry: tuple[float, Any] | None) -> bool:
        return entry is not None and time.monotonic() - entry[0] < self.cache_seconds

    async def _get_json(self, provider: OidcProvider, url: str, what: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("oidc provider unreachable", provider=provider.name, what=what, error=repr(exc))
            raise ProviderUnavailable(provider.name, f"{what}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            log.warning("oidc provider failed", provider=provider.name, what=what, status=response.status_code)
            raise ProviderUnavailable(provider.name, f"{what}: HTTP {response.status_code}")
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderUnavailable(provider.name, f"{what}: no JSON object (HTTP {response.status_code})")
        return body

    async def discovery(self, provider: OidcProvider) -> dict[str, Any]:
        """The provider's metadata (``/.well-known/openid-configuration``), checked against its settings."""
        cached = self._discovery.get(provider.issuer)
        if cached is not None and self._fresh(cached):
            return cached[1]
        document = await self._get_json(provider, f"{provider.issuer}/.well-known/openid-configuration", "discovery")
        if document.get("issuer") != provider.issuer or not all(
            isinstance(document.get(key), str) for key in REQUIRED_ENDPOINTS
        ):
            # A misconfigured or impostor provider: as good as unreachable for the person signing in.
            raise ProviderUnavailable(provider.name, "discovery: issuer or endpoints do not match the settings")
        self._discovery[provider.issuer] = (time.monotonic(), document)
        return document

    async def keys(self, provider: OidcProvider, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (its JWKS)."""
        cached = self._keys.get(provider.issuer)
        if cached is not None and not refresh and self._fresh(cached):
            return cached[1]
        document = await self.discovery(provider)
        body = await self._get_json(provider, document["jwks_uri"], "jwks")
        try:
            key_set = KeySet.import_key_set(body)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderUnavailable(provider.name, "jwks: not a key set") from exc
        self._keys[provider.issuer] = (time.monotonic(), key_set)
        return key_set

    def authorization_url(
        self,
        provider: OidcProvider,
        document: dict[str, Any],
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        verifier: str,
    ) -> str:
        """Where the browser goes: the authorization endpoint with PKCE (S256), state and nonce."""
        client = self._client(provider, redirect_uri)
        url, _ = client.create_authorization_url(
            document["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
        return str(url)

    async def exchange(self, provider: OidcProvider, *, redirect_uri: str, code: str, verifier: str) -> dict[str, Any]:
        """Trade the authorization code (with the PKCE verifier) for the tokens at the token endpoint."""
        document = await self.discovery(provider)
        client = self._client(provider, redirect_uri)

        def unavailable_on_server_error(response: httpx.Response) -> httpx.Response:
            if response.status_code >= 500:
                log.warning("oidc token endpoint failed", provider=provider.name, status=response.status_code)
                raise ProviderUnavailable(provider.name, f"token: HTTP {response.status_code}")
            return response

        client.register_compliance_hook("access_token_response", unavailable_on_server_error)
        try:
            async with client:
                token: dict[str, Any] = await client.fetch_token(
                    document["token_endpoint"], grant_type="authorization_code", code=code, code_verifier=verifier
                )
        except OAuthError as exc:
            # invalid_grant: a code used before, expired, or not issued for this verifier.
            raise SignInRefused("token-refused", f"the token endpoint refused the code: {exc.error}") from exc
        except httpx.HTTPError as exc:
            log.warning("oidc token endpoint unreachable", provider=provider.name, error=repr(exc))
            raise ProviderUnavailable(provider.name, f"token: {type(exc).__name__}") from exc
        except ValueError as exc:  # a body that is no JSON
            raise ProviderUnavailable(provider.name, "token: no JSON answer") from exc
        return token

    def _client(self, provider: OidcProvider, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            scope=provider.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.timeout,
        )

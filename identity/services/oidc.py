"""Single sign-on with OpenID Connect: the authorization code flow with PKCE, the ID token's checks, and
linking a provider's account to an Allmende account.

The flow (issue 14, item 5):

1. :func:`begin` reads the provider's discovery document, makes ``state``, ``nonce`` and the PKCE
   verifier, keeps them in the browser's server-side session (``pending``, a plain dict the caller stores
   back) and returns the authorization URL.
2. The provider sends the browser back with ``code`` and ``state``. :func:`finish` takes the pending
   sign-in for that ``state`` out of the session (single use: a forged or replayed state finds nothing),
   trades the code for the tokens (with the verifier), checks the ID token (signature by the provider's
   JWKS, ``iss``, ``aud``, ``azp`` when there are several audiences, ``exp`` and ``iat`` with a small
   leeway, ``nonce``), and only then writes: it finds or links the account, maps the membership claim and
   starts the session.

Accounts are found by (provider, subject) in ``external_identity``. The first sign-in links an existing
account only by an address the provider vouches for (``email_verified``) and whose owner confirmed it here;
an unknown vouched-for address creates a confirmed account. A signed-in person links a provider
explicitly (``link``); a provider account linked to someone else is refused.

Nothing is written before every check passed; a refusal raises :class:`SignInRefused` or
:class:`ProviderUnavailable` and the caller records it with :func:`record_failure`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import Membership, User
from allmende.accounts.principal import Principal
from allmende.core.audit import record_audit, record_for
from allmende.core.problems import Conflict, NotFound
from allmende.core.settings import OidcProvider, Settings
from allmende.core.types import utcnow
from identity.models import ExternalIdentity, LoginSession
from identity.services import sessions
from identity.services.oidc_errors import REASONS, ProviderUnavailable, SignInRefused
from identity.services.oidc_http import OidcHttp

log = structlog.get_logger("allmende.oidc")

LEEWAY_SECONDS = 60  # clock skew allowed on exp and iat
PENDING_SECONDS = 600  # a sign-in must come back from the provider within ten minutes
MAX_PENDING = 5  # sign-ins started in one browser and not yet back (older ones are dropped)
SESSION_KEY = "oidc"
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
# The password hash of an account made by a provider: no password verifies against it (argon2 refuses
# the format), until the person sets one by a password reset.
NO_PASSWORD = "!no-password"  # noqa: S105 (a marker that matches no password)
PUBLIC_BODY_KEY = re.compile(r"^(\d{8}|\d{12})$")

__all__ = [
    "NO_PASSWORD",
    "REASONS",
    "SESSION_KEY",
    "Outcome",
    "ProviderUnavailable",
    "SignInRefused",
    "begin",
    "finish",
    "list_identities",
    "pending_of",
    "provider",
    "providers",
    "record_failure",
    "unlink",
    "with_pending",
]


# --- the configured providers -----------------------------------------------------------------------------


def providers(settings: Settings) -> tuple[OidcProvider, ...]:
    return settings.oidc_providers


def provider(settings: Settings, name: str) -> OidcProvider:
    for candidate in settings.oidc_providers:
        if candidate.name == name:
            return candidate
    raise SignInRefused("unknown-provider", f"no sign-in provider '{name[:40]}' is configured")


def redirect_uri(settings: Settings, chosen: OidcProvider) -> str:
    return f"{settings.base_url}/auth/oidc/{chosen.name}/callback"


# --- starting: state, nonce and the PKCE verifier, kept in the browser's session --------------------------


async def begin(
    http: OidcHttp,
    settings: Settings,
    name: str,
    pending: dict[str, Any],
    *,
    link_user: UUID | None = None,
    next_path: str = "",
) -> str:
    """The provider's authorization URL; the sign-in is added to ``pending`` (store it in the session)."""
    chosen = provider(settings, name)
    document = await http.discovery(chosen)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    now = time.time()
    for key in [k for k, v in pending.items() if not isinstance(v, dict) or now - v.get("at", 0) > PENDING_SECONDS]:
        del pending[key]
    while len(pending) >= MAX_PENDING:
        del pending[min(pending, key=lambda k: pending[k].get("at", 0))]
    pending[state] = {
        "provider": chosen.name,
        "nonce": nonce,
        "verifier": verifier,
        "link": str(link_user) if link_user else None,
        "next": next_path,
        "at": now,
    }
    return http.authorization_url(
        chosen, document, redirect_uri=redirect_uri(settings, chosen), state=state, nonce=nonce, verifier=verifier
    )


def pending_of(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The sign-ins started in this browser, from its session (a copy to change and store back)."""
    raw = (stored or {}).get(SESSION_KEY)
    return {k: dict(v) for k, v in raw.items() if isinstance(v, dict)} if isinstance(raw, dict) else {}


def with_pending(stored: Mapping[str, Any] | None, pending: dict[str, Any]) -> dict[str, Any]:
    """The session with ``pending`` in it (or without the key when nothing is pending)."""
    result = dict(stored or {})
    if pending:
        result[SESSION_KEY] = pending
    else:
        result.pop(SESSION_KEY, None)
    return result


def _take(pending: dict[str, Any], state: str, name: str) -> dict[str, Any]:
    """The pending sign-in of ``state``, removed: each state is good for one callback."""
    flow = pending.pop(state, None) if state else None
    if not isinstance(flow, dict) or flow.get("provider") != name:
        raise SignInRefused("state", "no sign-in with this state was started in this browser")
    if time.time() - float(flow.get("at", 0)) > PENDING_SECONDS:
        raise SignInRefused("state", "the sign-in took too long; start again")
    return flow


# --- the ID token -----------------------------------------------------------------------------------------


async def _verified_claims(http: OidcHttp, chosen: OidcProvider, id_token: Any, nonce: str) -> dict[str, Any]:
    if not isinstance(id_token, str) or not id_token:
        raise SignInRefused("id-token", "the provider sent no ID token", check="missing")
    try:
        try:
            token = jwt.decode(id_token, await http.keys(chosen), algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            # A key id we do not know yet: the provider may have rotated its keys.
            token = jwt.decode(id_token, await http.keys(chosen, refresh=True), algorithms=ALGORITHMS)
    except (BadSignatureError, InvalidKeyIdError) as exc:
        raise SignInRefused("id-token", "the ID token's signature does not verify", check="signature") from exc
    except (JoseError, ValueError) as exc:
        raise SignInRefused("id-token", "the ID token is malformed", check="format") from exc
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": chosen.issuer},
        aud={"essential": True, "value": chosen.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError as exc:
        raise SignInRefused("id-token", "the ID token has expired", check="exp") from exc
    except ClaimError as exc:
        raise SignInRefused("id-token", f"the ID token's '{exc.claim}' is wrong", check=exc.claim) from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != chosen.client_id:
        raise SignInRefused("id-token", "the ID token's 'azp' is not this client", check="azp")
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
        raise SignInRefused("id-token", "the ID token's 'sub' is not a usable subject", check="sub")
    return claims


# --- finishing: the account, the membership claim, the session --------------------------------------------


@dataclass
class Outcome:
    """What a successful callback did."""

    user: User
    provider: OidcProvider
    linking: bool  # an explicit link by a signed-in person (no new session)
    login: LoginSession | None = None  # the new session of a sign-in
    created: bool = False  # a new account was made for a vouched-for address
    linked: bool = False  # the provider account was linked just now
    memberships: list[str] = field(default_factory=list)  # organizations joined through the membership claim
    next_path: str = ""


def _email_of(claims: Mapping[str, Any]) -> tuple[str | None, bool]:
    raw = claims.get("email")
    email = accounts.normalize_email(raw) if isinstance(raw, str) and "@" in raw and len(raw) <= 254 else None
    return email, email is not None and claims.get("email_verified") is True


async def finish(
    session: AsyncSession,
    http: OidcHttp,
    settings: Settings,
    name: str,
    pending: dict[str, Any],
    params: Mapping[str, str],
    *,
    principal: Principal,
    device: str,
) -> Outcome:
    """Complete the callback with the provider's ``params`` (code, state, iss, or error)."""
    chosen = provider(settings, name)
    flow = _take(pending, params.get("state", ""), chosen.name)
    if params.get("error"):
        raise SignInRefused("provider-error", f"the provider answered '{params['error'][:100]}'")
    if params.get("iss") and params["iss"] != chosen.issuer:  # RFC 9207: a response of another provider
        raise SignInRefused("state", "the answer came from another issuer")
    if not params.get("code"):
        raise SignInRefused("provider-error", "the provider sent no authorization code")
    tokens = await http.exchange(
        chosen, redirect_uri=redirect_uri(settings, chosen), code=params["code"], verifier=flow["verifier"]
    )
    claims = await _verified_claims(http, chosen, tokens.get("id_token"), flow["nonce"])
    subject = str(claims["sub"])
    email, vouched = _email_of(claims)

    identity = (
        await session.exec(
            select(ExternalIdentity).where(
                ExternalIdentity.provider == chosen.name, ExternalIdentity.subject == subject
            )
        )
    ).first()
    if flow.get("link"):
        user = principal.user
        if user is None or str(user.uuid) != flow["link"]:
            raise SignInRefused("link-session", "the signed-in person changed while linking")
        if identity is not None and identity.user_id != user.id:
            raise SignInRefused("identity-taken", "this provider account is linked to another Allmende account")
        outcome = Outcome(user=user, provider=chosen, linking=True, next_path=flow.get("next") or "")
    else:
        outcome = await _account_for(session, chosen, identity, email, vouched, claims)
        outcome.next_path = flow.get("next") or ""
    user = outcome.user
    if identity is None:
        identity = ExternalIdentity(provider=chosen.name, subject=subject, user_id=user.id or 0)
        outcome.linked = True
    identity.email = email
    identity.last_used_at = utcnow()
    session.add(identity)
    await session.flush()
    if outcome.linked:
        record_audit(
            session,
            action="oidc.link",
            record_type="user",
            record_uuid=user.uuid,
            actor_user_id=user.id,
            data={
                "provider": chosen.name,
                "subject": subject,
                "by": "explicit" if outcome.linking else ("new-account" if outcome.created else "verified-email"),
            },
        )
    outcome.memberships = await _map_membership(session, chosen, user, claims)
    if not outcome.linking:
        outcome.login = await sessions.start(session, user, method=f"oidc:{chosen.name}", device=device)
    return outcome


async def _account_for(
    session: AsyncSession,
    chosen: OidcProvider,
    identity: ExternalIdentity | None,
    email: str | None,
    vouched: bool,
    claims: Mapping[str, Any],
) -> Outcome:
    if identity is not None:
        user = await session.get(User, identity.user_id)
        if user is None or not user.is_active or user.deleted_at is not None:
            raise SignInRefused("account-inactive", "the linked account is deactivated")
        return Outcome(user=user, provider=chosen, linking=False)
    if not vouched or email is None:
        raise SignInRefused(
            "email-unverified", "the provider does not vouch for the e-mail address, so no account is linked"
        )
    user = await accounts.get_user_by_email(session, email)
    if user is not None:
        if user.email_confirmed_at is None:
            raise SignInRefused(
                "email-unconfirmed", "the account with this address was never confirmed, so it is not linked"
            )
        if not user.is_active or user.deleted_at is not None:
            raise SignInRefused("account-inactive", "the account with this address is deactivated")
        return Outcome(user=user, provider=chosen, linking=False)
    raw_name = claims.get("name")
    name = raw_name.strip()[:200] if isinstance(raw_name, str) and raw_name.strip() else email
    now = utcnow()
    user = await accounts.add_user(
        session,
        User(email=email, display_name=name, password_hash=NO_PASSWORD, email_confirmed_at=now),
        action="user.create",
        how={"method": f"oidc:{chosen.name}"},
    )
    return Outcome(user=user, provider=chosen, linking=False, created=True)


async def _map_membership(
    session: AsyncSession, chosen: OidcProvider, user: User, claims: Mapping[str, Any]
) -> list[str]:
    """Memberships in the public bodies the membership claim names (AGS or ARS), verified: the Land's
    provider vouches for them. Existing memberships stay as they are; unknown keys are logged and ignored."""
    if not chosen.membership_claim:
        return []
    raw = claims.get(chosen.membership_claim)
    values = [raw] if isinstance(raw, str) else [v for v in raw if isinstance(v, str)] if isinstance(raw, list) else []
    joined: list[str] = []
    for value in values[:50]:
        key = value.strip().rsplit("/", 1)[-1]  # a group path such as "/kommunen/01002000" names its key last
        organization = await accounts.find_by_key(session, key) if PUBLIC_BODY_KEY.fullmatch(key) else None
        if organization is None:
            log.info("oidc membership claim names no public body", provider=chosen.name, value=value[:100])
            continue
        existing = (
            await session.exec(
                select(Membership).where(Membership.user_id == user.id, Membership.organization_id == organization.id)
            )
        ).first()
        if existing is not None:
            continue
        session.add(
            Membership(
                user_id=user.id or 0,
                organization_id=organization.id or 0,
                role=chosen.membership_role,
                verified_at=utcnow(),
            )
        )
        await session.flush()
        record_audit(
            session,
            action="membership.add",
            record_type="organization",
            record_uuid=organization.uuid,
            actor_user_id=user.id,
            reason=f"vouched for by the sign-in provider '{chosen.name}'",
            data={
                "user": str(user.uuid),
                "role": chosen.membership_role,
                "provider": chosen.name,
                "claim": chosen.membership_claim,
                "value": value[:100],
            },
        )
        joined.append(organization.slug)
    return joined


def record_failure(
    session: AsyncSession,
    principal: Principal | None,
    name: str,
    problem: SignInRefused | ProviderUnavailable,
) -> None:
    """The audit event of a refused or failed sign-in (the caller commits it without anything else)."""
    data: dict[str, Any] = {"provider": name[:40], "reason": problem.reason}
    if isinstance(problem, SignInRefused) and problem.check:
        data["check"] = problem.check
    if isinstance(problem, ProviderUnavailable):
        data["what"] = problem.what
    record_for(
        session,
        principal,
        action="oidc.sign_in_failed",
        record_type="user",
        record_uuid=principal.user.uuid if principal and principal.user else None,
        reason=problem.detail,
        data=data,
    )


# --- the signed-in person's linked providers ------------------------------------------------------------


async def list_identities(session: AsyncSession, principal: Principal) -> list[ExternalIdentity]:
    user = principal.require_user()
    rows = await session.exec(
        select(ExternalIdentity)
        .where(ExternalIdentity.user_id == user.id)
        .order_by(col(ExternalIdentity.provider), col(ExternalIdentity.id))
    )
    return list(rows)


async def unlink(session: AsyncSession, principal: Principal, name: str) -> None:
    """Remove the link to a provider. An account without a password keeps its last provider: otherwise
    nobody could sign in to it any more (a password reset sets one first)."""
    user = principal.require_user()
    identities = await list_identities(session, principal)
    gone = [i for i in identities if i.provider == name]
    if not gone:
        raise NotFound(f"no sign-in provider '{name[:40]}' is linked to this account", field="provider")
    if user.password_hash == NO_PASSWORD and len(identities) == len(gone):
        raise Conflict(
            "this is the only way to sign in to the account; set a password (password reset) first",
            field="provider",
            extra={"reason": "last-sign-in"},
        )
    for identity in gone:
        await session.delete(identity)
    await session.flush()
    record_for(
        session,
        principal,
        action="oidc.unlink",
        record_type="user",
        record_uuid=user.uuid,
        data={"provider": name, "subjects": [i.subject for i in gone]},
    )

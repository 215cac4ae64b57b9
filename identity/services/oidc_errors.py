"""Why a single sign-on did not happen: one reason per case, each its own status.

The reason is the ``reason`` member of the problem (``application/problem+json``), the audit event's
reason, and the key by which the pages pick their German explanation.
"""

from __future__ import annotations

from allmende.core.problems import Problem, ServiceUnavailable

# reason -> HTTP status
REASONS: dict[str, int] = {
    "unknown-provider": 404,
    "state": 400,  # no such sign-in in this browser: forged, used before, expired, or another browser's
    "provider-error": 400,  # the provider sent the browser back with an error (e.g. access_denied)
    "token-refused": 400,  # the token endpoint refused the code: replayed, expired, wrong PKCE verifier
    "id-token": 401,  # signature, issuer, audience, azp, expiry, issued-at or nonce of the ID token
    "email-unverified": 409,  # no linked account, and the provider does not vouch for the address
    "email-unconfirmed": 409,  # the matching account's owner never confirmed the address
    "identity-taken": 409,  # linking: this provider account belongs to another Allmende account
    "account-inactive": 403,  # the linked account is deactivated or deleted
    "link-session": 403,  # linking: the browser's signed-in person changed during the round trip
}


class SignInRefused(Problem, type_slug="sign-in-refused"):
    """The sign-in through a provider was refused; ``reason`` says why (see REASONS)."""

    def __init__(self, reason: str, detail: str, *, check: str | None = None) -> None:
        extra: dict[str, str] = {"reason": reason}
        if check:
            extra["check"] = check
        super().__init__(detail, status=REASONS[reason], extra=extra)
        self.reason = reason
        self.check = check  # for "id-token": which check failed (nonce, aud, exp, signature …)


class ProviderUnavailable(ServiceUnavailable, type_slug="identity-provider-unavailable"):
    """The provider could not be reached, timed out or failed (5xx) on discovery, token or keys."""

    reason = "unavailable"

    def __init__(self, provider: str, what: str) -> None:
        super().__init__(
            f"the sign-in service '{provider}' is not reachable right now; please try again later",
            headers={"Retry-After": "30"},
            extra={"reason": self.reason, "provider": provider},
        )
        self.what = what

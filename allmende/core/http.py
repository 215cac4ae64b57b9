"""HTTP plumbing shared by every route: request ids, access logs, security headers, body limits, CSRF,
content types."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from allmende.core.bodylimits import BodyLimitsMiddleware
from allmende.core.problems import Problem

access_log = structlog.get_logger("allmende.access")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Pages get a strict policy: everything from this origin only, nothing inline but styles' attributes.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"


class RequestContextMiddleware:
    """Gives every request an id (taken from ``X-Request-ID`` if sane), logs it, and adds security headers.

    Right inside it, before the session and CSRF middleware read anything, ``BodyLimitsMiddleware`` checks
    JSON and form bodies (UTF-8, nesting depth, 64-bit integers), so hostile bodies are 4xx, never 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = BodyLimitsMiddleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isascii() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder: dict[str, int] = {}
        path: str = scope["path"]
        is_api = path.startswith(("/api/", "/federation/", "/schema"))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = MutableScopeHeaders.from_message(message)
                headers["X-Request-ID"] = request_id
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
                headers.setdefault("Content-Security-Policy", API_CSP if is_api else PAGE_CSP)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            access_log.info(
                "request",
                method=scope.get("method"),
                path=path,
                status=status_holder.get("status"),
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.unbind_contextvars("request_id")


class TokenAwareCSRFMiddleware(CSRFMiddleware):
    """CSRF protection for cookie sessions; requests that carry a bearer token skip it.

    A browser never attaches an Authorization header by itself, and a cross-site page cannot add one
    without a CORS preflight this app does not answer, so such a request cannot be forged. When a
    bearer token is present the principal comes from the token alone; any session cookie is ignored.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            authorization = dict(scope["headers"]).get(b"authorization", b"")
            if authorization.lower().startswith(b"bearer "):
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def csrf_config(secret: str, *, secure: bool) -> CSRFConfig:
    # Federation requests are signed instead; search is read-only and public, and skipping the cookie
    # keeps search-as-you-type cheap.
    return CSRFConfig(
        secret=secret, cookie_secure=secure, cookie_samesite="lax", exclude=["/federation/", "/api/v1/search"]
    )


JSON_TYPES = {"application/json", "application/merge-patch+json"}


async def require_json_body(request: Request[Any, Any, Any]) -> None:
    """API writes take JSON only; anything else is a 415 instead of a confusing validation error."""
    if request.method not in {"POST", "PUT", "PATCH"} or not request.url.path.startswith("/api/"):
        return
    length = request.headers.get("content-length")
    if length == "0" and "content-type" not in request.headers:
        return
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise Problem(
            f"send the body as application/json, not '{content_type or 'nothing'}'",
            field="Content-Type",
            status=415,
            type_slug="unsupported-media-type",
        )

"""RFC 9457 problem details for every error the API gives.

Services raise ``Problem`` (or a subclass); the handlers here turn it, Litestar's own exceptions and
anything unexpected into ``application/problem+json`` that names the offending field.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from pydantic import ValidationError
from sqlalchemy.orm.exc import StaleDataError

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("allmende.problems")


class Problem(Exception):
    """An error a client can act on. ``field`` names the offending input, if there is one.

    A subclass fixes its status and type in its header: ``class NotFound(Problem, status=404, …)``."""

    status = 400
    type_slug = "bad-request"

    def __init_subclass__(cls, *, status: int | None = None, type_slug: str | None = None) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status = status
        if type_slug is not None:
            cls.type_slug = type_slug

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        status: int | None = None,
        type_slug: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if status is not None:
            self.status = status
        if type_slug is not None:
            self.type_slug = type_slug
        self.errors = errors or ([{"field": field, "detail": detail}] if field else [])
        self.headers = headers or {}
        self.extra = extra or {}


class NotFound(Problem, status=404, type_slug="not-found"):
    """The record does not exist, or the caller may not know that it does."""


class Forbidden(Problem, status=403, type_slug="forbidden"):
    """The caller is known but may not do this."""


class Unauthorized(Problem, status=401, type_slug="unauthorized"):
    """The caller must sign in (or send a token) first."""


class Conflict(Problem, status=409, type_slug="conflict"):
    """The request contradicts what is stored: a taken slug, a step the state does not allow."""


class InvalidInput(Problem, status=422, type_slug="invalid-input"):
    """The body or a parameter breaks a rule; ``field`` names it."""


def invalid_input_from(exc: ValidationError) -> InvalidInput:
    """A pydantic ValidationError raised inside a service, as a 422 naming every offending field."""
    fields = [(".".join(str(p) for p in e["loc"]) or "body", e["msg"]) for e in exc.errors()]
    errors = [{"field": name, "detail": message} for name, message in fields]
    return InvalidInput(f"{fields[0][0]}: {fields[0][1]}", field=fields[0][0], errors=errors)


class PreconditionFailed(Problem, status=412, type_slug="precondition-failed"):
    """If-Match names a version that is no longer current."""


class PreconditionRequired(Problem, status=428, type_slug="precondition-required"):
    """A guarded write came without If-Match."""


class ServiceUnavailable(Problem, status=503, type_slug="service-unavailable"):
    """A backing service (database, Redis, search) is down; the client retries later."""


def problem_response(
    request: Request[Any, Any, Any] | None,
    *,
    status: int,
    type_slug: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"/problems/{type_slug}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = request.scope.get("state", {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
    if errors:
        body["errors"] = errors
        first_field = next((e.get("field") for e in errors if e.get("field")), None)
        if first_field:
            body["field"] = first_field
    if extra:
        body.update(extra)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers or {})


def _problem_handler(request: Request[Any, Any, Any], exc: Problem) -> Response[dict[str, Any]]:
    return problem_response(
        request,
        status=exc.status,
        type_slug=exc.type_slug,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


def _field_name(key: Any) -> str:
    return str(key) if key not in (None, "") else "body"


def _validation_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            errors.append(
                {
                    "field": _field_name(item.get("key")),
                    "source": item.get("source"),
                    "detail": str(item.get("message", "invalid")),
                }
            )
    detail = str(exc.detail or "Validation failed")
    if errors:
        names = ", ".join(dict.fromkeys(e["field"] for e in errors))
        detail = f"Invalid input in: {names}"
        status, slug = 422, "invalid-input"
    else:
        # No field to blame: the body itself could not be read (malformed JSON and the like).
        status, slug = 400, "malformed-request"
        errors = [{"field": "body", "detail": detail}]
    return problem_response(request, status=status, type_slug=slug, detail=detail, errors=errors)


def _http_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    slug = HTTPStatus(status).phrase.lower().replace(" ", "-")
    headers = dict(exc.headers or {})
    # Litestar's own 400s come from reading the request body (malformed JSON and the like).
    errors = [{"field": "body", "detail": str(exc.detail)}] if status == 400 else None
    return problem_response(
        request, status=status, type_slug=slug, detail=str(exc.detail), headers=headers, errors=errors
    )


def _internal_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", exc_info=exc, path=request.url.path)
    return problem_response(
        request, status=500, type_slug="internal-error", detail="An unexpected error occurred. It has been logged."
    )


# public names for the handlers other core modules compose (allmende.core.outages)
problem_handler = _problem_handler
internal_error = _internal_handler

exception_handlers: ExceptionHandlersMap = {
    Problem: _problem_handler,
    ValidationException: _validation_handler,
    HTTPException: _http_handler,
    # A version-conditioned UPDATE that matched no row: another writer won the race (issue 12). The
    # sessions of ``Database`` raise PreconditionFailed themselves; this catches any other session.
    StaleDataError: lambda request, _exc: _problem_handler(
        request,
        PreconditionFailed("the record has changed since you read it; read it again and retry", field="If-Match"),
    ),
    Exception: _internal_handler,
}

__all__ = ["PROBLEM_JSON", "MediaType", "Problem", "exception_handlers", "problem_response"]

"""Error pages: German HTML instead of problem+json for people in a browser.

The web router renders every error of its own routes as a page. For URLs that match no route at all,
``html_aware`` wraps the app's problem+json handlers: a browser (``Accept: text/html``) asking for a
page outside ``/api``, ``/federation`` and ``/schema`` gets the page, every other client the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException, ValidationException
from litestar.types import ExceptionHandlersMap

from allmende.core.outages import outage_problem
from allmende.core.problems import Problem
from allmende.web.kit import i18n
from allmende.web.kit.i18n import gettext
from allmende.web.kit.render import Page, locale_of, login_redirect, page
from allmende.web.kit.viewer import SignInRequired, Viewer

log = structlog.get_logger("allmende.web")
MACHINE_PREFIXES = ("/api/", "/federation/", "/schema", "/healthz", "/readyz", "/static/")


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Page:
    i18n.activate(locale_of(request))
    status = 500
    if not isinstance(exc, Problem | HTTPException):
        exc = outage_problem(exc) or exc  # a database or Redis outage is a 503, not a 500
    if isinstance(exc, Problem):
        status = exc.status
    elif isinstance(exc, HTTPException):
        status = exc.status_code
    session: Any = request.scope.get("session")
    signed_in = isinstance(session, dict) and bool(session.get("user"))
    title, message = _words(status, exc)
    if status >= 500 and status != 503:
        log.exception("page error", exc_info=exc, path=request.url.path)
    headers = {}
    if isinstance(exc, Problem) and exc.headers:
        headers.update(exc.headers)
    return page(
        "kit/error.html",
        {"viewer": Viewer(), "status": status, "title": title, "message": message, "error_signed_in": signed_in},
        status=status,
        headers=headers,
    )


def _words(status: int, exc: Exception) -> tuple[str, str]:
    if status == 404:
        return (
            gettext("Seite nicht gefunden"),
            gettext(
                "Diese Seite gibt es nicht (mehr). Vielleicht hat sich die Adresse geändert, "
                "oder die Lösung wurde noch nicht veröffentlicht."
            ),
        )
    if status == 403 and isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        return (
            gettext("Formular abgelaufen"),
            gettext(
                "Das Formular konnte nicht sicher zugeordnet werden (CSRF-Schutz). "
                "Bitte laden Sie die Seite neu und senden Sie es noch einmal."
            ),
        )
    if status == 403:
        return gettext("Kein Zugriff"), gettext("Dazu fehlt Ihnen die Berechtigung.")
    if status == 401 or isinstance(exc, NotAuthorizedException):
        return gettext("Anmeldung erforderlich"), gettext("Bitte melden Sie sich an, um diese Seite zu sehen.")
    if status == 405:
        return gettext("Nicht möglich"), gettext("Diese Aktion ist auf dieser Seite nicht vorgesehen.")
    if status == 429:
        return gettext("Zu viele Anfragen"), gettext("Bitte warten Sie einen Moment und versuchen Sie es erneut.")
    if status == 503:
        return (
            gettext("Kurz nicht erreichbar"),
            gettext(
                "Ein Teil der Plattform ist gerade nicht erreichbar, zum Beispiel während eines Neustarts. "
                "Bitte versuchen Sie es in einigen Sekunden erneut."
            ),
        )
    if status < 500:
        return gettext("Ungültige Anfrage"), gettext("Die Anfrage enthält Angaben, die wir nicht verarbeiten können.")
    return (
        gettext("Ein Fehler ist aufgetreten"),
        gettext("Das hat nicht geklappt. Der Fehler wurde protokolliert; bitte versuchen Sie es später erneut."),
    )


def sign_in_first(request: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    """The answer to every page a signed-in router's guard refused: the sign-in, then back."""
    response: Response[Any] = login_redirect(request, back=exc.back)
    return response


PAGE_HANDLERS: ExceptionHandlersMap = {
    SignInRequired: sign_in_first,
    Problem: error_page,
    ValidationException: error_page,
    HTTPException: error_page,
    Exception: error_page,
}


def _wants_page(request: Request[Any, Any, Any]) -> bool:
    if request.url.path.startswith(MACHINE_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def html_aware(handlers: Mapping[Any, Callable[..., Response[Any]]]) -> ExceptionHandlersMap:
    """The app's handlers, answering browsers that asked for a page with the German error page."""

    def wrap(handler: Callable[..., Response[Any]]) -> Callable[..., Response[Any]]:
        def choose(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
            if _wants_page(request):
                return error_page(request, exc)
            return handler(request, exc)

        return choose

    return {key: wrap(handler) for key, handler in handlers.items()}

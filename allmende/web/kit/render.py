"""Rendering pages: the Jinja environment, the page response, redirects with a notice, and cookies.

Every page is a :class:`Page` (a Litestar ``Template``). Right before rendering it activates the
request's locale, sets the language cookie when ``?lang=`` asked for one, consumes a one-time notice
cookie, and adds what the layout needs (language links, the comparison tray, the notice).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import MediaType, Request
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from markupsafe import Markup, escape

from allmende.web.kit import formatting, i18n
from allmende.web.kit.i18n import N_
from allmende.web.kit.viewer import Viewer

TEMPLATES = Path(__file__).parent.parent / "templates"
LANG_COOKIE = "lang"
NOTICE_COOKIE = "hinweis"
COMPARE_COOKIE = "vergleich"
MAX_COMPARE = 4
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# One-time notices after a redirect (post/redirect/get): the cookie carries only the key.
NOTICES: dict[str, tuple[str, str]] = {
    "signed-in": ("success", N_("Sie sind angemeldet.")),
    "signed-out": ("success", N_("Sie sind abgemeldet.")),
    "second-factor-off": ("success", N_("Die Zwei-Faktor-Anmeldung ist ausgeschaltet.")),
    "compare-added": ("success", N_("Die Lösung steht jetzt auf Ihrer Vergleichsliste.")),
    "compare-removed": ("success", N_("Die Lösung wurde von der Vergleichsliste entfernt.")),
    "compare-full": ("error", N_("Sie können höchstens vier Lösungen vergleichen. Entfernen Sie zuerst eine.")),
    "compare-unknown": ("error", N_("Diese Lösung gibt es nicht im Katalog.")),
    "created": ("success", N_("Der Entwurf wurde angelegt. Reichen Sie ihn ein, wenn er fertig ist.")),
    "saved": ("success", N_("Ihre Änderungen wurden gespeichert.")),
    "submitted": ("success", N_("Die Lösung wurde zur Prüfung eingereicht.")),
    "published": ("success", N_("Die Lösung ist veröffentlicht.")),
    "changes-requested": ("success", N_("Die Änderungswünsche wurden an den Anbieter geschickt.")),
    "archived": ("success", N_("Die Lösung wurde archiviert.")),
    "claimed": ("success", N_("Die Nutzung wurde als Referenz eingetragen.")),
    "withdrawn": ("success", N_("Die Referenz wurde zurückgezogen.")),
    "stale": ("error", N_("Der Eintrag wurde inzwischen geändert. Bitte prüfen Sie ihn und versuchen Sie es erneut.")),
    "not-allowed": ("error", N_("Dazu fehlt Ihnen die Berechtigung.")),
    "own-organization": (
        "error",
        N_("Lösungen der eigenen Organisation prüfen andere Moderatorinnen und Moderatoren (Vier-Augen-Prinzip)."),
    ),
    "wrong-state": ("error", N_("Das ist im aktuellen Bearbeitungsstand nicht möglich.")),
    "guide-created": ("success", N_("Der Leitfaden wurde als Entwurf angelegt.")),
    "guide-saved": ("success", N_("Der Leitfaden wurde als neue Version gespeichert.")),
    "guide-restored": ("success", N_("Die ältere Version wurde als neue Version wiederhergestellt.")),
    "guide-published": ("success", N_("Der Leitfaden ist veröffentlicht.")),
    "request-created": (
        "success",
        N_("Der Entwurf der Anfrage ist gespeichert. Versenden Sie ihn, wenn er fertig ist."),
    ),
    "request-opened": ("success", N_("Die Anfrage ist versandt. Die Anbieter wurden benachrichtigt.")),
    "request-withdrawn": ("success", N_("Die Anfrage wurde zurückgezogen.")),
    "bundle-joined": ("success", N_("Ihre Stelle macht jetzt bei dieser Anfrage mit.")),
    "bundle-changed": ("success", N_("Ihre Mengen wurden geändert.")),
    "bundle-left": ("success", N_("Ihre Stelle ist aus dem Bündel ausgetreten.")),
    "offer-submitted": ("success", N_("Ihr Angebot ist abgegeben.")),
    "offer-revised": ("success", N_("Ihr Angebot ist überarbeitet; die frühere Fassung bleibt erhalten.")),
    "decided": ("success", N_("Die Entscheidung ist gespeichert. Die Beteiligten wurden benachrichtigt.")),
    "accepted": ("success", N_("Sie haben das bevorzugte Angebot für Ihre Stelle angenommen.")),
    "declined": ("success", N_("Sie haben das bevorzugte Angebot für Ihre Stelle abgelehnt.")),
    "message-sent": ("success", N_("Ihre Nachricht wurde gesendet.")),
    "inbox-read": ("success", N_("Die Benachrichtigung ist als gelesen markiert.")),
    "inbox-all-read": ("success", N_("Alle Benachrichtigungen sind als gelesen markiert.")),
    # the account (issue 14)
    "email-confirmed": ("success", N_("Ihre E-Mail-Adresse ist bestätigt. Sie können sich jetzt anmelden.")),
    "email-changed": ("success", N_("Ihre neue E-Mail-Adresse gilt ab sofort.")),
    "password-reset": ("success", N_("Ihr neues Passwort gilt. Bitte melden Sie sich damit an.")),
    "account-saved": ("success", N_("Ihre Angaben wurden gespeichert.")),
    "email-change-sent": (
        "success",
        N_("Wir haben einen Bestätigungslink an die neue Adresse geschickt. Bis zur Bestätigung gilt die bisherige."),
    ),
    "password-changed": ("success", N_("Ihr Passwort wurde geändert. Ihre anderen Sitzungen sind beendet.")),
    "session-ended": ("success", N_("Die Sitzung wurde beendet.")),
    "session-gone": ("error", N_("Diese Sitzung war bereits beendet.")),
    "sessions-ended": ("success", N_("Alle anderen Sitzungen wurden beendet.")),
    "account-deleted": ("success", N_("Ihr Konto wurde gelöscht.")),
    # issue 14: organizations join the platform
    "claim-filed": (
        "success",
        N_("Ihr Antrag ist gestellt. Die Moderation prüft ihn; bis dahin können Sie Entwürfe vorbereiten."),
    ),
    "claim-verified": ("success", N_("Der Antrag ist bestätigt. Die Person wurde benachrichtigt.")),
    "claim-rejected": ("success", N_("Der Antrag ist abgelehnt. Die Person wurde benachrichtigt.")),
    "own-organization-claim": (
        "error",
        N_("Anträge für die eigene Organisation prüfen andere Moderatorinnen und Moderatoren (Vier-Augen-Prinzip)."),
    ),
    "invitation-sent": ("success", N_("Die Einladung ist per E-Mail unterwegs.")),
    "invitation-revoked": ("success", N_("Die Einladung wurde zurückgezogen; ihr Link gilt nicht mehr.")),
    "invitation-accepted": ("success", N_("Willkommen! Sie gehören jetzt zur Organisation.")),
    "role-changed": ("success", N_("Die Rolle wurde geändert.")),
    "member-removed": ("success", N_("Das Mitglied wurde entfernt.")),
    "left": ("success", N_("Sie haben die Organisation verlassen.")),
    "last-owner": (
        "error",
        N_(
            "Eine Organisation behält mindestens eine Inhaberin oder einen Inhaber. "
            "Ernennen Sie zuerst eine andere Person."
        ),
    ),
    "guide-stale": (
        "error",
        N_("Der Leitfaden wurde inzwischen geändert. Bitte prüfen Sie die Versionen und versuchen Sie es erneut."),
    ),
}

STATE_LABELS = {
    "draft": N_("Entwurf"),
    "submitted": N_("Zur Prüfung eingereicht"),
    "changes_requested": N_("Änderungen erbeten"),
    "published": N_("Veröffentlicht"),
    "archived": N_("Archiviert"),
}
PENDING_LABELS = {
    "draft": N_("Änderung als Entwurf"),
    "submitted": N_("Änderung in Prüfung"),
    "changes_requested": N_("Änderungen an der Änderung erbeten"),
}


def locale_of(request: Request[Any, Any, Any]) -> str:
    return (
        i18n.normalize(request.query_params.get("lang"))
        or i18n.normalize(request.cookies.get(LANG_COOKIE))
        or i18n.DEFAULT_LOCALE
    )


def compare_list(request: Request[Any, Any, Any]) -> list[str]:
    """The slugs on the visitor's comparison list (a cookie; at most four, each a valid slug)."""
    raw = request.cookies.get(COMPARE_COOKIE, "")
    slugs = [s for s in raw.split(".") if SLUG_RE.fullmatch(s) and len(s) <= 100]
    return list(dict.fromkeys(slugs))[:MAX_COMPARE]


def compare_url(slugs: Iterable[str]) -> str:
    query = urlencode([("l", s) for s in slugs])
    return f"/vergleich?{query}" if query else "/vergleich"


def query_pairs(request: Request[Any, Any, Any]) -> list[tuple[str, str]]:
    """The query string's parameters in the order the URL has them."""
    return parse_qsl(request.url.query, keep_blank_values=True)[:500]


def url_with(request: Request[Any, Any, Any], **changes: str | None) -> str:
    """The current URL with some query parameters replaced (None removes one)."""
    pairs = [(k, v) for k, v in query_pairs(request) if k not in changes]
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    query = urlencode(pairs)
    return f"{request.url.path}?{query}" if query else request.url.path


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: ``/x`` yes, ``//evil.example`` or ``https://…`` no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


async def provide_locale(request: Request[Any, Any, Any]) -> None:
    """``before_request`` of the web router: Python code in handlers translates in the request's locale."""
    i18n.activate(locale_of(request))


def login_redirect(request: Request[Any, Any, Any], back: str = "/") -> Redirect:
    """Send an anonymous visitor to the sign-in and afterwards back where they were.

    A GET comes back to itself. A form's POST (typically a session that ran out while the form was open)
    cannot be repeated by the GET that follows the sign-in (it would meet a 405), so it returns to the page
    the form was on: the same-site Referer, which the app's Referrer-Policy keeps for same-origin requests,
    else ``back``."""
    if request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = _same_site_referer(request) or back
    return redirect(f"/anmelden?next={quote(safe_next(target), safe='/')}")


def _same_site_referer(request: Request[Any, Any, Any]) -> str | None:
    parts = urlsplit(request.headers.get("referer", ""))
    if parts.scheme not in ("http", "https") or parts.netloc != request.url.netloc:
        return None
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class Page(Template):
    """A page response: sets the locale and the cookies of the request, then renders."""

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **kwargs: Any) -> Any:
        locale = locale_of(request)
        i18n.activate(locale)
        wanted = i18n.normalize(request.query_params.get("lang"))
        if wanted and wanted != request.cookies.get(LANG_COOKIE):
            self.cookies.append(
                Cookie(key=LANG_COOKIE, value=wanted, path="/", max_age=365 * 24 * 3600, samesite="lax", httponly=True)
            )
        if request.cookies.get(NOTICE_COOKIE):
            self.cookies.append(Cookie(key=NOTICE_COOKIE, value="", path="/", max_age=0, samesite="lax", httponly=True))
        self.headers.setdefault("Cache-Control", "no-store")
        self.headers.setdefault("Vary", "Cookie")
        return super().to_asgi_response(app, request, **kwargs)

    def create_template_context(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        context = super().create_template_context(request)
        locale = i18n.current()
        context.setdefault("viewer", Viewer())
        notice_key = request.cookies.get(NOTICE_COOKIE, "")
        notice = NOTICES.get(notice_key)
        compared = compare_list(request)
        context.update(
            lang=locale,
            other_langs=[(code, i18n.LOCALE_NAMES[code], url_with(request, lang=code)) for code in i18n.LOCALES],
            notice=(notice[0], i18n.gettext(notice[1])) if notice else None,
            compared=compared,
            compare_link=compare_url(compared),
            current_path=request.url.path,
            current_url=url_with(request),
        )
        return context


def page(
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Page:
    return Page(
        template_name=template,
        context=dict(context or {}),
        status_code=status,
        headers=headers or {},
        media_type=MediaType.HTML,
    )


def forbidden(viewer: Viewer, message: str) -> Page:
    """The 403 page with a German explanation of who may use the page."""
    return page(
        "kit/error.html",
        {"viewer": viewer, "status": 403, "title": i18n.gettext("Kein Zugriff"), "message": message},
        status=403,
    )


def not_found(viewer: Viewer, message: str, *, links: Iterable[tuple[str, str]] = (), query: str = "") -> Page:
    """A helpful 404: what is missing, where to look instead, and a search for the address's words."""
    return page(
        "kit/error.html",
        {
            "viewer": viewer,
            "status": 404,
            "title": i18n.gettext("Seite nicht gefunden"),
            "message": message,
            "links": list(links),
            "query": query,
        },
        status=404,
    )


def redirect(path: str, notice: str | None = None, *, cookies: list[Cookie] | None = None) -> Redirect:
    """303 See Other to a same-site path, optionally with a one-time notice shown there."""
    jar = list(cookies or [])
    if notice is not None:
        assert notice in NOTICES, notice
        jar.append(Cookie(key=NOTICE_COOKIE, value=notice, path="/", max_age=120, samesite="lax", httponly=True))
    return Redirect(path=safe_next(path), status_code=303, cookies=jar)


# --- the Jinja environment -------------------------------------------------------------------------------

_TASK_BOX = re.compile(
    r'<input class="task-list-item-checkbox"( checked="checked")? disabled="disabled" type="checkbox">'
)


def content_html(html: str) -> Markup:
    """HTML from ``allmende.core.markdown`` (sanitized there) for the page. Task lists come from the
    renderer as disabled checkboxes without a label, which WCAG (1.3.1, 4.1.2) and axe refuse; they are
    shown as box characters, with the done state in words for screen readers."""

    def box(match: re.Match[str]) -> str:
        if match.group(1):
            done = escape(i18n.gettext("erledigt:"))
            return f'<span class="task-box" aria-hidden="true">☑</span><span class="visually-hidden">{done}</span>'
        return '<span class="task-box" aria-hidden="true">☐</span>'

    return Markup(_TASK_BOX.sub(box, html))  # noqa: S704 (sanitized by the Markdown renderer)


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: i18n.translations(i18n.current()).gettext(message),
        ngettext=lambda singular, plural, n: i18n.translations(i18n.current()).ngettext(singular, plural, n),
        newstyle=True,
    )
    env.filters.update(
        number=formatting.format_number,
        euro=formatting.format_euro,
        day=formatting.format_day,
        moment=formatting.format_moment,
        language=formatting.language_name,
        content_html=content_html,
    )
    env.globals.update(compare_url=compare_url, max_compare=MAX_COMPARE, state_labels=STATE_LABELS)
    return env


def template_engine() -> JinjaTemplateEngine:
    return JinjaTemplateEngine.from_environment(environment())

"""What several page controllers share: the viewer dependency, vocabularies with labels, type aliases."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import quote, urlsplit

from litestar import Request
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.principal import Principal
from allmende.core.settings import Settings
from allmende.web import i18n
from allmende.web.render import Viewer, locale_of, redirect, safe_next
from marketplace import services as catalog
from marketplace.schemas import TermOut
from notifications.services import count_unread

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]
Config = NamedDependency[Settings]
Who = NamedDependency[Viewer]
AnyRequest = Request[Any, Any, Any]


async def provide_viewer(principal: Caller, db_session: Session, settings: Config) -> Viewer:
    memberships = await accounts.memberships_of(db_session, principal.user.id or 0) if principal.user else []
    unread = await count_unread(db_session, principal.user.id) if principal.user and principal.user.id else 0
    return Viewer(principal=principal, memberships=memberships, instance_name=settings.instance_name, unread=unread)


async def provide_locale(request: AnyRequest) -> None:
    """``before_request`` of the web router: Python code in handlers translates in the request's locale."""
    i18n.activate(locale_of(request))


def login_redirect(request: AnyRequest, back: str = "/") -> Any:
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


P = ParamSpec("P")
R = TypeVar("R")


def signed_in(back: str = "/") -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R | Any]]]:
    """Mark a page for signed-in users: an anonymous visitor gets :func:`login_redirect` (with ``back``).

    Put it under ``@get``/``@post``. The check runs where the handler's body would start, after Litestar
    resolved the handler's arguments, so it sees the real ``viewer`` (session, token, a user deleted
    meanwhile, a store outage as 503) and the unit of work ends as for any answer of the handler. A
    ``before_request`` hook or a guard run before dependencies are resolved and could not tell that.
    The handler must take ``request`` and ``viewer``."""

    def decorate(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | Any]]:
        parameters = inspect.signature(handler).parameters
        if "request" not in parameters or "viewer" not in parameters:
            raise TypeError(f"{handler.__qualname__}: a signed-in page takes 'request' and 'viewer'")

        @functools.wraps(handler)
        async def checked(*args: P.args, **kwargs: P.kwargs) -> R | Any:
            if not cast(Viewer, kwargs["viewer"]).signed_in:
                return login_redirect(cast(AnyRequest, kwargs["request"]), back=back)
            return await handler(*args, **kwargs)

        return checked

    return decorate


def _same_site_referer(request: AnyRequest) -> str | None:
    parts = urlsplit(request.headers.get("referer", ""))
    if parts.scheme not in ("http", "https") or parts.netloc != request.url.netloc:
        return None
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@dataclass
class Vocabularies:
    """Every controlled vocabulary with its terms in order, labelled in the active locale."""

    terms_by_vocabulary: dict[str, list[TermOut]]
    titles: dict[str, tuple[str, str]]

    def terms(self, vocabulary: str) -> list[TermOut]:
        return self.terms_by_vocabulary.get(vocabulary, [])

    def keys(self, vocabulary: str) -> set[str]:
        return {t.key for t in self.terms(vocabulary)}

    def label(self, vocabulary: str, key: str | None) -> str:
        if key is None:
            return ""
        for term in self.terms(vocabulary):
            if term.key == key:
                return term.label_en if i18n.current() == "en" else term.label_de
        return key

    def description(self, vocabulary: str, key: str) -> str:
        for term in self.terms(vocabulary):
            if term.key == key:
                text = term.description_en if i18n.current() == "en" else term.description_de
                return text or ""
        return ""

    def title(self, vocabulary: str) -> str:
        de, en = self.titles.get(vocabulary, (vocabulary, vocabulary))
        return en if i18n.current() == "en" else de


async def load_vocabularies(session: AsyncSession) -> Vocabularies:
    found = await catalog.list_vocabularies(session)
    return Vocabularies(
        terms_by_vocabulary={v.key: v.terms for v in found}, titles={v.key: (v.label_de, v.label_en) for v in found}
    )

"""Public pages: home, a solution, the comparison, an organization (the lists are in ``search.py``)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath

from allmende.accounts import services as accounts
from allmende.accounts.regions import BUNDESLAENDER
from allmende.core.problems import NotFound
from allmende.web.kit import i18n
from allmende.web.kit.i18n import gettext
from allmende.web.kit.render import (
    COMPARE_COOKIE,
    MAX_COMPARE,
    NOTICES,
    SLUG_RE,
    compare_list,
    compare_url,
    page,
    redirect,
    safe_next,
)
from allmende.web.kit.viewer import AnyRequest, Caller, Config, Session, Who
from allmende.web.kit.vocabularies import load_vocabularies
from knowledge import services as knowledge
from marketplace import services as marketplace


@get("/", name="web:home")
async def home(request: AnyRequest, db_session: Session, principal: Caller, settings: Config, viewer: Who) -> Any:
    vocab = await load_vocabularies(db_session)
    counts = await marketplace.facet_counts(db_session)
    newest = await marketplace.list_published(
        db_session,
        principal,
        marketplace.SolutionFilters(),
        sort="newest",
        limit=3,
        cursor=None,
        base_url=settings.base_url,
    )
    return page(
        "catalog/home.html",
        {
            "viewer": viewer,
            "vocab": vocab,
            "counts": counts,
            "adopters": await marketplace.adopter_total(db_session),
            "knowledge": await knowledge.count_published(db_session),
            "newest": newest.items,
        },
    )


@get("/loesungen/{slug:str}", name="web:solution")
async def solution_page(
    request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, viewer: Who
) -> Any:
    solution = await marketplace.get_solution(db_session, principal, slug)
    out = await marketplace.solution_out(db_session, principal, solution, settings.base_url)
    provider = await accounts.get_organization(db_session, out.provider.slug)
    return page(
        "catalog/solution.html",
        {
            "viewer": viewer,
            "vocab": await load_vocabularies(db_session),
            "s": out,
            "provider": accounts.organization_out(provider, settings.base_url),
            "bundeslaender": BUNDESLAENDER,
            "in_compare": slug in compare_list(request),
        },
    )


@get("/vergleich", name="web:compare")
async def compare(request: AnyRequest, db_session: Session, principal: Caller, settings: Config, viewer: Who) -> Any:
    asked = request.query_params.getall("l", [])
    from_cookie = not asked
    wanted = list(dict.fromkeys(s.strip() for s in (asked or compare_list(request)) if s.strip()))
    messages: list[str] = []
    if len(wanted) > MAX_COMPARE:
        refused = ", ".join(f"„{s[:60]}“" for s in wanted[MAX_COMPARE:])
        messages.append(
            gettext(
                "Es lassen sich höchstens %(max)s Lösungen vergleichen. Nicht aufgenommen: %(refused)s.",
                max=str(MAX_COMPARE),
                refused=refused,
            )
        )
        wanted = wanted[:MAX_COMPARE]
    found = []
    for slug in wanted:
        try:
            if not SLUG_RE.fullmatch(slug):
                raise NotFound("bad slug")
            found.append(await marketplace.get_solution(db_session, principal, slug))
        except NotFound:
            messages.append(gettext("„%(slug)s“ gibt es nicht im Katalog; sie fehlt im Vergleich.", slug=slug[:60]))
    outs = await marketplace.solution_outs(db_session, principal, found, settings.base_url) if found else []
    return page(
        "catalog/compare.html",
        {
            "viewer": viewer,
            "vocab": await load_vocabularies(db_session),
            "items": outs,
            "messages": messages,
            "share_url": compare_url(s.slug for s in outs),
            "from_cookie": from_cookie,
            "bundeslaender": BUNDESLAENDER,
        },
    )


@post("/vergleich/liste", name="web:compare-list", status_code=303)
async def compare_list_change(request: AnyRequest, db_session: Session) -> Any:
    """Add to or remove from the comparison list (a cookie). Answers JSON to the script, else redirects."""
    form = await request.form()
    slug = str(form.get("l") or "").strip()
    action = str(form.get("aktion") or "add")
    back = safe_next(str(form.get("zurueck") or ""), default=f"/loesungen/{slug}" if SLUG_RE.fullmatch(slug) else "/")
    slugs = compare_list(request)
    notice: str
    if action == "clear":
        slugs, notice = [], "compare-removed"
    elif action == "remove":
        slugs, notice = [s for s in slugs if s != slug], "compare-removed"
    elif slug in slugs:
        notice = "compare-added"
    elif not SLUG_RE.fullmatch(slug) or not await marketplace.published_by_slugs(db_session, [slug]):
        notice = "compare-unknown"
    elif len(slugs) >= MAX_COMPARE:
        notice = "compare-full"
    else:
        slugs, notice = [*slugs, slug], "compare-added"
    cookie = Cookie(key=COMPARE_COOKIE, value=".".join(slugs), path="/", max_age=30 * 24 * 3600, samesite="lax")
    if "application/json" in request.headers.get("accept", ""):
        kind, text = NOTICES[notice]
        body = {
            "ok": kind == "success",
            "message": i18n.gettext(text),
            "count": len(slugs),
            "slugs": slugs,
            "url": compare_url(slugs),
            "label": i18n.ngettext("Vergleich (%(count)s)", "Vergleich (%(count)s)", len(slugs), count=len(slugs)),
        }
        return Response(
            json.dumps(body),
            media_type="application/json",
            status_code=200 if kind == "success" else 409,
            cookies=[cookie],
        )
    return redirect(back, notice, cookies=[cookie])


@get("/organisationen/{slug:str}", name="web:organization")
async def organization_page(
    slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, viewer: Who
) -> Any:
    org = await accounts.get_organization(db_session, slug)
    return page(
        "catalog/organization.html",
        {
            "viewer": viewer,
            "vocab": await load_vocabularies(db_session),
            "org": accounts.organization_out(org, settings.base_url),
            "uses": await marketplace.references_of(db_session, org),
            "offers": await marketplace.list_for_provider(db_session, principal, org, settings.base_url),
            "bundeslaender": BUNDESLAENDER,
        },
    )


ROUTES = [home, solution_page, compare, compare_list_change, organization_page]

"""Public pages: home, the catalog list with filters, a solution, the comparison, an organization."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath

from allmende.accounts import services as accounts
from allmende.accounts.regions import BUNDESLAENDER
from allmende.core.pagination import Page as ResultPage
from allmende.core.problems import NotFound, Problem
from allmende.web import i18n, queries
from allmende.web.i18n import N_, gettext
from allmende.web.render import (
    COMPARE_COOKIE,
    MAX_COMPARE,
    NOTICES,
    SLUG_RE,
    compare_list,
    compare_url,
    page,
    query_pairs,
    redirect,
    safe_next,
    url_with,
)
from allmende.web.views import AnyRequest, Caller, Config, Session, Who, load_vocabularies
from marketplace import services as catalog
from marketplace.schemas import SolutionOut

PAGE_SIZE = 20
MAX_QUERY = 200
# Web sort names (German, in the URL) → the service's sort keys.
SORTS = {"name": "name", "neueste": "newest", "verbreitung": "most_adopted"}
SORT_LABELS = {"name": N_("Name (A–Z)"), "neueste": N_("Neueste zuerst"), "verbreitung": N_("Meiste Nachnutzer")}


@dataclass(frozen=True)
class Facet:
    param: str  # the name in the URL
    field: str  # the SolutionFilters attribute and the key of the facet counts
    vocabulary: str | None  # None: Bundesländer
    label: str
    multiple: bool = True
    collapsed: bool = False


FACETS = (
    Facet("stufe", "stages", "stages", N_("Stufe des Stufenplans")),
    Facet("sektor", "sectors", "sectors", N_("Handlungsfeld")),
    Facet("bereich", "areas", "areas", N_("Bereich (Smart City Index)")),
    Facet("lizenz", "license_type", "licence-types", N_("Lizenzart"), multiple=False),
    Facet("betrieb", "hosting_options", "hosting-options", N_("Betriebsform")),
    Facet("status", "development_status", "development-status", N_("Entwicklungsstand")),
    Facet("standard", "standards", "standards", N_("Standards und Schnittstellen"), collapsed=True),
    Facet("land", "bundesland", None, N_("Bundesland der Nachnutzer"), collapsed=True),
)


@dataclass
class Option:
    key: str
    label: str
    count: int
    checked: bool


@dataclass
class FacetView:
    facet: Facet
    options: list[Option]

    @property
    def selected(self) -> int:
        return sum(o.checked for o in self.options)


@dataclass
class CatalogState:
    selected: dict[str, list[str]] = field(default_factory=dict)
    q: str = ""
    sort: str = "name"
    cursor: str | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def filtered(self) -> bool:
        return bool(self.q or any(self.selected.values()))


def parse_catalog_query(request: AnyRequest, known: dict[str, set[str]]) -> CatalogState:
    """Read the catalog's state from the URL, dropping what it cannot use and saying so in German."""
    params = request.query_params
    state = CatalogState()
    for facet in FACETS:
        raw = [v.strip() for v in params.getall(facet.param, []) if v.strip()]
        valid = [v for v in dict.fromkeys(raw) if v in known[facet.param]]
        unknown = [v for v in dict.fromkeys(raw) if v not in known[facet.param]]
        if unknown:
            shown = ", ".join(f"„{v[:40]}“" for v in unknown[:3])
            state.messages.append(
                gettext(
                    "Unbekannter Wert für „%(facet)s“: %(values)s. Dieser Filter wurde nicht angewendet.",
                    facet=gettext(facet.label),
                    values=shown,
                )
            )
        state.selected[facet.param] = valid if facet.multiple else valid[:1]
    q = (params.get("q") or "").strip()
    if len(q) > MAX_QUERY:
        state.messages.append(
            gettext(
                "Der Suchbegriff ist zu lang. Es wurden nur die ersten %(max)s Zeichen verwendet.", max=str(MAX_QUERY)
            )
        )
        q = q[:MAX_QUERY].strip()
    state.q = q
    sort = params.get("sort") or "name"
    if sort not in SORTS:
        state.messages.append(gettext("Unbekannte Sortierung; die Liste ist nach Namen sortiert."))
        sort = "name"
    state.sort = sort
    cursor = params.get("cursor") or None
    state.cursor = cursor if cursor is None or len(cursor) <= 500 else None
    return state


async def _list(session: Any, principal: Any, settings: Any, state: CatalogState) -> ResultPage[SolutionOut]:
    """The page of results; a bad cursor starts again at page one, filters the service refuses are dropped."""

    async def run(filters: catalog.SolutionFilters) -> ResultPage[SolutionOut]:
        return await catalog.list_published(
            session,
            principal,
            filters,
            sort=SORTS[state.sort],
            limit=PAGE_SIZE,
            cursor=state.cursor,
            base_url=settings.base_url,
        )

    try:
        return await run(_filters(state))
    except (Problem, ValueError, TypeError, IndexError):
        if state.cursor is not None:
            # A cursor that was edited or belongs to another sort order: start again at the first page.
            state.messages.append(gettext("Der Verweis auf die nächste Seite war ungültig; hier ist die erste Seite."))
            state.cursor = None
            return await _list(session, principal, settings, state)
        if not state.filtered:
            raise
    # The catalog refused a filter the page offered (its rules changed): show everything, and say so.
    state.messages.append(
        gettext("Die gewählten Filter konnten nicht angewendet werden; es werden alle Lösungen gezeigt.")
    )
    state.selected = {key: [] for key in state.selected}
    return await run(catalog.SolutionFilters(q=state.q or None))


def _filters(state: CatalogState) -> catalog.SolutionFilters:
    sel = state.selected
    return catalog.SolutionFilters(
        stages=sel["stufe"],
        sectors=sel["sektor"],
        areas=sel["bereich"],
        standards=sel["standard"],
        hosting_options=sel["betrieb"],
        license_type=sel["lizenz"][0] if sel["lizenz"] else None,
        development_status=sel["status"],
        bundesland=sel["land"],
        q=state.q or None,
    )


@get("/", name="web:home", include_in_schema=False)
async def home(request: AnyRequest, db_session: Session, principal: Caller, settings: Config, viewer: Who) -> Any:
    vocab = await load_vocabularies(db_session)
    counts = await queries.facet_counts(db_session)
    newest = await catalog.list_published(
        db_session,
        principal,
        catalog.SolutionFilters(),
        sort="newest",
        limit=3,
        cursor=None,
        base_url=settings.base_url,
    )
    return page(
        "home.html",
        {
            "viewer": viewer,
            "vocab": vocab,
            "counts": counts,
            "adopters": await queries.adopter_count(db_session),
            "newest": newest.items,
        },
    )


@get("/loesungen", name="web:catalog", include_in_schema=False)
async def catalog_list(
    request: AnyRequest, db_session: Session, principal: Caller, settings: Config, viewer: Who
) -> Any:
    vocab = await load_vocabularies(db_session)
    known = {f.param: (set(BUNDESLAENDER) if f.vocabulary is None else vocab.keys(f.vocabulary)) for f in FACETS}
    state = parse_catalog_query(request, known)
    counts = await queries.facet_counts(db_session)
    results = await _list(db_session, principal, settings, state)
    facets = [
        FacetView(
            facet=f,
            options=[
                Option(
                    key=key,
                    label=label,
                    count=counts.get(f.field, key),
                    checked=key in state.selected[f.param],
                )
                for key, label in (
                    sorted(BUNDESLAENDER.items())
                    if f.vocabulary is None
                    else [(t.key, vocab.label(f.vocabulary, t.key)) for t in vocab.terms(f.vocabulary)]
                )
            ],
        )
        for f in FACETS
    ]
    chips = [
        (opt.label, _without(request, fv.facet.param, opt.key)) for fv in facets for opt in fv.options if opt.checked
    ]
    return page(
        "catalog.html",
        {
            "viewer": viewer,
            "vocab": vocab,
            "state": state,
            "facets": facets,
            "results": results,
            "sorts": [(key, gettext(label)) for key, label in SORT_LABELS.items()],
            "chips": chips,
            "next_url": url_with(request, cursor=results.next_cursor) if results.next_cursor else None,
            "first_url": url_with(request, cursor=None) if state.cursor else None,
            "reset_url": "/loesungen",
        },
    )


def _without(request: AnyRequest, param: str, value: str) -> str:
    """The current catalog URL without one filter value (and back on the first page)."""
    pairs = [(k, v) for k, v in query_pairs(request) if not (k == param and v == value) and k != "cursor"]
    query = urlencode(pairs)
    return f"/loesungen?{query}" if query else "/loesungen"


@get("/loesungen/{slug:str}", name="web:solution", include_in_schema=False)
async def solution_page(
    request: AnyRequest, slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, viewer: Who
) -> Any:
    solution = await catalog.get_solution(db_session, principal, slug)
    out = await catalog.solution_out(db_session, principal, solution, settings.base_url)
    provider = await accounts.get_organization(db_session, out.provider.slug)
    return page(
        "solution.html",
        {
            "viewer": viewer,
            "vocab": await load_vocabularies(db_session),
            "s": out,
            "provider": accounts.organization_out(provider, settings.base_url),
            "bundeslaender": BUNDESLAENDER,
            "in_compare": slug in compare_list(request),
        },
    )


@get("/vergleich", name="web:compare", include_in_schema=False)
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
            found.append(await catalog.get_solution(db_session, principal, slug))
        except NotFound:
            messages.append(gettext("„%(slug)s“ gibt es nicht im Katalog; sie fehlt im Vergleich.", slug=slug[:60]))
    outs = await catalog.solution_outs(db_session, principal, found, settings.base_url) if found else []
    return page(
        "compare.html",
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


@post("/vergleich/liste", name="web:compare-list", include_in_schema=False, status_code=303)
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
    elif not SLUG_RE.fullmatch(slug) or not await catalog.published_by_slugs(db_session, [slug]):
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


@get("/organisationen/{slug:str}", name="web:organization", include_in_schema=False)
async def organization_page(
    slug: FromPath[str], db_session: Session, principal: Caller, settings: Config, viewer: Who
) -> Any:
    org = await accounts.get_organization(db_session, slug)
    return page(
        "organization.html",
        {
            "viewer": viewer,
            "vocab": await load_vocabularies(db_session),
            "org": accounts.organization_out(org, settings.base_url),
            "uses": await catalog.references_of(db_session, org),
            "offers": await catalog.list_for_provider(db_session, principal, org, settings.base_url),
            "bundeslaender": BUNDESLAENDER,
        },
    )


ROUTES = [home, catalog_list, solution_page, compare, compare_list_change, organization_page]

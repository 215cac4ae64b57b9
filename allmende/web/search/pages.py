"""Search over the whole hub and the lists that run on the search engine.

``/suche`` searches solutions, case studies and guides at once; ``/loesungen``, ``/fallstudien`` and
``/leitfaeden`` are the same page limited to one type, with the filters that type has. All of them ask
the engine (the app's ``search_api`` dependency): free text with typo tolerance, facet counts, snippets
with ``<mark>``, sorting and page numbers. The URL carries the whole state (a GET form), so every
result page can be bookmarked and shared.

Facet counts are *disjunctive*: the number beside a value is how many results the page shows when
that value is added to the current selection of its own filter (the other filters stay), so each
number predicts what a click does. That takes one small extra engine query per filter in use.

When the engine cannot answer (:class:`SearchUnavailable`) the pages say so in German and fall back
to the database listings of the domain services: no typo tolerance, no counts, next-page links only.
Never a 500.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from markupsafe import escape

from allmende.accounts.regions import BUNDESLAENDER
from allmende.core.problems import Problem
from allmende.core.search.base import InvalidSearch, SearchHit, SearchQuery, SearchResult, SearchUnavailable
from allmende.core.search_http import SearchApi
from allmende.web.kit import i18n
from allmende.web.kit.forms import small_number
from allmende.web.kit.i18n import N_, gettext, ngettext
from allmende.web.kit.render import page, query_pairs, url_with
from allmende.web.kit.viewer import AnyRequest, Caller, Config, Session, Who
from allmende.web.kit.vocabularies import Vocabularies, load_vocabularies
from knowledge import services as knowledge
from marketplace import services as marketplace
from marketplace.schemas import SolutionOut

Search = NamedDependency[SearchApi]

PAGE_SIZE = 20
MAX_QUERY = 200
MAX_PAGE = 500  # deeper than any person pages; beyond it the link was made by hand

# The document types of the index, as the URL (German) and the page name them.
TYPE_PARAM = {"loesung": "solution", "fallstudie": "case_study", "leitfaden": "guide"}
TYPE_OF_ENGINE = {engine: web for web, engine in TYPE_PARAM.items()}
TYPE_LABELS = {"solution": N_("Lösung"), "case_study": N_("Fallstudie"), "guide": N_("Leitfaden")}
TYPE_PLURALS = {"solution": N_("Lösungen"), "case_study": N_("Fallstudien"), "guide": N_("Leitfäden")}
PAGE_PATHS = {"solution": "/loesungen/", "case_study": "/fallstudien/", "guide": "/leitfaeden/"}

# Where a match outside title and summary was found, for the line that explains a hit.
SNIPPET_FIELDS = (
    ("body", N_("Im Text")),
    ("tags", N_("Schlagworte")),
    ("places", N_("Orte")),
    ("provider", N_("Anbieter")),
)


@dataclass(frozen=True)
class Facet:
    param: str  # the name in the URL
    field: str  # the facet field of the search index
    vocabulary: str | None  # None: the options come from elsewhere (types, Bundesländer)
    label: str
    multiple: bool = True
    collapsed: bool = False


TYPE = Facet("typ", "type", None, N_("Art des Inhalts"))
STAGE = Facet("stufe", "stage", "stages", N_("Stufe des Stufenplans"))
SECTOR = Facet("sektor", "sector", "sectors", N_("Handlungsfeld"))
STEP = Facet("schritt", "step", "steps", N_("Schritt zur Smart City"))
AREA = Facet("bereich", "area", "areas", N_("Bereich (Smart City Index)"))
LICENCE = Facet("lizenz", "license_type", "licence-types", N_("Lizenzart"), multiple=False)
HOSTING = Facet("betrieb", "hosting", "hosting-options", N_("Betriebsform"))
STATUS = Facet("status", "development_status", "development-status", N_("Entwicklungsstand"))
STANDARD = Facet("standard", "standard", "standards", N_("Standards und Schnittstellen"), collapsed=True)
ADOPTER_LAND = Facet("land", "bundesland", None, N_("Bundesland der Nachnutzer"), collapsed=True)
LAND = Facet("land", "bundesland", None, N_("Bundesland"), collapsed=True)

# Web sort names (German, in the URL) → label and the search API's sort key (None: relevance).
SORTS: dict[str, tuple[str, str | None]] = {
    "relevanz": (N_("Relevanz"), None),
    "name": (N_("Name (A–Z)"), "name"),
    "neueste": (N_("Neueste zuerst"), "newest"),
    "verbreitung": (N_("Meiste Nachnutzer"), "most_adopted"),
}


@dataclass(frozen=True)
class Scope:
    """One page of search results: which type it shows, its filters and sorts, and its words."""

    path: str
    doc_type: str | None  # None: every type (the type is a filter)
    title: str
    form_label: str
    facets: tuple[Facet, ...]
    sorts: tuple[str, ...]
    count_noun: str  # after the number beside a filter value, for screen readers
    intro: str = ""


HUB = Scope(
    path="/suche",
    doc_type=None,
    title=N_("Suche"),
    form_label=N_("Suche eingrenzen"),
    facets=(TYPE, STAGE, SECTOR, STEP, LAND),
    sorts=("relevanz", "name", "neueste"),
    count_noun=N_("Treffer"),
    intro=N_("Lösungen, Fallstudien und Leitfäden in einer Suche. Tippfehler verzeiht die Suche."),
)
SOLUTIONS = Scope(
    path="/loesungen",
    doc_type="solution",
    title=N_("Lösungskatalog"),
    form_label=N_("Lösungen filtern"),
    facets=(STAGE, SECTOR, AREA, LICENCE, HOSTING, STATUS, STANDARD, ADOPTER_LAND),
    sorts=("relevanz", "name", "neueste", "verbreitung"),
    count_noun=N_("Lösungen"),
)
CASE_STUDIES = Scope(
    path="/fallstudien",
    doc_type="case_study",
    title=N_("Fallstudien"),
    form_label=N_("Fallstudien filtern"),
    facets=(STAGE, SECTOR, STEP, LAND),
    sorts=("relevanz", "name", "neueste"),
    count_noun=N_("Fallstudien"),
    intro=N_(
        "Wie Modellprojekte und andere Kommunen vorgegangen sind: Ausgangslage, Vorgehen, eingesetzte "
        "Lösungen und belegte Ergebnisse."
    ),
)
GUIDES = Scope(
    path="/leitfaeden",
    doc_type="guide",
    title=N_("Leitfäden"),
    form_label=N_("Leitfäden filtern"),
    facets=(STAGE, STEP),
    sorts=("relevanz", "name", "neueste"),
    count_noun=N_("Leitfäden"),
    intro=N_("Praktische Anleitungen entlang der Stufen des Stufenplans: von der Strategie bis zum Dauerbetrieb."),
)


def found_heading(doc_type: str | None, n: int) -> str:
    shown = i18n.format_number(n)
    if doc_type == "solution":
        return ngettext("%(shown)s Lösung gefunden", "%(shown)s Lösungen gefunden", n, shown=shown)
    if doc_type == "case_study":
        return ngettext("%(shown)s Fallstudie gefunden", "%(shown)s Fallstudien gefunden", n, shown=shown)
    if doc_type == "guide":
        return ngettext("%(shown)s Leitfaden gefunden", "%(shown)s Leitfäden gefunden", n, shown=shown)
    return ngettext("%(shown)s Treffer", "%(shown)s Treffer", n, shown=shown)


# --- the state in the URL -----------------------------------------------------------------------------


@dataclass
class SearchState:
    selected: dict[str, list[str]] = field(default_factory=dict)  # URL parameter → chosen web values
    q: str = ""
    sort: str = ""  # "" = relevance with a search term, else by name
    page: int = 1
    cursor: str | None = None  # only the database fallback pages with cursors
    messages: list[str] = field(default_factory=list)

    @property
    def filtered(self) -> bool:
        return bool(self.q or any(self.selected.values()))

    @property
    def effective_sort(self) -> str:
        if self.sort in ("", "relevanz"):
            return "relevanz" if self.q else "name"
        return self.sort


def known_values(scope: Scope, vocab: Vocabularies) -> dict[str, list[tuple[str, str]]]:
    """Every offered value of each filter with its label, in display order."""
    options: dict[str, list[tuple[str, str]]] = {}
    for facet in scope.facets:
        if facet is TYPE:
            options[facet.param] = [(web, gettext(TYPE_PLURALS[engine])) for web, engine in TYPE_PARAM.items()]
        elif facet.vocabulary is None:
            options[facet.param] = sorted(BUNDESLAENDER.items())
        else:
            terms = vocab.terms(facet.vocabulary)
            options[facet.param] = [(t.key, vocab.label(facet.vocabulary, t.key)) for t in terms]
    return options


def parse_state(request: AnyRequest, scope: Scope, known: dict[str, list[tuple[str, str]]]) -> SearchState:
    """Read the page's state from the URL, dropping what it cannot use and saying so in German."""
    params = request.query_params
    state = SearchState()
    for facet in scope.facets:
        allowed = {key for key, _ in known[facet.param]}
        raw = list(dict.fromkeys(v.strip() for v in params.getall(facet.param, [])[:200] if v.strip()))
        unknown = [v for v in raw if v not in allowed]
        if unknown:
            state.messages.append(
                gettext(
                    "Unbekannter Wert für „%(facet)s“: %(values)s. Dieser Filter wurde nicht angewendet.",
                    facet=gettext(facet.label),
                    values=", ".join(f"„{v[:40]}“" for v in unknown[:3]),
                )
            )
        valid = [v for v in raw if v in allowed]
        state.selected[facet.param] = valid if facet.multiple else valid[:1]
    q = " ".join((params.get("q") or "").split())
    if len(q) > MAX_QUERY:
        state.messages.append(
            gettext(
                "Der Suchbegriff ist zu lang. Es wurden nur die ersten %(max)s Zeichen verwendet.", max=str(MAX_QUERY)
            )
        )
        q = q[:MAX_QUERY].strip()
    state.q = q
    sort = params.get("sort") or ""
    if sort and sort not in scope.sorts:
        state.messages.append(
            gettext(
                "Unbekannte Sortierung; die Ergebnisse sind nach Relevanz oder, ohne Suchbegriff, nach Namen sortiert."
            )
        )
        sort = ""
    state.sort = sort
    raw_page = (params.get("seite") or "").strip()
    if raw_page:
        if (number := small_number(raw_page)) is not None and 1 <= number <= MAX_PAGE:
            state.page = number
        else:
            state.messages.append(gettext("Diese Seitenzahl gibt es nicht; hier ist die erste Seite."))
    cursor = params.get("cursor") or None
    state.cursor = cursor[:500] if cursor else None
    return state


# --- results -------------------------------------------------------------------------------------------

_NOT_MARK = re.compile(r"<(?!/?mark>)[^>]*>?")


def marked(snippet: str | None, plain: str | None) -> str:
    """HTML for ``|safe``: the engine's snippet (HTML-escaped text with ``<mark>``) keeping only the
    ``<mark>`` tags, as defence in depth; without a snippet, the plain text escaped."""
    if snippet:
        return _NOT_MARK.sub("", snippet)
    return str(escape(plain or ""))


@dataclass
class ResultItem:
    """One hit as the result cards show it, whether it came from the engine or the database."""

    kind: str  # solution | case_study | guide
    slug: str
    title: str
    title_html: str  # safe: escaped, with <mark>
    summary_html: str  # safe: escaped, with <mark>
    snippet_label: str = ""
    snippet_html: str = ""  # safe: escaped, with <mark>
    provider: str | None = None
    license_type: str | None = None
    adopters: int | None = None
    stages: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    bundeslaender: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return PAGE_PATHS.get(self.kind, "/") + self.slug

    @property
    def name(self) -> str:  # what the comparison button calls a solution
        return self.title


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def item_from_hit(hit: SearchHit) -> ResultItem:
    doc, marks = hit.document, hit.highlights
    title = str(doc.get("title") or doc.get("slug") or "")
    summary = str(doc.get("summary") or "")
    item = ResultItem(
        kind=hit.type,
        slug=str(doc.get("slug") or ""),
        title=title,
        title_html=marked(marks.get("title"), title),
        summary_html=marked(marks.get("summary"), summary),
        provider=str(doc["provider"]) if doc.get("provider") else None,
        license_type=str(doc["license_type"]) if doc.get("license_type") else None,
        adopters=int(doc["adopters"]) if isinstance(doc.get("adopters"), int | float) else None,
        stages=_strings(doc.get("stage")),
        steps=_strings(doc.get("step")),
        places=_strings(doc.get("places")) if hit.type == "case_study" else [],
        bundeslaender=[BUNDESLAENDER.get(code, code) for code in _strings(doc.get("bundesland"))]
        if hit.type == "case_study"
        else [],
    )
    if "<mark>" not in item.title_html and "<mark>" not in item.summary_html:
        for name, label in SNIPPET_FIELDS:
            snippet = marks.get(name) or ""
            if "<mark>" not in snippet:
                continue
            if isinstance(doc.get(name), list):  # tags, places: only the values that matched
                snippet = ", ".join(part for part in snippet.split(", ") if "<mark>" in part)
            item.snippet_label, item.snippet_html = label, marked(snippet, None)
            break
    return item


def item_from_solution(out: SolutionOut) -> ResultItem:
    return ResultItem(
        kind="solution",
        slug=out.slug,
        title=out.name,
        title_html=marked(None, out.name),
        summary_html=marked(None, out.summary),
        provider=out.provider.name,
        license_type="open-source" if out.is_open_source else ("proprietary" if out.license else "unknown"),
        adopters=out.adopters_count,
        stages=list(out.stages),
    )


def item_from_record(kind: str, record: Any) -> ResultItem:
    """A case study or guide straight from its table (the fallback lists)."""
    stages = list(record.stages) if kind == "case_study" else [record.stage]
    steps = list(record.steps) if kind == "case_study" else [record.step]
    return ResultItem(
        kind=kind,
        slug=record.slug,
        title=record.title,
        title_html=marked(None, record.title),
        summary_html=marked(None, record.summary),
        stages=stages,
        steps=steps,
    )


@dataclass
class Outcome:
    items: list[ResultItem]
    total: int
    counts: dict[str, dict[str, int]] | None  # URL parameter → web value → count; None: no counts
    page: int = 1
    last_page: int = 1
    next_cursor: str | None = None  # the database fallback's next page
    degraded: bool = False


def _engine_value(facet: Facet, value: str) -> str:
    return TYPE_PARAM[value] if facet is TYPE else value


def _web_value(facet: Facet, value: str) -> str:
    return TYPE_OF_ENGINE.get(value, value) if facet is TYPE else value


def _filters(scope: Scope, state: SearchState, skip: str | None = None) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {"type": [scope.doc_type]} if scope.doc_type else {}
    for facet in scope.facets:
        values = state.selected.get(facet.param) or []
        if values and facet.param != skip:
            filters[facet.field] = [_engine_value(facet, v) for v in values]
    return filters


async def from_engine(api: SearchApi, scope: Scope, state: SearchState) -> Outcome:
    """The page of hits and the disjunctive facet counts, from as many engine queries as filters are in use."""
    sort_key = SORTS[state.effective_sort][1]
    main = SearchQuery(
        q=state.q,
        filters=_filters(scope, state),
        facets=[f.field for f in scope.facets],
        sort=api.sorts.get(sort_key, []) if sort_key else [],
        page=state.page,
        per_page=PAGE_SIZE,
    )
    own = [f for f in scope.facets if state.selected.get(f.param)]
    results: list[SearchResult] = list(
        await asyncio.gather(
            api.engine.search(main),
            *(
                api.engine.search(
                    SearchQuery(
                        q=state.q, filters=_filters(scope, state, skip=f.param), facets=[f.field], highlight=False
                    )
                )
                for f in own
            ),
        )
    )
    result, by_facet = results[0], dict(zip((f.param for f in own), results[1:], strict=True))
    last_page = max(1, -(-result.total // PAGE_SIZE))
    if result.total and not result.hits and state.page > last_page:
        state.messages.append(gettext("Diese Seite gibt es nicht (mehr); hier ist die letzte Seite."))
        state.page = last_page
        main.page = last_page
        result = await api.engine.search(main)
    counts: dict[str, dict[str, int]] = {}
    for facet in scope.facets:
        source = by_facet.get(facet.param, result)
        raw = source.facets.get(facet.field, {})
        counts[facet.param] = {_web_value(facet, k): int(n) for k, n in raw.items()}
    return Outcome(
        items=[item_from_hit(h) for h in result.hits if h.document.get("slug")],
        total=result.total,
        counts=counts,
        page=state.page,
        last_page=last_page,
    )


# --- the database fallback ---------------------------------------------------------------------------------

FALLBACK_SORTS = {"name": "name", "neueste": "newest", "verbreitung": "most_adopted", "relevanz": "name"}


async def _solutions_from_database(
    db_session: Any, principal: Any, settings: Any, scope: Scope, state: SearchState
) -> Outcome:
    sel = state.selected
    lizenz = sel.get("lizenz") or []

    def filters(with_facets: bool) -> marketplace.SolutionFilters:
        if not with_facets:
            return marketplace.SolutionFilters(q=state.q or None)
        return marketplace.SolutionFilters(
            stages=sel.get("stufe", []),
            sectors=sel.get("sektor", []),
            areas=sel.get("bereich", []),
            standards=sel.get("standard", []),
            hosting_options=sel.get("betrieb", []),
            license_type=lizenz[0] if lizenz else None,
            development_status=sel.get("status", []),
            bundesland=sel.get("land", []),
            q=state.q or None,
        )

    async def run(with_facets: bool) -> Any:
        return await marketplace.list_published(
            db_session,
            principal,
            filters(with_facets),
            sort=FALLBACK_SORTS.get(state.effective_sort, "name"),
            limit=PAGE_SIZE,
            cursor=state.cursor,
            base_url=settings.base_url,
        )

    if scope is HUB and (sel.get("typ") and "loesung" not in sel["typ"]):
        return Outcome(items=[], total=0, counts=None, degraded=True)
    try:
        listed = await run(True)
    except (Problem, ValueError, TypeError, IndexError):
        if state.cursor:
            state.messages.append(gettext("Der Verweis auf die nächste Seite war ungültig; hier ist die erste Seite."))
            state.cursor = None
            return await _solutions_from_database(db_session, principal, settings, scope, state)
        state.messages.append(
            gettext("Die gewählten Filter konnten nicht angewendet werden; es werden alle Lösungen gezeigt.")
        )
        state.selected = {key: [] for key in state.selected}
        listed = await run(False)
    return Outcome(
        items=[item_from_solution(s) for s in listed.items],
        total=listed.total,
        counts=None,
        next_cursor=listed.next_cursor,
        degraded=True,
    )


async def _knowledge_from_database(db_session: Any, scope: Scope, state: SearchState) -> Outcome:
    first = {param: (values[0] if values else None) for param, values in state.selected.items()}
    if scope is GUIDES:
        guides = await knowledge.list_guides(db_session, stage=first.get("stufe"), step=first.get("schritt"), tag=None)
        return Outcome(
            items=[item_from_record("guide", g) for g in guides], total=len(guides), counts=None, degraded=True
        )
    try:
        rows, total, next_cursor = await knowledge.list_case_studies(
            db_session,
            stage=first.get("stufe"),
            sector=first.get("sektor"),
            step=first.get("schritt"),
            cohort=None,
            bundesland=first.get("land"),
            organization=None,
            limit=PAGE_SIZE,
            cursor=state.cursor,
        )
    except (Problem, ValueError, TypeError, IndexError):
        if not state.cursor:
            raise
        state.messages.append(gettext("Der Verweis auf die nächste Seite war ungültig; hier ist die erste Seite."))
        state.cursor = None
        return await _knowledge_from_database(db_session, scope, state)
    return Outcome(
        items=[item_from_record("case_study", s) for s in rows],
        total=total,
        counts=None,
        next_cursor=next_cursor,
        degraded=True,
    )


def unavailable_message(scope: Scope) -> str:
    if scope is SOLUTIONS:
        return gettext(
            "Die Suche ist gerade nicht erreichbar. Sie sehen die einfache Liste des Katalogs: Der Suchbegriff "
            "wird nur in Name und Kurzbeschreibung gesucht, ohne Tippfehlertoleranz, und die Filter zeigen keine "
            "Anzahlen."
        )
    if scope is HUB:
        return gettext(
            "Die Suche ist gerade nicht erreichbar. Sie sehen Lösungen aus der einfachen Liste des Katalogs "
            "(Suchbegriff nur in Name und Kurzbeschreibung, ohne Tippfehlertoleranz). Fallstudien und Leitfäden "
            "finden Sie in ihren Listen."
        )
    return gettext(
        "Die Suche ist gerade nicht erreichbar. Sie sehen die einfache Liste: ohne Suche im Text, und je Filter "
        "wirkt nur der erste gewählte Wert."
    )


# --- the page ------------------------------------------------------------------------------------------------


@dataclass
class Option:
    key: str
    label: str
    count: int | None
    checked: bool


@dataclass
class FacetView:
    facet: Facet
    options: list[Option]

    @property
    def selected(self) -> int:
        return sum(o.checked for o in self.options)


@dataclass
class Pager:
    prev_url: str | None = None
    next_url: str | None = None
    first_url: str | None = None  # the fallback's way back to page one
    numbers: list[tuple[int | None, str | None, bool]] = field(default_factory=list)  # number, url, current

    @property
    def shown(self) -> bool:
        return bool(self.prev_url or self.next_url or self.first_url or len(self.numbers) > 1)


def _page_url(request: AnyRequest, number: int) -> str:
    return url_with(request, seite=str(number) if number > 1 else None, cursor=None)


def pager_for(request: AnyRequest, outcome: Outcome, state: SearchState) -> Pager:
    if outcome.degraded:
        return Pager(
            next_url=url_with(request, cursor=outcome.next_cursor, seite=None) if outcome.next_cursor else None,
            first_url=url_with(request, cursor=None, seite=None) if state.cursor else None,
        )
    current, last = outcome.page, outcome.last_page
    wanted = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    numbers: list[tuple[int | None, str | None, bool]] = []
    for i, number in enumerate(wanted):
        if i and number - wanted[i - 1] > 1:
            numbers.append((None, None, False))
        numbers.append((number, _page_url(request, number), number == current))
    return Pager(
        prev_url=_page_url(request, current - 1) if current > 1 else None,
        next_url=_page_url(request, current + 1) if current < last else None,
        numbers=numbers,
    )


def _without(request: AnyRequest, scope: Scope, param: str, value: str) -> str:
    """The current URL without one filter value, back on the first page."""
    pairs = [
        (k, v) for k, v in query_pairs(request) if not (k == param and v == value) and k not in ("seite", "cursor")
    ]
    query = urlencode(pairs)
    return f"{scope.path}?{query}" if query else scope.path


async def search_page(
    request: AnyRequest,
    scope: Scope,
    *,
    db_session: Any,
    principal: Any,
    settings: Any,
    viewer: Any,
    search_api: SearchApi,
) -> Any:
    vocab = await load_vocabularies(db_session)
    known = known_values(scope, vocab)
    state = parse_state(request, scope, known)
    outcome: Outcome | None = None
    if state.cursor is not None:
        # Cursors belong to the database list; with the engine the pages have numbers.
        state.messages.append(gettext("Der Verweis auf die nächste Seite war ungültig; hier ist die erste Seite."))
        state.cursor = None
    try:
        outcome = await from_engine(search_api, scope, state)
    except InvalidSearch:
        state.messages.append(
            gettext("Die gewählten Filter konnten nicht angewendet werden; es werden alle Ergebnisse gezeigt.")
        )
        state.selected = {key: [] for key in state.selected}
        try:
            outcome = await from_engine(search_api, scope, state)
        except (SearchUnavailable, InvalidSearch):
            outcome = None
    except SearchUnavailable:
        outcome = None
    if outcome is None:
        state.messages.insert(0, unavailable_message(scope))
        state.cursor = (request.query_params.get("cursor") or "")[:500] or None
        if scope in (SOLUTIONS, HUB):
            outcome = await _solutions_from_database(db_session, principal, settings, scope, state)
        else:
            outcome = await _knowledge_from_database(db_session, scope, state)
    facets = [
        FacetView(
            facet=f,
            options=[
                Option(
                    key=key,
                    label=label,
                    count=None if outcome.counts is None else outcome.counts.get(f.param, {}).get(key, 0),
                    checked=key in state.selected.get(f.param, []),
                )
                for key, label in known[f.param]
            ],
        )
        for f in scope.facets
    ]
    chips = [
        (opt.label, _without(request, scope, fv.facet.param, opt.key))
        for fv in facets
        for opt in fv.options
        if opt.checked
    ]
    solution_filters = {
        **({"q": state.q} if state.q else {}),
        **{f.param: state.selected.get(f.param, []) for f in (STAGE, SECTOR) if f.param in state.selected},
    }
    return page(
        "search/search.html",
        {
            "viewer": viewer,
            "vocab": vocab,
            "scope": scope,
            "state": state,
            "facets": facets,
            "outcome": outcome,
            "heading": found_heading(scope.doc_type, outcome.total),
            "sorts": [(key, gettext(SORTS[key][0])) for key in scope.sorts],
            "chips": chips,
            "pager": pager_for(request, outcome, state),
            "type_labels": TYPE_LABELS,
            "bundeslaender": BUNDESLAENDER,
            "catalog_url": "/loesungen?" + urlencode(solution_filters, doseq=True) if scope is HUB else None,
            "drafts": await knowledge.guide_drafts(db_session, viewer.principal) if scope is GUIDES else [],
        },
    )


def _list_route(path: str, name: str, scope: Scope) -> HTTPRouteHandler:
    """One GET route per scope; they differ only in the scope they search."""

    async def search_scope(
        request: AnyRequest, db_session: Session, principal: Caller, settings: Config, viewer: Who, search_api: Search
    ) -> Any:
        return await search_page(
            request,
            scope,
            db_session=db_session,
            principal=principal,
            settings=settings,
            viewer=viewer,
            search_api=search_api,
        )

    return get(path, name=name)(search_scope)


ROUTES = [
    _list_route("/suche", "web:search", HUB),
    _list_route("/loesungen", "web:catalog", SOLUTIONS),
    _list_route("/fallstudien", "web:case-studies", CASE_STUDIES),
    _list_route("/leitfaeden", "web:guides", GUIDES),
]

"""``GET /api/v1/search`` and ``/api/v1/search/suggest`` over whichever engine is configured.

Filters are the index's facet fields, given as repeatable query parameters (``?sector=a&sector=b``
means a OR b; different fields AND). Anything the index does not offer is a 422 naming the parameter;
an engine that cannot answer is a 503 with ``Retry-After``, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from pydantic import BaseModel

from allmende.core.problems import InvalidInput, ServiceUnavailable
from allmende.core.search.base import (
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_SUGGEST,
    IndexSchema,
    InvalidSearch,
    SearchEngine,
    SearchQuery,
    SearchUnavailable,
    SortDirection,
)

CONTROL_PARAMETERS = {"q", "sort", "page", "per_page", "cursor", "facet", "limit", "lang"}
RETRY_AFTER_SECONDS = "5"
MAX_QUERY_LENGTH = 500  # longer is no search a person types; refuse it instead of cutting it silently


@dataclass
class SearchApi:
    engine: SearchEngine
    schema: IndexSchema
    sorts: dict[str, list[tuple[str, SortDirection]]]
    paths: dict[str, str] = field(default_factory=dict)  # document type -> "/api/v1/…/{slug}"


class HitOut(BaseModel):
    id: str
    type: str
    slug: str | None
    title: str | None
    summary: str | None
    url: str | None
    score: float
    highlights: dict[str, str]
    facets: dict[str, Any]


class SearchOut(BaseModel):
    items: list[HitOut]
    total: int
    next_cursor: str | None
    page: int
    per_page: int
    facets: dict[str, dict[str, int]]
    took_ms: float


class SuggestOut(BaseModel):
    items: list[dict[str, Any]]
    total: int
    next_cursor: None = None


def _filters(request: Request[Any, Any, Any], schema: IndexSchema) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    allowed = set(schema.facet_fields)
    for name in request.query_params:
        if name in CONTROL_PARAMETERS:
            continue
        if name not in allowed:
            raise InvalidInput(
                f"'{name}' is not a filter of the search; use one of {', '.join(sorted(allowed))}", field=name
            )
        filters[name] = [v for v in request.query_params.getall(name) if v != ""]
    return filters


def _page(page: int | None, cursor: str | None) -> int:
    if cursor:
        if not cursor.isdigit():
            raise InvalidInput("cursor is not one this API handed out", field="cursor")
        return int(cursor)
    return 1 if page is None else page


async def _run(call: Any) -> Any:
    try:
        return await call
    except InvalidSearch as exc:
        raise InvalidInput(exc.message, field=exc.field.removeprefix("filters.")) from None
    except SearchUnavailable:
        raise ServiceUnavailable(
            "search is unavailable right now; try again shortly",
            field=None,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ) from None


class SearchController(Controller):
    path = "/api/v1/search"
    tags = ["search"]  # noqa: RUF012

    @get("/", summary="Full-text search over solutions, case studies and guides, with facets")
    async def search(
        self,
        request: Request[Any, Any, Any],
        search_api: NamedDependency[SearchApi],
        q: Annotated[str, QueryParameter(max_length=1000)] = "",
        sort: FromQuery[str] = "relevance",
        page: Annotated[int | None, QueryParameter(ge=1, le=MAX_PAGE)] = None,
        per_page: Annotated[int, QueryParameter(ge=1, le=MAX_PER_PAGE)] = 20,
        cursor: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{1,9}$", description="a page number")] = None,
        facet: Annotated[list[str] | None, QueryParameter(required=False)] = None,
    ) -> SearchOut:
        if len(q) > MAX_QUERY_LENGTH:
            raise InvalidInput(f"the query is longer than {MAX_QUERY_LENGTH} characters", field="q")
        if sort != "relevance" and sort not in search_api.sorts:
            raise InvalidInput(f"sort must be relevance or one of {', '.join(search_api.sorts)}", field="sort")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise InvalidInput(f"per_page must be between 1 and {MAX_PER_PAGE}", field="per_page")
        query = SearchQuery(
            q=q,
            filters=_filters(request, search_api.schema),
            facets=facet if facet else search_api.schema.facet_fields,
            sort=search_api.sorts.get(sort, []),
            page=_page(page, cursor),
            per_page=per_page,
        )
        result = await _run(search_api.engine.search(query))
        last_page = max(1, -(-result.total // result.per_page))
        return SearchOut(
            items=[_hit(h, search_api) for h in result.hits],
            total=result.total,
            next_cursor=str(result.page + 1) if result.page < last_page else None,
            page=result.page,
            per_page=result.per_page,
            facets=result.facets,
            took_ms=result.took_ms,
        )

    @get("/suggest", summary="Search as you type: the last word is a prefix")
    async def suggest(
        self,
        search_api: NamedDependency[SearchApi],
        q: Annotated[str, QueryParameter(max_length=200)] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_SUGGEST)] = 8,
    ) -> SuggestOut:
        items = await _run(search_api.engine.suggest(q, limit)) if q.strip() else []
        for item in items:
            template = search_api.paths.get(str(item.get("type")))
            if template and item.get("slug"):
                item["url"] = template.format(slug=item["slug"])
        return SuggestOut(items=items, total=len(items))


def _hit(hit: Any, api: SearchApi) -> HitOut:
    document = hit.document
    template = api.paths.get(hit.type)
    slug = document.get("slug")
    return HitOut(
        id=hit.id,
        type=hit.type,
        slug=slug,
        title=document.get("title"),
        summary=document.get("summary"),
        url=template.format(slug=slug) if template and slug else None,
        score=hit.score,
        highlights=hit.highlights,
        facets={name: document[name] for name in api.schema.filterable if name in document},
    )

"""The search interface: one Protocol, two engines (embedded and Meilisearch).

Core infrastructure: imports no domain package. Documents are plain dicts with a string ``id``
(``"solution:<uuid>"``) and a ``type`` (``"solution"``, ``"case_study"``, ``"guide"``); all types share
one index. Every query is validated here, before any engine sees it, so both engines reject the same
input with the same :class:`InvalidSearch` and no engine's error text ever reaches a client.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from allmende.core.search.text import MAX_QUERY_CHARS, clean

SortDirection = Literal["asc", "desc"]

MAX_PER_PAGE = 100
#: Deepest page a query may ask for; a page past the last match (but within this) answers no hits.
MAX_PAGE = 10_000
#: Values reported per facet (both engines; Meilisearch's default of 100 is raised to this).
FACET_LIMIT = 1_000
MAX_FILTER_VALUES = 100
MAX_FILTER_VALUE_LENGTH = 300
MAX_SUGGEST = 20
#: Searchable text longer than this many words comes back cropped around the first match.
CROP_WORDS = 30
CROP_MARKER = "…"

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
TYPE_FIELD = "type"


class SearchError(Exception):
    """Base of the search errors."""


class SearchUnavailable(SearchError):
    """The engine cannot be reached or failed; the API answers 503 with ``Retry-After``."""


class InvalidSearch(SearchError):
    """The query asks for something the index does not offer; ``field`` names the offending input."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class IndexSchema:
    """What the index searches, filters and sorts on.

    ``searchable``: (field, weight) pairs, e.g. name 3.0, summary 2.0, tags 2.0, body 1.0; values are
    strings or lists of strings. ``filterable``: facet fields (strings or lists of strings); ``type``
    is always filterable. ``sortable``: strings or numbers.
    """

    searchable: list[tuple[str, float]]
    filterable: list[str]
    sortable: list[str]
    primary_key: str = "id"

    def __post_init__(self) -> None:
        names = [name for name, _ in self.searchable] + self.filterable + self.sortable + [self.primary_key]
        for name in names:
            if not _FIELD_NAME.match(name) or name.startswith("_"):
                raise ValueError(f"invalid field name for the search index: {name!r}")
        if not self.searchable:
            raise ValueError("the search index needs at least one searchable field")
        for name, weight in self.searchable:
            if not weight > 0:
                raise ValueError(f"weight of {name!r} must be positive")

    @property
    def facet_fields(self) -> list[str]:
        return list(dict.fromkeys([*self.filterable, TYPE_FIELD]))

    @property
    def searchable_by_weight(self) -> list[tuple[str, float]]:
        """Searchable fields, heaviest first (stable for equal weights)."""
        return sorted(self.searchable, key=lambda item: -item[1])

    @property
    def title_field(self) -> str:
        """The heaviest searchable field: what suggestions show."""
        return self.searchable_by_weight[0][0]

    def fingerprint(self) -> str:
        return json.dumps(
            {
                "searchable": [[n, w] for n, w in self.searchable],
                "filterable": self.filterable,
                "sortable": self.sortable,
                "primary_key": self.primary_key,
            },
            sort_keys=True,
        )


@dataclass
class SearchQuery:
    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    facets: list[str] = field(default_factory=list)
    sort: list[tuple[str, SortDirection]] = field(default_factory=list)
    page: int = 1
    per_page: int = 20
    highlight: bool = True


@dataclass
class SearchHit:
    id: str
    type: str
    score: float
    document: dict[str, Any]
    #: field → snippet; matches wrapped in ``<mark>…</mark>``, everything else HTML-escaped.
    highlights: dict[str, str] = field(default_factory=dict)


@dataclass
class SearchResult:
    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    #: facet → value → count over all matches of q and filters (not only this page).
    facets: dict[str, dict[str, int]]
    took_ms: float


ProgressCallback = Callable[[int], None]
DocumentSource = AsyncIterable[dict[str, Any]] | Iterable[dict[str, Any]]


@runtime_checkable
class SearchEngine(Protocol):
    """All calls are async and never block the event loop."""

    async def configure(self, schema: IndexSchema) -> None:
        """Apply the schema (settings); documents already indexed stay searchable."""

    async def upsert(self, documents: Sequence[Mapping[str, Any]]) -> None:
        """Add or replace documents by id."""

    async def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    async def search(self, query: SearchQuery) -> SearchResult: ...

    async def suggest(self, prefix: str, limit: int = 8) -> list[dict[str, Any]]:
        """Search as you type: ``[{"id", "type", "title", "highlight"}]``, the last word a prefix."""

    async def health(self) -> None:
        """Return if the engine answers; raise :class:`SearchUnavailable` otherwise."""

    async def rebuild(self, documents: DocumentSource, on_progress: ProgressCallback | None = None) -> int:
        """Build a fresh index from ``documents`` and swap it in atomically; returns the count."""

    async def count(self) -> int: ...

    async def close(self) -> None: ...


# --- validation shared by both engines ---------------------------------------------------------------


def validate_query(schema: IndexSchema, query: SearchQuery) -> SearchQuery:
    """Check ``query`` against ``schema``; return it normalised (query text cleaned and cut, filter
    values de-duplicated, empty filter lists dropped). Raises :class:`InvalidSearch`."""
    if not isinstance(query.q, str):
        raise InvalidSearch("q must be a string", "q")
    if isinstance(query.per_page, bool) or not isinstance(query.per_page, int):
        raise InvalidSearch("per_page must be an integer", "per_page")
    if not 1 <= query.per_page <= MAX_PER_PAGE:
        raise InvalidSearch(f"per_page must be between 1 and {MAX_PER_PAGE}", "per_page")
    if isinstance(query.page, bool) or not isinstance(query.page, int):
        raise InvalidSearch("page must be an integer", "page")
    if not 1 <= query.page <= MAX_PAGE:
        raise InvalidSearch(f"page must be between 1 and {MAX_PAGE}", "page")
    allowed = set(schema.facet_fields)
    filters: dict[str, list[str]] = {}
    for name, values in query.filters.items():
        if name not in allowed:
            raise InvalidSearch(
                f"unknown filter field: {name}", f"filters.{name}" if _FIELD_NAME.match(name) else "filters"
            )
        if isinstance(values, str) or not isinstance(values, list | tuple):
            raise InvalidSearch("filter values must be a list of strings", f"filters.{name}")
        if len(values) > MAX_FILTER_VALUES:
            raise InvalidSearch(f"at most {MAX_FILTER_VALUES} values per filter", f"filters.{name}")
        cleaned: list[str] = []
        for value in values:
            if not isinstance(value, str):
                raise InvalidSearch("filter values must be strings", f"filters.{name}")
            if len(value) > MAX_FILTER_VALUE_LENGTH:
                raise InvalidSearch("filter value too long", f"filters.{name}")
            if value not in cleaned:
                cleaned.append(value)
        if cleaned:
            filters[name] = cleaned
    for name in query.facets:
        if not isinstance(name, str) or name not in allowed:
            raise InvalidSearch(f"unknown facet: {name}", "facets")
    sortable = set(schema.sortable)
    seen: set[str] = set()
    for item in query.sort:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise InvalidSearch("sort entries are (field, direction)", "sort")
        name, direction = item
        if not isinstance(name, str) or name not in sortable:
            raise InvalidSearch(f"unknown sort field: {name}", "sort")
        if direction not in ("asc", "desc"):
            raise InvalidSearch("sort direction must be asc or desc", "sort")
        if name in seen:
            raise InvalidSearch(f"sort field given twice: {name}", "sort")
        seen.add(name)
    if not isinstance(query.highlight, bool):
        raise InvalidSearch("highlight must be true or false", "highlight")
    return replace(
        query,
        q=clean(query.q[:MAX_QUERY_CHARS]).strip(),
        filters=filters,
        facets=list(dict.fromkeys(query.facets)),
        sort=[(name, direction) for name, direction in query.sort],
    )


def validate_suggest(prefix: str, limit: int) -> str:
    if not isinstance(prefix, str):
        raise InvalidSearch("prefix must be a string", "q")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SUGGEST:
        raise InvalidSearch(f"limit must be between 1 and {MAX_SUGGEST}", "limit")
    return clean(prefix[:MAX_QUERY_CHARS])


def check_documents(schema: IndexSchema, documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Documents as they may be indexed: a non-empty string id and a string type, text cleaned of the
    characters the engines use as highlight markers. Raises :class:`ValueError` for a bad document."""
    key = schema.primary_key
    result: list[dict[str, Any]] = []
    for document in documents:
        doc_id = document.get(key)
        if not isinstance(doc_id, str) or not doc_id or len(doc_id) > 500:
            raise ValueError(f"search document needs a non-empty string {key!r}")
        doc_type = document.get(TYPE_FIELD)
        if not isinstance(doc_type, str) or not doc_type:
            raise ValueError(f"search document {doc_id!r} needs a string 'type'")
        result.append({k: _clean_value(v) for k, v in document.items()})
    return result


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value


def text_values(value: Any) -> list[str]:
    """A searchable or facet value as a list of strings (``None`` → ``[]``)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None and not isinstance(v, dict | list)]
    if isinstance(value, dict):
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def top_values(counts: Mapping[str, int]) -> dict[str, int]:
    """A facet's :data:`FACET_LIMIT` most frequent values, most frequent first, then alphabetical."""
    ordered = sorted(((v, c) for v, c in counts.items() if c > 0), key=lambda item: (-item[1], item[0]))
    return dict(ordered[:FACET_LIMIT])


async def batched(source: DocumentSource, size: int) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of ``size`` documents from a sync or async iterable (yielding to the loop in between)."""
    batch: list[dict[str, Any]] = []
    if isinstance(source, AsyncIterable):
        async for item in source:
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
    else:
        for item in source:
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
                await asyncio.sleep(0)
    if batch:
        yield batch

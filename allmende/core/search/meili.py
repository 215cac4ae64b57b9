"""The Meilisearch adapter (production profile): the official ``meilisearch`` client, in worker threads.

The client is synchronous (``requests``), so every call runs through :func:`asyncio.to_thread`; the
event loop never waits on the network. What the adapter guarantees:

- settings (searchable attributes in weight order, filterable and sortable attributes, ranking rules,
  typo tolerance, German synonyms and stop words from :mod:`allmende.core.search.text`, localized
  attributes ``deu``, faceting and pagination limits) are applied before any document is added, and
  the primary key is always given explicitly;
- every task is awaited with ``wait_for_task`` and a task that did not succeed raises
  :class:`SearchUnavailable` (the client itself does not raise for a failed task);
- a query is validated by :func:`validate_query` before anything is sent; filter values are always
  quoted and escaped (``\\`` and ``"``), so a value is data and never filter syntax;
- highlights use private-use marker characters (removed from indexed text) instead of tags, and are
  then HTML-escaped exactly like the embedded engine's, with only ``<mark>`` left as markup;
- ``rebuild`` fills ``<uid>_rebuild_<ms>`` (settings first), replays writes that arrived meanwhile,
  swaps it with the live index (``/swap-indexes``) and deletes the old one;
- connection errors, time-outs, 5xx answers and failed tasks become :class:`SearchUnavailable`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import meilisearch
import requests
from meilisearch.errors import MeilisearchApiError, MeilisearchCommunicationError, MeilisearchTimeoutError

from allmende.core.search.base import (
    CROP_MARKER,
    CROP_WORDS,
    FACET_LIMIT,
    MAX_PAGE,
    MAX_PER_PAGE,
    TYPE_FIELD,
    DocumentSource,
    IndexSchema,
    ProgressCallback,
    SearchHit,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
    batched,
    check_documents,
    text_values,
    top_values,
    validate_query,
    validate_suggest,
)
from allmende.core.search.text import (
    MARK_END,
    MARK_START,
    STOP_WORDS,
    matches_nothing,
    meilisearch_synonyms,
    render_marked,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

RANKING_RULES = ["words", "typo", "proximity", "attribute", "sort", "exactness"]
#: Exact totals need maxTotalHits at least the number of matches; this covers every reachable page.
MAX_TOTAL_HITS = MAX_PAGE * MAX_PER_PAGE
LOCALES = ["deu"]


class _Encoder(json.JSONEncoder):
    """Values JSON does not know (dates, UUIDs, …) as strings, as the embedded engine stores them."""

    def default(self, o: Any) -> Any:
        return str(o)


def quote_filter_value(value: str) -> str:
    """A filter value as a Meilisearch string literal: double quotes, ``\\`` and ``"`` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_filter(filters: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Filters as Meilisearch's array form: the outer list is AND, each inner list OR.

    Field names were checked against the schema (identifiers only); values are quoted literals.
    """
    return [[f"{name} = {quote_filter_value(value)}" for value in values] for name, values in filters.items()]


def index_settings(schema: IndexSchema) -> dict[str, Any]:
    return {
        "searchableAttributes": [name for name, _ in schema.searchable_by_weight],
        "filterableAttributes": schema.facet_fields,
        "sortableAttributes": list(schema.sortable),
        "rankingRules": RANKING_RULES,
        "typoTolerance": {"enabled": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9}},
        "synonyms": meilisearch_synonyms(),
        "stopWords": list(STOP_WORDS),
        "localizedAttributes": [{"attributePatterns": ["*"], "locales": LOCALES}],
        "faceting": {"maxValuesPerFacet": FACET_LIMIT, "sortFacetValuesBy": {"*": "count"}},
        "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
    }


class MeilisearchEngine:
    """The :class:`~allmende.core.search.base.SearchEngine` of the production profile."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        index_uid: str = "allmende",
        timeout_seconds: int = 10,
        task_timeout_ms: int = 120_000,
        batch_size: int = 1_000,
    ) -> None:
        self._client = meilisearch.Client(url, api_key, timeout=timeout_seconds)
        self._uid = index_uid
        self._task_timeout_ms = task_timeout_ms
        self._batch_size = batch_size
        self._schema: IndexSchema | None = None
        self._rebuild_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._journal: list[tuple[str, list[Any]]] | None = None

    @property
    def index_uid(self) -> str:
        return self._uid

    # --- plumbing --------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a client call in a worker thread; every failure of the server becomes SearchUnavailable."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (MeilisearchCommunicationError, MeilisearchTimeoutError, requests.RequestException) as exc:
            raise SearchUnavailable("Meilisearch is not reachable") from exc
        except MeilisearchApiError as exc:
            log.warning("meilisearch answered %s %s", exc.status_code, exc.code)
            raise SearchUnavailable(f"Meilisearch refused the request ({exc.status_code} {exc.code})") from exc

    def _wait_sync(self, task_uid: int) -> None:
        task = self._client.wait_for_task(task_uid, timeout_in_ms=self._task_timeout_ms, interval_in_ms=50)
        if task.status != "succeeded":
            error = task.error or {}
            log.warning("meilisearch task %s %s: %s", task_uid, task.status, error.get("code"))
            raise SearchUnavailable(f"Meilisearch task {task_uid} {task.status} ({error.get('code', 'no error code')})")

    async def _wait(self, task_uid: int) -> None:
        await self._call(self._wait_sync, task_uid)

    def _require(self) -> IndexSchema:
        if self._schema is None:
            raise SearchUnavailable("the search index is not configured")
        return self._schema

    def _index_info(self, uid: str) -> dict[str, Any] | None:
        try:
            return self._client.get_raw_index(uid)
        except MeilisearchApiError as exc:
            if exc.code == "index_not_found" or exc.status_code == 404:
                return None
            raise

    async def _prepare_index(self, uid: str, schema: IndexSchema) -> None:
        """The index exists with the explicit primary key, and carries the settings (awaited)."""
        info = await self._call(self._index_info, uid)
        if info is None:
            task = await self._call(self._client.create_index, uid, {"primaryKey": schema.primary_key})
            await self._wait(task.task_uid)
        elif info.get("primaryKey") != schema.primary_key:
            task = await self._call(self._client.index(uid).update, primary_key=schema.primary_key)
            await self._wait(task.task_uid)
        task = await self._call(self._client.index(uid).update_settings, index_settings(schema))
        await self._wait(task.task_uid)

    async def _add(self, uid: str, schema: IndexSchema, documents: list[dict[str, Any]]) -> None:
        index = self._client.index(uid)
        for start in range(0, len(documents), self._batch_size):
            batch = documents[start : start + self._batch_size]
            task = await self._call(index.add_documents, batch, schema.primary_key, serializer=_Encoder)
            await self._wait(task.task_uid)

    def _delete_batch(self, uid: str, ids: list[str]) -> int:
        # POST /indexes/{uid}/documents/delete-batch (the client's delete_documents(ids) warns about a
        # deprecation of its own signature, not of this route)
        response = self._client.http.post(f"indexes/{uid}/documents/delete-batch", ids)
        return int(response["taskUid"])

    async def _remove(self, uid: str, ids: list[str]) -> None:
        task_uid = await self._call(self._delete_batch, uid, ids)
        await self._wait(task_uid)

    # --- the protocol ------------------------------------------------------------------------------

    async def configure(self, schema: IndexSchema) -> None:
        async with self._write_lock:
            await self._prepare_index(self._uid, schema)
            self._schema = schema

    async def upsert(self, documents: Sequence[Mapping[str, Any]]) -> None:
        schema = self._require()
        docs = check_documents(schema, documents)
        if not docs:
            return
        docs = list({d[schema.primary_key]: d for d in docs}.values())
        async with self._write_lock:
            await self._add(self._uid, schema, docs)
            if self._journal is not None:
                self._journal.append(("upsert", docs))

    async def delete(self, ids: Sequence[str]) -> None:
        self._require()
        wanted = [i for i in dict.fromkeys(ids) if isinstance(i, str)]
        if not wanted:
            return
        async with self._write_lock:
            await self._remove(self._uid, wanted)
            if self._journal is not None:
                self._journal.append(("delete", wanted))

    def search_params(self, query: SearchQuery) -> dict[str, Any]:
        """The body of ``POST /indexes/{uid}/search`` for a validated query."""
        schema = self._require()
        params: dict[str, Any] = {
            "page": query.page,
            "hitsPerPage": query.per_page,
            "matchingStrategy": "all",
            "locales": LOCALES,
            "showRankingScore": True,
        }
        if query.facets:
            params["facets"] = list(query.facets)
        if query.filters:
            params["filter"] = build_filter(query.filters)
        if query.sort:
            params["sort"] = [f"{name}:{direction}" for name, direction in query.sort]
        if query.highlight and query.q:
            names = [name for name, _ in schema.searchable]
            params.update(
                {
                    "attributesToHighlight": names,
                    "highlightPreTag": MARK_START,
                    "highlightPostTag": MARK_END,
                    "attributesToCrop": names,
                    "cropLength": CROP_WORDS,
                    "cropMarker": CROP_MARKER,
                }
            )
        return params

    async def search(self, query: SearchQuery) -> SearchResult:
        schema = self._require()
        checked = validate_query(schema, query)
        started = time.perf_counter()
        if matches_nothing(checked.q):  # as the embedded engine: only stop words, or over-long words
            empty: dict[str, dict[str, int]] = {name: {} for name in checked.facets}
            return SearchResult(
                hits=[], total=0, page=checked.page, per_page=checked.per_page, facets=empty, took_ms=0.0
            )
        params = self.search_params(checked)
        raw = await self._call(self._client.index(self._uid).search, checked.q, params)
        hits = [self._hit(schema, hit, highlight="attributesToHighlight" in params) for hit in raw.get("hits", [])]
        distribution = raw.get("facetDistribution") or {}
        facets = {
            name: top_values({str(k): int(v) for k, v in (distribution.get(name) or {}).items()})
            for name in checked.facets
        }
        total = int(raw.get("totalHits", raw.get("estimatedTotalHits", 0)) or 0)
        took = (time.perf_counter() - started) * 1000
        return SearchResult(
            hits=hits, total=total, page=checked.page, per_page=checked.per_page, facets=facets, took_ms=took
        )

    @staticmethod
    def _hit(schema: IndexSchema, raw: Mapping[str, Any], *, highlight: bool) -> SearchHit:
        document = {k: v for k, v in raw.items() if not k.startswith("_")}
        highlights: dict[str, str] = {}
        formatted = raw.get("_formatted") or {}
        if highlight:
            for name, _ in schema.searchable:
                if not text_values(document.get(name)):
                    continue
                value = formatted.get(name, document.get(name))
                if isinstance(value, list):
                    highlights[name] = ", ".join(render_marked(str(v)) for v in value if v is not None)
                elif value is not None:
                    highlights[name] = render_marked(str(value))
        return SearchHit(
            id=str(document.get(schema.primary_key)),
            type=str(document.get(TYPE_FIELD)),
            score=float(raw.get("_rankingScore") or 0.0),
            document=document,
            highlights=highlights,
        )

    async def suggest(self, prefix: str, limit: int = 8) -> list[dict[str, Any]]:
        schema = self._require()
        text = validate_suggest(prefix, limit).strip()
        if not text:
            return []
        title = schema.title_field
        params = {
            "hitsPerPage": limit,
            "page": 1,
            "matchingStrategy": "all",
            "locales": LOCALES,
            "attributesToRetrieve": [schema.primary_key, TYPE_FIELD, title],
            "attributesToHighlight": [title],
            "highlightPreTag": MARK_START,
            "highlightPostTag": MARK_END,
        }
        raw = await self._call(self._client.index(self._uid).search, text, params)
        out = []
        for hit in raw.get("hits", []):
            value = ", ".join(text_values(hit.get(title)))
            formatted = (hit.get("_formatted") or {}).get(title, value)
            snippet = (
                ", ".join(render_marked(str(v)) for v in formatted)
                if isinstance(formatted, list)
                else render_marked(str(formatted))
            )
            out.append(
                {"id": hit.get(schema.primary_key), "type": hit.get(TYPE_FIELD), "title": value, "highlight": snippet}
            )
        return out

    async def health(self) -> None:
        answer = await self._call(self._client.health)
        if not isinstance(answer, dict) or answer.get("status") != "available":
            raise SearchUnavailable("Meilisearch is not available")

    async def count(self) -> int:
        self._require()
        stats = await self._call(self._client.index(self._uid).get_stats)
        return int(stats.number_of_documents)

    async def rebuild(self, documents: DocumentSource, on_progress: ProgressCallback | None = None) -> int:
        schema = self._require()
        async with self._rebuild_lock:
            fresh = f"{self._uid}_rebuild_{int(time.time() * 1000)}"
            async with self._write_lock:
                self._journal = []
            done = 0
            try:
                await self._prepare_index(fresh, schema)  # settings before any document
                async for batch in batched(documents, self._batch_size):
                    docs = check_documents(schema, batch)
                    await self._add(fresh, schema, docs)
                    done += len(docs)
                    if on_progress is not None:
                        on_progress(done)
                async with self._write_lock:
                    for op, payload in self._journal or []:
                        if op == "upsert":
                            await self._add(fresh, schema, payload)
                        else:
                            await self._remove(fresh, payload)
                    if await self._call(self._index_info, self._uid) is None:
                        await self._prepare_index(self._uid, schema)
                    task = await self._call(self._client.swap_indexes, [{"indexes": [self._uid, fresh]}])
                    await self._wait(task.task_uid)
                    self._journal = None
            except BaseException:
                async with self._write_lock:
                    self._journal = None
                try:  # best effort: do not leave the half-built index behind
                    task = await self._call(self._client.delete_index, fresh)
                    await self._wait(task.task_uid)
                except SearchUnavailable:
                    log.warning("could not delete the abandoned index %s", fresh)
                raise
            # after the swap, ``fresh`` holds the previous documents
            task = await self._call(self._client.delete_index, fresh)
            await self._wait(task.task_uid)
            return await self.count()

    async def close(self) -> None:
        self._schema = None

# size: one engine, its generations and its queries belong together.
"""The embedded search engine (default profile, no server): tantivy, a Rust search library.

Why tantivy (the ``tantivy`` PyPI package) and not SQLite FTS5 — measured on this project's synthetic
catalog (``bench/search.py`` documents, 100,000 of them, 2 cores, one-word queries, facets over five
fields):

- SQLite FTS5 (``unicode61 remove_diacritics 2``, prefix indexes, exact words only — no stems,
  compound parts or synonyms yet): top 20 by ``bm25()`` plus the exact count took p50 9 ms / p95 64 ms;
  counting five facets over all matches by joining a facet table took p50 42 ms / p95 340 ms. FTS5 has
  no typo tolerance at all; we would have to keep our own vocabulary and candidate generation.
- tantivy, with the full German analysis below: page, exact total and five facet counts together
  stay within the 20 ms p95 budget (see the numbers ``bench/search.py`` prints). Facets are terms
  aggregations inside the library (``Searcher.aggregate``); typo tolerance is native
  (``fuzzy_term_query``: a Levenshtein automaton with transpositions, optionally as a prefix) over
  the term dictionary; every way a word can match gets its own boost (exact > stem/compound part >
  own compound parts > synonym > prefix > typo) on top of BM25 and the field weights. Search releases
  the GIL, so the page and the facet counts are computed at the same time in two threads.
- German analysis runs in Rust at index time (simple tokenizer, ASCII folding, our stop words, the
  Snowball German stemmer, which also reads "ae/oe/ue" as umlauts), so a full rebuild of 100,000
  documents stays inside the 60 s budget; Python only spells out umlauts and splits compounds (with a
  fixed lexicon, cached per word — see :mod:`allmende.core.search.text` for why not n-grams).

Matching (see :mod:`allmende.core.search.analysis`): every query word (or synonym phrase) must match.
Typo tolerance (1 edit from 5 letters, 2 from 9) applies to words the index does not know as typed
in at least :data:`TYPO_FREE_DOC_FREQ` documents: "Daten" does not also find "Datei", while
"Bürgerbeteilgung" finds "Bürgerbeteiligung". The last word is also a prefix unless the query ends
with a separator. Filters compare case-insensitively, like Meilisearch's.

Index layout, per searchable field ``f``: ``t__f`` (exact folded words: exact, prefix and typo
matching) and ``s__f`` (stems of the words and of the parts of compounds). Per facet field ``x``:
``l__x`` (lower-cased, for filters), ``f__x`` (values, multi-valued fast field) and ``c__x`` (the
document's sorted set of values as one term: counting a single-valued fast field is 10-50 times
faster, and the combination counts are spread over their values). Per sortable field: ``o__x``
(folded string) or ``n__x`` (number), a presence flag ``m__x`` and ``k0..k2__x``, the first 24 bytes of
the string as numbers, for sorting by several keys in a ``top_hits`` aggregation (exact for one
key; with several, strings compare on their first 24 bytes). The document is stored as JSON
(``_src``).

On disk the index lives in ``<path>/<generation>/``; ``<path>/CURRENT`` names the live generation.
``rebuild`` writes a new generation while searches keep reading the old one, replays writes that
arrived meanwhile, then switches ``CURRENT`` (an atomic rename) and the in-memory reference: a search
sees the old or the new index, never a half-built one. A changed schema is applied by re-indexing
the stored documents into a new generation (as Meilisearch re-indexes on new settings). With
``path=None`` the index lives in memory (tests). Several processes may share the directory (the app,
``allmende worker``, ``allmende reindex``): writes take a directory lock and are short, readers
follow other processes' commits and generations (``docs/search-processes.md``).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import struct
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import tantivy

from allmende.core.search.analysis import (
    ANALYSIS_VERSION,
    EXACT_ANALYZER,
    STEM_ANALYZER,
    STORED_ONLY_ANALYZER,
    Matcher,
    QueryPlan,
    Unit,
    Word,
    build_analyzers,
    highlight_text,
    plan_query,
)
from allmende.core.search.base import (
    TYPE_FIELD,
    DocumentSource,
    IndexSchema,
    InvalidSearch,
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
from allmende.core.search.text import compound_parts_text, fold

_BATCH = 2_000
_CURRENT = "CURRENT"
_LOCK_FILE = ".writer.lock"
#: How long a write waits while another process writes the index (a rebuild holds it from start to swap).
WRITE_LOCK_TIMEOUT = 30.0
_META = "allmende-index.json"

# boosts of the ways a query word can match (multiplied by the field's weight)
_B_EXACT = 1.0
_B_STEM = 0.8
_B_OWN_PARTS = 0.4
_B_SYNONYM = 0.6
_B_PREFIX = 0.45
_B_TYPO = 0.3
_B_PHRASE = 1.5
_COMBO_SEPARATOR = "\x1f"  # control characters are removed from indexed values, so it cannot occur
_COMBO_LIMIT = 20_000
_DEEP_PAGE = 1_000
#: A query word found as typed in this many documents gets no typo tolerance.
TYPO_FREE_DOC_FREQ = 3


_STEM_TYPO_MIN_WEIGHT = 2.0


def _sort_chunks(value: str) -> tuple[int, int, int]:
    raw = value.encode("utf-8")[:24].ljust(24, b"\0")
    a, b, c = struct.unpack(">QQQ", raw)
    return a, b, c


class _Generation:
    """One tantivy index; all methods are synchronous (run in worker threads).

    The tantivy writer exists only while a write is under way (``add``/``remove`` … ``commit``): tantivy
    locks the directory for as long as a writer lives, and other processes (``allmende worker``,
    ``allmende reindex``) must be able to write between our writes. ``create`` is False for a
    generation another process made: it is opened for reading and writing, never initialised.
    """

    def __init__(self, schema: IndexSchema, directory: Path | None, *, heap: int, create: bool = True) -> None:
        self.schema = schema
        self.heap = heap
        self.directory = directory
        self.searchable = schema.searchable_by_weight
        self.facet_fields = schema.facet_fields
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=False, tokenizer_name="raw", fast=True, index_option="basic")
        builder.add_text_field("_src", stored=True, tokenizer_name=STORED_ONLY_ANALYZER, index_option="basic")
        for name, _ in self.searchable:
            builder.add_text_field(f"t__{name}", tokenizer_name=EXACT_ANALYZER, index_option="freq")
            # positions: synonym phrases ("offene Daten") must match as phrases
            builder.add_text_field(f"s__{name}", tokenizer_name=STEM_ANALYZER, index_option="position")
        for name in self.facet_fields:
            builder.add_text_field(f"f__{name}", tokenizer_name="raw", fast=True, index_option="basic")
            builder.add_text_field(f"c__{name}", tokenizer_name="raw", fast=True, index_option="basic")
            builder.add_text_field(f"l__{name}", tokenizer_name="raw", index_option="basic")
        for name in schema.sortable:
            builder.add_text_field(f"o__{name}", tokenizer_name="raw", fast=True, index_option="basic")
            builder.add_float_field(f"n__{name}", fast=True, indexed=False)
            builder.add_unsigned_field(f"m__{name}", fast=True, indexed=False)
            for k in range(3):
                builder.add_unsigned_field(f"k{k}__{name}", fast=True, indexed=False)
        self.tschema = builder.build()
        if directory is None:
            self.index = tantivy.Index(self.tschema)
        else:
            if create:
                directory.mkdir(parents=True, exist_ok=True)
            elif not (directory / "meta.json").exists():
                raise ValueError(f"no index in {directory}")
            self.index = tantivy.Index(self.tschema, path=str(directory), reuse=True)
            if create:
                (directory / _META).write_text(
                    json.dumps({"schema": schema.fingerprint(), "analysis": ANALYSIS_VERSION}), encoding="utf-8"
                )
        for name, analyzer in build_analyzers().items():
            self.index.register_tokenizer(name, analyzer)
        self.index.config_reader(reload_policy="manual")
        self.writer: tantivy.IndexWriter | None = None
        self.closed = False
        self._numeric_sort: dict[str, bool] = {}
        self._lock = threading.Lock()
        self.seen = self.disk_state()

    def disk_state(self) -> tuple[int, int] | None:
        """Identity of the last commit on disk (tantivy replaces ``meta.json`` atomically on commit)."""
        if self.directory is None:
            return None
        try:
            st = os.stat(self.directory / "meta.json")
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def reload_if_changed(self) -> None:
        """Another process committed to this generation: let the next searcher see it."""
        state = self.disk_state()
        if state is not None and state != self.seen:
            self.index.reload()
            with self._lock:
                self._numeric_sort.clear()
            self.seen = state

    # --- writing -------------------------------------------------------------------------------

    def _document(self, doc: Mapping[str, Any]) -> tantivy.Document:
        out = tantivy.Document()
        out.add_text("id", doc["id"] if self.schema.primary_key == "id" else doc[self.schema.primary_key])
        out.add_text("_src", json.dumps(doc, ensure_ascii=False, default=str, separators=(",", ":")))
        for name, _ in self.searchable:
            values = text_values(doc.get(name))
            if not values:
                continue
            folded = fold("\n".join(values))
            out.add_text(f"t__{name}", folded)
            # stems of the words and of the parts of compounds: "buergerbeteiligung" → … "burg" "beteil"
            parts = compound_parts_text([folded])
            out.add_text(f"s__{name}", f"{folded}\n{parts}" if parts else folded)
        for name in self.facet_fields:
            facet_values = sorted(set(text_values(doc.get(name))))
            for facet_value in facet_values:
                out.add_text(f"f__{name}", facet_value)
                out.add_text(f"l__{name}", facet_value.lower())
            if facet_values:
                out.add_text(f"c__{name}", _COMBO_SEPARATOR.join(facet_values))
        for name in self.schema.sortable:
            value = doc.get(name)
            if isinstance(value, bool) or value is None or isinstance(value, dict | list):
                out.add_unsigned(f"m__{name}", 0)
            elif isinstance(value, int | float):
                out.add_float(f"n__{name}", float(value))
                out.add_unsigned(f"m__{name}", 1)
            else:
                key = fold(str(value))[:200]
                out.add_text(f"o__{name}", key)
                out.add_unsigned(f"m__{name}", 1)
                for k, chunk in enumerate(_sort_chunks(key)):
                    out.add_unsigned(f"k{k}__{name}", chunk)
        return out

    def _writer(self) -> tantivy.IndexWriter:
        if self.closed:
            raise SearchUnavailable("the search index is closed")
        if self.writer is None:
            self.writer = self.index.writer(heap_size=self.heap, num_threads=0)
        return self.writer

    def add(self, documents: Sequence[Mapping[str, Any]], replace: bool) -> None:
        writer = self._writer()
        for doc in documents:
            if replace:
                writer.delete_documents_by_term("id", doc[self.schema.primary_key])
            writer.add_document(self._document(doc))

    def remove(self, ids: Sequence[str]) -> None:
        writer = self._writer()
        for doc_id in ids:
            writer.delete_documents_by_term("id", doc_id)

    def commit(self) -> None:
        writer, self.writer = self._writer(), None
        try:
            writer.commit()
        finally:
            writer.wait_merging_threads()  # consumes the writer and releases tantivy's directory lock
        self.index.reload()
        with self._lock:
            self._numeric_sort.clear()
        self.seen = self.disk_state()

    def abandon(self) -> None:
        """Drop uncommitted writes (a failed batch) and the writer with them."""
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.rollback()
            writer.wait_merging_threads()

    def close(self) -> None:
        self.closed = True
        self.abandon()

    # --- reading -------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self.index.searcher().num_docs)

    def all_documents(self) -> list[dict[str, Any]]:
        searcher = self.index.searcher()
        total = searcher.num_docs
        if not total:
            return []
        hits = searcher.search(tantivy.Query.all_query(), total, count=False).hits
        return [json.loads(searcher.doc(address)["_src"][0]) for _, address in hits]

    def known(self, searcher: tantivy.Searcher, exact: str) -> int:
        """In how many documents' searchable fields the word occurs as typed (summed over fields)."""
        return sum(int(searcher.doc_freq(f"t__{name}", exact)) for name, _ in self.searchable)

    def settle(self, searcher: tantivy.Searcher, plan: QueryPlan) -> QueryPlan:
        """Typo tolerance only for words the index does not know well: a word found as typed in at
        least :data:`TYPO_FREE_DOC_FREQ` documents is taken as spelled ("Daten" does not also find
        "Datei"); a misspelling, or a rare word, gets its 1 or 2 edits."""
        units = []
        for unit in plan.units:
            words = [
                replace(word, typos=0)
                if word.typos and self.known(searcher, word.exact) >= TYPO_FREE_DOC_FREQ
                else word
                for word in unit.words
            ]
            units.append(replace(unit, words=words))
        return replace(plan, units=units)

    def _word_query(self, word: Word) -> tantivy.Query:
        clauses: list[tantivy.Query] = []
        schema = self.tschema
        for name, weight in self.searchable:
            exact = tantivy.Query.term_query(schema, f"t__{name}", word.exact)
            clauses.append(tantivy.Query.boost_query(exact, weight * _B_EXACT))
            # the stem as a word or as a compound part ("beteiligung" in "buergerbeteiligung")
            stemmed = tantivy.Query.term_query(schema, f"s__{name}", word.stem)
            clauses.append(tantivy.Query.boost_query(stemmed, weight * _B_STEM))
            if word.prefix:  # a prefix within the typo budget also covers the typos of the whole word
                prefix = tantivy.Query.fuzzy_term_query(
                    schema, f"t__{name}", word.exact, distance=word.typos, transposition_cost_one=True, prefix=True
                )
                clauses.append(tantivy.Query.boost_query(prefix, weight * _B_PREFIX))
            elif word.typos:
                fuzzy = tantivy.Query.fuzzy_term_query(
                    schema, f"t__{name}", word.exact, distance=word.typos, transposition_cost_one=True
                )
                clauses.append(tantivy.Query.boost_query(fuzzy, weight * _B_TYPO))
                if weight >= _STEM_TYPO_MIN_WEIGHT:
                    # a typo in an inflected form ("Fahrplanauskunt" for "Fahrplanauskünfte") is near the
                    # stem; only in the short, heavy fields, where it costs little (bench/search.py)
                    fuzzy_stem = tantivy.Query.fuzzy_term_query(
                        schema, f"s__{name}", word.stem, distance=word.typos, transposition_cost_one=True
                    )
                    clauses.append(tantivy.Query.boost_query(fuzzy_stem, weight * _B_TYPO * 0.9))
        if word.parts:
            clauses.append(tantivy.Query.boost_query(self._all_stems(word.parts), _B_OWN_PARTS))
        return _any(clauses)

    def _all_stems(self, stems: Sequence[str]) -> tantivy.Query:
        """Every stem occurs (as a word or as a compound part) in some searchable field."""
        required = []
        for value in stems:
            options = [
                tantivy.Query.boost_query(tantivy.Query.term_query(self.tschema, f"s__{name}", value), weight)
                for name, weight in self.searchable
            ]
            required.append(_any(options))
        return _all(required)

    def _unit_query(self, unit: Unit) -> tantivy.Query:
        own = _all([self._word_query(word) for word in unit.words])
        if not unit.synonyms:
            return own
        alternatives = [own] + [tantivy.Query.boost_query(self._synonym(s), _B_SYNONYM) for s in unit.synonyms]
        return _any(alternatives)

    def _synonym(self, stems: list[str]) -> tantivy.Query:
        """A one-word synonym as its stem anywhere; a phrase as a phrase (a removed stop word may sit
        in between: "Busse und Bahnen")."""
        if len(stems) == 1:
            return self._all_stems(stems)
        return _any(
            [
                tantivy.Query.boost_query(
                    tantivy.Query.phrase_query(self.tschema, f"s__{name}", list(stems), slop=2), weight
                )
                for name, weight in self.searchable
            ]
        )

    def _filter_query(self, filters: dict[str, list[str]]) -> list[tantivy.Query]:
        return [
            tantivy.Query.const_score_query(
                tantivy.Query.term_set_query(self.tschema, f"l__{name}", [v.lower() for v in values]), 0.0
            )
            for name, values in filters.items()
        ]

    def build_query(self, plan: QueryPlan, filters: dict[str, list[str]]) -> tantivy.Query | None:
        """The query for a plan and filters; None when nothing can match."""
        if plan.unmatchable:
            return None
        parts = [self._unit_query(unit) for unit in plan.units] + self._filter_query(filters)
        if not parts:
            return tantivy.Query.all_query()
        required = _all(parts)
        stems: list[str | tuple[int, str]] = [word.stem for unit in plan.units for word in unit.words]
        if len(stems) < 2:
            return required
        # proximity: the query's words next to each other in a field rank higher (never required)
        together = [
            tantivy.Query.boost_query(
                tantivy.Query.phrase_query(self.tschema, f"s__{name}", stems, slop=1), weight * _B_PHRASE
            )
            for name, weight in self.searchable
        ]
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, required), (tantivy.Occur.Should, _any(together))])

    def _is_numeric(self, searcher: tantivy.Searcher, name: str) -> bool:
        with self._lock:
            known = self._numeric_sort.get(name)
        if known is None:
            numeric = _count(searcher.search(tantivy.Query.exists_query(f"n__{name}"), 1, count=True))
            text = _count(searcher.search(tantivy.Query.exists_query(f"o__{name}"), 1, count=True))
            known = numeric > text
            with self._lock:
                self._numeric_sort[name] = known
        return known

    def searcher(self) -> tantivy.Searcher:
        return self.index.searcher()

    def hits(
        self, searcher: tantivy.Searcher, tquery: tantivy.Query, query: SearchQuery
    ) -> tuple[int, list[tuple[float, dict[str, Any]]]]:
        """Total matches and the requested page as (score, document)."""
        offset = (query.page - 1) * query.per_page
        limit = query.per_page
        if offset >= _DEEP_PAGE:  # count first: tantivy keeps offset + limit candidates while collecting
            total = _count(searcher.search(tquery, 1, count=True))
            if offset >= total:
                return total, []
        if not query.sort:
            result = searcher.search(tquery, limit, count=True, offset=offset)
            return _count(result), [(float(score), self._source(searcher, a)) for score, a in result.hits]
        if len(query.sort) == 1:
            name, direction = query.sort[0]
            field = f"n__{name}" if self._is_numeric(searcher, name) else f"o__{name}"
            order = tantivy.Order.Asc if direction == "asc" else tantivy.Order.Desc
            result = searcher.search(tquery, limit, count=True, offset=offset, order_by_field=field, order=order)
            return _count(result), [(0.0, self._source(searcher, a)) for _, a in result.hits]
        total = _count(searcher.search(tquery, 1, count=True))
        if offset >= total:
            return total, []
        return total, [(0.0, doc) for doc in self._multi_sorted(searcher, tquery, query, offset, limit)]

    def _multi_sorted(
        self, searcher: tantivy.Searcher, tquery: tantivy.Query, query: SearchQuery, offset: int, limit: int
    ) -> list[dict[str, Any]]:
        keys: list[dict[str, str]] = []
        for name, direction in query.sort:
            keys.append({f"m__{name}": "desc"})  # documents without the field come last, as in Meilisearch
            if self._is_numeric(searcher, name):
                keys.append({f"n__{name}": direction})
            else:
                keys.extend({f"k{k}__{name}": direction} for k in range(3))
        agg = {"top": {"top_hits": {"size": limit, "from": offset, "sort": keys, "docvalue_fields": ["id"]}}}
        result = searcher.aggregate(tquery, agg)
        docs = []
        for hit in result["top"]["hits"]:
            ids = hit.get("docvalue_fields", {}).get("id") or []
            if ids:
                found = searcher.search(tantivy.Query.term_query(self.tschema, "id", ids[0]), 1, count=False).hits
                if found:
                    docs.append(self._source(searcher, found[0][1]))
        return docs

    def facets(
        self, searcher: tantivy.Searcher, tquery: tantivy.Query, names: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        """Value counts of the facets ``names`` over every document ``tquery`` matches.

        tantivy counts single-valued fast fields far faster than multi-valued ones (measured: 0.1 ms
        against 3-6 ms per facet at 100,000 documents), so each document also carries its set of
        values as one term (``c__x``, the sorted values joined); the counts of these combinations are
        spread over their values here. Should a facet have more combinations than
        :data:`_COMBO_LIMIT`, it is counted on the multi-valued field instead: exact either way.
        """
        agg = {name: {"terms": {"field": f"c__{name}", "size": _COMBO_LIMIT}} for name in names}
        result = searcher.aggregate(tquery, agg)
        counts: dict[str, dict[str, int]] = {}
        overflow = []
        for name in names:
            section = result.get(name, {})
            if section.get("sum_other_doc_count"):
                overflow.append(name)
                continue
            tally: dict[str, int] = {}
            for bucket in section.get("buckets", []):
                for value in str(bucket["key"]).split(_COMBO_SEPARATOR):
                    tally[value] = tally.get(value, 0) + int(bucket["doc_count"])
            counts[name] = tally
        if overflow:
            agg = {name: {"terms": {"field": f"f__{name}", "size": _COMBO_LIMIT}} for name in overflow}
            result = searcher.aggregate(tquery, agg)
            for name in overflow:
                counts[name] = {str(b["key"]): int(b["doc_count"]) for b in result.get(name, {}).get("buckets", [])}
        return {name: top_values(counts[name]) for name in names}

    @staticmethod
    def _source(searcher: tantivy.Searcher, address: tantivy.DocAddress) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(searcher.doc(address)["_src"][0])
        return loaded


def _count(result: tantivy.SearchResult) -> int:
    """The exact number of matches of a search made with ``count=True`` (missing from the stubs)."""
    return int(getattr(result, "count", 0) or 0)


def _is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def _any(queries: Sequence[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _all(queries: Sequence[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in queries])


class _WriteLock:
    """The right to write an index directory: exclusive across processes (``flock`` on a lock file that
    no one deletes), re-entrant within this process. Every acquire and release runs on the engine's
    single writer thread, so the count needs no lock of its own. ``path=None`` (in memory): a no-op."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._fd: int | None = None
        self._holders = 0

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds (0: do not wait). False if another process kept it."""
        if self._path is None:
            return True
        if self._holders:
            self._holders += 1
            return True
        self._path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)
        self._fd, self._holders = fd, 1
        return True

    def require(self, timeout: float) -> None:
        if not self.acquire(timeout):
            raise SearchUnavailable(f"another process has been writing the search index for over {timeout:.0f} s")

    def release(self) -> None:
        if self._path is None or not self._holders:
            return
        self._holders -= 1
        if not self._holders and self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class EmbeddedSearchEngine:
    """The :class:`~allmende.core.search.base.SearchEngine` of the embedded profile.

    ``path``: the index directory (the app passes ``<data_dir>/search``); ``None`` keeps it in memory.

    Several processes may share one directory (the app serving searches, ``allmende worker`` draining
    the change log into it, ``allmende reindex`` rebuilding it): every write takes the directory's
    write lock (:class:`_WriteLock`), writes into the generation ``CURRENT`` names at that moment and
    commits; a rebuild holds the lock from start to swap. Readers notice another process's work on
    their next search: ``CURRENT`` naming a new generation is opened, a new commit to the live one is
    reloaded (two ``stat`` calls per search). Nothing ever deletes a generation without the lock, and
    no process deletes the one ``CURRENT`` names. See ``docs/search-processes.md``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        writer_heap_bytes: int = 128_000_000,
        lock_timeout: float = WRITE_LOCK_TIMEOUT,
    ) -> None:
        self._path = Path(path) if path is not None else None
        self._heap = writer_heap_bytes
        self._lock_timeout = lock_timeout
        self._schema: IndexSchema | None = None
        self._wanted: IndexSchema | None = None  # what configure was asked for, to retry after a failure
        self._live: _Generation | None = None
        self._current_state: tuple[int, int] | None = None  # CURRENT as it was when _live was chosen
        # one thread does all writing, in order; searches use the default pool
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-writer")
        self._write_lock = asyncio.Lock()
        self._rebuild_lock = asyncio.Lock()
        self._dir_lock = _WriteLock(self._path)
        self._journal: list[tuple[str, list[Any]]] | None = None

    # --- helpers ---------------------------------------------------------------------------------

    async def _write(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._writes, partial(fn, *args))

    def _require(self) -> tuple[IndexSchema, _Generation]:
        if self._schema is None or self._live is None:
            raise SearchUnavailable("the search index is not configured")
        return self._schema, self._live

    async def _ready(self, *, writing: bool = False) -> tuple[IndexSchema, _Generation]:
        """The schema and the live generation, after taking up what other processes did meanwhile."""
        if self._schema is None and self._wanted is not None:
            # configure failed before (another process held the directory): a write may wait for the
            # lock; a search only looks whether the index has appeared
            if writing:
                await self.configure(self._wanted)
            else:
                async with self._write_lock:
                    if self._schema is None:
                        await self._write(self._adopt_current, self._wanted)
        schema, live = self._require()
        if self._path is not None and (self._disk_current() != self._current_state or live.disk_state() != live.seen):
            await asyncio.to_thread(self._follow)
            schema, live = self._require()
        return schema, live

    def _disk_current(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            st = os.stat(self._path / _CURRENT)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _follow(self) -> None:
        """Switch to the generation ``CURRENT`` names if another process published one; reload new commits."""
        schema, live = self._require()
        state = self._disk_current()
        if state is not None and state != self._current_state and self._path is not None:
            try:
                name = (self._path / _CURRENT).read_text(encoding="utf-8").strip()
            except OSError:
                return
            if live.directory is None or live.directory.name != name:
                opened = self._open_generation(schema, name)
                if opened is None:  # of another schema or half-deleted: keep serving the one we have
                    return
                self._live = live = opened
            self._current_state = state
        live.reload_if_changed()

    def _open_generation(self, schema: IndexSchema, name: str) -> _Generation | None:
        if self._path is None:
            return None
        try:
            meta = json.loads((self._path / name / _META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("schema") != schema.fingerprint() or meta.get("analysis") != ANALYSIS_VERSION:
            return None
        try:
            return _Generation(schema, self._path / name, heap=self._heap, create=False)
        except (ValueError, OSError):  # unreadable or of another layout
            return None

    def _new_generation(self, schema: IndexSchema) -> _Generation:
        directory = (
            None if self._path is None else self._path / f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        )
        return _Generation(schema, directory, heap=self._heap)

    def _publish(self, generation: _Generation) -> None:
        """Make ``generation`` the one ``CURRENT`` names (atomic rename)."""
        if self._path is None or generation.directory is None:
            return
        tmp = self._path / f".{_CURRENT}.{uuid.uuid4().hex}"
        tmp.write_text(generation.directory.name, encoding="utf-8")
        os.replace(tmp, self._path / _CURRENT)
        self._current_state = self._disk_current()

    def _open_current(self, schema: IndexSchema) -> _Generation | None:
        if self._path is None:
            return None
        state = self._disk_current()
        try:
            name = (self._path / _CURRENT).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        generation = self._open_generation(schema, name)
        if generation is not None:
            self._current_state = state
        return generation

    def _adopt_current(self, schema: IndexSchema) -> bool:
        """Serve the index another process made for this schema, if there is one (no lock needed)."""
        existing = self._open_current(schema)
        if existing is None:
            return False
        self._schema, self._live = schema, existing
        return True

    def _previous_documents(self) -> list[dict[str, Any]]:
        """Documents of the index on disk (any schema), for carrying them into a new schema."""
        if self._path is None:
            return []
        try:
            name = (self._path / _CURRENT).read_text(encoding="utf-8").strip()
            index = tantivy.Index.open(str(self._path / name))
        except (OSError, ValueError):
            return []
        for analyzer_name, analyzer in build_analyzers().items():
            index.register_tokenizer(analyzer_name, analyzer)
        searcher = index.searcher()
        if not searcher.num_docs:
            return []
        hits = searcher.search(tantivy.Query.all_query(), searcher.num_docs, count=False).hits
        return [json.loads(searcher.doc(address)["_src"][0]) for _, address in hits]

    def _cleanup(self, keep: _Generation) -> None:
        """Remove other generations; only with the directory lock held (a rebuild elsewhere holds it)."""
        if self._path is None or keep.directory is None:
            return
        try:
            named = (self._path / _CURRENT).read_text(encoding="utf-8").strip()
        except OSError:
            named = keep.directory.name
        for child in self._path.iterdir():
            if child.is_dir() and child.name.startswith("gen-") and child.name not in (keep.directory.name, named):
                shutil.rmtree(child, ignore_errors=True)

    def _cleanup_if_free(self, keep: _Generation) -> None:
        if self._dir_lock.acquire(0):
            try:
                self._cleanup(keep)
            finally:
                self._dir_lock.release()

    # --- the protocol ------------------------------------------------------------------------------

    async def configure(self, schema: IndexSchema) -> None:
        self._wanted = schema
        async with self._write_lock:
            if self._schema is not None and self._schema.fingerprint() == schema.fingerprint():
                return
            old = self._live
            if old is None and await self._write(self._adopt_current, schema):
                assert self._live is not None
                await self._write(self._cleanup_if_free, self._live)  # leftovers of an interrupted rebuild
                return
            # A new generation is needed. Take the directory, then look again: another process may
            # have made it while we waited.
            await self._write(self._dir_lock.require, self._lock_timeout)
            try:
                if old is None and await self._write(self._adopt_current, schema):
                    return
                if old is not None:
                    carried = await self._write(old.all_documents)
                else:
                    carried = await self._write(self._previous_documents)
                generation = await self._write(self._new_generation, schema)
                try:
                    if carried:
                        await self._write(generation.add, check_documents(schema, carried), False)
                    await self._write(generation.commit)
                    await self._write(self._publish, generation)
                except BaseException:
                    await self._write(generation.close)
                    raise
                self._schema, self._live = schema, generation
                if old is not None:
                    await self._write(old.close)
                await self._write(self._cleanup, generation)
            finally:
                await self._write(self._dir_lock.release)

    async def upsert(self, documents: Sequence[Mapping[str, Any]]) -> None:
        schema, _ = await self._ready(writing=True)
        docs = check_documents(schema, documents)
        if not docs:
            return
        docs = list({d[schema.primary_key]: d for d in docs}.values())  # the last version of an id wins
        async with self._write_lock:
            await self._write(self._apply_live, "upsert", docs)
            if self._journal is not None:
                self._journal.append(("upsert", docs))

    async def delete(self, ids: Sequence[str]) -> None:
        await self._ready(writing=True)
        wanted = [i for i in dict.fromkeys(ids) if isinstance(i, str)]
        if not wanted:
            return
        async with self._write_lock:
            await self._write(self._apply_live, "delete", wanted)
            if self._journal is not None:
                self._journal.append(("delete", wanted))

    def _apply_live(self, op: str, payload: list[Any]) -> None:
        """Write into the generation that is live on disk now, holding the directory lock."""
        self._dir_lock.require(self._lock_timeout)
        try:
            self._follow()
            _, live = self._require()
            self._apply(live, op, payload)
        finally:
            self._dir_lock.release()

    @staticmethod
    def _apply(generation: _Generation, op: str, payload: list[Any]) -> None:
        try:
            if op == "upsert":
                generation.add(payload, True)
            else:
                generation.remove(payload)
            generation.commit()
        except BaseException:
            generation.abandon()
            raise

    async def search(self, query: SearchQuery) -> SearchResult:
        schema, live = await self._ready()
        checked = validate_query(schema, query)
        started = time.perf_counter()
        plan = plan_query(checked.q)
        total, hits, facets, _ = await self._run(live, schema, checked, plan, highlight=checked.highlight)
        took = (time.perf_counter() - started) * 1000
        return SearchResult(
            hits=hits, total=total, page=checked.page, per_page=checked.per_page, facets=facets, took_ms=took
        )

    async def _run(
        self, live: _Generation, schema: IndexSchema, query: SearchQuery, plan: QueryPlan, *, highlight: bool
    ) -> tuple[int, list[SearchHit], dict[str, dict[str, int]], QueryPlan]:
        """Page and facets are computed at the same time in two threads (tantivy releases the GIL)."""
        empty: dict[str, dict[str, int]] = {name: {} for name in query.facets}
        try:
            searcher = live.searcher()
            plan = live.settle(searcher, plan)
            matcher = Matcher.from_plan(plan) if highlight and not plan.empty else None
            tquery = live.build_query(plan, query.filters)
            if tquery is None:
                return 0, [], empty, plan
            counting = (
                asyncio.ensure_future(asyncio.to_thread(live.facets, searcher, tquery, query.facets))
                if query.facets
                else None
            )
            try:
                total, hits = await asyncio.to_thread(self._page, live, schema, searcher, tquery, query, matcher)
            finally:
                facets = await counting if counting is not None else empty
        except (ValueError, OSError) as exc:  # tantivy's errors
            raise SearchUnavailable("the embedded search index failed") from exc
        except BaseException as exc:
            if _is_panic(exc):  # a Rust panic inside tantivy
                raise SearchUnavailable("the embedded search index failed") from exc
            raise
        return total, hits, facets if total else empty, plan

    @classmethod
    def _page(
        cls,
        live: _Generation,
        schema: IndexSchema,
        searcher: tantivy.Searcher,
        tquery: tantivy.Query,
        query: SearchQuery,
        matcher: Matcher | None,
    ) -> tuple[int, list[SearchHit]]:
        total, found = live.hits(searcher, tquery, query)
        return total, [cls._hit(schema, doc, score, matcher) for score, doc in found]

    @staticmethod
    def _hit(schema: IndexSchema, doc: dict[str, Any], score: float, matcher: Matcher | None) -> SearchHit:
        return SearchHit(
            id=str(doc.get(schema.primary_key)),
            type=str(doc.get(TYPE_FIELD)),
            score=score,
            document=doc,
            highlights=highlight_document(schema, doc, matcher) if matcher is not None else {},
        )

    async def suggest(self, prefix: str, limit: int = 8) -> list[dict[str, Any]]:
        schema, live = await self._ready()
        text = validate_suggest(prefix, limit)
        plan = plan_query(text)
        if plan.empty:
            return []
        query = SearchQuery(q=text, per_page=limit, highlight=False)
        _, hits, _, settled = await self._run(live, schema, query, plan, highlight=False)
        matcher = Matcher.from_plan(settled)
        title = schema.title_field
        out = []
        for hit in hits:
            doc = hit.document
            value = ", ".join(text_values(doc.get(title)))
            snippet, _ = highlight_text(value, matcher, crop=False)
            out.append(
                {"id": doc.get(schema.primary_key), "type": doc.get(TYPE_FIELD), "title": value, "highlight": snippet}
            )
        return out

    async def health(self) -> None:
        _, live = await self._ready()
        try:
            await asyncio.to_thread(live.count)
        except (ValueError, RuntimeError, OSError) as exc:
            raise SearchUnavailable("the embedded search index cannot be read") from exc

    async def count(self) -> int:
        _, live = await self._ready()
        return await asyncio.to_thread(live.count)

    async def rebuild(self, documents: DocumentSource, on_progress: ProgressCallback | None = None) -> int:
        schema, _ = await self._ready(writing=True)
        async with self._rebuild_lock:
            # The whole rebuild holds the directory: another process's writes wait (and its drain does
            # not run: the change-log lease is held by whoever called this), so none is lost in the swap.
            await self._write(self._dir_lock.require, self._lock_timeout)
            try:
                return await self._rebuild_locked(schema, documents, on_progress)
            finally:
                await self._write(self._dir_lock.release)

    async def _rebuild_locked(
        self, schema: IndexSchema, documents: DocumentSource, on_progress: ProgressCallback | None
    ) -> int:
        async with self._write_lock:
            await self._write(self._follow)
            self._journal = []
        generation = await self._write(self._new_generation, schema)
        done = 0
        try:
            async for batch in batched(documents, _BATCH):
                docs = check_documents(schema, batch)
                await self._write(generation.add, docs, True)
                done += len(docs)
                if on_progress is not None:
                    on_progress(done)
            await self._write(generation.commit)
            async with self._write_lock:
                for op, payload in self._journal or []:
                    await self._write(self._apply, generation, op, payload)
                await self._write(self._publish, generation)
                old, self._live = self._live, generation
                self._journal = None
        except BaseException:
            async with self._write_lock:
                self._journal = None
            await self._write(generation.close)
            if generation.directory is not None:
                await self._write(shutil.rmtree, generation.directory, True)
            raise
        if old is not None:
            await self._write(old.close)
        await self._write(self._cleanup, generation)
        return int(await asyncio.to_thread(generation.count))

    async def close(self) -> None:
        async with self._write_lock:
            live, self._live = self._live, None
            self._schema = None
            if live is not None:
                await self._write(live.close)
        self._writes.shutdown(wait=True)


def highlight_document(schema: IndexSchema, doc: Mapping[str, Any], matcher: Matcher) -> dict[str, str]:
    """Snippets of every searchable field of ``doc`` (lists joined with ", ")."""
    out: dict[str, str] = {}
    for name, _ in schema.searchable:
        values = text_values(doc.get(name))
        if not values:
            continue
        if isinstance(doc.get(name), list):
            out[name] = ", ".join(highlight_text(v, matcher, crop=False)[0] for v in values)
        else:
            out[name] = highlight_text(values[0], matcher)[0]
    return out


__all__ = ["EmbeddedSearchEngine", "InvalidSearch", "highlight_document"]

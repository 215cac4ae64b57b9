"""MeilisearchProtocolDouble: a small HTTP server speaking the part of Meilisearch's documented REST API
that :class:`allmende.core.search.MeilisearchEngine` uses. It is a protocol double for tests, not
Meilisearch: it matches by case-insensitive substrings, knows no typos, synonyms or ranking rules.

What it does implement faithfully enough to test the adapter:

- ``GET /health``; ``POST /indexes``, ``GET|PATCH|DELETE /indexes/{uid}``, ``GET /indexes/{uid}/stats``;
  ``PATCH|GET /indexes/{uid}/settings``; ``POST /indexes/{uid}/documents`` and
  ``POST /indexes/{uid}/documents/delete-batch``; ``POST /indexes/{uid}/search``; ``GET /tasks/{uid}``;
  ``POST /swap-indexes``.
- Writes answer ``202`` with an enqueued task summary (``taskUid``, ``indexUid``, ``status``, ``type``,
  ``enqueuedAt``); tasks run in order when a task is read, so the first read of a task already shows
  its final status. ``fail_next_task()`` makes the next task fail with an error object.
- Search answers ``hits`` (with ``_formatted`` and ``_rankingScore``), ``totalHits``, ``totalPages``,
  ``page``, ``hitsPerPage``, ``facetDistribution`` and ``processingTimeMs``; filters are parsed from the
  array form (outer AND, inner OR) of ``attribute = "value"`` expressions with ``\\`` escapes, and
  attributes must be filterable (sortable for ``sort``) as the settings say, else ``400``.
- Every request is recorded (``requests``) so tests can assert what the adapter sent, in which order.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class _Index:
    uid: str
    primary_key: str | None
    created_at: str
    settings: dict[str, Any] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "primaryKey": self.primary_key,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
        }


class DoubleError(Exception):
    def __init__(self, status: int, code: str, message: str, kind: str = "invalid_request") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.kind = status, code, message, kind

    def body(self) -> dict[str, str]:
        return {
            "message": self.message,
            "code": self.code,
            "type": self.kind,
            "link": f"https://docs.meilisearch.com/errors#{self.code}",
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_FILTER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$', re.DOTALL)


def parse_filter_expression(expression: str) -> tuple[str, str]:
    """``attribute = "value"`` with ``\\"`` and ``\\\\`` escapes → (attribute, value); else ValueError."""
    match = _FILTER.match(expression)
    if match is None:
        raise ValueError(expression)
    return match.group(1), re.sub(r"\\(.)", r"\1", match.group(2), flags=re.DOTALL)


class MeilisearchProtocolDouble:
    """Run with ``start()``/``stop()`` (or as a context manager); ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.indexes: dict[str, _Index] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self._pending: list[tuple[int, Any]] = []
        self._next_task = 0
        self._fail_next: dict[str, Any] | None = None
        self._respond_next: tuple[int, Any] | None = None
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self, port: int = 0) -> MeilisearchProtocolDouble:
        """Listen on ``port`` (0: any free one). Stopping and starting again on the same port keeps the
        indexes, like a server that was down for a while."""
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                double._dispatch(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="meili-protocol-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MeilisearchProtocolDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the double is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- test controls ---------------------------------------------------------------------------

    def fail_next_task(self, code: str = "internal", message: str = "the protocol double was told to fail") -> None:
        """The next task enqueued finishes as ``failed`` with this error object."""
        with self._lock:
            self._fail_next = {
                "message": message,
                "code": code,
                "type": "internal",
                "link": f"https://docs.meilisearch.com/errors#{code}",
            }

    def fail_next_request(self, status: int = 503) -> None:
        """The next request (any route) is answered with ``status`` and an error object."""
        with self._lock:
            self._respond_next = (
                status,
                DoubleError(status, "internal", "the protocol double was told to fail", "internal").body(),
            )

    def calls(self, method: str | None = None, path_pattern: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and (path_pattern is None or re.fullmatch(path_pattern, r.path))
            ]

    # --- HTTP ------------------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            self._send(handler, 400, DoubleError(400, "malformed_payload", "the body is not JSON").body())
            return
        with self._lock:
            self.requests.append(RecordedRequest(handler.command, parsed.path, parse_qs(parsed.query), body))
        with self._lock:
            forced, self._respond_next = self._respond_next, None
        if forced is not None:
            self._send(handler, *forced)
            return
        if self.api_key is not None and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._send(
                handler, 401, DoubleError(401, "invalid_api_key", "The provided API key is invalid.", "auth").body()
            )
            return
        try:
            status, answer = self._route(handler.command, parsed.path, parse_qs(parsed.query), body)
        except DoubleError as exc:
            status, answer = exc.status, exc.body()
        self._send(handler, status, answer)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, answer: Any) -> None:
        payload = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        with self._lock:
            if parts == ["health"] and method == "GET":
                return 200, {"status": "available"}
            if parts == ["indexes"] and method == "POST":
                return self._enqueue("indexCreation", (body or {}).get("uid"), ("create", body or {}))
            if parts[:1] == ["tasks"] and len(parts) == 2 and method == "GET":
                return 200, self._task(int(parts[1]))
            if parts == ["swap-indexes"] and method == "POST":
                return self._enqueue("indexSwap", None, ("swap", body or []))
            if len(parts) >= 2 and parts[0] == "indexes":
                return self._index_route(method, parts[1], parts[2:], query, body)
        raise DoubleError(404, "not_found", f"{method} {path} is not part of this protocol double")

    def _index_route(
        self, method: str, uid: str, rest: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if not rest:
            if method == "GET":
                return 200, self._require(uid).describe()
            if method == "DELETE":
                return self._enqueue("indexDeletion", uid, ("delete_index", uid))
            if method == "PATCH":
                return self._enqueue("indexUpdate", uid, ("update_index", uid, body or {}))
        elif rest == ["stats"] and method == "GET":
            index = self._require(uid)
            return 200, {"numberOfDocuments": len(index.documents), "isIndexing": False, "fieldDistribution": {}}
        elif rest == ["settings"]:
            if method == "PATCH":
                return self._enqueue("settingsUpdate", uid, ("settings", uid, body or {}))
            if method == "GET":
                return 200, self._require(uid).settings
        elif rest == ["documents"] and method == "POST":
            if not isinstance(body, list):
                raise DoubleError(400, "malformed_payload", "documents must be a JSON array")
            keys = query.get("primaryKey") or []
            key = keys[0] if keys else None
            return self._enqueue("documentAdditionOrUpdate", uid, ("add", uid, body, key))
        elif rest == ["documents", "delete-batch"] and method == "POST":
            return self._enqueue("documentDeletion", uid, ("delete_docs", uid, [str(i) for i in body or []]))
        elif rest == ["search"] and method == "POST":
            return 200, self._search(self._require(uid), body or {})
        raise DoubleError(
            404, "not_found", f"{method} /indexes/{uid}/{'/'.join(rest)} is not part of this protocol double"
        )

    def _require(self, uid: str) -> _Index:
        index = self.indexes.get(uid)
        if index is None:
            raise DoubleError(404, "index_not_found", f"Index `{uid}` not found.")
        return index

    # --- tasks -----------------------------------------------------------------------------------

    def _enqueue(self, kind: str, uid: str | None, operation: Any) -> tuple[int, Any]:
        task_uid = self._next_task
        self._next_task += 1
        enqueued = _now()
        task: dict[str, Any] = {
            "uid": task_uid,
            "indexUid": uid,
            "status": "enqueued",
            "type": kind,
            "details": {},
            "error": None,
            "duration": None,
            "enqueuedAt": enqueued,
            "startedAt": None,
            "finishedAt": None,
        }
        if self._fail_next is not None:
            task["_fail"], self._fail_next = self._fail_next, None
        self.tasks[task_uid] = task
        self._pending.append((task_uid, operation))
        return 202, {"taskUid": task_uid, "indexUid": uid, "status": "enqueued", "type": kind, "enqueuedAt": enqueued}

    def _task(self, task_uid: int) -> dict[str, Any]:
        if task_uid not in self.tasks:
            raise DoubleError(404, "task_not_found", f"Task `{task_uid}` not found.")
        while self._pending and self._pending[0][0] <= task_uid:
            uid, operation = self._pending.pop(0)
            self._run(self.tasks[uid], operation)
        return {k: v for k, v in self.tasks[task_uid].items() if not k.startswith("_")}

    def _run(self, task: dict[str, Any], operation: Any) -> None:
        task["startedAt"] = _now()
        failure = task.pop("_fail", None)
        if failure is None:
            try:
                self._apply(operation)
            except DoubleError as exc:
                failure = exc.body()
        task["finishedAt"] = _now()
        task["duration"] = "PT0.001S"
        task["status"] = "failed" if failure else "succeeded"
        task["error"] = failure

    def _index_for_write(self, uid: str, primary_key: str | None = None) -> _Index:
        index = self.indexes.get(uid)
        if index is None:  # Meilisearch creates an index on its first write
            index = self.indexes[uid] = _Index(uid, primary_key, _now())
        return index

    def _apply(self, operation: Any) -> None:
        kind = operation[0]
        if kind == "create":
            uid = operation[1].get("uid")
            if uid in self.indexes:
                raise DoubleError(409, "index_already_exists", f"Index `{uid}` already exists.")
            self.indexes[uid] = _Index(uid, operation[1].get("primaryKey"), _now())
        elif kind == "delete_index":
            self._require(operation[1])
            del self.indexes[operation[1]]
        elif kind == "update_index":
            index = self._require(operation[1])
            if "primaryKey" in operation[2]:
                index.primary_key = operation[2]["primaryKey"]
        elif kind == "settings":
            index = self._index_for_write(operation[1])
            index.settings.update(operation[2])
        elif kind == "add":
            _, uid, documents, key = operation
            index = self._index_for_write(uid, key)
            if index.primary_key is None:
                index.primary_key = key
            if index.primary_key is None:
                raise DoubleError(400, "index_primary_key_no_candidate_found", "no primary key given")
            for document in documents:
                doc_id = document.get(index.primary_key)
                if not isinstance(doc_id, str | int):
                    raise DoubleError(400, "missing_document_id", "a document has no primary key value")
                index.documents[str(doc_id)] = document
        elif kind == "delete_docs":
            index = self._require(operation[1])
            for doc_id in operation[2]:
                index.documents.pop(doc_id, None)
        elif kind == "swap":
            for pair in operation[1]:
                a, b = pair["indexes"]
                first, second = self._require(a), self._require(b)
                first.uid, second.uid = b, a
                self.indexes[a], self.indexes[b] = second, first

    # --- search ----------------------------------------------------------------------------------

    def _search(self, index: _Index, body: dict[str, Any]) -> dict[str, Any]:
        settings = index.settings
        filterable = set(settings.get("filterableAttributes", []))
        sortable = set(settings.get("sortableAttributes", []))
        searchable = settings.get("searchableAttributes") or ["*"]
        q = str(body.get("q") or "")
        words = [w for w in re.findall(r"\w+", q.lower()) if w]
        page = int(body.get("page", 1))
        per_page = int(body.get("hitsPerPage", 20))
        if page < 1 or per_page < 0:
            raise DoubleError(400, "invalid_search_page", "page and hitsPerPage must be positive")

        groups = self._filter_groups(body.get("filter"), filterable)
        matches = []
        for document in index.documents.values():
            if not all(any(_has_value(document.get(name), value) for name, value in group) for group in groups):
                continue
            text = " ".join(_strings(document, searchable)).lower()
            if all(word in text for word in words):
                matches.append(document)

        for item in reversed(body.get("sort") or []):
            name, _, direction = str(item).partition(":")
            if name not in sortable:
                raise DoubleError(400, "invalid_search_sort", f"Attribute `{name}` is not sortable.")
            present = [d for d in matches if d.get(name) is not None]
            missing = [d for d in matches if d.get(name) is None]
            present.sort(key=lambda d: (str(type(d[name])), d[name]), reverse=direction == "desc")
            matches = present + missing

        distribution: dict[str, dict[str, int]] = {}
        for name in body.get("facets") or []:
            if name not in filterable:
                raise DoubleError(400, "invalid_search_facets", f"Attribute `{name}` is not filterable.")
            counts: dict[str, int] = {}
            for document in matches:
                values = document.get(name)
                for value in values if isinstance(values, list) else [values]:
                    if value is not None:
                        counts[str(value)] = counts.get(str(value), 0) + 1
            distribution[name] = counts

        total = len(matches)
        window = matches[(page - 1) * per_page : page * per_page] if per_page else []
        highlight = body.get("attributesToHighlight") or []
        pre, post = body.get("highlightPreTag", "<em>"), body.get("highlightPostTag", "</em>")
        retrieve = body.get("attributesToRetrieve")
        hits = []
        for document in window:
            hit = {k: v for k, v in document.items() if retrieve is None or k in retrieve}
            if highlight:
                hit["_formatted"] = {
                    k: _highlight(v, words, pre, post) if k in highlight or "*" in highlight else v
                    for k, v in hit.items()
                }
            if body.get("showRankingScore"):
                hit["_rankingScore"] = 1.0
            hits.append(hit)
        answer: dict[str, Any] = {
            "hits": hits,
            "query": q,
            "processingTimeMs": 0,
            "hitsPerPage": per_page,
            "page": page,
            "totalPages": math.ceil(total / per_page) if per_page else 0,
            "totalHits": total,
        }
        if body.get("facets"):
            answer["facetDistribution"] = distribution
        return answer

    @staticmethod
    def _filter_groups(raw: Any, filterable: set[str]) -> list[list[tuple[str, str]]]:
        if raw is None:
            return []
        if isinstance(raw, str):
            raw = [raw]
        groups = []
        for item in raw:
            expressions = item if isinstance(item, list) else [item]
            group = []
            for expression in expressions:
                try:
                    name, value = parse_filter_expression(str(expression))
                except ValueError:
                    raise DoubleError(
                        400, "invalid_search_filter", "the protocol double cannot parse this filter"
                    ) from None
                if name not in filterable:
                    raise DoubleError(400, "invalid_search_filter", f"Attribute `{name}` is not filterable.")
                group.append((name, value))
            groups.append(group)
        return groups


def _strings(document: dict[str, Any], searchable: list[str]) -> list[str]:
    out: list[str] = []
    for name, value in document.items():
        if "*" not in searchable and name not in searchable:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                out.append(item)
    return out


def _has_value(actual: Any, wanted: str) -> bool:
    values = actual if isinstance(actual, list) else [actual]
    return any(v is not None and str(v).lower() == wanted.lower() for v in values)


def _highlight(value: Any, words: list[str], pre: str, post: str) -> Any:
    if isinstance(value, list):
        return [_highlight(v, words, pre, post) for v in value]
    if not isinstance(value, str) or not words:
        return value
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    return pattern.sub(lambda m: f"{pre}{m.group(0)}{post}", value)

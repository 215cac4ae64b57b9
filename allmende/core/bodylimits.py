"""Limits on request bodies, checked before any decoder sees them.

A body the decoders would choke on must be a client error, not a 500. So every JSON and form body is
read once here (Litestar has already capped it at ``request_max_body_size``) and checked:

- it is valid UTF-8 (JSON, url-encoded forms after percent-decoding, and the text fields of multipart
  forms in their declared charset): otherwise 400 ``malformed-request`` naming ``body``;
- JSON nests at most ``MAX_JSON_DEPTH`` (64) arrays and objects: deeper bodies blow the decoder's
  recursion limit, and no request of this API needs more than a handful of levels. Otherwise 400
  ``malformed-request`` naming ``body``;
- every JSON integer fits in 64 bits (signed): bigger ones would overflow the database, or cost the
  decoder quadratic time. Otherwise 422 ``invalid-input`` naming the field (``prices.0.amount_cents``).

The checks are linear and never recurse: strings are cut out with one possessive regular expression
(escapes respected), and what is left is counted. The body stays readable for the handler: Litestar keeps
it in the connection state of the scope, and the handler is also given a ``receive`` that replays it.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

from allmende.core.problems import InvalidInput, Problem

MAX_JSON_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# A JSON string, or the unterminated rest of one: it always matches, so scanning never starts over.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
# Integers of 19 digits or more (2**63 has 19), not part of a fraction or an exponent.
_LONG_INTEGER = re.compile(rb"(?<![\d.eE+-])-?\d{19,}(?![\d.eE])")
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)|[\[\]{}:,]|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?', re.DOTALL)
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_DELTA = [0] * 256
for _c in b"[{":
    _DELTA[_c] = 1
for _c in b"]}":
    _DELTA[_c] = -1


def malformed(detail: str) -> Problem:
    return Problem(detail, field="body", status=400, type_slug="malformed-request")


def check_json(body: bytes) -> None:
    """Raise a Problem if the JSON body is not UTF-8, nests too deep or holds an integer beyond 64 bits."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise malformed(f"the body is not valid UTF-8 (byte {exc.start})") from None
    structure = _STRING.sub(b'""', body)
    brackets = structure.translate(None, _NOT_BRACKETS)
    if brackets and max(accumulate(map(_DELTA.__getitem__, brackets))) > MAX_JSON_DEPTH:
        raise malformed(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    for match in _LONG_INTEGER.finditer(structure):
        if not _fits_int64(match.group()):
            field = _field_of_oversized_integer(body) or "body"
            raise InvalidInput(f"{field}: the number is too large (integers must fit in 64 bits)", field=field)


def _fits_int64(token: bytes) -> bool:
    # Count digits before converting: int() refuses more than 4300 of them, and needs no help to be slow.
    if len(token.lstrip(b"-").lstrip(b"0")) > 19:
        return False
    return INT64_MIN <= int(token) <= INT64_MAX


def _field_of_oversized_integer(body: bytes) -> str | None:
    """The dotted path (``items.2.total_cents``) of the first integer beyond 64 bits; only on the error path."""
    path: list[Any] = []  # per open container: its current key (object) or index (array)
    kinds: list[bytes] = []
    expecting_key = False
    for match in _TOKEN.finditer(body):
        token = match.group()
        first = token[:1]
        if first in (b"{", b"["):
            kinds.append(first)
            path.append(None if first == b"{" else 0)
            expecting_key = first == b"{"
        elif first in (b"}", b"]"):
            if kinds:
                kinds.pop()
                path.pop()
            expecting_key = False
        elif first == b",":
            if kinds and kinds[-1] == b"[":
                path[-1] += 1
            expecting_key = bool(kinds) and kinds[-1] == b"{"
        elif first == b":":
            expecting_key = False
        elif first == b'"':
            if expecting_key and kinds:
                try:
                    path[-1] = json.loads(token)
                except ValueError:
                    path[-1] = token.decode("utf-8", "replace").strip('"')
                expecting_key = False
        elif token.lstrip(b"-").isdigit() and not _fits_int64(token):
            return ".".join(str(p) for p in path if p is not None) or None
    return None


def check_urlencoded(body: bytes) -> None:
    try:
        parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise malformed("the form data is not valid UTF-8") from None


def _media_type(scope: Scope) -> str:
    raw = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
    return raw.partition(";")[0].strip().lower()


class BodyLimitsMiddleware:
    """Checks JSON and form bodies before a handler (or the CSRF middleware) decodes them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        media = _media_type(scope)
        is_json = media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
        is_form = media in ("application/x-www-form-urlencoded", "multipart/form-data")
        if not (is_json or is_form):
            await self.app(scope, receive, send)
            return
        request = Request[Any, Any, Any](scope, receive)
        body = await request.body()  # kept in the scope's connection state: the handler reads it from there
        if is_json:
            check_json(body)
        elif media == "multipart/form-data":
            try:
                await request.form()  # Litestar's own parser, and its result is kept for the handler too
            except (UnicodeDecodeError, LookupError):
                raise malformed("a field of the form data is not valid text in its charset") from None
        else:
            check_urlencoded(body)
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            event: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
            return event
        return await receive()

    return replay

"""The list envelope (``items``, ``total``, ``next_cursor``) and opaque keyset cursors."""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from allmende.core.problems import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    next_cursor: str | None


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, arity: int) -> list[Any] | None:
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this API handed out", field="cursor") from None
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInput("cursor is not one this API handed out", field="cursor")
    return values


def check_limit(limit: int) -> int:
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit

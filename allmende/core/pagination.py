"""The list envelope (``items``, ``total``, ``next_cursor``), opaque keyset cursors, the bounds of the
integers a client may send in a URL, and the one "newest first" keyset page (``newest_first``)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar

from litestar.params import PathParameter, QueryParameter
from pydantic import BaseModel
from sqlalchemy import and_, or_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from allmende.core.problems import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
# The largest value an INTEGER column holds (PostgreSQL: 32 bits signed): ids, revision numbers, counts.
# Numbers from a URL are bounded by it, so a huge one is a 422 naming the parameter, not an overflow
# in the database driver.
MAX_INTEGER = 2**31 - 1
MAX_CURSOR_LENGTH = 2048  # ours are a few dozen characters; longer ones are refused before decoding

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="items per page")]
"""The ``limit`` query parameter of every list: 1 to ``MAX_LIMIT``."""
PositiveNumber = Annotated[int, PathParameter(ge=1, le=MAX_INTEGER)]
"""A number in a path (a revision, a stage): 1 to ``MAX_INTEGER``."""


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    next_cursor: str | None


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, arity: int, dates: tuple[int, ...] = ()) -> list[Any] | None:
    """The values of a cursor from ``encode_cursor``; anything else a client made up is a 422 naming ``cursor``.

    Every keyset cursor ends with a row id and holds only strings and integers; integers are within
    0..``MAX_INTEGER``, so a forged one cannot overflow a database column, and a string where the id belongs
    cannot fail the service's ``int()``. ``dates`` names the positions that must hold an ISO date-time
    (``encode_cursor([row.created_at.isoformat(), row.id])``), so ``datetime.fromisoformat`` cannot fail either.
    """
    if cursor is None or cursor == "":
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError(cursor)
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")), parse_constant=_no_constant)
    except (ValueError, UnicodeError, binascii.Error, RecursionError):
        raise _foreign_cursor() from None
    if not isinstance(values, list) or len(values) != arity or not all(_plain(v) for v in values):
        raise _foreign_cursor()
    if not isinstance(values[-1], int) or not all(_is_datetime(values[i]) for i in dates):
        raise _foreign_cursor()
    return values


def _is_datetime(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _plain(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 <= value <= MAX_INTEGER
    return isinstance(value, str)


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are no cursor values


def _foreign_cursor() -> InvalidInput:
    return InvalidInput("cursor is not one this API handed out", field="cursor")


def check_limit(limit: int) -> int:
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


class Dated(Protocol):
    """A row that pages newest first: its creation time, then its id to break ties."""

    id: int | None
    created_at: datetime


R = TypeVar("R", bound=Dated)


async def newest_first(
    session: AsyncSession, query: SelectOfScalar[R], model: type[R], *, limit: int, cursor: str | None
) -> tuple[list[R], str | None]:
    """One page of ``query``'s rows, newest first (``created_at`` desc, ``id`` desc), after ``cursor``, and
    the cursor of the next page (``[iso date, id]``; None on the last page).

    The caller checks ``limit`` and counts the total before it asks; a cursor it did not hand out is a 422
    naming ``cursor`` (``decode_cursor``)."""
    created_at, row_id = col(model.created_at), col(model.id)
    after = decode_cursor(cursor, arity=2, dates=(0,))
    if after is not None:
        moment, last_id = datetime.fromisoformat(str(after[0])), int(after[1])
        query = query.where(or_(created_at < moment, and_(created_at == moment, row_id < last_id)))
    rows = list(await session.exec(query.order_by(created_at.desc(), row_id.desc()).limit(limit + 1)))
    next_cursor = (
        encode_cursor([rows[limit - 1].created_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor

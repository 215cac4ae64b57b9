"""Local time and the formats of dates and numbers, in one place for the web pages and the notices.

The platform's local time is Berlin time: deadlines are typed and shown in it, whatever the server's
zone. Dates and numbers are formatted by Babel for a locale (``de``, ``en``); the caller says which
(the web's active locale, a notice's recipient's language).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_decimal

LOCAL_TIME = ZoneInfo("Europe/Berlin")


def local_moment(value: datetime, locale: str) -> str:
    """A date with its time to the minute in Berlin time: ``25.11.2026, 12:00`` (de),
    ``Nov 25, 2026, 12:00 PM`` (en). Deadlines are set to the minute, so the seconds of Babel's
    "medium" time would only be noise; the locale's own date-time pattern joins the medium date and
    the short time. Naive values are UTC, as the database stores them."""
    pattern = str(Locale.parse(locale).datetime_formats["medium"])
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(LOCAL_TIME)
    day = format_date(local, format="medium", locale=locale)
    time = format_time(local, format="short", locale=locale)
    return pattern.replace("{1}", day).replace("{0}", time)


def number(value: int | float, locale: str) -> str:
    """A number with the locale's grouping and decimal sign: ``1.620.000`` (de), ``1,620,000`` (en)."""
    return format_decimal(value, locale=locale)


__all__ = ["LOCAL_TIME", "local_moment", "number"]

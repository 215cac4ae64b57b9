"""Dates, moments, numbers, euros and language names as pages show them, in the active locale (Babel).

Berlin time and the number formats come from ``allmende.core.locale``, shared with the notices.
"""

from __future__ import annotations

from datetime import date, datetime

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency

from allmende.core.locale import local_moment, number
from allmende.web.kit.language import current


def format_number(value: int | float | None) -> str:
    return "" if value is None else number(value, current())


def format_euro(cents: int | None) -> str:
    """Integer cents as euros in the active locale: ``12.500,00 €`` / ``€12,500.00``."""
    return "" if cents is None else format_currency(cents / 100, "EUR", locale=current())


def format_day(value: date | datetime | str | None, form: str = "long") -> str:
    if value is None or value == "":
        return ""
    day: date
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value
    elif isinstance(value, datetime):
        day = value.date()
    else:
        day = value
    return babel_format_date(day, format=form, locale=current())


def format_moment(value: datetime | None) -> str:
    """A date with its time to the minute in Berlin time: ``25.11.2026, 12:00`` (``allmende.core.locale``)."""
    return "" if value is None else local_moment(value, current())


def language_name(code: str) -> str:
    """``de`` → ``Deutsch`` (or ``German`` in English)."""
    name = Locale.parse(current()).languages.get(code)
    return str(name) if name else code

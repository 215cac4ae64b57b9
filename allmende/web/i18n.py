"""One translation mechanism for every UI string: gettext catalogs, German first.

Message ids are German (the primary UI language); ``locale/en/LC_MESSAGES/messages.po`` translates
them into English. The ``.po`` file is the only one in the repository: it is compiled in memory
when first used (``allmende.core.translation``: Babel's ``read_po`` + ``write_mo``), so a fresh clone
needs no build step. ``python -m allmende.web.i18n update`` extracts the strings from the templates and Python
files and merges them into the catalog; ``python -m allmende.web.i18n check`` lists untranslated ones.

The active locale lives in a context variable: the web router sets it before each handler runs and
the page response sets it again right before rendering, so Jinja (``{{ _("…") }}``, ``{% trans %}``)
and Python code (``gettext``) always agree. Dates and numbers are formatted by Babel for that locale
(``allmende.core.locale``: Berlin time, the same formats as the notices).
"""

from __future__ import annotations

import gettext as gettext_module
import sys
from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency

from allmende.core.locale import local_moment, number
from allmende.core.translation import Catalog

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "de"
LOCALES = ("de", "en")
LOCALE_NAMES = {"de": "Deutsch", "en": "English"}
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("allmende_web_locale", default=DEFAULT_LOCALE)


CATALOG = Catalog(
    directory=LOCALE_DIR,
    domain=DOMAIN,
    root=Path(__file__).parent,
    sources=(("templates/**.html", "jinja2"), ("**.py", "python")),
    options={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
    project="allmende-web",
)


def translations(locale: str) -> gettext_module.NullTranslations:
    """The compiled catalog of a locale; German (the source language) needs none."""
    return CATALOG.translations(locale)


def normalize(value: str | None) -> str | None:
    """A supported locale code from user input (``en``, ``EN``, ``en-GB``), or None."""
    if not value:
        return None
    code = value.strip().lower()[:2]
    return code if code in LOCALES else None


def activate(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def current() -> str:
    return _current.get()


def gettext(message: str, **params: Any) -> str:
    text = translations(current()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    text = translations(current()).ngettext(singular, plural, n)
    params.setdefault("num", n)
    return text % params


_ = gettext


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated later, where it is shown."""
    return message


# --- Babel formatting ----------------------------------------------------------------------------


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


# --- catalog maintenance: python -m allmende.web.i18n update|check ------------------------------------


def extracted_ids() -> set[str]:
    """Every message id used in the templates and Python files (for the completeness test)."""
    return CATALOG.extracted_ids()


def _update() -> None:
    CATALOG.update()


def untranslated(locale: str) -> list[str]:
    """Message ids without a translation in the locale's ``.po`` file."""
    return CATALOG.untranslated(locale)


def _check() -> int:
    missing = [(locale, m) for locale in LOCALES if locale != DEFAULT_LOCALE for m in untranslated(locale)]
    for locale, message_id in missing:
        print(f"{locale}: untranslated: {message_id!r}")
    return 1 if missing else 0


if __name__ == "__main__":  # pragma: no cover
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "update":
        _update()
    else:
        sys.exit(_check())

"""One translation mechanism for every UI string: gettext catalogs, German first.

Message ids are German (the primary UI language); ``locale/en/LC_MESSAGES/messages.po`` translates
them into English. The ``.po`` file is the only one in the repository: it is compiled in memory
when this module is imported (Babel's ``read_po`` + ``write_mo``), so a fresh clone needs no build
step. ``python -m allmende.web.i18n update`` extracts the strings from the templates and Python
files and merges them into the catalog; ``python -m allmende.web.i18n check`` lists untranslated ones.

The active locale lives in a context variable: the web router sets it before each handler runs and
the page response sets it again right before rendering, so Jinja (``{{ _("…") }}``, ``{% trans %}``)
and Python code (``gettext``) always agree. Dates and numbers are formatted by Babel for that locale
(``allmende.core.locale``: Berlin time, the same formats as the notices).
"""

from __future__ import annotations

import gettext as gettext_module
import io
import sys
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

from allmende.core.locale import local_moment, number

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "de"
LOCALES = ("de", "en")
LOCALE_NAMES = {"de": "Deutsch", "en": "English"}
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("allmende_web_locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> gettext_module.NullTranslations:
    """The compiled catalog of a locale; German (the source language) needs none."""
    if locale == DEFAULT_LOCALE:
        return gettext_module.NullTranslations()
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


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


def _extract() -> Any:
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="allmende-web", locale=None, fuzzy=False)
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    root = Path(__file__).parent
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), method_map=method_map, options_map=options, keywords=keywords
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def extracted_ids() -> set[str]:
    """Every message id used in the templates and Python files (for the completeness test)."""
    return {m.id if isinstance(m.id, str) else m.id[0] for m in _extract() if m.id}


def _update() -> None:
    from babel.messages.pofile import write_po

    template = _extract()
    for locale in LOCALES:
        if locale == DEFAULT_LOCALE:
            continue
        path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=locale, domain=DOMAIN)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            from babel.messages.catalog import Catalog

            catalog = Catalog(locale=locale, domain=DOMAIN, project="allmende-web")
            catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False)
        print(f"{path}: {len(catalog)} messages")


def untranslated(locale: str) -> list[str]:
    """Message ids without a translation in the locale's ``.po`` file."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    missing = []
    for message_id in sorted(extracted_ids()):
        message = catalog.get(message_id)
        strings = message.string if message is not None else None
        if not strings or (isinstance(strings, tuple | list) and not all(strings)):
            missing.append(message_id)
    return missing


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

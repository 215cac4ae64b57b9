"""One translation mechanism for every UI string: gettext catalogs, German first.

Message ids are German (the primary UI language); ``locale/en/LC_MESSAGES/messages.po`` translates
them into English. The ``.po`` file is the only one in the repository: it is compiled in memory
when first used (``allmende.core.translation``: Babel's ``read_po`` + ``write_mo``), so a fresh clone
needs no build step. ``python -m allmende.web.kit.i18n update`` extracts the strings from the templates and Python
files and merges them into the catalog; ``python -m allmende.web.kit.i18n check`` lists untranslated ones.

The active locale lives in a context variable: the web router sets it before each handler runs and
the page response sets it again right before rendering, so Jinja (``{{ _("…") }}``, ``{% trans %}``)
and Python code (``gettext``) always agree. Dates and numbers are formatted by Babel for that locale
(``formatting.py``; ``allmende.core.locale``: Berlin time, the same formats as the notices). The
active locale itself lives in ``language.py``; this module re-exports it and the formatting helpers so
that callers need one import for the words.
"""

from __future__ import annotations

import gettext as gettext_module
import sys
from pathlib import Path
from typing import Any

from allmende.core.translation import Catalog
from allmende.web.kit.formatting import format_day as format_day
from allmende.web.kit.formatting import format_euro as format_euro
from allmende.web.kit.formatting import format_moment as format_moment
from allmende.web.kit.formatting import format_number as format_number
from allmende.web.kit.formatting import language_name as language_name
from allmende.web.kit.language import DEFAULT_LOCALE as DEFAULT_LOCALE
from allmende.web.kit.language import LOCALE_NAMES as LOCALE_NAMES
from allmende.web.kit.language import LOCALES as LOCALES
from allmende.web.kit.language import activate as activate
from allmende.web.kit.language import current as current
from allmende.web.kit.language import normalize as normalize

WEB = Path(__file__).parent.parent  # allmende/web: the templates, the Python files and the catalog
LOCALE_DIR = WEB / "locale"
DOMAIN = "messages"

CATALOG = Catalog(
    directory=LOCALE_DIR,
    domain=DOMAIN,
    root=WEB,
    sources=(("templates/**.html", "jinja2"), ("**.py", "python")),
    options={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
    project="allmende-web",
)


def translations(locale: str) -> gettext_module.NullTranslations:
    """The compiled catalog of a locale; German (the source language) needs none."""
    return CATALOG.translations(locale)


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


# --- catalog maintenance: python -m allmende.web.kit.i18n update|check ------------------------------------


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

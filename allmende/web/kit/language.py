"""The language of the request being answered: the supported locales and the active one.

The web router activates the request's locale before each handler runs and the page response again right
before rendering, so gettext (``i18n.py``), Jinja and the formatting helpers (``formatting.py``) agree.
"""

from __future__ import annotations

from contextvars import ContextVar

DEFAULT_LOCALE = "de"
LOCALES = ("de", "en")
LOCALE_NAMES = {"de": "Deutsch", "en": "English"}

_current: ContextVar[str] = ContextVar("allmende_web_locale", default=DEFAULT_LOCALE)


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

"""Gettext catalogs compiled in memory, and texts that are translated later, in their reader's language.

Message ids are German (the source language); a catalog's ``<locale>/LC_MESSAGES/<domain>.po`` translates
them. The ``.po`` files are the only ones in the repository: they are compiled in memory when first used
(Babel's ``read_po`` + ``write_mo``), so a fresh clone needs no build step and no ``.mo`` is committed.

The web pages translate into the active locale of a request (``allmende.web.kit.i18n``); a notice is written
once per recipient, in that person's language, long after the request that caused it may have had another
one. So domain code does not translate: it builds a :class:`Text` (``catalog.text("… %(title)s …",
title=…)``) and whoever knows the reader renders it (``render(text, "en")``). Parameters that depend on the
language (a moment in Berlin time, a number) are :class:`Moment` and :class:`Number`; a parameter that is
itself a :class:`Text` is rendered in the same language.

Maintenance: ``python -m allmende.core.translation update|check <module>:<catalog>`` extracts a catalog's
message ids from its sources, merges them into its ``.po`` files, or lists the untranslated ones.
"""

from __future__ import annotations

import gettext as gettext_module
import importlib
import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from babel.messages.catalog import Catalog as BabelCatalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from allmende.core.locale import local_moment, number

SOURCE_LOCALE = "de"
LANGUAGES = ("de", "en")  # the languages of the UI and of the notices; German is the source


def compile_po(path: Path, locale: str, domain: str) -> gettext_module.GNUTranslations:
    """A ``.po`` file compiled in memory."""
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=domain)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


@cache
def _compiled(path: Path, locale: str, domain: str) -> gettext_module.NullTranslations:
    if locale == SOURCE_LOCALE or not path.exists():
        return gettext_module.NullTranslations()  # the source language, or one without a catalog: the ids
    return compile_po(path, locale, domain)


@runtime_checkable
class Localizable(Protocol):
    """Something shown to a person that reads differently per language."""

    def render(self, locale: str) -> str: ...


@dataclass(frozen=True)
class Catalog:
    """One gettext domain: ``directory/<locale>/LC_MESSAGES/<domain>.po``, and where its message ids are
    extracted from (``sources``: Babel's method map, relative to ``root``)."""

    directory: Path
    domain: str
    root: Path
    sources: tuple[tuple[str, str], ...] = (("**.py", "python"),)
    options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    keywords: Mapping[str, Any] = field(default_factory=lambda: {"_": None, "gettext": None, "N_": None})
    project: str = "allmende"

    def po_path(self, locale: str) -> Path:
        return self.directory / locale / "LC_MESSAGES" / f"{self.domain}.po"

    def translations(self, locale: str) -> gettext_module.NullTranslations:
        return _compiled(self.po_path(locale), locale, self.domain)

    def gettext(self, locale: str, message: str) -> str:
        return self.translations(locale).gettext(message)

    def text(self, message: str, /, **params: Any) -> Text:
        """A message of this catalog to be translated later (mark it with ``_ = catalog.text``)."""
        return Text(self, message, params)

    # --- maintenance ------------------------------------------------------------------------------------

    def extract(self) -> BabelCatalog:
        template = BabelCatalog(project=self.project, locale=None, fuzzy=False)
        options = {pattern: dict(values) for pattern, values in self.options.items()}
        for filename, lineno, message, comments, context in extract_from_dir(
            str(self.root), method_map=list(self.sources), options_map=options, keywords=dict(self.keywords)
        ):
            template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
        return template

    def extracted_ids(self) -> set[str]:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in self.extract() if m.id}

    def update(self) -> None:
        """Merge the extracted ids into every translation's ``.po`` (dropping ids no longer used)."""
        template = self.extract()
        for locale in LANGUAGES:
            if locale == SOURCE_LOCALE:
                continue
            path = self.po_path(locale)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                with path.open("rb") as handle:
                    catalog = read_po(handle, locale=locale, domain=self.domain)
            else:
                catalog = BabelCatalog(locale=locale, domain=self.domain, project=self.project)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
            catalog.fuzzy = False
            with path.open("wb") as handle:
                write_po(handle, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False)
            print(f"{path}: {len(catalog)} messages")

    def untranslated(self, locale: str) -> list[str]:
        """Message ids without a translation in the locale's ``.po`` file."""
        with self.po_path(locale).open("rb") as handle:
            catalog = read_po(handle, locale=locale, domain=self.domain)
        missing = []
        for message_id in sorted(self.extracted_ids()):
            message = catalog.get(message_id)
            strings = message.string if message is not None else None
            if not strings or (isinstance(strings, tuple | list) and not all(strings)):
                missing.append(message_id)
        return missing


@dataclass(frozen=True)
class Text:
    """A German message id and its parameters, translated when it is rendered for a reader."""

    catalog: Catalog
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, locale: str) -> str:
        translated = self.catalog.gettext(locale if locale in LANGUAGES else SOURCE_LOCALE, self.message)
        if not self.params:
            return translated
        return translated % {name: render(value, locale) for name, value in self.params.items()}


@dataclass(frozen=True)
class Moment:
    """A moment shown in Berlin time, in the reader's format (``allmende.core.locale.local_moment``)."""

    value: datetime

    def render(self, locale: str) -> str:
        return local_moment(self.value, locale)


@dataclass(frozen=True)
class Number:
    """A number with the reader's grouping (``allmende.core.locale.number``)."""

    value: int | float

    def render(self, locale: str) -> str:
        return number(self.value, locale)


def render(value: Any, locale: str) -> Any:
    """A :class:`Localizable` rendered in ``locale``; anything else (a name, a plain text) as it is."""
    return value.render(locale) if isinstance(value, Localizable) else value


def _main(command: str, target: str) -> int:  # pragma: no cover - a maintenance command
    module_name, _, attribute = target.partition(":")
    catalog: Catalog = getattr(importlib.import_module(module_name), attribute or "CATALOG")
    if command == "update":
        catalog.update()
        return 0
    missing = [(locale, m) for locale in LANGUAGES if locale != SOURCE_LOCALE for m in catalog.untranslated(locale)]
    for locale, message_id in missing:
        print(f"{locale}: untranslated: {message_id!r}")
    return 1 if missing else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1] if len(sys.argv) > 1 else "check", sys.argv[2] if len(sys.argv) > 2 else ""))

"""What every page form is made of: :class:`FormState` (the input as typed, one German message per field)
and the field description and value parsing the forms share.

A form keeps exactly what the user typed (``values``) so that a page with errors shows it again; the
payload for the services is derived from it. The solution form (``catalog/solution_form.py``), the
guide form (``knowledge/guides.py``), the reference claim (``catalog/municipality.py``) and the offer
request forms (``offer_requests/forms.py``) are all ``FormState`` subclasses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from allmende.web.kit.i18n import gettext

MAX_NUMBER = 2_147_483_647  # the largest value an INTEGER column holds


@dataclass(frozen=True)
class Field:
    """One field of a form: how it is shown (``kind``: text, textarea, markdown, url, email, date, select,
    checkboxes, tristate) and what it takes."""

    name: str
    label: str
    kind: str
    vocabulary: str | None = None
    required: bool = False
    hint: str = ""
    max_length: int | None = None


@dataclass
class FormState:
    """Posted values (kept to show them again) and German messages per field (``_form``: the whole form)."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str:
        value = self.values.get(name, "")
        return value if isinstance(value, str) else ""

    def fail(self, name: str, message: str) -> None:
        """Record a message at a field; the first one found stays."""
        self.errors.setdefault(name, message)

    def day(self, name: str, *, required: bool = False) -> date | None:
        """A date field (ISO as browsers send it, or German ``31.05.2024``)."""
        raw = self.text(name).strip()
        if not raw:
            if required:
                self.fail(name, gettext("Bitte geben Sie ein Datum an."))
            return None
        try:
            return date.fromisoformat(iso_date(raw) or "")
        except ValueError:
            self.fail(name, gettext("Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)."))
            return None

    def check_schema(
        self,
        schema: type[BaseModel],
        payload: dict[str, Any],
        message: Callable[[str, ErrorDetails], str],
        default: str,
    ) -> None:
        """Start validating afresh: ``errors`` then holds one German message per field that ``schema``
        refuses in ``payload``; the form's own checks follow."""
        self.errors = {}
        try:
            schema.model_validate(payload)
        except ValidationError as exc:
            self.schema_errors(exc, message, default)

    def schema_errors(self, exc: ValidationError, message: Callable[[str, ErrorDetails], str], default: str) -> None:
        """One German message per field from a schema's errors (``default``: where an error without a
        location is shown)."""
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else default
            self.fail(name, message(name, error))


def schema_message(fields: Mapping[str, Field], name: str, error: ErrorDetails | None) -> str | None:
    """The German words for the schema errors every form shares (missing, too long), or None."""
    kind = error["type"] if error else "missing"
    spec = fields.get(name)
    if kind in ("missing", "string_too_short") and spec and spec.kind == "select":
        return gettext("Bitte wählen Sie einen Wert aus.")
    if kind in ("missing", "string_too_short"):
        return gettext("Bitte füllen Sie dieses Feld aus.")
    if kind == "string_too_long" and error:
        return gettext(
            "Der Text ist zu lang: höchstens %(max)s Zeichen.", max=str(error.get("ctx", {}).get("max_length", ""))
        )
    return None


def small_number(text: str | None) -> int | None:
    """A whole number from a form or URL, or None: ``str.isdigit`` also accepts "²" and 5,000 digits,
    which ``int()`` or the database then refuse with a 500."""
    if not text or len(text) > 10 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_NUMBER else None


def iso_date(text: str) -> str | None:
    """ISO dates as browsers send them; German ``31.05.2024`` as people type them without a date picker."""
    german = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
    if german:
        day, month, year = german.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text or None

"""The solution form: which fields it has, how it reads a posted form, and German messages per field.

The form keeps exactly what the user typed (``values``) so a page with errors shows it again; the
payload for the services is derived from it. Validation runs the catalog's own schema
(``SolutionFields``) and vocabularies, so the web form and the API never disagree about what is valid;
only the words differ: every message here is German (translated like every other UI string).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from allmende.web.kit import formatting
from allmende.web.kit.forms import Field, FormState, iso_date, schema_message
from allmende.web.kit.i18n import N_, gettext
from allmende.web.kit.vocabularies import Vocabularies
from marketplace.schemas import SolutionFields

FIELDS: tuple[Field, ...] = (
    Field("name", N_("Name"), "text", required=True, max_length=200),
    Field(
        "summary",
        N_("Kurzbeschreibung"),
        "textarea",
        required=True,
        max_length=200,
        hint=N_("Ein bis zwei Sätze, höchstens 200 Zeichen."),
    ),
    Field(
        "description",
        N_("Beschreibung"),
        "markdown",
        hint=N_("Markdown: Überschriften mit #, Listen mit -, Links als [Text](https://…)."),
    ),
    Field("kind", N_("Art der Lösung"), "select", vocabulary="solution-kinds", required=True),
    Field(
        "license",
        N_("Lizenz"),
        "text",
        hint=N_("SPDX-Ausdruck, z. B. EUPL-1.2 oder AGPL-3.0-or-later; proprietär: LicenseRef-Name."),
        max_length=200,
    ),
    Field("repository_url", N_("Quellcode-Repository"), "url", hint=N_("Vollständige Adresse mit https://")),
    Field("homepage_url", N_("Website"), "url", hint=N_("Vollständige Adresse mit https://")),
    Field("development_status", N_("Entwicklungsstand"), "select", vocabulary="development-status"),
    Field("current_version", N_("Aktuelle Version"), "text", max_length=50),
    Field("release_date", N_("Datum des Release"), "date"),
    Field("stages", N_("Stufen des Stufenplans"), "checkboxes", vocabulary="stages"),
    Field("sectors", N_("Handlungsfelder"), "checkboxes", vocabulary="sectors"),
    Field("areas", N_("Bereiche (Smart City Index)"), "checkboxes", vocabulary="areas"),
    Field("hosting_options", N_("Betriebsformen"), "checkboxes", vocabulary="hosting-options"),
    Field("standards", N_("Standards und Schnittstellen"), "checkboxes", vocabulary="standards"),
    Field("hosting_location", N_("Hosting-Standort"), "select", vocabulary="hosting-locations"),
    Field("avv_available", N_("Auftragsverarbeitungsvertrag (AVV) nach DSGVO"), "tristate"),
    Field("bsi_c5", N_("BSI-C5-Testat"), "tristate"),
    Field("iso_27001", N_("ISO-27001-Zertifizierung"), "tristate"),
    Field("protection_need", N_("Geeignet bis Schutzbedarf"), "select", vocabulary="protection-needs"),
    Field("accessibility", N_("Barrierefreiheit (BITV 2.0)"), "select", vocabulary="accessibility", required=True),
    Field("pricing_model", N_("Preismodell"), "select", vocabulary="pricing-models"),
    Field(
        "languages",
        N_("Sprachen der Oberfläche"),
        "text",
        hint=N_("Zweibuchstabige Sprachcodes, durch Komma getrennt, z. B. de, en."),
    ),
    Field("contact_name", N_("Ansprechperson"), "text", max_length=200),
    Field("contact_email", N_("E-Mail-Adresse für Anfragen"), "email"),
    Field("contact_url", N_("Kontaktseite"), "url", hint=N_("Vollständige Adresse mit https://")),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (N_("Grunddaten"), ("name", "summary", "description", "kind")),
    (
        N_("Lizenz und Entwicklung"),
        ("license", "repository_url", "homepage_url", "development_status", "current_version", "release_date"),
    ),
    (N_("Einordnung"), ("stages", "sectors", "areas", "standards")),
    (
        N_("Betrieb, Datenschutz und Barrierefreiheit"),
        (
            "hosting_options",
            "hosting_location",
            "avv_available",
            "bsi_c5",
            "iso_27001",
            "protection_need",
            "accessibility",
        ),
    ),
    (N_("Preis, Sprachen und Kontakt"), ("pricing_model", "languages", "contact_name", "contact_email", "contact_url")),
)
TRISTATE = {"ja": True, "nein": False, "": None}


@dataclass
class SolutionForm(FormState):
    @classmethod
    def empty(cls) -> SolutionForm:
        values: dict[str, Any] = {f.name: [] if f.kind == "checkboxes" else "" for f in FIELDS}
        values["accessibility"] = "unknown"
        values["languages"] = "de"
        return cls(values=values)

    @classmethod
    def from_content(cls, content: dict[str, Any]) -> SolutionForm:
        """A form filled from stored content (the columns or a pending version)."""
        values: dict[str, Any] = {}
        for f in FIELDS:
            value = content.get(f.name)
            if f.kind == "checkboxes":
                values[f.name] = list(value or [])
            elif f.kind == "tristate":
                values[f.name] = "" if value is None else ("ja" if value else "nein")
            elif f.name == "languages":
                values[f.name] = ", ".join(value or [])
            elif isinstance(value, date):
                values[f.name] = value.isoformat()
            else:
                values[f.name] = "" if value is None else str(value)
        return cls(values=values)

    @classmethod
    def from_post(cls, form: Any) -> SolutionForm:
        values: dict[str, Any] = {}
        for f in FIELDS:
            if f.kind == "checkboxes":
                values[f.name] = [str(v) for v in form.getall(f.name, [])][:100]
            else:
                values[f.name] = str(form.get(f.name) or "")[:200_000]
        return cls(values=values)

    def payload(self) -> dict[str, Any]:
        """The content as the catalog schema takes it (JSON types; empty optional fields are None)."""
        data: dict[str, Any] = {}
        for f in FIELDS:
            value = self.values.get(f.name)
            if f.kind == "checkboxes":
                data[f.name] = list(dict.fromkeys(value or []))
            elif f.kind == "tristate":
                data[f.name] = TRISTATE.get(str(value))
            elif f.name == "languages":
                data[f.name] = [c.lower() for c in re.split(r"[\s,;]+", str(value)) if c]
            elif f.name == "description":
                data[f.name] = str(value or "").replace("\r\n", "\n")
            elif f.kind == "date":
                data[f.name] = iso_date(str(value or "").strip())
            elif f.name == "accessibility":
                data[f.name] = str(value or "") or "unknown"
            else:
                text = str(value or "").strip()
                data[f.name] = text if text or f.required else None
        return data

    def validate(self, vocab: Vocabularies) -> bool:
        """Fill ``errors`` (one German message per field); True when the content is valid."""
        payload = self.payload()
        self.check_schema(SolutionFields, payload, message_for, "name")
        for f in FIELDS:
            if f.required and f.name not in self.errors and not payload[f.name]:
                self.errors[f.name] = message_for(f.name, None, missing=True)
            if f.vocabulary is None or f.name in self.errors:
                continue
            value = payload[f.name]
            chosen = value if isinstance(value, list) else ([value] if value else [])
            if any(term not in vocab.keys(f.vocabulary) for term in chosen):
                self.errors[f.name] = gettext("Bitte wählen Sie einen der angebotenen Werte.")
        return not self.errors

    def add_service_error(self, field_name: str | None, detail: str) -> None:
        """A rule only the service knows (a conflict, an unknown term) shown at its field."""
        name = (field_name or "").split(".")[0]
        if name in FIELD_BY_NAME:
            self.errors[name] = message_for(name, None)
        else:
            self.errors["_form"] = gettext("Die Angaben konnten nicht gespeichert werden: %(detail)s", detail=detail)


def message_for(name: str, error: ErrorDetails | None, *, missing: bool = False) -> str:
    """A German message for a schema error at a field."""
    if error is not None or missing:
        shared = schema_message(FIELD_BY_NAME, name, error)
        if shared is not None:
            return shared
    kind = error["type"] if error else ""
    if kind == "too_long":
        return gettext("Das sind zu viele Einträge.")
    if kind.startswith("url"):
        return gettext("Bitte geben Sie eine vollständige Adresse an, die mit https:// beginnt.")
    if kind.startswith("date"):
        return gettext("Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ).")
    if name == "contact_email":
        return gettext("Bitte geben Sie eine gültige E-Mail-Adresse an, z. B. name@beispiel.de.")
    if name == "license":
        return gettext(
            "Das ist kein gültiger SPDX-Lizenzausdruck. Beispiele: EUPL-1.2, MIT, AGPL-3.0-or-later, LicenseRef-Eigene."
        )
    if name == "languages":
        return gettext("Bitte geben Sie zweibuchstabige Sprachcodes an, z. B. de, en.")
    if name == "description":
        return gettext("Die Beschreibung ist zu lang (höchstens 100 KB).")
    spec = FIELD_BY_NAME.get(name)
    if spec and spec.vocabulary:
        return gettext("Bitte wählen Sie einen der angebotenen Werte.")
    return gettext("Bitte prüfen Sie diese Angabe.")


def content_rows(
    vocab: Vocabularies, content: dict[str, Any], *, only: set[str] | None = None
) -> list[tuple[str, str, str]]:
    """(field name, label, shown value) for each field: for the stale-edit view and the moderators' diff."""
    rows = []
    for f in FIELDS:
        if only is not None and f.name not in only:
            continue
        rows.append((f.name, gettext(f.label), shown(vocab, f, content.get(f.name))))
    return rows


def shown(vocab: Vocabularies, spec: Field, value: Any) -> str:
    """One field's value as a person reads it."""
    if value is None or value == "" or value == []:
        return gettext("keine Angabe")
    if spec.kind == "tristate":
        return gettext("ja") if value else gettext("nein")
    if spec.kind == "checkboxes" and spec.vocabulary:
        return ", ".join(vocab.label(spec.vocabulary, v) for v in value)
    if spec.vocabulary:
        return vocab.label(spec.vocabulary, str(value))
    if spec.name == "languages":
        return ", ".join(formatting.language_name(v) for v in value)
    if spec.kind == "date":
        return formatting.format_day(value)
    return str(value)


def normalized(content: dict[str, Any]) -> dict[str, Any]:
    """Content in one comparable form (URLs and dates as the schema writes them)."""
    try:
        return SolutionFields.model_validate(content).model_dump(mode="json")
    except ValidationError:
        return dict(content)


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    a, b = normalized(old), normalized(new)
    return [f.name for f in FIELDS if a.get(f.name) != b.get(f.name)]

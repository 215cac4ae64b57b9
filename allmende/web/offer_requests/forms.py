"""The forms of offer requests: the request, joining the bundle, the vendor's offer.

People type German numbers ("12.500,50 €", "120.000"), dates as browsers send them or as ``31.12.2026``,
and times as ``12:00``. Each form turns the posted fields into the API's input model, or into German
messages per field; what a schema or service still refuses is shown at the field it names. Money is
integer cents, as in the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from pydantic import ValidationError

from allmende.core.locale import LOCAL_TIME
from allmende.web.kit.forms import FormState
from allmende.web.kit.i18n import N_, gettext
from offer_requests.schemas import (
    MAX_CENTS,
    MAX_INHABITANTS,
    MAX_SITES,
    MAX_USERS,
    NEED_MAX_BYTES,
    NOTES_MAX_BYTES,
    PROCUREMENT_NOTES_MAX_BYTES,
    OfferCreate,
    OfferRequestCreate,
    Quantities,
)

QUANTITY_FIELDS = ("inhabitants", "users", "sites")
QUANTITY_LIMITS = {"inhabitants": MAX_INHABITANTS, "users": MAX_USERS, "sites": MAX_SITES}
PRICE_KINDS = {
    "one_off": N_("einmalig"),
    "recurring_yearly": N_("jährlich"),
    "per_inhabitant": N_("je Einwohnerin/Einwohner"),
    "per_user": N_("je Nutzerin/Nutzer"),
    "per_site": N_("je Standort"),
}
HOSTING_LOCATIONS = {"de": N_("Deutschland"), "eu": N_("EU/EWR"), "other": N_("außerhalb der EU")}
EMPTY_PRICE_ROWS = 3  # blank rows under the filled ones: no script needed to add a line

_GROUPED = re.compile(r"\d{1,3}(?:\.\d{3})+")


def parse_whole(text: str) -> int:
    """``120.000`` or ``120000`` → 120000; anything else (decimals, signs, words) is a ValueError."""
    cleaned = text.replace(" ", "").replace("\u202f", "").replace("\xa0", "")
    if _GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(".", "")
    if not cleaned.isdigit():
        raise ValueError(text)
    return int(cleaned)


def parse_euro(text: str) -> int:
    """A euro amount as people write it, in cents: ``12.500,50 €``, ``12500,5``, ``12500.50``, ``12.500``."""
    cleaned = text.replace("€", "").replace("EUR", "").replace(" ", "").replace("\u202f", "").replace("\xa0", "")
    if "," in cleaned:
        whole, _, fraction = cleaned.rpartition(",")
        if "," in whole or (("." in whole) and not _GROUPED.fullmatch(whole)):
            raise ValueError(text)
        whole = whole.replace(".", "")
    elif re.fullmatch(r"\d+\.\d{1,2}", cleaned):
        whole, _, fraction = cleaned.partition(".")
    else:
        whole, fraction = (cleaned.replace(".", "") if _GROUPED.fullmatch(cleaned) else cleaned), ""
    if not whole.isdigit() or (fraction and (not fraction.isdigit() or len(fraction) > 2)):
        raise ValueError(text)
    return int(whole) * 100 + int((fraction + "00")[:2])


def euro_text(cents: int | None) -> str:
    """Cents as a form shows them again: ``12500,50`` (no grouping, so it parses back unchanged)."""
    if cents is None:
        return ""
    whole, rest = divmod(cents, 100)
    return f"{whole},{rest:02d}" if rest else str(whole)


def _text_bytes_ok(value: str, limit: int) -> bool:
    return len(value.encode()) <= limit


@dataclass
class OfferRequestFormState(FormState):
    """A form of the offer request story: with quantities and amounts in euros."""

    def quantities(self) -> Quantities | None:
        """The three quantities; at least one above zero."""
        numbers: dict[str, int] = {}
        for name in QUANTITY_FIELDS:
            raw = self.text(name)
            if not raw:
                numbers[name] = 0
                continue
            try:
                numbers[name] = parse_whole(raw)
            except ValueError:
                self.fail(name, gettext("Bitte geben Sie eine ganze Zahl ohne Vorzeichen an, z. B. 120.000."))
                continue
            if numbers[name] > QUANTITY_LIMITS[name]:
                self.fail(
                    name,
                    gettext(
                        "Das ist unplausibel viel: höchstens %(max)s.",
                        max=f"{QUANTITY_LIMITS[name]:,}".replace(",", "."),
                    ),
                )
        if any(name in self.errors for name in QUANTITY_FIELDS):
            return None
        if not any(numbers.values()):
            self.fail(
                "inhabitants",
                gettext("Bitte nennen Sie mindestens eine Menge über null (Einwohner, Nutzer oder Standorte)."),
            )
            return None
        return Quantities(**numbers)

    def money(self, name: str, *, required: bool = False) -> int | None:
        raw = self.text(name)
        if not raw:
            if required:
                self.fail(name, gettext("Bitte geben Sie einen Betrag in Euro an."))
            return None
        try:
            cents = parse_euro(raw)
        except ValueError:
            self.fail(name, gettext("Bitte geben Sie einen Betrag in Euro an, z. B. 12.500,00."))
            return None
        if cents > MAX_CENTS:
            self.fail(name, gettext("Der Betrag ist unplausibel hoch."))
            return None
        return cents


# --- the offer request ------------------------------------------------------------------------------------

REQUEST_FIELDS = (
    "organization",
    "title",
    "need",
    "inhabitants",
    "users",
    "sites",
    "deadline",
    "deadline_time",
    "desired_start",
    "budget_min",
    "budget_max",
    "procurement_notes",
    "addressing",
    "solution",
)
REQUEST_LABELS = {
    "organization": N_("Anfragende Stelle"),
    "title": N_("Titel"),
    "need": N_("Bedarf"),
    "inhabitants": N_("Einwohnerinnen und Einwohner"),
    "users": N_("Nutzerinnen und Nutzer"),
    "sites": N_("Standorte"),
    "deadline": N_("Frist für Angebote"),
    "deadline_time": N_("Uhrzeit der Frist"),
    "desired_start": N_("Gewünschter Start"),
    "budget_min": N_("Budget von"),
    "budget_max": N_("Budget bis"),
    "procurement_notes": N_("Hinweise zum Vergabeverfahren"),
    "addressing": N_("An wen geht die Anfrage?"),
    "solution": N_("Lösung"),
    "sectors": N_("Handlungsfelder"),
    "standards": N_("Standards"),
}
# Where the schema or the service names a field of the API, the form shows the message here.
_REQUEST_FIELD_OF = {
    "quantities": "inhabitants",
    "budget": "budget_min",
    "deadline": "deadline",
    "desired_start": "desired_start",
    "solution": "solution",
    "sectors": "sectors",
    "standards": "standards",
    "title": "title",
    "need": "need",
    "procurement_notes": "procurement_notes",
    "organization": "organization",
}


def moment_text(moment: datetime) -> tuple[str, str]:
    local = moment.astimezone(LOCAL_TIME)
    return local.date().isoformat(), local.strftime("%H:%M")


@dataclass
class RequestForm(OfferRequestFormState):
    """The offer request form (create and edit a draft)."""

    @classmethod
    def from_post(cls, form: Any) -> RequestForm:
        values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in REQUEST_FIELDS}
        values["need"] = str(form.get("need") or "")
        values["procurement_notes"] = str(form.get("procurement_notes") or "")
        values["sectors"] = [str(v) for v in form.getall("sectors", [])][:50]
        values["standards"] = [str(v) for v in form.getall("standards", [])][:50]
        return cls(values=values)

    @classmethod
    def from_request(cls, out: Any, own: Any) -> RequestForm:
        """A stored draft as the form shows it (``out``: OfferRequestOut, ``own``: the requester's quantities)."""
        deadline, deadline_time = moment_text(out.deadline)
        budget = out.budget
        return cls(
            values={
                "organization": out.requester.slug,
                "title": out.title,
                "need": out.need,
                "inhabitants": str(own.inhabitants or ""),
                "users": str(own.users or ""),
                "sites": str(own.sites or ""),
                "deadline": deadline,
                "deadline_time": deadline_time,
                "desired_start": out.desired_start.isoformat() if out.desired_start else "",
                "budget_min": euro_text(budget.min_cents) if budget else "",
                "budget_max": euro_text(budget.max_cents) if budget else "",
                "procurement_notes": out.procurement_notes or "",
                "addressing": "solution" if out.solution else "market",
                "solution": out.solution.slug if out.solution else "",
                "sectors": list(out.sectors),
                "standards": list(out.standards),
            }
        )

    def deadline(self) -> datetime | None:
        day = self.day("deadline", required=True)
        raw_time = self.text("deadline_time") or "12:00"
        try:
            moment = time.fromisoformat(raw_time if len(raw_time) > 2 else f"{int(raw_time):02d}:00")
        except ValueError:
            self.fail("deadline_time", gettext("Bitte geben Sie eine Uhrzeit an, z. B. 12:00."))
            return None
        if day is None:
            return None
        return datetime.combine(day, moment, tzinfo=LOCAL_TIME)

    def payload(self, *, organization: str | None = None) -> dict[str, Any] | None:
        """The API's input (``OfferRequestCreate`` shape), or None with ``errors`` filled."""
        v = self.values
        if organization is None and not v["organization"]:
            self.fail("organization", gettext("Bitte wählen Sie, für welche Stelle Sie anfragen."))
        if not v["title"]:
            self.fail("title", gettext("Bitte geben Sie der Anfrage einen Titel."))
        elif len(v["title"]) > 200:
            self.fail("title", gettext("Der Titel ist zu lang: höchstens %(max)s Zeichen.", max="200"))
        if not v["need"].strip():
            self.fail("need", gettext("Bitte beschreiben Sie Ihren Bedarf."))
        elif not _text_bytes_ok(v["need"], NEED_MAX_BYTES):
            self.fail("need", gettext("Der Text ist zu lang (höchstens 20 KB)."))
        if not _text_bytes_ok(v["procurement_notes"], PROCUREMENT_NOTES_MAX_BYTES):
            self.fail("procurement_notes", gettext("Der Text ist zu lang (höchstens 5 KB)."))
        quantities = self.quantities()
        deadline = self.deadline()
        desired_start = self.day("desired_start")
        budget_min, budget_max = self.money("budget_min"), self.money("budget_max")
        if budget_min is not None and budget_max is not None and budget_min > budget_max:
            self.fail("budget_max", gettext("Der Höchstbetrag liegt unter dem Mindestbetrag."))
        solution, sectors, standards = None, [], []
        if v["addressing"] == "solution":
            if not v["solution"]:
                self.fail("solution", gettext("Bitte wählen Sie die Lösung, für die Sie ein Angebot möchten."))
            solution = v["solution"] or None
        elif v["addressing"] == "market":
            sectors, standards = v["sectors"], v["standards"]
            if not sectors and not standards:
                self.fail("sectors", gettext("Bitte wählen Sie mindestens ein Handlungsfeld oder einen Standard."))
        else:
            self.fail("addressing", gettext("Bitte wählen Sie, an wen die Anfrage gehen soll."))
        if self.errors or quantities is None or deadline is None:
            return None
        budget = None
        if budget_min is not None or budget_max is not None:
            budget = {"min_cents": budget_min, "max_cents": budget_max, "currency": "EUR"}
        return {
            "organization": organization or v["organization"],
            "title": v["title"],
            "need": v["need"],
            "quantities": quantities.model_dump(),
            "deadline": deadline.isoformat(),
            "desired_start": desired_start.isoformat() if desired_start else None,
            "budget": budget,
            "procurement_notes": v["procurement_notes"].strip() or None,
            "solution": solution,
            "sectors": sectors,
            "standards": standards,
        }

    def create_input(self) -> OfferRequestCreate | None:
        payload = self.payload()
        if payload is None:
            return None
        try:
            return OfferRequestCreate.model_validate(payload)
        except ValidationError as exc:
            self.api_errors(exc)
            return None

    def api_errors(self, exc: ValidationError) -> None:
        """The schema's errors, named by the API's fields, shown at the form's (``service_error``)."""
        for error in exc.errors():
            self.service_error(str(error["loc"][0]) if error["loc"] else None, error["msg"])

    def service_error(self, api_field: str | None, detail: str) -> None:
        """A rule only the schema or the service knows, shown at the form's field (in German where known)."""
        name = _REQUEST_FIELD_OF.get((api_field or "").split(".")[0].split("[")[0])
        if name == "deadline" and "past" in detail:
            self.fail("deadline", gettext("Die Frist liegt in der Vergangenheit."))
        elif name == "deadline" and "year" in detail:
            self.fail("deadline", gettext("Die Frist liegt mehr als ein Jahr in der Zukunft."))
        elif name == "desired_start":
            self.fail("desired_start", gettext("Der gewünschte Start liegt vor der Frist für Angebote."))
        elif name == "solution" and "itself" in detail:
            self.fail("solution", gettext("Diese Lösung bietet Ihre eigene Organisation an."))
        elif name == "solution":
            self.fail("solution", gettext("Angebote lassen sich nur für veröffentlichte Lösungen anfragen."))
        elif name in ("sectors", "standards") and "no published solution" in detail:
            self.fail(
                name,
                gettext(
                    "Keine veröffentlichte Lösung passt zu dieser Auswahl: Die Anfrage erreichte keinen Anbieter. "
                    "Wählen Sie weitere Handlungsfelder oder Standards."
                ),
            )
        elif name in ("sectors", "standards"):
            self.fail(name, gettext("Bitte wählen Sie nur angebotene Werte."))
        elif name is not None:
            self.fail(name, gettext("Bitte prüfen Sie diese Angabe (%(detail)s).", detail=detail))
        else:
            self.fail("_form", gettext("Die Anfrage konnte nicht gespeichert werden: %(detail)s", detail=detail))


# --- joining the bundle -----------------------------------------------------------------------------------


@dataclass
class JoinForm(OfferRequestFormState):
    @classmethod
    def from_post(cls, form: Any) -> JoinForm:
        return cls(values={name: str(form.get(name) or "").strip() for name in ("organization", *QUANTITY_FIELDS)})


# --- the vendor's offer -----------------------------------------------------------------------------------

OFFER_LABELS = {
    "vendor": N_("Anbieter"),
    "items": N_("Preispositionen"),
    "shares": N_("Preis je Teilnehmer"),
    "service_level": N_("Service-Level"),
    "hosting_location": N_("Hosting-Standort"),
    "valid_until": N_("Gültig bis"),
    "notes": N_("Anmerkungen"),
    "bundle_version": N_("Bündel"),
}


@dataclass
class PriceRow:
    label: str = ""
    kind: str = "one_off"
    amount: str = ""


@dataclass
class OfferForm(OfferRequestFormState):
    """The vendor's offer: price items, a total per participant (their sum is the bundle's total)."""

    rows: list[PriceRow] = field(default_factory=list)
    shares: dict[str, str] = field(default_factory=dict)  # participant slug → amount as typed

    @classmethod
    def from_post(cls, form: Any, participants: list[str]) -> OfferForm:
        labels = [str(v).strip() for v in form.getall("item_label", [])][:100]
        kinds = [str(v) for v in form.getall("item_kind", [])][:100]
        amounts = [str(v).strip() for v in form.getall("item_amount", [])][:100]
        rows = [
            PriceRow(label, kinds[i] if i < len(kinds) else "", amounts[i] if i < len(amounts) else "")
            for i, label in enumerate(labels)
        ]
        values = {
            name: str(form.get(name) or "").strip()
            for name in ("vendor", "bundle_version", "offer_version", "hosting_location", "valid_until")
        }
        values["service_level"] = str(form.get("service_level") or "").strip()
        values["notes"] = str(form.get("notes") or "")
        shares = {slug: str(form.get(f"share_{slug}") or "").strip() for slug in participants}
        return cls(values=values, rows=rows, shares=shares)

    @classmethod
    def from_revision(cls, revision: Any, vendor: str, bundle_version: int, offer_version: int) -> OfferForm:
        """The vendor's latest revision as the starting point of the next one."""
        return cls(
            values={
                "vendor": vendor,
                "bundle_version": str(bundle_version),
                "offer_version": str(offer_version),
                "hosting_location": revision.hosting_location or "",
                "valid_until": revision.valid_until.isoformat(),
                "service_level": revision.service_level,
                "notes": revision.notes,
            },
            rows=[PriceRow(i.label, i.kind, euro_text(i.amount_cents)) for i in revision.items],
            shares={p.organization.slug: euro_text(p.total_cents) for p in revision.per_participant},
        )

    def shown_rows(self) -> list[PriceRow]:
        return [*self.rows, *(PriceRow() for _ in range(EMPTY_PRICE_ROWS))]

    def total_cents(self) -> int | None:
        try:
            return sum(parse_euro(v) for v in self.shares.values())
        except ValueError:
            return None

    def create_input(self, participants: list[str]) -> OfferCreate | None:
        """The API's offer, or None with ``errors`` filled."""
        items = []
        for number, row in enumerate(self.rows, start=1):
            if not (row.label or row.amount):
                continue  # a blank row
            if not row.label:
                self.fail("items", gettext("Position %(n)s: Bitte benennen Sie die Position.", n=str(number)))
            elif len(row.label) > 200:
                self.fail("items", gettext("Position %(n)s: Die Bezeichnung ist zu lang.", n=str(number)))
            if row.kind not in PRICE_KINDS:
                self.fail("items", gettext("Position %(n)s: Bitte wählen Sie die Preisart.", n=str(number)))
            try:
                cents = parse_euro(row.amount)
            except ValueError:
                self.fail(
                    "items",
                    gettext("Position %(n)s: Bitte geben Sie einen Betrag in Euro an, z. B. 12.500,00.", n=str(number)),
                )
                continue
            items.append({"label": row.label, "kind": row.kind, "amount_cents": cents})
        if not items and "items" not in self.errors:
            self.fail("items", gettext("Bitte nennen Sie mindestens eine Preisposition."))
        shares = []
        for slug in participants:
            raw = self.shares.get(slug, "")
            try:
                shares.append({"organization": slug, "total_cents": parse_euro(raw)})
            except ValueError:
                self.fail("shares", gettext("Bitte geben Sie für jeden Teilnehmer einen Betrag in Euro an."))
        if not self.values["service_level"]:
            self.fail("service_level", gettext("Bitte beschreiben Sie das Service-Level."))
        elif len(self.values["service_level"]) > 5000:
            self.fail("service_level", gettext("Der Text ist zu lang: höchstens %(max)s Zeichen.", max="5000"))
        if self.values["hosting_location"] not in ("", *HOSTING_LOCATIONS):
            self.fail("hosting_location", gettext("Bitte wählen Sie einen der angebotenen Werte."))
        valid_until = self.day("valid_until", required=True)
        if not _text_bytes_ok(self.values["notes"], NOTES_MAX_BYTES):
            self.fail("notes", gettext("Der Text ist zu lang (höchstens 20 KB)."))
        try:
            bundle_version = int(self.values["bundle_version"])
        except ValueError:
            self.fail("bundle_version", gettext("Bitte laden Sie die Seite neu."))
            return None
        if self.errors or valid_until is None:
            return None
        try:
            return OfferCreate.model_validate(
                {
                    "vendor": self.values["vendor"] or None,
                    "bundle_version": bundle_version,
                    "currency": "EUR",
                    "items": items,
                    "total_cents": sum(s["total_cents"] for s in shares),
                    "per_participant": shares,
                    "service_level": self.values["service_level"],
                    "hosting_location": self.values["hosting_location"] or None,
                    "valid_until": valid_until.isoformat(),
                    "notes": self.values["notes"],
                }
            )
        except ValidationError as exc:
            for error in exc.errors():
                self.service_error(str(error["loc"][0]) if error["loc"] else None, error["msg"])
            return None

    def service_error(self, api_field: str | None, detail: str) -> None:
        name = (api_field or "").split(".")[0].split("[")[0]
        if name == "valid_until":
            self.fail("valid_until", gettext("Das Angebot muss mindestens bis zur Frist für Angebote gelten."))
        elif name == "bundle_version":
            self.fail(
                "bundle_version",
                gettext(
                    "Das Bündel hat sich geändert, während Sie das Angebot geschrieben haben. "
                    "Bitte prüfen Sie die Teilnehmer und Preise unten und senden Sie erneut."
                ),
            )
        elif name == "per_participant":
            self.fail("shares", gettext("Bitte geben Sie für jeden Teilnehmer des Bündels einen Betrag an."))
        elif name in ("items", "service_level", "hosting_location", "notes"):
            self.fail(name, gettext("Bitte prüfen Sie diese Angabe (%(detail)s).", detail=detail))
        else:
            self.fail("_form", gettext("Das Angebot konnte nicht gespeichert werden: %(detail)s", detail=detail))

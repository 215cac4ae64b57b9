"""The 16 Bundesländer and the rules of the official municipal keys (AGS, ARS)."""

from __future__ import annotations

import re

BUNDESLAENDER: dict[str, str] = {
    "01": "Schleswig-Holstein",
    "02": "Hamburg",
    "03": "Niedersachsen",
    "04": "Bremen",
    "05": "Nordrhein-Westfalen",
    "06": "Hessen",
    "07": "Rheinland-Pfalz",
    "08": "Baden-Württemberg",
    "09": "Bayern",
    "10": "Saarland",
    "11": "Berlin",
    "12": "Brandenburg",
    "13": "Mecklenburg-Vorpommern",
    "14": "Sachsen",
    "15": "Sachsen-Anhalt",
    "16": "Thüringen",
}


def _check_key(value: str, name: str, digits: int) -> str:
    """Both keys start with the Land's two digits."""
    if not re.fullmatch(rf"\d{{{digits}}}", value):
        raise ValueError(f"{name} must be exactly {digits} digits")
    if value[:2] not in BUNDESLAENDER:
        raise ValueError(f"{name} starts with {value[:2]}, which is not one of the 16 Bundesländer (01–16)")
    return value


def check_ags(value: str) -> str:
    """An AGS is 8 digits: Land (2), Regierungsbezirk (1), Kreis (2), Gemeinde (3)."""
    return _check_key(value, "AGS", 8)


def check_ars(value: str) -> str:
    """An ARS is 12 digits: the AGS' first five, a 4-digit Verband code, then the Gemeinde's three."""
    return _check_key(value, "ARS", 12)


def check_bundesland(value: str) -> str:
    if value not in BUNDESLAENDER:
        raise ValueError("Bundesland must be a 2-digit code from 01 to 16")
    return value

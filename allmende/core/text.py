"""Small text helpers shared by all packages."""

from __future__ import annotations

import re
import unicodedata

_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


def slugify(value: str, *, max_length: int = 100) -> str:
    """German-aware slug: ``Bürgerbeteiligung für Straße`` → ``buergerbeteiligung-fuer-strasse``."""
    text = unicodedata.normalize("NFKD", value.translate(_TRANSLITERATION))
    text = text.encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:max_length].rstrip("-") or "eintrag"

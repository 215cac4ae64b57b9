"""German text knowledge shared by both search engines: folding, stop words, synonyms, compounds.

Everything language-specific lives here, so the embedded engine and the Meilisearch adapter answer
the same way: the embedded engine applies these lists itself, the Meilisearch adapter sends them as
index settings (``stopWords``, ``synonyms``).

Conventions
- *Folding* is what both sides of the index agree on: lower case, ``ä → ae``, ``ö → oe``, ``ü → ue``,
  ``ß → ss``, other accents removed (``é → e``). "Buergerbeteiligung" and "Bürgerbeteiligung" fold to
  the same word; "Burgerbeteiligung" (umlaut dropped instead of spelled out) is one edit away and is
  caught by typo tolerance.
- *Compounds* are split by :func:`split_compound` against :data:`COMPOUND_LEXICON`, a fixed list of
  German municipal morphemes, allowing the linking elements (*Fugenelemente*) ``s``, ``es``, ``n``,
  ``en``, ``e``, ``er``, ``ens``, ``ns`` between parts and inflection endings after the last part.
  A fixed lexicon (rather than the index's changing vocabulary, or character n-grams) makes the split
  of a word the same at index and at query time, in every index and after every rebuild, and keeps
  the matches explainable: "Beteiligung" finds "Bürgerbeteiligung" because ``beteiligung`` is a part
  of it, not because the two share a few trigrams.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz.distance import OSA

# --- folding ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

#: Private-use characters used as highlight markers inside an engine; removed from indexed text.
MARK_START = "\ue000"
MARK_END = "\ue001"
_UNWANTED = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f{MARK_START}{MARK_END}]")

#: Words longer than this are neither indexed nor searched (no German word is that long; base64 is).
MAX_WORD_LENGTH = 40
#: Meilisearch reads at most 10 words of a query; both engines do the same.
MAX_QUERY_WORDS = 10
#: Characters of a query that are looked at; the rest is ignored (a 10,000-character query is valid).
MAX_QUERY_CHARS = 500


def fold(text: str) -> str:
    """Lower case, umlauts spelled out (``ä → ae``), ``ß → ss``, other diacritics removed."""
    text = text.lower()
    if text.isascii():
        return text
    # str.replace is much faster than str.translate with a dict (indexing folds every text)
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def clean(text: str) -> str:
    """Text as it may be indexed: no highlight marker characters, no control characters."""
    if _UNWANTED.search(text) is None:
        return text
    return _UNWANTED.sub(" ", text)


def words(text: str) -> list[str]:
    """The words of ``text`` (letters and digits; everything else separates)."""
    return _WORD.findall(text)


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _WORD.finditer(text)]


def matches_nothing(q: str) -> bool:
    """The query has words, but none that can match: only stop words (the last one complete, not
    being typed) and words longer than :data:`MAX_WORD_LENGTH`. Both engines answer it with no hits."""
    folded = fold(q)
    found = words(folded)
    if not found:
        return False
    if any(len(w) <= MAX_WORD_LENGTH and w not in FOLDED_STOP_WORDS for w in found):
        return False
    being_typed = folded[-1].isalnum() and found[-1] in FOLDED_STOP_WORDS
    return not being_typed


def typo_budget(word: str) -> int:
    """Edits allowed for a query word, Meilisearch's defaults: 1 from 5 letters, 2 from 9."""
    n = len(word)
    return 2 if n >= 9 else 1 if n >= 5 else 0


def within_edits(a: str, b: str, budget: int) -> bool:
    """Optimal-string-alignment distance (Levenshtein plus adjacent swaps) of ``a`` and ``b`` is at most
    ``budget``; a swap counts as one edit, as in Meilisearch and tantivy's fuzzy queries."""
    if abs(len(a) - len(b)) > budget:
        return False
    if budget == 0:
        return a == b
    return bool(OSA.distance(a, b, score_cutoff=budget) <= budget)


def prefix_within_edits(prefix: str, word: str, budget: int) -> bool:
    """Some prefix of ``word`` is within ``budget`` edits of ``prefix``."""
    if word.startswith(prefix):
        return True
    if budget == 0:
        return False
    for cut in range(max(1, len(prefix) - budget), min(len(word), len(prefix) + budget) + 1):
        if within_edits(prefix, word[:cut], budget):
            return True
    return False


# --- highlighting ----------------------------------------------------------------------------------


def render_marked(text: str) -> str:
    """HTML-escape ``text`` whose matches are wrapped in :data:`MARK_START`/:data:`MARK_END`; the
    markers become ``<mark>``/``</mark>``. Unbalanced markers are dropped, so the output is always
    well formed."""
    out: list[str] = []
    open_ = False
    for piece in re.split(f"([{MARK_START}{MARK_END}])", text):
        if piece == MARK_START:
            if not open_:
                out.append("<mark>")
                open_ = True
        elif piece == MARK_END:
            if open_:
                out.append("</mark>")
                open_ = False
        elif piece:
            out.append(html.escape(piece, quote=True))
    if open_:
        out.append("</mark>")
    return "".join(out).replace("<mark></mark>", "")


# --- stop words ------------------------------------------------------------------------------------

#: German stop words (articles, pronouns, prepositions, conjunctions, auxiliaries). Deliberately no
#: content words: "Daten", "Stadt", "Land" stay searchable.
STOP_WORDS: tuple[str, ...] = (
    "aber", "alle", "allem", "allen", "aller", "alles", "als", "also", "am", "an", "ander", "andere",
    "anderem", "anderen", "anderer", "anderes", "auch", "auf", "aus", "bei", "beim", "bin", "bis",
    "bist", "da", "damit", "dann", "das", "dass", "dem", "den", "denn", "der", "des", "dessen", "die",
    "dies", "diese", "diesem", "diesen", "dieser", "dieses", "doch", "dort", "du", "durch", "ein",
    "eine", "einem", "einen", "einer", "eines", "er", "es", "etwas", "euch", "euer", "eure", "für",
    "gegen", "hab", "habe", "haben", "hat", "hatte", "hatten", "hier", "hin", "ich", "ihm", "ihn",
    "ihnen", "ihr", "ihre", "ihrem", "ihren", "ihrer", "ihres", "im", "in", "indem", "ins", "ist",
    "jede", "jedem", "jeden", "jeder", "jedes", "jene", "jenem", "jenen", "jener", "jenes", "kann",
    "kein", "keine", "keinem", "keinen", "keiner", "man", "mit", "muss", "nach", "nicht", "noch",
    "nun", "nur", "ob", "oder", "ohne", "sehr", "sein", "seine", "seinem", "seinen", "seiner",
    "sich", "sie", "sind", "so", "soll", "sollen", "sondern", "sowie", "über", "um", "und", "uns",
    "unser", "unsere", "unter", "vom", "von", "vor", "war", "waren", "was", "weil", "welche",
    "welchem", "welchen", "welcher", "welches", "wenn", "werden", "wie", "wieder", "wir", "wird",
    "wo", "zu", "zum", "zur", "zwischen",
)  # fmt: skip
FOLDED_STOP_WORDS: frozenset[str] = frozenset(fold(w) for w in STOP_WORDS)


# --- synonyms --------------------------------------------------------------------------------------

#: Groups of words and phrases that mean the same to municipal staff. Every member finds every other
#: member, both ways. Phrases are matched as all of their words.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    (
        "ÖPNV",
        "Nahverkehr",
        "Busse und Bahnen",
        "öffentlicher Nahverkehr",
        "öffentlicher Personennahverkehr",
        "public transport",
    ),
    ("Bürgerhaushalt", "Beteiligungshaushalt", "partizipativer Haushalt", "participatory budgeting"),
    ("Videokonferenz", "Webkonferenz", "Videokonferenzsystem", "video conference"),
    ("Bürgerbeteiligung", "Partizipation", "Beteiligung", "Bürgermitwirkung", "Öffentlichkeitsbeteiligung"),
    ("OZG", "Onlinezugangsgesetz"),
    ("GIS", "Geoinformationssystem", "Geoinformation", "Geodaten"),
    ("Open Data", "offene Daten", "Datenportal"),
    ("Parken", "Parkraum", "Parkplatz", "Parkplätze", "Parkraummanagement", "Parkraumbewirtschaftung"),
    ("E-Akte", "elektronische Akte", "digitale Akte", "elektronische Aktenführung"),
    ("Ratsinformationssystem", "RIS", "Sitzungsdienst", "Gremieninformationssystem"),
    ("KI", "künstliche Intelligenz"),
    ("Digitaler Zwilling", "Stadtmodell", "Digital Twin"),
    ("IoT", "Internet der Dinge", "Sensorik", "Sensornetz"),
    ("LoRaWAN", "Funknetz", "Sensornetz"),
    ("Breitband", "Glasfaser", "schnelles Internet"),
    ("WLAN", "WiFi", "Hotspot"),
    ("E-Mobilität", "Elektromobilität", "Ladesäule", "Ladeinfrastruktur"),
    ("Radverkehr", "Fahrrad", "Radwege"),
    ("Carsharing", "Autoteilen", "Sharing"),
    ("Mängelmelder", "Schadensmeldung", "Mängelmeldung", "Bürgermeldung"),
    ("Terminvereinbarung", "Terminbuchung", "Online-Termin"),
    ("Chatbot", "virtueller Assistent", "digitaler Assistent"),
    ("Straßenbeleuchtung", "Straßenlaterne", "Beleuchtung"),
    ("Abfall", "Müll", "Entsorgung", "Abfallwirtschaft"),
    ("Hochwasser", "Starkregen", "Überflutung", "Pegel"),
    ("Energiemonitoring", "Energiemanagement", "Energiecontrolling"),
    ("Bürgerservice", "Bürgerbüro", "Bürgeramt", "Bürgerdienste"),
    ("Smart City", "smarte Stadt", "digitale Stadt"),
    ("Verwaltungsdigitalisierung", "digitale Verwaltung", "E-Government"),
    ("Barrierefreiheit", "BITV", "Zugänglichkeit"),
    ("Datenschutz", "DSGVO", "Datenschutz-Grundverordnung"),
    ("Open Source", "quelloffen", "freie Software"),
)


def meilisearch_synonyms() -> dict[str, list[str]]:
    """The groups as Meilisearch's per-word/phrase mapping, expanded both ways."""
    result: dict[str, list[str]] = {}
    for group in SYNONYM_GROUPS:
        for member in group:
            key = member.lower()
            others = [other for other in group if other.lower() != key]
            merged = result.setdefault(key, [])
            merged.extend(o for o in others if o not in merged)
    return result


def _phrase_key(phrase: str) -> tuple[str, ...]:
    return tuple(fold(w) for w in words(phrase) if fold(w) not in FOLDED_STOP_WORDS)


@lru_cache(maxsize=1)
def folded_synonyms() -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """Folded phrase (tuple of words, stop words removed) → its synonyms, as folded phrases."""
    table: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for group in SYNONYM_GROUPS:
        keys = [k for k in dict.fromkeys(_phrase_key(m) for m in group) if k]
        for key in keys:
            merged = table.setdefault(key, [])
            merged.extend(k for k in keys if k != key and k not in merged)
    return table


def max_synonym_length() -> int:
    return max(len(k) for k in folded_synonyms())


# --- compounds -------------------------------------------------------------------------------------

#: Morphemes of German municipal vocabulary, folded. A compound is split only if it is made entirely
#: of these (plus linking elements), so a split never invents a part.
COMPOUND_LEXICON: frozenset[str] = frozenset(
    fold(w)
    for w in [
        "abfall",
        "feinstaub",
        "staub",
        "veranstaltung",
        "mitglied",
        "verein",
        "abgabe",
        "abrechnung",
        "abstimmung",
        "abwasser",
        "adresse",
        "akte",
        "akten",
        "aktenfuehrung",
        "amt",
        "analyse",
        "anfrage",
        "angebot",
        "anlage",
        "anliegen",
        "anmeldung",
        "antrag",
        "anzeige",
        "app",
        "arbeit",
        "archiv",
        "arzt",
        "assistent",
        "aufgabe",
        "ausbau",
        "ausgabe",
        "auskunft",
        "ausschreibung",
        "ausweis",
        "auto",
        "bad",
        "bahn",
        "bahnen",
        "bau",
        "bauen",
        "baum",
        "bedarf",
        "behoerde",
        "beirat",
        "beitrag",
        "beleuchtung",
        "benachrichtigung",
        "beratung",
        "bereich",
        "bericht",
        "beschaffung",
        "beschluss",
        "beteiligung",
        "betrieb",
        "betreuung",
        "bewerbung",
        "bewirtschaftung",
        "bezahlung",
        "bibliothek",
        "bildung",
        "boden",
        "brand",
        "breitband",
        "buch",
        "buchung",
        "buerger",
        "buero",
        "bund",
        "bus",
        "busse",
        "cloud",
        "controlling",
        "dach",
        "daten",
        "dienst",
        "dienste",
        "digital",
        "digitalisierung",
        "dokument",
        "dorf",
        "echtzeit",
        "eingang",
        "einsatz",
        "einwohner",
        "elektro",
        "emission",
        "energie",
        "entsorgung",
        "entwicklung",
        "erfassung",
        "ergebnis",
        "fahr",
        "fahrer",
        "fahrgast",
        "fahrplan",
        "fahrrad",
        "fahrt",
        "fahrzeug",
        "fall",
        "feld",
        "feuer",
        "feuerwehr",
        "finanz",
        "flaeche",
        "flotte",
        "foerderung",
        "formular",
        "forum",
        "frage",
        "freizeit",
        "friedhof",
        "frist",
        "funk",
        "gast",
        "gebaeude",
        "gebuehr",
        "gebiet",
        "gefahr",
        "gemeinde",
        "genehmigung",
        "geo",
        "gericht",
        "gesetz",
        "gesundheit",
        "gewerbe",
        "glasfaser",
        "gremien",
        "gremium",
        "grund",
        "gruen",
        "gutschein",
        "hafen",
        "halle",
        "haltestelle",
        "handel",
        "haus",
        "haushalt",
        "heim",
        "heizung",
        "hilfe",
        "hinweis",
        "hochwasser",
        "hof",
        "information",
        "infrastruktur",
        "innen",
        "intelligenz",
        "internet",
        "jugend",
        "kalender",
        "kamera",
        "kanal",
        "karte",
        "kasse",
        "kataster",
        "katastrophe",
        "kind",
        "kinder",
        "kita",
        "klima",
        "kommune",
        "konto",
        "kontrolle",
        "kosten",
        "kraft",
        "kreis",
        "kultur",
        "kunde",
        "kunden",
        "lade",
        "laden",
        "lage",
        "land",
        "landes",
        "lage",
        "laerm",
        "laterne",
        "lehr",
        "leit",
        "leistung",
        "licht",
        "liegenschaft",
        "luft",
        "management",
        "mangel",
        "maengel",
        "markt",
        "medien",
        "meldung",
        "messung",
        "miete",
        "mitwirkung",
        "mobil",
        "mobilitaet",
        "modell",
        "monitoring",
        "muell",
        "nachbar",
        "nacht",
        "nah",
        "netz",
        "netzwerk",
        "not",
        "nutzung",
        "oeffentlichkeit",
        "online",
        "ordnung",
        "ort",
        "park",
        "pass",
        "personal",
        "personen",
        "pflege",
        "plan",
        "planung",
        "platz",
        "plaetze",
        "plattform",
        "portal",
        "post",
        "praxis",
        "projekt",
        "prozess",
        "quartier",
        "rad",
        "rat",
        "rathaus",
        "raum",
        "rechnung",
        "recht",
        "regen",
        "regel",
        "region",
        "register",
        "rettung",
        "ruf",
        "saeule",
        "sammlung",
        "schaden",
        "schadens",
        "schule",
        "schutz",
        "senioren",
        "sensor",
        "service",
        "sicherheit",
        "signal",
        "signatur",
        "sitzung",
        "software",
        "sozial",
        "spiel",
        "sport",
        "stadt",
        "staedte",
        "standort",
        "start",
        "station",
        "stelle",
        "steuer",
        "steuerung",
        "strasse",
        "strassen",
        "strom",
        "suche",
        "system",
        "tag",
        "tarif",
        "team",
        "technik",
        "termin",
        "ticket",
        "tier",
        "tourismus",
        "transparenz",
        "turn",
        "ueberwachung",
        "umwelt",
        "unterlage",
        "unterricht",
        "verband",
        "verfahren",
        "vergabe",
        "verkehr",
        "verkehrs",
        "verlauf",
        "versorgung",
        "vertrag",
        "verwaltung",
        "video",
        "wahl",
        "wald",
        "warn",
        "warnung",
        "wasser",
        "weg",
        "wehr",
        "weiterbildung",
        "welt",
        "werk",
        "wert",
        "wetter",
        "wirtschaft",
        "wissen",
        "wohn",
        "wohnung",
        "zahlung",
        "zaehler",
        "zeit",
        "zentrum",
        "zone",
        "zugang",
        "zulassung",
        "zustaendigkeit",
        "zweck",
        "zwilling",
        "sensorik",
    ]
)

_LINKS = ("", "s", "es", "n", "en", "e", "er", "ens", "ns")
_ENDINGS = ("", "e", "en", "n", "s", "es", "er", "ern", "nen")
_TAILS = tuple(dict.fromkeys(_LINKS + _ENDINGS))
_MIN_PART = 3


@lru_cache(maxsize=200_000)
def split_compound(word: str) -> tuple[str, ...]:
    """Parts of a folded compound (``parkraummanagement`` → ``park raum management``), or ``()``.

    Dynamic programming over the word: fewest parts win, each part is a lexicon morpheme, optionally
    followed by a linking element (between parts) or an inflection ending (at the end).
    """
    n = len(word)
    if n < 2 * _MIN_PART or n > MAX_WORD_LENGTH:
        return ()
    # best[i] = fewest parts covering word[:i], with the parts
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[0] = ()
    for start in range(n):
        sofar = best[start]
        if sofar is None:
            continue
        for end in range(start + _MIN_PART, n + 1):
            stem = word[start:end]
            if stem not in COMPOUND_LEXICON:
                continue
            for tail in _TAILS:
                stop = end + len(tail)
                if stop > n or word[end:stop] != tail:
                    continue
                if tail not in (_LINKS if stop < n else _ENDINGS):
                    continue
                candidate = (*sofar, stem)
                current = best[stop]
                if current is None or len(candidate) < len(current):
                    best[stop] = candidate
    parts = best[n]
    return parts if parts is not None and len(parts) > 1 else ()


def compound_parts_text(folded_texts: Iterable[str]) -> str:
    """The compound parts of every compound word in already folded texts, space-separated."""
    out: list[str] = []
    for text in folded_texts:
        for word in set(words(text)):
            parts = split_compound(word)
            if parts:
                out.extend(parts)
    return " ".join(out)

"""Query analysis and highlighting for the embedded engine.

A query is cut into *units*: single words, or phrases that are synonym keys ("Busse und Bahnen",
"offene Daten"). Every unit must match (Meilisearch's ``matchingStrategy: all``, which the adapter
sends too). A word matches a document through any of

- its exact folded form,
- its German stem (Snowball, via tantivy's analyzer), as a word or as a part of a compound in the
  document ("Beteiligung" → "Bürgerbeteiligung"),
- all of its own compound parts ("Parkplatz" → "park" and "platz"),
- up to 1 (from 5 letters) or 2 (from 9 letters) typos on the folded form, for words the index does
  not already know as typed (see ``TYPO_FREE_DOC_FREQ`` in :mod:`allmende.core.search.embedded`),
- as a prefix, if it is the last word and the query does not end with a separator,
- its synonyms (a word as its stem, a phrase as a phrase).

Words next to each other in a field, as in the query, rank higher. The same analysis decides which
words of a hit are highlighted, so a highlight shows why a document matched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import tantivy

from allmende.core.search.base import CROP_MARKER, CROP_WORDS
from allmende.core.search.text import (
    FOLDED_STOP_WORDS,
    MARK_END,
    MARK_START,
    MAX_QUERY_WORDS,
    MAX_WORD_LENGTH,
    fold,
    folded_synonyms,
    max_synonym_length,
    prefix_within_edits,
    render_marked,
    split_compound,
    typo_budget,
    within_edits,
    word_spans,
    words,
)

EXACT_ANALYZER = "allmende_de_exact"
STEM_ANALYZER = "allmende_de_stem"
STORED_ONLY_ANALYZER = "allmende_stored_only"
#: Bump when the analysis changes in a way that needs a reindex.
ANALYSIS_VERSION = 1


def _base() -> tantivy.TextAnalyzerBuilder:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_WORD_LENGTH + 1))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.custom_stopword(sorted(FOLDED_STOP_WORDS)))
    )


def build_analyzers() -> dict[str, tantivy.TextAnalyzer]:
    return {
        EXACT_ANALYZER: _base().build(),
        STEM_ANALYZER: _base().filter(tantivy.Filter.stemmer("german")).build(),
        STORED_ONLY_ANALYZER: tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
        .filter(tantivy.Filter.remove_long(0))
        .build(),
    }


_ANALYZERS = build_analyzers()


@lru_cache(maxsize=100_000)
def exact_form(folded_word: str) -> str | None:
    """The indexed exact form of a folded word, or None for a stop word or an over-long word."""
    tokens = _ANALYZERS[EXACT_ANALYZER].analyze(folded_word)
    return tokens[0] if len(tokens) == 1 else None


@lru_cache(maxsize=100_000)
def stem(folded_word: str) -> str | None:
    tokens = _ANALYZERS[STEM_ANALYZER].analyze(folded_word)
    return tokens[0] if len(tokens) == 1 else None


@lru_cache(maxsize=100_000)
def part_stems(folded_word: str) -> tuple[str, ...]:
    return tuple(s for s in (stem(p) for p in split_compound(folded_word)) if s)


@dataclass
class Word:
    """One analysed query word."""

    exact: str
    stem: str
    typos: int
    prefix: bool = False
    parts: tuple[str, ...] = ()


@dataclass
class Unit:
    """A word, or a phrase that is a synonym key; ``synonyms`` are lists of stems (all must match)."""

    words: list[Word]
    synonyms: list[list[str]] = field(default_factory=list)


@dataclass
class QueryPlan:
    units: list[Unit]
    #: the query had words, but none that can match (stop words only, over-long words)
    unmatchable: bool = False

    @property
    def empty(self) -> bool:
        return not self.units and not self.unmatchable


def plan_query(q: str, *, prefix_last: bool = True) -> QueryPlan:
    folded = fold(q)
    raw_words = words(folded)
    if not raw_words:
        return QueryPlan(units=[])
    ends_open = prefix_last and folded[-1].isalnum()
    original = words(q.lower())
    usable: list[tuple[str, int]] = []  # (exact form, typo budget)
    last_is_prefix = False
    for index, word in enumerate(raw_words):
        is_last = index == len(raw_words) - 1
        form = exact_form(word)
        if form is None and is_last and ends_open and word in FOLDED_STOP_WORDS:
            form = word  # "die" while typing "Dienst": only its prefix can match
        if form is None or len(usable) == MAX_QUERY_WORDS:
            continue
        # the typo budget counts letters as typed (ü is one letter, not "ue")
        typed = original[index] if len(original) == len(raw_words) else word
        usable.append((form, typo_budget(typed)))
        last_is_prefix = is_last and ends_open
    if not usable:
        return QueryPlan(units=[], unmatchable=True)
    synonyms = folded_synonyms()
    longest = max_synonym_length()
    units: list[Unit] = []
    i = 0
    while i < len(usable):
        matched = 0
        for length in range(min(longest, len(usable) - i), 0, -1):
            key = tuple(form for form, _ in usable[i : i + length])
            if key in synonyms:
                matched = length
                break
        span = matched or 1
        unit_words: list[Word] = []
        for j in range(i, i + span):
            form, budget = usable[j]
            is_last = j == len(usable) - 1
            unit_words.append(
                Word(
                    exact=form,
                    stem=stem(form) or form,
                    typos=budget,
                    prefix=is_last and last_is_prefix and span == 1,
                    parts=part_stems(form),
                )
            )
        syns: list[list[str]] = []
        if matched:
            key = tuple(form for form, _ in usable[i : i + span])
            for synonym in synonyms[key]:
                stems = [s for s in (stem(w) for w in synonym) if s]
                if stems:
                    syns.append(stems)
        units.append(Unit(words=unit_words, synonyms=syns))
        i += span
    return QueryPlan(units=units)


# --- highlighting ----------------------------------------------------------------------------------


@dataclass
class Matcher:
    """Decides whether a word of a document is one the query matched."""

    exact: set[str]
    stems: set[str]
    fuzzy: list[tuple[str, int]]
    prefixes: list[tuple[str, int]]
    _seen: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def from_plan(cls, plan: QueryPlan) -> Matcher:
        exact: set[str] = set()
        stems: set[str] = set()
        fuzzy: list[tuple[str, int]] = []
        prefixes: list[tuple[str, int]] = []
        for unit in plan.units:
            for word in unit.words:
                exact.add(word.exact)
                stems.add(word.stem)
                stems.update(word.parts)
                if word.typos:
                    fuzzy.append((word.exact, word.typos))
                if word.prefix:
                    prefixes.append((word.exact, word.typos))
            for synonym in unit.synonyms:
                stems.update(synonym)
        return cls(exact, stems, fuzzy, prefixes)

    def __call__(self, token: str) -> bool:
        known = self._seen.get(token)
        if known is None:
            known = self._seen[token] = _token_matches(self, token)
        return known


def _token_matches(matcher: Matcher, token: str) -> bool:
    folded = fold(token)
    if folded in FOLDED_STOP_WORDS or len(folded) > MAX_WORD_LENGTH:
        return False
    if folded in matcher.exact:
        return True
    token_stem = stem(folded)
    if token_stem is not None and token_stem in matcher.stems:
        return True
    if any(part in matcher.stems for part in part_stems(folded)):
        return True
    if any(within_edits(folded, word, budget) for word, budget in matcher.fuzzy):
        return True
    return any(prefix_within_edits(word, folded, budget) for word, budget in matcher.prefixes)


def highlight_text(text: str, is_match: Callable[[str], bool], *, crop: bool = True) -> tuple[str, bool]:
    """``text`` HTML-escaped with matched words in ``<mark>``; cropped to :data:`CROP_WORDS` words
    around the first match if longer. Returns the snippet and whether anything matched."""
    spans = word_spans(text)
    lo, hi = 0, len(spans)
    start_char, end_char = 0, len(text)
    prefix = suffix = ""
    first: int | None = None
    if crop and len(spans) > CROP_WORDS:
        first = next((i for i, (a, b) in enumerate(spans) if is_match(text[a:b])), None)
        lo = max(0, min((first or 0) - CROP_WORDS // 3, len(spans) - CROP_WORDS))
        hi = lo + CROP_WORDS
        if lo > 0:
            start_char, prefix = spans[lo][0], CROP_MARKER + " "
        if hi < len(spans):
            end_char, suffix = spans[hi - 1][1], " " + CROP_MARKER
    out: list[str] = []
    cursor = start_char
    matched = first is not None
    for a, b in spans[lo:hi]:
        if not is_match(text[a:b]):
            continue
        matched = True
        out.append(text[cursor:a])
        out.append(MARK_START + text[a:b] + MARK_END)
        cursor = b
    out.append(text[cursor:end_char])
    return prefix + render_marked("".join(out)).strip() + suffix, matched

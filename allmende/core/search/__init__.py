"""Search: one interface (:class:`SearchEngine`), two engines.

- :class:`EmbeddedSearchEngine` (default profile): tantivy, in-process, index in a directory.
- :class:`MeilisearchEngine` (production profile, ``MEILI_URL``): the official client in worker threads.

Both validate queries the same way (:func:`validate_query`) and share the German vocabulary of
:mod:`allmende.core.search.text` (folding, stop words, synonyms, compounds).
"""

from allmende.core.search.base import (
    FACET_LIMIT,
    MAX_PAGE,
    MAX_PER_PAGE,
    IndexSchema,
    InvalidSearch,
    SearchEngine,
    SearchError,
    SearchHit,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
    validate_query,
)
from allmende.core.search.embedded import EmbeddedSearchEngine
from allmende.core.search.meili import MeilisearchEngine

__all__ = [
    "FACET_LIMIT",
    "MAX_PAGE",
    "MAX_PER_PAGE",
    "EmbeddedSearchEngine",
    "IndexSchema",
    "InvalidSearch",
    "MeilisearchEngine",
    "SearchEngine",
    "SearchError",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "SearchUnavailable",
    "validate_query",
]

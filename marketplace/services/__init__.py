"""The catalog's rules: vocabularies, the solution lifecycle, references and public listing.

No HTTP and no commits here; the unit of work around the request or job commits. The modules here are
split by concern: ``vocabularies`` (the terms, checking content against them), ``reading`` (solutions as
the caller may see them, the public list), ``pages`` (counts and lists for the pages), ``lifecycle``
(writing and the moderation lifecycle), ``bulk`` (a vendor's bulk upsert), ``references`` (Nachnutzung) and
``shared`` (what other domains may know of the catalog); ``common`` holds what several of them share.
Callers import from this package, not from those modules. The search documents are built in
``marketplace.search``, next to the document type they fill.
"""

from marketplace.services.bulk import bulk_upsert, token_organization
from marketplace.services.common import CONTENT_FIELDS
from marketplace.services.lifecycle import (
    archive,
    create_solution,
    delete_draft,
    publish,
    request_changes,
    submit,
    sync_facets,
    update_solution,
)
from marketplace.services.pages import adopter_total, facet_counts, published_options, review_queue

# RELATED_PROVIDERS is the one registry object of ``reading``: the composition root fills it through this name.
from marketplace.services.reading import (
    RELATED_PROVIDERS,
    SolutionFilters,
    content_of,
    editable_content,
    get_solution,
    get_solution_by_uuid,
    license_type,
    list_for_provider,
    list_published,
    published_by_slugs,
    published_in_stage,
    solution_out,
    solution_outs,
)
from marketplace.services.references import claim_reference, references_of, withdraw_reference
from marketplace.services.shared import (
    SolutionSummary,
    providers_of_matching_solutions,
    solution_by_id,
    solution_by_slug,
)
from marketplace.services.vocabularies import (
    add_term,
    check_terms,
    get_vocabulary,
    list_vocabularies,
    vocabulary_index,
    vocabulary_labels,
)

__all__ = [
    "CONTENT_FIELDS",
    "RELATED_PROVIDERS",
    "SolutionFilters",
    "SolutionSummary",
    "add_term",
    "adopter_total",
    "archive",
    "bulk_upsert",
    "check_terms",
    "claim_reference",
    "content_of",
    "create_solution",
    "delete_draft",
    "editable_content",
    "facet_counts",
    "get_solution",
    "get_solution_by_uuid",
    "get_vocabulary",
    "license_type",
    "list_for_provider",
    "list_published",
    "list_vocabularies",
    "providers_of_matching_solutions",
    "publish",
    "published_by_slugs",
    "published_in_stage",
    "published_options",
    "references_of",
    "request_changes",
    "review_queue",
    "solution_by_id",
    "solution_by_slug",
    "solution_out",
    "solution_outs",
    "submit",
    "sync_facets",
    "token_organization",
    "update_solution",
    "vocabulary_index",
    "vocabulary_labels",
    "withdraw_reference",
]

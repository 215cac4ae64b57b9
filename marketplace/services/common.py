"""What several parts of the catalog's services share: the content fields, the facet fields, the
moderation workflow of solutions, and small helpers.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from allmende.accounts.models import Organization
from allmende.accounts.schemas import OrganizationRef
from allmende.core import moderation
from allmende.core.problems import invalid_input_from
from marketplace.schemas import SolutionFields

# Multi-valued fields that the public list filters on, kept as rows in solution_facet.
FACET_FIELDS = ("stages", "sectors", "areas", "standards", "hosting_options")
CONTENT_FIELDS = tuple(SolutionFields.model_fields)
WORKFLOW = moderation.Workflow(record_type="solution", noun="solution", plural="solutions")


def _org_ref(org: Organization) -> OrganizationRef:
    return OrganizationRef(slug=org.slug, name=org.name, kind=org.kind, bundesland=org.bundesland)


def _validated(content: dict[str, Any]) -> SolutionFields:
    try:
        return SolutionFields.model_validate(content)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None

"""Who may see and do what in the knowledge hub: the rules the services enforce and the pages show.

Case studies follow the shared moderation workflow (``allmende.core.moderation``), bound here to the
author organization. Guides are not moderated: moderators and the author's editors write them, and
moderators publish them.
"""

from __future__ import annotations

from allmende.accounts.principal import Principal
from allmende.core import moderation

# Re-exported: the records these rules are about, for type hints in the pages (which import no models).
from knowledge.models import CaseStudy as CaseStudy
from knowledge.models import Guide as Guide

# --- case studies -----------------------------------------------------------------------------------------


def may_write_for(principal: Principal, organization_id: int | None) -> bool:
    """Editors of an organization write and change its case studies."""
    return principal.is_editor_of(organization_id)


_RULES = moderation.OwnerRules[CaseStudy](lambda study: study.author_organization_id)
can_see_drafts = _RULES.can_see_drafts  # unpublished case studies, pending edits and moderation reasons
may_see = _RULES.may_see
may_edit = _RULES.may_edit
may_moderate = _RULES.may_moderate  # four eyes
may_archive = _RULES.may_archive


# --- guides -----------------------------------------------------------------------------------------------


def may_write_guide_for(principal: Principal, organization_id: int | None) -> bool:
    """Moderators write guides for the platform (no organization) or any organization; editors for theirs."""
    return principal.is_moderator or (organization_id is not None and principal.is_editor_of(organization_id))


def may_edit_guide(principal: Principal, guide: Guide) -> bool:
    """Moderators, and editors of the organization that wrote the guide."""
    return may_write_guide_for(principal, guide.author_organization_id)


def may_see_guide(principal: Principal, guide: Guide) -> bool:
    """Published guides for everyone; unpublished ones for their editors and the author's members."""
    return (
        guide.state == moderation.ModerationState.published
        or may_edit_guide(principal, guide)
        or principal.belongs_to(guide.author_organization_id)
    )


def may_publish_guide(principal: Principal) -> bool:
    return principal.is_moderator

"""Who may see and do what in the catalog: the rules the services enforce and the pages show.

The moderation rules themselves (drafts are seen by moderators and the provider's members; four eyes)
are the shared workflow's (``allmende.core.moderation``); here they are bound to a solution's provider.
"""

from __future__ import annotations

from allmende.accounts.models import MemberRole
from allmende.accounts.principal import Principal
from allmende.core import moderation
from marketplace.models import Solution as Solution  # re-exported: the record these rules are about


def can_see_drafts_of(principal: Principal, provider_id: int | None) -> bool:
    """A provider's unpublished solutions, pending edits and moderation reasons: also for a claimant whose
    membership waits for a moderator (issue 14), who writes the drafts."""
    return moderation.may_see_drafts(principal, provider_id) or principal.may_draft_for(provider_id)


def may_edit_for(principal: Principal, provider_id: int | None) -> bool:
    """Verified editors (and owners, and write tokens) of a provider submit its solutions for publication."""
    return principal.is_editor_of(provider_id)


def may_draft_for(principal: Principal, provider_id: int | None) -> bool:
    """Editors write drafts for their provider, verified or not: nothing goes public unverified (issue 14)."""
    return principal.may_draft_for(provider_id)


_RULES = moderation.OwnerRules[Solution](lambda solution: solution.provider_id)
may_edit = _RULES.may_edit  # submit for publication: verified editors
may_moderate = _RULES.may_moderate  # four eyes
may_archive = _RULES.may_archive


def can_see_drafts(principal: Principal, solution: Solution) -> bool:
    return can_see_drafts_of(principal, solution.provider_id)


def may_see(principal: Principal, solution: Solution) -> bool:
    return _RULES.may_see(principal, solution) or can_see_drafts(principal, solution)


def may_draft(principal: Principal, solution: Solution) -> bool:
    """Change the draft (or the pending edit) and delete a never-published draft."""
    return may_draft_for(principal, solution.provider_id)


def may_record_references(principal: Principal, organization_id: int | None) -> bool:
    """Members of a public body record and withdraw what it uses; a token needs the write scope."""
    if principal.token is not None:
        return principal.has_role(organization_id, MemberRole.editor)
    return principal.has_role(organization_id, MemberRole.member)

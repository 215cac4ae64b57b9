"""An organization's people as its members page shows them: members with role and verification, the
open invitations (for owners), and the claim waiting for a moderator. Changing roles and removing
members are the accounts services' (``add_member``, ``remove_member``: the last owner stays)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import MemberRole, Membership, Organization, User
from allmende.accounts.principal import Principal
from allmende.core.problems import NotFound
from identity.models import ClaimState, OrganizationClaim
from identity.services import invitations
from identity.services.invitations import InvitationView


@dataclass
class Member:
    user: User
    membership: Membership

    @property
    def role(self) -> MemberRole:
        return MemberRole(self.membership.role)

    @property
    def verified(self) -> bool:
        return self.membership.verified_at is not None


@dataclass
class MembersPage:
    organization: Organization
    members: list[Member]
    may_manage: bool  # a verified owner (or an admin): roles, removal, invitations
    invitations: list[InvitationView] = field(default_factory=list)
    pending_claim: OrganizationClaim | None = None


async def members_page(session: AsyncSession, principal: Principal, slug: str) -> MembersPage:
    """404 for anyone who does not belong to the organization (nor moderates)."""
    org = await accounts.get_organization(session, slug)
    if not (principal.is_moderator or (principal.user is not None and org.id in principal.roles)):
        raise NotFound(f"no organization '{slug}' among yours", field="slug")
    rows = await accounts.members_of(session, principal, org)
    may_manage = principal.user is not None and (principal.is_admin or principal.has_role(org.id, MemberRole.owner))
    page = MembersPage(org, [Member(user, membership) for user, membership in rows], may_manage)
    if may_manage:
        page.invitations = await invitations.list_open(session, principal, org)
    page.pending_claim = (
        await session.exec(
            select(OrganizationClaim).where(
                OrganizationClaim.organization_id == org.id, OrganizationClaim.state == ClaimState.pending.value
            )
        )
    ).first()
    return page


@dataclass
class MyOrganization:
    organization: Organization
    role: MemberRole
    verified: bool


async def organizations_of(session: AsyncSession, user_id: int) -> list[MyOrganization]:
    """The person's organizations, verified or waiting for a moderator."""
    rows = await session.exec(
        select(Membership, Organization)
        .join(Organization, col(Organization.id) == Membership.organization_id)
        .where(Membership.user_id == user_id, col(Organization.deleted_at).is_(None))
        .order_by(col(Organization.name))
    )
    return [MyOrganization(org, MemberRole(m.role), m.verified_at is not None) for m, org in rows]

"""Who is calling: a signed-in user, an organization's API token, or nobody."""

from __future__ import annotations

from dataclasses import dataclass, field

from allmende.accounts.models import ApiToken, MemberRole, PlatformRole, TokenScope, User
from allmende.core.problems import Forbidden, Unauthorized

_ROLE_RANK = {MemberRole.member: 1, MemberRole.editor: 2, MemberRole.owner: 3}


@dataclass
class Principal:
    user: User | None = None
    token: ApiToken | None = None
    # organization id -> role; for a token, its organization with the role its scopes grant
    roles: dict[int, MemberRole] = field(default_factory=dict)
    # issue 14: organizations whose membership a moderator has not verified yet. There the person
    # prepares drafts (``may_draft_for``) but holds no role: no publishing, offers or bundles.
    unverified: frozenset[int] = frozenset()
    # False while a person who needs a second factor (moderators, admins, and whoever enabled one) has
    # not given it in this session: until then the platform role does not count.
    second_factor: bool = True

    @property
    def is_anonymous(self) -> bool:
        return self.user is None and self.token is None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def token_id(self) -> int | None:
        return self.token.id if self.token else None

    @property
    def platform_role(self) -> PlatformRole | None:
        if self.user is None or self.user.platform_role is None or not self.second_factor:
            return None
        return PlatformRole(self.user.platform_role)

    @property
    def is_admin(self) -> bool:
        return self.platform_role is PlatformRole.admin

    @property
    def is_moderator(self) -> bool:
        """Admins can do everything moderators can."""
        return self.platform_role in (PlatformRole.admin, PlatformRole.moderator)

    def role_in(self, organization_id: int | None) -> MemberRole | None:
        """The verified role; an unverified membership has none yet."""
        if organization_id is None or organization_id in self.unverified:
            return None
        return self.roles.get(organization_id)

    def may_draft_for(self, organization_id: int | None) -> bool:
        """Editors write drafts for their organization, verified or not (nothing goes public unverified)."""
        role = self.roles.get(organization_id) if organization_id is not None else None
        return role is not None and _ROLE_RANK[role] >= _ROLE_RANK[MemberRole.editor]

    def has_role(self, organization_id: int | None, at_least: MemberRole) -> bool:
        role = self.role_in(organization_id)
        return role is not None and _ROLE_RANK[role] >= _ROLE_RANK[at_least]

    def is_editor_of(self, organization_id: int | None) -> bool:
        """Editors (and owners, and write tokens) write an organization's records."""
        return self.has_role(organization_id, MemberRole.editor)

    def belongs_to(self, organization_id: int | None) -> bool:
        """Any role in the organization (a token belongs to its own)."""
        return self.role_in(organization_id) is not None

    def require_authenticated(self) -> None:
        if self.is_anonymous:
            raise Unauthorized("Sign in or send an API token to do this.")

    def require_user(self) -> User:
        """Some actions (managing tokens and members) need a person, not a token."""
        if self.user is None:
            if self.token is not None:
                raise Forbidden("This action needs a signed-in user; API tokens cannot do it.")
            raise Unauthorized("Sign in to do this.")
        return self.user

    def require_moderator(self) -> None:
        self.require_authenticated()
        if not self.is_moderator:
            raise Forbidden("Only moderators and admins may do this." + self._second_factor_hint())

    def require_admin(self) -> None:
        self.require_authenticated()
        if not self.is_admin:
            raise Forbidden("Only admins may do this." + self._second_factor_hint())

    def _second_factor_hint(self) -> str:
        if self.user is not None and self.user.platform_role is not None and not self.second_factor:
            return " Give the second factor of this sign-in first (POST /api/v1/auth/second-factor)."
        return ""

    def require_role(self, organization_id: int | None, at_least: MemberRole) -> None:
        self.require_authenticated()
        if not self.has_role(organization_id, at_least):
            raise Forbidden(f"This needs the role '{at_least.value}' in the organization.")


def token_role(token: ApiToken) -> MemberRole:
    return MemberRole.editor if TokenScope.write.value in token.scopes else MemberRole.member


ANONYMOUS = Principal()

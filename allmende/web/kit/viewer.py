"""Who is looking at a page: the Viewer dependency, and the guard of the routers for signed-in pages.

Pages for signed-in users sit on a ``Router`` with ``guards=[signed_in_only()]`` (``allmende/web/__init__.py``
builds them from each area's ``SIGNED_IN`` handlers). The guard is the one place that refuses an anonymous
viewer: it raises :class:`SignInRequired`, and the pages router's exception handler
(``errors.sign_in_first``) answers with the redirect to ``/anmelden?next=…`` (``render.login_redirect``).

Guards run before Litestar resolves a handler's dependencies, so the guard cannot use the ``principal``
dependency. It asks the composition root's principal lookup instead (``app.state[PRINCIPAL_LOOKUP]``, the
same rules as the dependency in a unit of work of its own): a deleted or deactivated user and an API token
(no user) count as anonymous, a bad token is a 401 and a session store outage a 503, as in the handler.
Because the guard refuses before any dependency runs, no unit of work is opened for a refused request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts import services as accounts
from allmende.accounts.models import MemberRole, OrganizationKind
from allmende.accounts.principal import ANONYMOUS, Principal
from allmende.accounts.services import MembershipView
from allmende.core.settings import Settings
from notifications.services import count_unread

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]
Config = NamedDependency[Settings]
AnyRequest = Request[Any, Any, Any]
AnyConnection = ASGIConnection[Any, Any, Any, Any]
PrincipalLookup = Callable[[AnyConnection], Awaitable[Principal]]
Guard = Callable[[AnyConnection, BaseRouteHandler], Awaitable[None]]

# The key under which the composition root puts its principal lookup into the app's state.
PRINCIPAL_LOOKUP = "principal_lookup"


@dataclass
class Viewer:
    """Who looks at the page, with the organizations that decide which pages they get."""

    principal: Principal = field(default_factory=lambda: ANONYMOUS)
    memberships: list[MembershipView] = field(default_factory=list)
    instance_name: str = "Allmende"
    unread: int = 0  # unread notifications in the inbox (signed-in users)

    @property
    def signed_in(self) -> bool:
        return self.principal.user is not None

    @property
    def name(self) -> str:
        user = self.principal.user
        return user.display_name if user else ""

    @property
    def is_moderator(self) -> bool:
        return self.principal.is_moderator

    @property
    def editor_orgs(self) -> list[MembershipView]:
        """Organizations whose solutions the viewer may create and change."""
        return [m for m in self.memberships if m.role in (MemberRole.editor, MemberRole.owner)]

    @property
    def vendor_orgs(self) -> list[MembershipView]:
        """Organizations that offer solutions: vendors, and any organization the viewer edits for."""
        return [
            m for m in self.memberships if m.organization.kind == OrganizationKind.vendor.value or m in self.editor_orgs
        ]

    @property
    def public_orgs(self) -> list[MembershipView]:
        """Public bodies (Kommune, Landkreis, Verbund, Land) the viewer records references for."""
        return [m for m in self.memberships if m.organization.is_public_body]


Who = NamedDependency[Viewer]


async def provide_viewer(principal: Caller, db_session: Session, settings: Config) -> Viewer:
    memberships = await accounts.memberships_of(db_session, principal.user.id or 0) if principal.user else []
    unread = await count_unread(db_session, principal.user.id) if principal.user and principal.user.id else 0
    return Viewer(principal=principal, memberships=memberships, instance_name=settings.instance_name, unread=unread)


class SignInRequired(Exception):
    """An anonymous viewer asked for a page of a signed-in router.

    ``back`` is where a form's POST returns after the sign-in when its page cannot be told from the
    request (no same-site Referer)."""

    def __init__(self, back: str = "/") -> None:
        super().__init__(back)
        self.back = back


def signed_in_only(back: str = "/") -> Guard:
    """The guard of a router whose pages are for signed-in users only."""

    async def guard(connection: AnyConnection, _handler: BaseRouteHandler) -> None:
        lookup: PrincipalLookup = connection.app.state[PRINCIPAL_LOOKUP]
        if (await lookup(connection)).user is None:
            raise SignInRequired(back)

    return guard

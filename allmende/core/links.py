"""Links to the pages people read, for texts that leave the web (mails, inbox entries).

Domain code never spells a web path: it asks ``links.offer_request(uuid)``, and the composition root
(``allmende/app.py``) registers the builder that knows the web's URLs (``allmende.web.kit.links``).
Links are paths on this site; the mail job puts the configured base URL in front.
"""

from __future__ import annotations

import uuid
from typing import Protocol


class LinkBuilder(Protocol):
    """The pages a notice may point to."""

    def offer_request(self, request: uuid.UUID) -> str: ...

    def confirm_email(self, token: str) -> str: ...

    def reset_password(self, token: str) -> str: ...

    def invitation(self, token: str) -> str: ...

    def organization_members(self, slug: str) -> str: ...


_builder: LinkBuilder | None = None


def register(builder: LinkBuilder) -> LinkBuilder | None:
    """Use ``builder`` from now on; returns the one it replaces (so a test can put it back)."""
    global _builder
    previous, _builder = _builder, builder
    return previous


def builder() -> LinkBuilder:
    if _builder is None:
        raise RuntimeError("no link builder registered: the composition root (allmende/app.py) registers one")
    return _builder


def offer_request(request: uuid.UUID) -> str:
    """The page of an offer request."""
    return builder().offer_request(request)


def confirm_email(token: str) -> str:
    """The page that confirms an e-mail address (a registration, or a changed address) with a mailed token."""
    return builder().confirm_email(token)


def reset_password(token: str) -> str:
    """The page that sets a new password with a mailed token."""
    return builder().reset_password(token)


def invitation(token: str) -> str:
    """The page where an invited person accepts (the token is the secret the mail carries)."""
    return builder().invitation(token)


def organization_members(slug: str) -> str:
    """The members page of an organization."""
    return builder().organization_members(slug)


__all__ = [
    "LinkBuilder",
    "builder",
    "confirm_email",
    "invitation",
    "offer_request",
    "organization_members",
    "register",
    "reset_password",
]

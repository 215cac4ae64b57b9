"""The web's URLs for texts that leave the web: the composition root registers ``WEB_LINKS`` as the
link builder of ``allmende.core.links``, so domain code links a page without spelling its path."""

from __future__ import annotations

import uuid
from urllib.parse import quote


class WebLinks:
    """Paths of the web pages (``allmende/web/README.md``, "Pages")."""

    def offer_request(self, request: uuid.UUID) -> str:
        return f"/anfragen/{request}"

    def confirm_email(self, token: str) -> str:
        return f"/email-bestaetigen?token={quote(token)}"

    def reset_password(self, token: str) -> str:
        return f"/passwort-neu?token={quote(token)}"

    def invitation(self, token: str) -> str:
        return f"/einladung/{token}"

    def organization_members(self, slug: str) -> str:
        return f"/organisationen/{slug}/mitglieder"


WEB_LINKS = WebLinks()

__all__ = ["WEB_LINKS", "WebLinks"]

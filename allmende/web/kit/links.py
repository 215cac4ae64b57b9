"""The web's URLs for texts that leave the web: the composition root registers ``WEB_LINKS`` as the
link builder of ``allmende.core.links``, so domain code links a page without spelling its path."""

from __future__ import annotations

import uuid


class WebLinks:
    """Paths of the web pages (``allmende/web/README.md``, "Pages")."""

    def offer_request(self, request: uuid.UUID) -> str:
        return f"/anfragen/{request}"


WEB_LINKS = WebLinks()

__all__ = ["WEB_LINKS", "WebLinks"]

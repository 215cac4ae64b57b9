"""Request and response bodies of the identity API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

# --- single sign-on (OpenID Connect) ------------------------------------------------------------------------


class OidcProviderOut(BaseModel):
    """A provider people can sign in with; ``start`` is where a browser begins."""

    name: str
    label: str
    start: str


class OidcStartOut(BaseModel):
    """Send the browser to ``authorization_url``; it comes back to the callback with this session's cookie."""

    authorization_url: str


class LinkedIdentityOut(BaseModel):
    """One provider account linked to the signed-in person's account."""

    provider: str
    label: str
    subject: str
    email: str | None
    created_at: datetime
    last_used_at: datetime | None

"""HTTP for the way in. Thin: the rules are in ``identity.services``. ``ROUTES`` is wired by the app."""

from identity.controllers.oidc import OidcController

ROUTES = [OidcController]

__all__ = ["ROUTES"]

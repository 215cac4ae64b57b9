"""HTTP of the way in. ``ROUTES`` is what the composition root includes; each concern adds its controllers.
Thin: the rules are in ``identity.services``."""

from typing import Any

from identity.controllers.auth import AccountController, AuthController
from identity.controllers.oidc import OidcController

ROUTES: list[Any] = [AuthController, AccountController, OidcController]

__all__ = ["ROUTES"]

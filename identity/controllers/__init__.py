"""HTTP of the way in, one module per concern. ``ROUTES`` is what the composition root includes.
Thin: the rules are in ``identity.services``."""

from typing import Any

from identity.controllers.auth import AccountController, AuthController
from identity.controllers.oidc import OidcController
from identity.controllers.organizations import ROUTES as ORGANIZATION_ROUTES
from identity.controllers.second_factor import SecondFactorController

ROUTES: list[Any] = [AuthController, AccountController, OidcController, SecondFactorController, *ORGANIZATION_ROUTES]

__all__ = ["ROUTES"]

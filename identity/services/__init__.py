"""The identity package's public interface: what the pages, the API and other packages call.

Split by concern: ``sessions`` (signed-in sessions), ``passwords`` (the policy). Registration,
one-time links, invitations, organization claims, sign-in providers and second factors join as
sibling modules.
"""

from identity.services import account, links, oidc, passwords, registration, sessions, signin

__all__ = ["account", "links", "oidc", "passwords", "registration", "sessions", "signin"]

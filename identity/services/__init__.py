"""The identity package's public interface: what the pages, the API and other packages call.

Split by concern: ``sessions`` (signed-in sessions), ``passwords`` (the policy), ``claims``
(organizations join the platform), ``invitations`` (owners invite colleagues), ``members`` (an
organization's people). Registration, one-time links, sign-in providers and second factors join as
sibling modules.
"""

from identity.services import (
    account,
    claims,
    invitations,
    links,
    members,
    oidc,
    passwords,
    registration,
    second_factor,
    sessions,
    signin,
)

__all__ = [
    "account",
    "claims",
    "invitations",
    "links",
    "members",
    "oidc",
    "passwords",
    "registration",
    "second_factor",
    "sessions",
    "signin",
]

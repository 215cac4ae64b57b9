"""The identity package's public interface: what the pages, the API and other packages call.

Split by concern: ``sessions`` (signed-in sessions). Registration, one-time links, invitations,
organization claims, sign-in providers and second factors join as sibling modules.
"""

from identity.services import sessions

__all__ = ["sessions"]

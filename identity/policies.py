"""Who may act on an account: the person themselves, signed in (not an API token), and, if they need a
second factor, with it given in this session: a password alone must not change the password, the
address, or delete the account of someone who protects it with a second factor."""

from __future__ import annotations

from allmende.accounts.models import User
from allmende.accounts.principal import Principal
from allmende.core.problems import Forbidden
from identity.services import sessions


def account_holder(principal: Principal) -> User:
    """The signed-in person acting on their own account; 401 for nobody, 403 for a token or a session
    still waiting for its second factor."""
    user = principal.require_user()
    if not principal.second_factor and sessions.needs_second_factor(user):
        raise Forbidden("give your second factor in this session first", field="second_factor")
    return user

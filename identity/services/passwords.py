"""The password policy: length over complexity, no common or breached passwords, no forced rotation.

Follows NIST SP 800-63B and the BSI's advice: no composition rules (they make passwords harder to
remember, not to guess), a minimum length, and a check against known passwords. The check is zxcvbn's
(Dropbox's estimator, maintained as a Python port): it ships frequency lists of common passwords,
including those from public breaches, plus names and words, and it estimates how many guesses a
password would take; we refuse what it scores below 3 ("safely unguessable" starts at 3). Writing our
own list and matcher would be worse at both.
"""

from __future__ import annotations

import enum

from zxcvbn import zxcvbn

from allmende.core.problems import InvalidInput

MIN_LENGTH = 12
# argon2 takes any length, but a megabyte password is an attack on the hasher, not a password.
MAX_LENGTH = 1000
# zxcvbn's cost grows with the input; what it sees beyond this adds no insight.
CHECKED_PREFIX = 100
MIN_SCORE = 3


class Weakness(enum.StrEnum):
    """Why a password is refused; the pages say it in German, the API names it in ``reason``."""

    too_short = "too-short"
    too_long = "too-long"
    guessable = "guessable"  # common, breached, a keyboard pattern, a date, a repeated word …
    personal = "personal"  # the person's name or e-mail address


def weakness(password: str, *, email: str = "", name: str = "") -> Weakness | None:
    if len(password) < MIN_LENGTH:
        return Weakness.too_short
    if len(password) > MAX_LENGTH:
        return Weakness.too_long
    personal = [part for part in (email, email.split("@")[0], *name.split()) if len(part) >= 3]
    lowered = password.casefold()
    if any(part.casefold() in lowered and len(part) * 2 >= len(password) for part in personal):
        return Weakness.personal
    if zxcvbn(password[:CHECKED_PREFIX], user_inputs=personal)["score"] < MIN_SCORE:
        return Weakness.guessable
    return None


_DETAILS = {
    Weakness.too_short: f"the password needs at least {MIN_LENGTH} characters",
    Weakness.too_long: f"the password may have at most {MAX_LENGTH} characters",
    Weakness.guessable: "this password is common, has appeared in data breaches, or is easy to guess",
    Weakness.personal: "the password must not be built from your name or e-mail address",
}


def check(password: str, *, email: str = "", name: str = "", field: str = "password") -> None:
    """Raise 422 naming ``field`` (and the reason) for a password the policy refuses."""
    found = weakness(password, email=email, name=name)
    if found is not None:
        raise InvalidInput(_DETAILS[found], field=field, extra={"reason": found.value})

"""Password hashing (argon2id via argon2-cffi) and API token material."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when an account does not exist, so a failed login costs the same either way.
_DUMMY_HASH = _hasher.hash("allmende-timing-equaliser")

TOKEN_PREFIX = "alm_"  # noqa: S105 (a marker, not a secret)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_api_token() -> str:
    """``alm_`` plus 40 URL-safe random characters (240 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


def token_digest(token: str) -> str:
    # Tokens carry 240 random bits, so a fast hash is enough; argon2 would cost every API request.
    return hashlib.sha256(token.encode()).hexdigest()

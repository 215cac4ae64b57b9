"""Versions and ETags: the one place that spells an ETag and checks If-Match against it.

A record's ETag is ``"<uuid>.<version>"`` (quoted, strong). Writers send it back in If-Match; a missing
one is 428 where the change needs it, a different one 412.
"""

from __future__ import annotations

from uuid import UUID

from allmende.core.problems import PreconditionFailed, PreconditionRequired


def etag(record_uuid: UUID | str, version: int | str) -> str:
    """The ETag of one version of a record (also what a form's hidden version field stands for)."""
    return f'"{record_uuid}.{version}"'


def check_version(record_etag: str, if_match: str | None) -> None:
    """Optimistic concurrency: the caller must say which version it changes."""
    if if_match is None:
        raise PreconditionRequired(
            "send If-Match with the ETag you read, so no one else's change is overwritten", field="If-Match"
        )
    candidates = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    if record_etag not in candidates and "*" not in candidates:
        raise PreconditionFailed("the record has changed since you read it; read it again and retry", field="If-Match")


def check_optional_version(record_etag: str, if_match: str | None) -> None:
    """For state transitions, where If-Match is optional: checked only when sent."""
    if if_match is not None:
        check_version(record_etag, if_match)

"""Audit events: who did what to which record, and why (design rule 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypedDict, Unpack
from uuid import UUID

from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.types import PortableJSON, UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    actor_token_id: int | None = Field(default=None, foreign_key="api_token.id")
    action: str = Field(max_length=60)
    record_type: str = Field(max_length=50)
    record_uuid: UUID | None = Field(default=None, index=True)
    from_state: str | None = Field(default=None, max_length=40)
    to_state: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=PortableJSON)


class Actor(Protocol):
    """Who acts: the accounts package's Principal fits (core knows no more of it than this)."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def token_id(self) -> int | None: ...


class EventFields(TypedDict, total=False):
    """What an audit event may say beyond its action and record type."""

    record_uuid: UUID | None
    from_state: str | None
    to_state: str | None
    reason: str | None
    data: dict[str, Any] | None


def record_audit(
    session: AsyncSession,
    *,
    action: str,
    record_type: str,
    actor_user_id: int | None = None,
    actor_token_id: int | None = None,
    **fields: Unpack[EventFields],
) -> AuditEvent:
    said: dict[str, Any] = {**fields, "data": fields.get("data") or {}}
    event = AuditEvent(
        action=action, record_type=record_type, actor_user_id=actor_user_id, actor_token_id=actor_token_id, **said
    )
    session.add(event)
    return event


def record_for(
    session: AsyncSession, actor: Actor | None, *, action: str, record_type: str, **fields: Unpack[EventFields]
) -> AuditEvent:
    """Record what ``actor`` (a user, an API token, or None for the operator and jobs) did."""
    return record_audit(
        session,
        action=action,
        record_type=record_type,
        actor_user_id=actor.user_id if actor else None,
        actor_token_id=actor.token_id if actor else None,
        **fields,
    )

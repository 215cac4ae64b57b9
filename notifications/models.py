"""The tables of notifications: the inbox (``notification``) and the e-mail outbox (``outbound_mail``)."""

from __future__ import annotations

import uuid as uuid_module
from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from allmende.core.types import UTCDateTime, utcnow


class Notification(SQLModel, table=True):
    """One entry of a user's in-app inbox."""

    __tablename__ = "notification"

    id: int | None = Field(default=None, primary_key=True)
    uuid: uuid_module.UUID = Field(default_factory=uuid_module.uuid4, unique=True, index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=60)
    subject: str = Field(max_length=300)
    body: str = Field(default="", sa_type=Text)
    link: str | None = Field(default=None, max_length=500)
    record_uuid: uuid_module.UUID | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboundMail(SQLModel, table=True):
    """The e-mail outbox: written with the notification, drained by the ``mail.*`` jobs."""

    __tablename__ = "outbound_mail"

    id: int | None = Field(default=None, primary_key=True)
    uuid: uuid_module.UUID = Field(default_factory=uuid_module.uuid4, unique=True, index=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body: str = Field(default="", sa_type=Text)
    link: str | None = Field(default=None, max_length=500)
    kind: str = Field(max_length=60)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=1000)


__all__ = ["Notification", "OutboundMail"]

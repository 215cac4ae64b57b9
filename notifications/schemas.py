"""What the inbox API answers."""

from __future__ import annotations

import uuid as uuid_module
from datetime import datetime

from pydantic import BaseModel


class NotificationOut(BaseModel):
    uuid: uuid_module.UUID
    kind: str
    subject: str
    body: str
    link: str | None
    record_uuid: uuid_module.UUID | None
    created_at: datetime
    read_at: datetime | None


__all__ = ["NotificationOut"]

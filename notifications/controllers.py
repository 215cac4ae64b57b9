"""The inbox API: ``GET /api/v1/inbox`` and ``POST /api/v1/inbox/{uuid}/read``, for signed-in users."""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.core.pagination import DEFAULT_LIMIT, Limit, Page
from allmende.core.problems import Forbidden, Unauthorized
from notifications.schemas import NotificationOut
from notifications.services import list_inbox, mark_read


def _reader(principal: Any) -> int:
    """The signed-in user's id. The principal comes from the accounts package through the app's
    ``principal`` dependency; core only relies on its ``is_anonymous`` and ``user_id``."""
    if principal is None or principal.is_anonymous:
        raise Unauthorized("Sign in to read your notifications.")
    user_id: int | None = principal.user_id
    if user_id is None:
        raise Forbidden("The inbox belongs to a signed-in user; API tokens have none.")
    return user_id


class InboxController(Controller):
    path = "/api/v1/inbox"
    tags = ["inbox"]  # noqa: RUF012

    @get("/", summary="Your notifications, newest first (signed-in users)")
    async def list_notifications(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Any],
        unread: FromQuery[bool] = False,
        limit: Limit = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Page[NotificationOut]:
        return await list_inbox(db_session, _reader(principal), unread=unread, limit=limit, cursor=cursor)

    @post("/{notification_id:uuid}/read", status_code=200, summary="Mark a notification as read")
    async def read(
        self,
        notification_id: FromPath[uuid_module.UUID],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Any],
    ) -> NotificationOut:
        return await mark_read(db_session, _reader(principal), notification_id)


__all__ = ["InboxController"]

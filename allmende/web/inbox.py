"""The inbox page: the signed-in user's notifications, newest first; mark one or all of them read.

The web is session-only, so API tokens never get here: a principal without a user is anonymous to
these pages and is sent to the sign-in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import get, post
from litestar.params import FromPath

from allmende.core.problems import NotFound, Problem
from allmende.web.kit.i18n import gettext
from allmende.web.kit.render import not_found, page, redirect, safe_next, url_with
from allmende.web.kit.viewer import AnyRequest, Session, Viewer, Who
from notifications.schemas import NotificationOut
from notifications.services import list_inbox, mark_all_read, mark_read

INBOX = "/postfach"
PAGE_SIZE = 20


@dataclass(frozen=True)
class Entry:
    """One notification as the page shows it: ``target`` is its link if that is a same-site path."""

    item: NotificationOut
    target: str | None

    @property
    def unread(self) -> bool:
        return self.item.read_at is None


def _user_id(viewer: Viewer) -> int:
    """The viewer's user id: the inbox router's guard lets only signed-in viewers in."""
    user = viewer.principal.user
    assert user is not None and user.id is not None
    return user.id


def _back(raw: object) -> str:
    """Where a form on the inbox returns to: the inbox with its filter and page, nothing else."""
    target = safe_next(str(raw or ""), INBOX)
    return target if target == INBOX or target.startswith(INBOX + "?") else INBOX


@get(INBOX, name="web:inbox")
async def inbox(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    user_id = _user_id(viewer)
    unread_only = request.query_params.get("ungelesen") == "1"
    cursor = request.query_params.get("weiter") or None
    message = None
    try:
        found = await list_inbox(db_session, user_id, unread=unread_only, limit=PAGE_SIZE, cursor=cursor)
    except Problem:  # a mangled cursor: start from the top
        found = await list_inbox(db_session, user_id, unread=unread_only, limit=PAGE_SIZE)
        message = gettext("Der Verweis auf weitere Benachrichtigungen war ungültig. Die Liste beginnt wieder oben.")
    entries = [Entry(item=n, target=safe_next(n.link, "") or None) for n in found.items]
    return page(
        "inbox/inbox.html",
        {
            "viewer": viewer,
            "entries": entries,
            "total": found.total,
            "unread_only": unread_only,
            "paged": cursor is not None and message is None,
            "more_url": url_with(request, weiter=found.next_cursor) if found.next_cursor else None,
            "message": message,
        },
    )


@post(f"{INBOX}/{{nid:uuid}}/gelesen", name="web:inbox-read", status_code=303)
async def read(request: AnyRequest, nid: FromPath[uuid.UUID], db_session: Session, viewer: Who) -> Any:
    user_id = _user_id(viewer)
    form = await request.form()
    try:
        notification = await mark_read(db_session, user_id, nid)
    except NotFound:  # someone else's notification is as absent as a missing one
        return not_found(
            viewer,
            gettext("Diese Benachrichtigung gibt es nicht in Ihrem Postfach."),
            links=[(INBOX, gettext("Zum Postfach"))],
        )
    back = _back(form.get("zurueck"))
    if form.get("oeffnen") == "1":
        target = safe_next(notification.link, "")
        return redirect(target) if target else redirect(back, "inbox-read")
    return redirect(back, "inbox-read")


@post(f"{INBOX}/alle-gelesen", name="web:inbox-all-read", status_code=303)
async def read_all(request: AnyRequest, db_session: Session, viewer: Who) -> Any:
    user_id = _user_id(viewer)
    await mark_all_read(db_session, user_id)
    return redirect(_back((await request.form()).get("zurueck")), "inbox-all-read")


ROUTES: list[Any] = [inbox, read, read_all]

"""What offer requests tell people: the recipients of a notice, the link it carries, and the German
wording of dates, numbers and the bundle in its text. The notices go to the inbox and the mail outbox
(``allmende.core.notifications``) in the same transaction as the change they announce.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from allmende.accounts.models import Membership, User
from allmende.core import notifications
from offer_requests.models import OfferRequest, OfferRequestParticipant

try:
    _LOCAL_TIME: tzinfo = ZoneInfo("Europe/Berlin")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without time zone data
    _LOCAL_TIME = UTC


def _local(moment: datetime) -> str:
    return moment.astimezone(_LOCAL_TIME).strftime("%d.%m.%Y, %H:%M Uhr")


async def _recipients(session: AsyncSession, organization_ids: Iterable[int]) -> list[notifications.Recipient]:
    ids = set(organization_ids)
    if not ids:
        return []
    rows = await session.exec(
        select(User.id, User.email)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(col(Membership.organization_id).in_(ids), col(User.is_active).is_(True))
        .order_by(col(User.id))
    )
    return [notifications.Recipient(user_id=user_id or 0, email=email) for user_id, email in rows]


def offer_request_link(request: OfferRequest) -> str:
    return f"/anfragen/{request.uuid}"  # the web page: mails and the inbox link people, not API clients


async def _notify(
    session: AsyncSession,
    request: OfferRequest,
    organization_ids: Iterable[int],
    kind: str,
    subject: str,
    body: str,
    *,
    exclude: Iterable[int] = (),
) -> None:
    ids = set(organization_ids) - set(exclude)
    notifications.notify(
        session,
        await _recipients(session, ids),
        kind,
        subject,
        body,
        link=offer_request_link(request),
        record_uuid=request.uuid,
    )


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")  # German digit grouping: 1.620.000


def _bundle_line(participants: Sequence[OfferRequestParticipant]) -> str:
    return (
        f"Gebündelter Bedarf: {len(participants)} Teilnehmende, "
        f"{_number(sum(p.inhabitants for p in participants))} Einwohnerinnen und Einwohner, "
        f"{_number(sum(p.users for p in participants))} Nutzende, "
        f"{_number(sum(p.sites for p in participants))} Standorte."
    )

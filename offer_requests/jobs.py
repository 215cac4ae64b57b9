"""The periodic jobs of offer requests: they close at their deadline, and are announced a day before.

Both are idempotent (a closed request is not closed again, a reminder is sent once per request) and take
"now" from their ``now`` argument (an ISO timestamp) when given, so tests move time instead of waiting.
The mails they cause are written to the outbox in the same transaction and enqueued after the commit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from allmende.core.jobs import JobContext, JobSpec
from allmende.core.types import utcnow
from notifications import services as notifications
from offer_requests import services


def _moment(now: str | None) -> datetime:
    if now is None:
        return utcnow()
    moment = datetime.fromisoformat(now)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def close_due_offer_requests(ctx: JobContext, *, now: str | None = None) -> list[str]:
    """Close every open offer request whose deadline has passed. Returns the closed requests' uuids."""
    async with ctx.database.unit_of_work() as session:
        closed = await services.close_due_offer_requests(session, _moment(now))
    await notifications.enqueue_pending(session, ctx.queue)
    return [str(u) for u in closed]


async def remind_offer_requests(ctx: JobContext, *, now: str | None = None) -> list[str]:
    """Tell participants and vendors a day before the deadline, once per request."""
    async with ctx.database.unit_of_work() as session:
        reminded = await services.remind_offer_requests(session, _moment(now))
    await notifications.enqueue_pending(session, ctx.queue)
    return [str(u) for u in reminded]


CLOSE_JOB = JobSpec("offers.close_due", close_due_offer_requests, max_tries=3, timeout_seconds=120, every_seconds=60)
REMIND_JOB = JobSpec("offers.remind_due", remind_offer_requests, max_tries=3, timeout_seconds=120, every_seconds=300)
JOBS = (CLOSE_JOB, REMIND_JOB)

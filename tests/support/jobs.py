"""Running the app's jobs when a test chooses (the in-process queue of the test adapters stays stopped)."""

from __future__ import annotations

from datetime import datetime

from allmende.app import Adapters
from allmende.core.jobs.inprocess import InProcessJobQueue


def queue_of(adapters: Adapters) -> InProcessJobQueue:
    assert isinstance(adapters.jobs, InProcessJobQueue)
    return adapters.jobs


async def run_job(adapters: Adapters, name: str, now: datetime) -> None:
    """Enqueue a clock-driven job for the moment ``now`` and run everything pending."""
    await adapters.jobs.enqueue(name, now=now.isoformat())
    await queue_of(adapters).run_pending()

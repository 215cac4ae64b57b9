"""The embedded profile's runner: jobs run on the app's own event loop, retried with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from allmende.core.jobs.base import JobContext, JobRegistry, JobSpec, backoff_seconds

log = structlog.get_logger("allmende.jobs")


@dataclass(order=True)
class _Pending:
    run_at: float
    order: int
    name: str = field(compare=False)
    kwargs: dict[str, Any] = field(compare=False)
    job_id: str | None = field(compare=False)
    attempt: int = field(compare=False, default=1)


class InProcessJobQueue:
    """Runs registered jobs on the current event loop.

    ``start()`` launches the loop that runs due jobs and the periodic ones; tests leave it stopped and
    call ``run_pending()`` to run, in order, whatever is due, so each test decides when work happens.
    """

    def __init__(self, registry: JobRegistry, *, backoff_base: float = 1.0) -> None:
        self.registry = registry
        self.backoff_base = backoff_base
        self.context: JobContext | None = None
        self._heap: list[_Pending] = []
        self._order = itertools.count()
        self._waiting_ids: set[str] = set()
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.failed: list[tuple[str, str]] = []  # (job name, error) of jobs that used up their tries

    def bind(self, context: JobContext) -> None:
        self.context = context

    async def enqueue(
        self, name: str, /, *, job_id: str | None = None, defer_seconds: float = 0, **kwargs: Any
    ) -> None:
        self.registry.get(name)  # unknown names fail at the caller, not later in the loop
        if job_id is not None:
            if job_id in self._waiting_ids:
                return
            self._waiting_ids.add(job_id)
        heapq.heappush(self._heap, _Pending(time.monotonic() + defer_seconds, next(self._order), name, kwargs, job_id))
        self._wakeup.set()

    async def ping(self) -> None:
        return None

    @property
    def pending(self) -> int:
        return len(self._heap)

    async def _run(self, item: _Pending) -> None:
        assert self.context is not None, "bind() the queue to a JobContext first"
        spec: JobSpec = self.registry.get(item.name)
        if item.job_id is not None:
            self._waiting_ids.discard(item.job_id)
        try:
            await asyncio.wait_for(
                spec.function(self.context.with_attempt(item.attempt), **item.kwargs), timeout=spec.timeout_seconds
            )
        except Exception as exc:
            if item.attempt < spec.max_tries:
                delay = backoff_seconds(item.attempt, base=self.backoff_base)
                log.warning("job failed, will retry", job=item.name, attempt=item.attempt, delay=delay, error=repr(exc))
                heapq.heappush(
                    self._heap,
                    _Pending(
                        time.monotonic() + delay,
                        next(self._order),
                        item.name,
                        item.kwargs,
                        item.job_id,
                        item.attempt + 1,
                    ),
                )
            else:
                log.error("job failed for good", job=item.name, attempt=item.attempt, error=repr(exc))
                self.failed.append((item.name, repr(exc)))

    async def run_pending(self, *, wait_for_retries: bool = False, max_seconds: float = 30) -> int:
        """Run every job that is due now (and, if asked, wait for retries that come due). Returns the count."""
        ran = 0
        deadline = time.monotonic() + max_seconds
        while self._heap and time.monotonic() < deadline:
            now = time.monotonic()
            if self._heap[0].run_at > now:
                if not wait_for_retries:
                    break
                await asyncio.sleep(min(self._heap[0].run_at - now, deadline - now))
                continue
            await self._run(heapq.heappop(self._heap))
            ran += 1
        return ran

    async def _loop(self) -> None:
        while True:
            await self.run_pending()
            timeout = max(0.0, self._heap[0].run_at - time.monotonic()) if self._heap else None
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=timeout)

    async def _periodic(self, spec: JobSpec) -> None:
        assert spec.every_seconds is not None
        while True:
            await self.enqueue(spec.name, job_id=f"periodic:{spec.name}")
            await asyncio.sleep(spec.every_seconds)

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._loop(), name="allmende-jobs"))
        for spec in self.registry:
            if spec.every_seconds:
                self._tasks.append(asyncio.create_task(self._periodic(spec), name=f"allmende-cron-{spec.name}"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

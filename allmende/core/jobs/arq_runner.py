"""The production runner: arq workers on Redis. ``allmende worker`` starts one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from arq import Retry, create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.cron import cron
from arq.worker import Function, Worker, func
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from allmende.core.jobs.base import JobContext, JobRegistry, JobSpec, backoff_seconds

log = structlog.get_logger("allmende.worker")

#: What a lost Redis looks like from inside arq: the worker is rebuilt after a pause instead of exiting.
REDIS_GONE: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


def _serialize(data: dict[str, Any]) -> bytes:
    # JSON instead of arq's default pickle: a message on Redis must never be able to run code.
    return json.dumps(data, default=str).encode()


def _deserialize(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw)
    assert isinstance(value, dict)
    return value


SERIALIZERS: dict[str, Any] = {"job_serializer": _serialize, "job_deserializer": _deserialize}


class ArqJobQueue:
    def __init__(self, redis_url: str, *, queue_name: str = "allmende:queue") -> None:
        self.redis_settings = RedisSettings.from_dsn(redis_url)
        # Fail fast when Redis is down: callers (readiness, enqueue) report it instead of hanging.
        self.redis_settings.conn_timeout = 1
        self.redis_settings.conn_retries = 0
        self.queue_name = queue_name
        self._pool: ArqRedis | None = None

    async def _get_pool(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(
                self.redis_settings, default_queue_name=self.queue_name, retry=0, **SERIALIZERS
            )
        return self._pool

    async def enqueue(
        self, name: str, /, *, job_id: str | None = None, defer_seconds: float = 0, **kwargs: Any
    ) -> None:
        pool = await self._get_pool()
        await pool.enqueue_job(
            name, _job_id=job_id, _defer_by=defer_seconds or None, _queue_name=self.queue_name, **kwargs
        )

    async def ping(self) -> None:
        pool = await self._get_pool()
        await pool.ping()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def _wrap(spec: JobSpec, backoff_base: float) -> Callable[..., Awaitable[Any]]:
    async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
        context: JobContext = ctx["allmende"]
        attempt = int(ctx.get("job_try", 1))
        try:
            return await spec.function(context.with_attempt(attempt), **kwargs)
        except Exception as exc:
            # arq retries only on Retry; anything else would fail the job for good.
            if attempt < spec.max_tries:
                raise Retry(defer=backoff_seconds(attempt, base=backoff_base)) from exc
            raise

    run.__qualname__ = run.__name__ = spec.name.replace(".", "_")
    return run


def build_worker(
    registry: JobRegistry,
    context: JobContext,
    redis_url: str,
    *,
    queue_name: str = "allmende:queue",
    burst: bool = False,
    backoff_base: float = 1.0,
    handle_signals: bool = True,
) -> Worker:
    functions: list[Function] = [
        func(_wrap(spec, backoff_base), name=spec.name, max_tries=spec.max_tries + 1, timeout=spec.timeout_seconds)  # type: ignore[arg-type]
        for spec in registry
    ]
    cron_jobs = []
    for spec in registry:
        if spec.every_seconds:
            step = max(1, spec.every_seconds)
            seconds = set(range(0, 60, step)) if step < 60 else {0}
            minutes = set(range(0, 60, max(1, step // 60))) if step >= 60 else None
            cron_jobs.append(
                cron(
                    _wrap(spec, backoff_base),  # type: ignore[arg-type]
                    name=f"cron:{spec.name}",
                    second=seconds,
                    minute=minutes,
                    unique=True,
                    run_at_startup=True,
                )
            )

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["allmende"] = context

    redis_settings = RedisSettings.from_dsn(redis_url)
    # One attempt per start: while Redis is away, run_worker's loop waits and logs instead of arq's
    # own five silent retries followed by an exit.
    redis_settings.conn_retries = 0
    redis_settings.conn_timeout = 2
    return Worker(
        functions=functions,
        cron_jobs=cron_jobs,
        redis_settings=redis_settings,
        queue_name=queue_name,
        burst=burst,
        handle_signals=handle_signals,
        on_startup=on_startup,
        max_jobs=10,
        keep_result=60,
        poll_delay=0.2,
        **SERIALIZERS,
    )


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_worker(
    make_worker: Callable[[], Worker], stop: asyncio.Event, *, first_delay: float = 0.5, max_delay: float = 30.0
) -> None:
    """Run arq workers until ``stop`` is set (or a burst worker finishes).

    arq's worker ends when its Redis connection breaks; an operator's worker must outlive a Redis
    restart. So each loss of Redis closes the worker, waits (0.5 s, doubling up to 30 s; reset after
    a worker ran for a minute) and starts a fresh one. Jobs that were running are run again by arq
    (its in-progress keys expire), which is why every job is idempotent. Any other error ends the
    loop: a bug should stop the process and show, not spin.
    """
    delay = first_delay
    while not stop.is_set():
        worker = make_worker()
        started = time.monotonic()
        running = asyncio.create_task(worker.async_run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        error: BaseException | None = None
        if running.done():
            error = None if running.cancelled() else running.exception()
        else:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, *REDIS_GONE):
                await running
        with contextlib.suppress(asyncio.CancelledError, *REDIS_GONE):
            await worker.close()
        if stop.is_set() or (running.done() and error is None and not running.cancelled()):
            return  # stopped, or a burst worker emptied the queue
        if error is not None and not isinstance(error, REDIS_GONE):
            raise error
        if time.monotonic() - started > 60:
            delay = first_delay
        log.warning("worker lost Redis; starting again", error=repr(error), retry_in_seconds=delay)
        await _pause(stop, delay)
        delay = min(delay * 2, max_delay)

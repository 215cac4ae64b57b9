"""The production runner: arq workers on Redis. ``allmende worker`` starts one."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry, create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.cron import cron
from arq.worker import Function, Worker, func

from allmende.core.jobs.base import JobContext, JobRegistry, JobSpec, backoff_seconds


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

    return Worker(
        functions=functions,
        cron_jobs=cron_jobs,
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=queue_name,
        burst=burst,
        handle_signals=handle_signals,
        on_startup=on_startup,
        max_jobs=10,
        keep_result=60,
        poll_delay=0.2,
        **SERIALIZERS,
    )

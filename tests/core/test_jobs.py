"""One job interface, two runners; jobs retry with backoff and run unchanged under arq and in-process."""

import uuid
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlmodel import select

from allmende.accounts.models import Organization
from allmende.app import Adapters
from allmende.core.jobs import JobContext, JobRegistry, backoff_seconds
from allmende.core.jobs.arq_runner import ArqJobQueue, build_worker
from allmende.core.jobs.inprocess import InProcessJobQueue
from tests.support.servers import REDIS_URL

ATTEMPTS: dict[str, list[int]] = {}


def register_flaky_job(registry: JobRegistry) -> None:
    """A job that fails on its first attempt and then creates a vendor, idempotently."""

    @registry.job("test.create_vendor", max_tries=3)
    async def create_vendor(ctx: JobContext, *, slug: str) -> str:
        ATTEMPTS.setdefault(slug, []).append(ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("the outside world hiccuped")
        async with ctx.database.unit_of_work() as session:
            exists = (await session.exec(select(Organization).where(Organization.slug == slug))).first()
            if exists is None:
                session.add(Organization(kind="vendor", name=slug, slug=slug))
        return slug

    @registry.job("test.always_fails", max_tries=2)
    async def always_fails(ctx: JobContext) -> None:
        raise ValueError("never works")


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff_seconds(30) == 300


async def _vendor_slugs(adapters: Adapters) -> list[str]:
    async with adapters.database.sessionmaker() as session:
        return list(await session.exec(select(Organization.slug)))


async def test_in_process_runner_retries_until_the_job_succeeds(adapters: Adapters, job_registry: JobRegistry) -> None:
    register_flaky_job(job_registry)
    queue = adapters.jobs
    assert isinstance(queue, InProcessJobQueue)
    slug = f"inproc-{uuid.uuid4().hex[:8]}"
    await queue.enqueue("test.create_vendor", slug=slug, job_id=f"vendor:{slug}")
    await queue.enqueue("test.create_vendor", slug=slug, job_id=f"vendor:{slug}")  # de-duplicated
    await queue.run_pending(wait_for_retries=True)
    assert ATTEMPTS[slug] == [1, 2]
    assert await _vendor_slugs(adapters) == [slug]


async def test_in_process_runner_gives_up_after_max_tries(adapters: Adapters, job_registry: JobRegistry) -> None:
    register_flaky_job(job_registry)
    queue = adapters.jobs
    assert isinstance(queue, InProcessJobQueue)
    await queue.enqueue("test.always_fails")
    await queue.run_pending(wait_for_retries=True)
    assert queue.failed == [("test.always_fails", "ValueError('never works')")]


async def test_unknown_job_names_fail_at_enqueue(adapters: Adapters) -> None:
    with pytest.raises(KeyError):
        await adapters.jobs.enqueue("no.such.job")


@pytest.fixture
async def redis_queue_name() -> Any:
    name = f"allmende:test:{uuid.uuid4().hex[:8]}"
    yield name
    redis = Redis.from_url(REDIS_URL)
    keys = [k async for k in redis.scan_iter(f"arq:*{name}*")]
    if keys:
        await redis.delete(*keys)
    await redis.delete(name)
    await redis.aclose()


async def test_arq_worker_in_burst_mode_runs_the_same_job_with_retries(
    adapters: Adapters, redis_queue_name: str
) -> None:
    """A real arq worker against the machine's Redis runs the job, retries it once, and it succeeds."""
    job_registry = JobRegistry()  # only the test's jobs: the app's periodic ones would run in the burst too
    register_flaky_job(job_registry)
    queue = ArqJobQueue(REDIS_URL, queue_name=redis_queue_name)
    await queue.ping()
    slug = f"arq-{uuid.uuid4().hex[:8]}"
    job_id = f"{redis_queue_name}:vendor:{slug}"  # names every key this test leaves in Redis
    await queue.enqueue("test.create_vendor", slug=slug, job_id=job_id)
    await queue.enqueue("test.create_vendor", slug=slug, job_id=job_id)  # same id: one job
    context = JobContext(settings=adapters.settings, database=adapters.database, queue=queue)
    worker = build_worker(
        job_registry,
        context,
        REDIS_URL,
        queue_name=redis_queue_name,
        burst=True,
        backoff_base=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
        await queue.close()
    assert ATTEMPTS[slug] == [1, 2]
    assert (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed) == (1, 1, 0)
    assert await _vendor_slugs(adapters) == [slug]


@pytest.mark.seeded
async def test_the_apps_drain_job_runs_on_a_real_arq_worker(adapters: Adapters, redis_queue_name: str) -> None:
    """The job the embedded profile runs in-process runs unchanged on arq: it indexes the change log."""
    from allmende.app import build_job_registry
    from allmende.core.indexing import backlog

    queue = ArqJobQueue(REDIS_URL, queue_name=redis_queue_name)
    await queue.enqueue("search.drain", job_id=f"{redis_queue_name}:drain")
    context = JobContext(
        settings=adapters.settings,
        database=adapters.database,
        queue=queue,
        adapters={"search": adapters.search, "documents": adapters.documents},
    )
    worker = build_worker(
        build_job_registry(), context, REDIS_URL, queue_name=redis_queue_name, burst=True, handle_signals=False
    )
    try:
        await worker.main()
    finally:
        await worker.close()
        await queue.close()
    assert worker.jobs_failed == 0 and worker.jobs_complete >= 1
    assert await backlog(adapters.database) == 0
    assert await adapters.search.count() >= 100

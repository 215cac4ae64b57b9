"""One job interface, two runners: arq on Redis in production, in-process in the embedded profile.

Job functions are plain ``async def job(ctx: JobContext, **kwargs)`` and run unchanged in both.
They must be idempotent: both runners retry a failing job with exponential backoff, and arq may run
a job more than once.
"""

from allmende.core.jobs.base import JobContext, JobQueue, JobRegistry, JobSpec, backoff_seconds

__all__ = ["JobContext", "JobQueue", "JobRegistry", "JobSpec", "backoff_seconds"]

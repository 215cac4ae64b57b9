from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from allmende.core.db import Database
    from allmende.core.settings import Settings

JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class JobContext:
    """What a job gets: the settings, the database, the queue (to enqueue follow-ups) and the adapters."""

    settings: Settings
    database: Database
    queue: JobQueue
    adapters: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1

    def with_attempt(self, attempt: int) -> JobContext:
        return replace(self, attempt=attempt)


@dataclass(frozen=True)
class JobSpec:
    name: str
    function: JobFunction
    max_tries: int = 5
    timeout_seconds: float = 300
    # Run periodically every this many seconds (None: only when enqueued).
    every_seconds: int | None = None


def backoff_seconds(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff after the given (1-based) failed attempt: base, 2·base, 4·base … capped."""
    return float(min(cap, base * 2 ** (attempt - 1)))


class JobRegistry:
    """The jobs this app knows; domains register theirs in the composition root."""

    def __init__(self) -> None:
        self._specs: dict[str, JobSpec] = {}

    def register(self, spec: JobSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"job {spec.name!r} is registered twice")
        self._specs[spec.name] = spec

    def job(
        self, name: str, *, max_tries: int = 5, timeout_seconds: float = 300, every_seconds: int | None = None
    ) -> Callable[[JobFunction], JobFunction]:
        def decorate(function: JobFunction) -> JobFunction:
            self.register(JobSpec(name, function, max_tries, timeout_seconds, every_seconds))
            return function

        return decorate

    def get(self, name: str) -> JobSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"unknown job {name!r}") from None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs


class JobQueue(Protocol):
    """Where work is handed off; ``job_id`` de-duplicates a job that is already waiting."""

    async def enqueue(
        self, name: str, /, *, job_id: str | None = None, defer_seconds: float = 0, **kwargs: Any
    ) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...

"""Fixtures for fault tests: the production profile as separate OS processes (see ``harness.py``).

- ``private_redis``: a ``RedisServer`` already running on its own free port; ``stop()`` / ``start()``
  on the same port, ``url``, ``client()``.
- ``private_postgres``: a ``PostgresCluster`` (initdb + start, about one second); ``stop(mode="fast")``
  / ``start()`` on the same port, ``dsn(db)``, ``create_database(name)``, ``psql(sql)``.
- ``fresh_database``: a new, empty database on the machine's PostgreSQL (``TEST_PG_DSN``), dropped at
  teardown; its ``postgresql://`` URL.
- ``production_env(database_url=…, redis_url=…, **more)``: the environment an operator sets.
- ``allmende_cli(env, *args)``: runs ``python -m allmende.cli`` (``migrate``, ``seed``, …), fails on a
  non-zero exit.
- ``app_process(env)`` → ``AppProcess`` (``url``, ``kill(sig)``, ``restart()``, ``stop()``, ``log_tail()``);
  ``worker_process(env)`` → ``WorkerProcess`` (same methods). Both are started and ready when returned.
- ``production_stack``: private Redis + a migrated ``fresh_database`` + its env, for the common case.

Every process and server is ended at teardown; when a test fails, the tails of all their logs are added
to the report. Every test in this folder is marked ``faults``.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import (
    PG_BIN,
    AppProcess,
    CliRunner,
    EnvFactory,
    ManagedProcess,
    PostgresCluster,
    ProductionStack,
    RedisServer,
    WorkerProcess,
    psql,
    run_cli,
)

HERE = Path(__file__).parent
PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
_LOGS = pytest.StashKey[list[Callable[[], tuple[str, str]]]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A failed fault test shows the tail of every log its servers and processes wrote."""
    report = yield
    if report.failed and HERE in Path(str(item.path)).parents:
        for source in item.stash.get(_LOGS, []):
            title, text = source()
            report.sections.append((f"log tail: {title}", text))
    return report


def _show_log(request: pytest.FixtureRequest, title: str, read: Callable[[], str]) -> None:
    request.node.stash.setdefault(_LOGS, []).append(lambda: (title, read()))


@pytest.fixture
def private_redis(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    _show_log(request, server.name, server.log_tail)
    try:
        server.start()
        yield server
    finally:
        if server.running:
            server.kill()
        server.stop()


@pytest.fixture
def private_postgres(request: pytest.FixtureRequest) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    _show_log(request, f"postgres:{cluster.port}", cluster.log_tail)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def _admin_psql(sql: str) -> None:
    psql(PG_BIN / "psql", PG_ADMIN_DSN, sql)


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty database on the machine's PostgreSQL, dropped (with its connections) at teardown."""
    name = f"allmende_fault_{uuid.uuid4().hex[:12]}"
    _admin_psql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        _admin_psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def production_env(tmp_path: Path) -> EnvFactory:
    """The variables an operator sets for the production profile; ``more`` adds or overrides (``SMTP_URL=…``)."""

    def make(*, database_url: str, redis_url: str | None = None, **more: str) -> dict[str, str]:
        env = {
            "DATABASE_URL": database_url,
            "ALLMENDE_DATA_DIR": str(tmp_path / "data"),
            "ALLMENDE_SECRET_KEY": "fault-test-secret-" + "x" * 32,
            "ALLMENDE_BASE_URL": "http://127.0.0.1:8000",
            "ALLMENDE_ALLOW_PRIVATE_URLS": "true",
        }
        if redis_url:
            env["REDIS_URL"] = redis_url
        env.update(more)
        return env

    return make


@pytest.fixture
def allmende_cli(tmp_path: Path) -> CliRunner:
    """``allmende_cli(env, "migrate")``: the CLI as a subprocess in ``tmp_path``; a non-zero exit fails
    (pass ``check=False`` to look at it yourself)."""

    def run(
        env: dict[str, str], *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(env, *args, cwd=tmp_path, timeout=timeout, check=check)

    return run


@pytest.fixture
def app_process(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., AppProcess]]:
    """``app_process(env, port=None)`` starts ``allmende serve`` and returns it once ``/healthz`` answers."""
    started: list[AppProcess] = []

    def start(env: dict[str, str], *, port: int | None = None) -> AppProcess:
        app = AppProcess(env, directory=tmp_path, port=port)
        started.append(app)
        _show_log(request, app.name, app.log_tail)
        app.start()
        return app

    try:
        yield start
    finally:
        _stop_all(started)


@pytest.fixture
def worker_process(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., WorkerProcess]]:
    """``worker_process(env, wait=True)`` starts ``allmende worker`` and returns it once it polls Redis."""
    started: list[WorkerProcess] = []

    def start(env: dict[str, str], *, wait: bool = True) -> WorkerProcess:
        worker = WorkerProcess(env, directory=tmp_path, name=f"worker-{len(started) + 1}")
        started.append(worker)
        _show_log(request, worker.name, worker.log_tail)
        worker.start(wait=wait)
        return worker

    try:
        yield start
    finally:
        _stop_all(started)


def _stop_all(processes: list[Any]) -> None:
    process: ManagedProcess
    for process in processes:
        process.stop(timeout=5)


@pytest.fixture
def production_stack(
    private_redis: RedisServer, fresh_database: str, production_env: EnvFactory, allmende_cli: CliRunner
) -> ProductionStack:
    env = production_env(database_url=fresh_database, redis_url=private_redis.url)
    allmende_cli(env, "migrate")
    return ProductionStack(redis=private_redis, database_url=fresh_database, env=env)

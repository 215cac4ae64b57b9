"""The fault harness itself: servers stop and start on their ports, the app survives its database's
restart and its own SIGKILL. Also the smallest example of how to use the fixtures."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from typing import Any

import httpx

from tests.faults.harness import AppProcess, CliRunner, EnvFactory, PostgresCluster, RedisServer, port_open, wait_until


def test_private_redis_stops_and_starts_on_the_same_port(private_redis: RedisServer) -> None:
    with private_redis.client() as client:
        client.set("k", "v")
    private_redis.stop()
    assert not port_open(private_redis.port)
    private_redis.start()
    with private_redis.client() as client:
        assert client.ping() and client.get("k") is None  # no persistence: a restart forgets everything
    private_redis.stop(sig=signal.SIGKILL)
    assert not private_redis.running


def _readiness(app: AppProcess) -> dict[str, Any]:
    return dict(httpx.get(f"{app.url}/readyz", timeout=10).json()["checks"])


def test_the_app_on_a_private_postgres_survives_a_database_restart_and_its_own_kill(
    private_postgres: PostgresCluster,
    private_redis: RedisServer,
    production_env: EnvFactory,
    allmende_cli: CliRunner,
    app_process: Callable[..., AppProcess],
) -> None:
    env = production_env(database_url=private_postgres.create_database("allmende"), redis_url=private_redis.url)
    assert "database at head (production profile)" in allmende_cli(env, "migrate").stdout
    app = app_process(env)
    assert _readiness(app)["database"]["status"] == "ready"

    private_postgres.stop(mode="fast")
    assert _readiness(app)["database"]["status"] == "unavailable"
    private_postgres.start()
    wait_until(lambda: _readiness(app)["database"]["status"] == "ready", timeout=15, what="the database check")

    assert app.kill(signal.SIGKILL) == -signal.SIGKILL
    app.restart()
    assert httpx.get(f"{app.url}/healthz", timeout=5).status_code == 200


def test_a_cli_error_is_reported_with_its_output(production_env: EnvFactory, allmende_cli: CliRunner) -> None:
    result = allmende_cli(
        production_env(database_url="postgresql://nobody@127.0.0.1:1/x", PORT="x"), "migrate", check=False
    )
    assert isinstance(result, subprocess.CompletedProcess) and result.returncode != 0
    assert result.stderr.startswith("error: PORT:")

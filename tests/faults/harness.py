"""The production profile as an operator runs it, as separate OS processes, for fault tests.

Servers (a private ``redis-server``, a private PostgreSQL cluster) and Allmende's own processes
(``allmende serve``, ``allmende worker``) are started, killed and restarted here; the fixtures in
``conftest.py`` own them and end them at teardown. Every wait is bounded (``DEFAULT_TIMEOUT``); a
missing binary is an error, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import httpx
import redis

DEFAULT_TIMEOUT = 30.0
PG_BIN = Path(os.environ.get("TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
ALLMENDE = [sys.executable, "-m", "allmende.cli"]
WORKER_HEALTH_KEY = "allmende:queue:health-check"  # arq writes it on the worker's first poll


class HarnessError(AssertionError):
    """A server or process did not do what the harness waited for; the message says what and shows its log."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it, so parallel test processes differ)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = DEFAULT_TIMEOUT, interval: float = 0.1, what: str = "condition"
) -> float:
    """Poll until ``predicate()`` is true; returns the seconds it took, raises ``HarnessError`` after ``timeout``."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        with contextlib.suppress(Exception):
            if predicate():
                return time.monotonic() - started
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def psql(binary: str | Path, dsn: str, sql: str) -> str:
    """Run one statement with psql (unaligned, tuples only); its output, or HarnessError with stderr."""
    result = subprocess.run(
        [require_binary(binary), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
        capture_output=True,
        text=True,
        timeout=DEFAULT_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(f"psql {sql!r} on {dsn} failed: {result.stderr}")
    return result.stdout


def require_binary(path: str | Path) -> str:
    """The executable's path; a missing one fails the test (the fault tests never skip)."""
    found = shutil.which(str(path))
    if found is None:
        raise HarnessError(f"required binary {path} is not installed")
    return found


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def clean_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The test runner's environment without any Allmende configuration, plus ``env``."""
    prefixes = ("ALLMENDE_", "DATABASE_", "REDIS_", "MEILI_", "SMTP_", "HOST", "PORT")
    result = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    result["PYTHONUNBUFFERED"] = "1"
    result.update(env or {})
    return result


def run_cli(
    env: dict[str, str], *args: str, cwd: Path, timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``python -m allmende.cli ARGS`` with ``env`` (on top of a cleaned environment), bounded in time."""
    result = subprocess.run(
        [*ALLMENDE, *args],
        env=clean_environment(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise HarnessError(
            f"allmende {' '.join(args)} exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    return result


class ManagedProcess:
    """One long-running child process with its output in a log file (appended across restarts).

    ``start()`` launches it and waits until ``ready()`` is true (or fails with the log tail if the process
    exits first or the wait times out); ``kill(sig)`` sends a signal and waits for the exit;
    ``restart()`` stops it if running and starts it again with the same command; ``stop()`` ends it
    politely (SIGTERM), then by force.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
        ready: Callable[[], bool] | None = None,
        ready_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def _before_start(self) -> None:
        """Hook for subclasses (for example: forget a readiness marker left by the previous run)."""

    def start(self, *, wait: bool = True) -> ManagedProcess:
        if self.running:
            raise HarnessError(f"{self.name} is already running (pid {self.pid})")
        self._before_start()
        self.starts += 1
        self._close_log()
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- {self.name}: start #{self.starts} at {time.strftime('%H:%M:%S')} ---\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the test runner does not reach it; the fixture ends it
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float | None = None) -> float:
        """Seconds until ``ready()`` answered; fails at once if the process exited."""
        ready = self.ready or (lambda: True)

        def check() -> bool:
            if not self.running:
                raise HarnessError(f"{self.name} exited with {self.returncode} while starting:\n{self.log_tail()}")
            try:
                return ready()
            except Exception:  # not listening yet
                return False

        started = time.monotonic()
        deadline = started + (timeout or self.ready_timeout)
        while True:
            if check():  # HarnessError from check() propagates: the process died
                return time.monotonic() - started
            if time.monotonic() >= deadline:
                raise HarnessError(
                    f"{self.name} not ready after {timeout or self.ready_timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def kill(self, sig: int = signal.SIGKILL, *, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Send ``sig`` and wait for the exit; returns the exit code (negative: the signal)."""
        if self.process is None or self.process.poll() is not None:
            raise HarnessError(f"{self.name} is not running")
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"{self.name} did not exit within {timeout:.0f} s of signal {sig}") from None

    def stop(self, *, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; a no-op if not running."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=DEFAULT_TIMEOUT)
        self._close_log()
        return self.process.returncode

    def restart(self, *, wait: bool = True) -> ManagedProcess:
        self.stop()
        return self.start(wait=wait)

    def log_tail(self, lines: int = 60) -> str:
        if self._log is not None:
            with contextlib.suppress(ValueError):
                self._log.flush()
        return tail(self.log_path, lines)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# --- servers ------------------------------------------------------------------------------------------------


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
        connection.sendall(b"PING\r\n")
        return connection.recv(64).startswith(b"+PONG")


class RedisServer(ManagedProcess):
    """A private ``redis-server`` (no persistence) on its own port and directory."""

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        directory.mkdir(parents=True, exist_ok=True)
        binary = require_binary("redis-server")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(directory), "--daemonize", "no", "--protected-mode", "no"]
        super().__init__(
            f"redis:{self.port}",
            argv,
            env=clean_environment(),
            cwd=directory,
            log_path=directory / "redis.log",
            ready=lambda: _redis_ping(self.port),
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def _before_start(self) -> None:
        wait_until(lambda: not port_open(self.port), timeout=DEFAULT_TIMEOUT, what=f"port {self.port} to be free")

    def stop(self, *, timeout: float = 10.0, sig: int = signal.SIGTERM) -> int | None:
        """End the server (SIGTERM, or ``sig=SIGKILL`` for a crash) and wait until its port is closed."""
        if self.running and sig != signal.SIGTERM:
            self.kill(sig)
        code = super().stop(timeout=timeout)
        wait_until(lambda: not port_open(self.port), timeout=DEFAULT_TIMEOUT, what=f"redis port {self.port} to close")
        return code


class PostgresCluster:
    """A private PostgreSQL cluster (``initdb`` as the ``postgres`` user, trust auth, fsync off).

    Its directory is made with ``tempfile.mkdtemp`` under the system temp dir, because pytest's
    ``tmp_path`` is private to root and the server refuses to run as root.
    """

    def __init__(self, *, port: int | None = None, bin_dir: Path = PG_BIN) -> None:
        self.port = port or free_port()
        self.bin_dir = bin_dir
        for tool in ("initdb", "pg_ctl", "postgres", "psql"):
            require_binary(bin_dir / tool)
        self._as_postgres = self._runas_prefix()
        self.base = Path(tempfile.mkdtemp(prefix="allmende-pg-"))
        self.data = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self.initialized = False

    @staticmethod
    def _runas_prefix() -> list[str]:
        if os.geteuid() != 0:
            return []  # already an unprivileged user: run the binaries directly
        return [require_binary("runuser"), "-u", "postgres", "--"]

    def _run(self, *argv: str, timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self._as_postgres, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.base,
            env=clean_environment({"LC_ALL": "C.UTF-8"}),
        )
        if result.returncode != 0:
            raise HarnessError(
                f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}\n{tail(self.log_path)}"
            )
        return result

    def initdb(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self.base.chmod(0o700)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
            "--no-instructions",
        )
        self.initialized = True

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists() and port_open(self.port)

    def start(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Start on the same port as before; returns when it accepts connections."""
        if not self.initialized:
            self.initdb()
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 5,
        )

    def stop(self, mode: str = "fast", *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """``fast`` (roll back and disconnect), ``smart`` or ``immediate`` (a crash: recovery at the next start)."""
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            mode,
            "-w",
            "-t",
            str(int(timeout)),
            "stop",
            timeout=timeout + 5,
        )
        wait_until(lambda: not port_open(self.port), timeout=timeout, what=f"postgres port {self.port} to close")

    def dsn(self, dbname: str = "postgres") -> str:
        """A ``postgresql://`` URL (as ``DATABASE_URL`` takes it) for ``dbname``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        return psql(self.bin_dir / "psql", self.dsn(dbname), sql)

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def destroy(self) -> None:
        """Stop (immediately) if running and remove the cluster's directory."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(HarnessError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


# --- Allmende's own processes ---------------------------------------------------------------------------


class AppProcess(ManagedProcess):
    """``allmende serve --port P``; ready when ``/healthz`` answers 200. ``url`` is its base URL."""

    def __init__(self, env: dict[str, str], *, directory: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        super().__init__(
            f"app:{self.port}",
            [*ALLMENDE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=clean_environment(env),
            cwd=directory,
            log_path=directory / f"app-{self.port}.log",
            ready=self._healthy,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _healthy(self) -> bool:
        return httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200

    def _before_start(self) -> None:
        wait_until(lambda: not port_open(self.port), what=f"port {self.port} to be free")


class WorkerProcess(ManagedProcess):
    """``allmende worker``; ready when arq recorded its first health check in Redis (the harness
    deletes the previous one before each start). ``start(wait=False)`` when Redis is down on purpose."""

    def __init__(self, env: dict[str, str], *, directory: Path, name: str = "worker") -> None:
        self.redis_url = env.get("REDIS_URL", "")
        if not self.redis_url:
            raise HarnessError("worker_process needs REDIS_URL in its env")
        super().__init__(
            name,
            [*ALLMENDE, "worker"],
            env=clean_environment(env),
            cwd=directory,
            log_path=directory / f"{name}.log",
            ready=self._polling,
        )

    def _redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)

    def _polling(self) -> bool:
        with self._redis() as client:
            return bool(client.exists(WORKER_HEALTH_KEY))

    def _before_start(self) -> None:
        with contextlib.suppress(redis.RedisError), self._redis() as client:
            client.delete(WORKER_HEALTH_KEY)


# --- the types of the fixtures in conftest.py (test modules import them from here) ---------------------------


class EnvFactory(Protocol):
    def __call__(self, *, database_url: str, redis_url: str | None = None, **more: str) -> dict[str, str]: ...


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass
class ProductionStack:
    """Private Redis and a migrated database on the machine's PostgreSQL, with the env for both."""

    redis: RedisServer
    database_url: str
    env: dict[str, str]

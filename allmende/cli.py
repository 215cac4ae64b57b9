"""The ``allmende`` command: serve, worker, migrate, seed, create-admin, token create|revoke,
reset-second-factor.

Every error ends the command with one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, TypeVar
from uuid import UUID

import typer

from allmende.core.settings import Settings, SettingsError, load_settings

T = TypeVar("T")
cli = typer.Typer(
    name="allmende",
    help="Allmende: marketplace and knowledge hub for municipal digital solutions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
token_cli = typer.Typer(help="Manage an organization's API tokens.", no_args_is_help=True)
cli.add_typer(token_cli, name="token")


class CliError(Exception):
    """Ends the command with its message as one line and exit code 1."""


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), 2)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _migrate(settings: Settings) -> None:
    from allmende.core.migrate import upgrade

    await asyncio.to_thread(upgrade, settings.effective_database_url)


async def _seed(settings: Settings) -> list[Any]:
    from allmende.core.db import Database
    from allmende.seeding import seed

    database = Database(settings.effective_database_url)
    try:
        return await seed(database)
    finally:
        await database.dispose()


@cli.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = settings_or_exit()
    run(_migrate(settings))
    typer.echo(f"database at head ({settings.profile} profile)")


@cli.command()
def seed() -> None:
    """Load seeds/ (organizations, vocabularies, catalog, knowledge hub). Idempotent."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    settings = settings_or_exit()
    try:
        results = run(_seed(settings))
    except (OperationalError, ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            fail("the database has no schema yet; run 'allmende migrate' first")
        raise
    for result in results:
        typer.echo(f"{result.name}: {result.created} created, {result.updated} updated")


async def _reindex(settings: Settings) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from allmende.app import build_adapters
    from allmende.core.indexing import rebuild

    adapters = build_adapters(settings)
    try:
        await adapters.start()
        with Progress(
            TextColumn("Suchindex"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
        ) as progress:
            task = progress.add_task("reindex", total=None)
            return await rebuild(
                adapters.database,
                adapters.documents,
                adapters.search,
                lambda done: progress.update(task, completed=done),
            )
    finally:
        await adapters.close()


@cli.command()
def reindex() -> None:
    """Rebuild the search index from the database (into a fresh index, then swapped in)."""
    from allmende.core.search import SearchUnavailable

    settings = settings_or_exit()
    try:
        count = run(_reindex(settings))
    except SearchUnavailable as exc:
        fail(f"search engine unavailable: {exc}")
    typer.echo(f"{count} documents indexed")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT or 8000)")] = None,
) -> None:
    """Run the web app. The embedded profile migrates and seeds first."""
    import uvicorn

    settings = settings_or_exit()
    if settings.profile == "embedded":
        run(_migrate(settings))
        if settings.seed_on_start:
            run(_seed(settings))
    from allmende.app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="warning", proxy_headers=False)


@cli.command()
def worker(burst: Annotated[bool, typer.Option(help="Exit when the queue is empty")] = False) -> None:
    """Run an arq worker on Redis (production profile)."""
    settings = settings_or_exit()
    if not settings.redis_url:
        fail("the worker needs REDIS_URL; in the embedded profile jobs run inside 'allmende serve'")
    run(_work(settings, burst))


async def _work(settings: Settings, burst: bool) -> None:
    import signal

    from allmende.app import build_adapters
    from allmende.core.jobs.arq_runner import build_worker, run_worker
    from allmende.core.search import SearchUnavailable

    adapters = build_adapters(settings)
    redis_url = settings.redis_url
    assert redis_url is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        # The worker drains the change log into the search index, so it opens the index like the app
        # does. If that fails now (engine down, another process rebuilding), the first write retries.
        with contextlib.suppress(SearchUnavailable):
            await adapters.start()
        await run_worker(
            lambda: build_worker(
                adapters.registry, adapters.job_context(), redis_url, burst=burst, handle_signals=False
            ),
            stop,
        )
    finally:
        await adapters.close()


async def _create_admin(settings: Settings, email: str, name: str, password: str) -> str:
    from allmende.accounts import services
    from allmende.accounts.models import PlatformRole
    from allmende.core.db import Database
    from allmende.core.problems import Problem

    database = Database(settings.effective_database_url)
    try:
        async with database.unit_of_work() as session:
            user = await services.create_user(
                session, email=email, display_name=name, password=password, platform_role=PlatformRole.admin
            )
            return user.email
    except Problem as exc:
        raise CliError(f"{exc.field}: {exc.detail}" if exc.field else exc.detail) from None
    finally:
        await database.dispose()


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="E-mail address to sign in with")],
    name: Annotated[str, typer.Option(help="Display name")] = "Administrator",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create the first admin (or another one). The password comes from a prompt, stdin or ALLMENDE_ADMIN_PASSWORD."""
    settings = settings_or_exit()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("ALLMENDE_ADMIN_PASSWORD"):
        password = os.environ["ALLMENDE_ADMIN_PASSWORD"]
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            fail("the passwords differ")
    else:
        fail("no password: use --password-stdin or ALLMENDE_ADMIN_PASSWORD")
    try:
        created = run(_create_admin(settings, email, name, password))
    except CliError as exc:
        fail(str(exc))
    typer.echo(f"admin {created} created")


async def _token_create(settings: Settings, organization: str, name: str, scopes: list[str], days: int) -> str:
    from allmende.accounts import services
    from allmende.accounts.models import TokenScope
    from allmende.core.db import Database
    from allmende.core.problems import Problem

    database = Database(settings.effective_database_url)
    try:
        async with database.unit_of_work() as session:
            org = await services.get_organization(session, organization)
            _, plaintext = await services.issue_token(
                session, org, name=name, scopes=[TokenScope(s) for s in scopes], expires_in_days=days, created_by=None
            )
            return plaintext
    except Problem as exc:
        raise CliError(exc.detail) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    finally:
        await database.dispose()


@token_cli.command("create")
def token_create(
    organization: Annotated[str, typer.Option("--organization", "-o", help="Organization slug")],
    name: Annotated[str, typer.Option(help="What the token is for")],
    scope: Annotated[list[str], typer.Option(help="read and/or write; repeat for both")] = ["read"],  # noqa: B006
    days: Annotated[int, typer.Option(help="Days until it expires (1–366)")] = 90,
) -> None:
    """Create an API token for an organization and print it (shown only this once)."""
    settings = settings_or_exit()
    try:
        typer.echo(run(_token_create(settings, organization, name, scope, days)))
    except CliError as exc:
        fail(str(exc))


async def _token_revoke(settings: Settings, token_uuid: UUID) -> None:
    from allmende.accounts import services
    from allmende.core.db import Database
    from allmende.core.problems import Problem

    database = Database(settings.effective_database_url)
    try:
        async with database.unit_of_work() as session:
            token, _ = await services.find_token(session, token_uuid)
            await services.revoke_token(session, None, token)
    except Problem as exc:
        raise CliError(exc.detail) from None
    finally:
        await database.dispose()


@token_cli.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The token's uuid")]) -> None:
    """Revoke an API token at once."""
    settings = settings_or_exit()
    try:
        token_uuid = UUID(token_id)
    except ValueError:
        fail(f"'{token_id}' is not a token uuid")
    try:
        run(_token_revoke(settings, token_uuid))
    except CliError as exc:
        fail(str(exc))
    typer.echo(f"token {token_uuid} revoked")


async def _reset_second_factor(settings: Settings, email: str, reason: str | None) -> int:
    from sqlmodel import select

    from allmende.accounts import services
    from allmende.accounts.models import User
    from allmende.core.db import Database
    from identity.services import second_factor

    database = Database(settings.effective_database_url)
    try:
        async with database.unit_of_work() as session:
            address = services.normalize_email(email)
            user = (await session.exec(select(User).where(User.email == address))).first()
            if user is None:
                raise CliError(f"no account with the address '{address}'")
            return await second_factor.reset(session, user, reason=reason)
    finally:
        await database.dispose()


@cli.command("reset-second-factor")
def reset_second_factor(
    email: Annotated[str, typer.Argument(help="The person's e-mail address")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log)")] = None,
) -> None:
    """Remove a person's authenticator and recovery codes and end their sessions (a lost phone).

    Moderators and admins set up a new authenticator at their next sign-in."""
    settings = settings_or_exit()
    try:
        ended = run(_reset_second_factor(settings, email, reason[:2000] if reason else None))
    except CliError as exc:
        fail(str(exc))
    typer.echo(f"second factor of {email.strip().lower()} reset; {ended} session(s) ended")


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # the CLI's contract: one line, non-zero exit; details with ALLMENDE_DEBUG=1
        if os.environ.get("ALLMENDE_DEBUG"):
            raise
        first_line = (str(exc).splitlines() or [""])[0]
        typer.echo(f"error: {type(exc).__name__}: {first_line}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

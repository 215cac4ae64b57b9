"""Settings come from the environment; a bad value is one line naming the variable."""

from pathlib import Path

import pytest

from allmende.core.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "MEILI_URL",
        "MEILI_KEY",
        "PORT",
        "HOST",
        "ALLMENDE_BASE_URL",
        "ALLMENDE_SECRET_KEY",
        "ALLMENDE_DATA_DIR",
        "ALLMENDE_INSTANCE_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_no_configuration_means_the_embedded_profile(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.profile == "embedded"
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'allmende.sqlite3'}"
    assert settings.redis_url is None and settings.meili_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_postgres_url_selects_the_production_profile_and_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://app@db:5432/allmende")
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    settings = load_settings()
    assert settings.profile == "production"
    assert settings.effective_database_url == "postgresql+asyncpg://app@db:5432/allmende"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("PORT", "eighty", "PORT:"),
        ("PORT", "70000", "PORT:"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL:"),
        ("REDIS_URL", "http://redis", "REDIS_URL:"),
        ("MEILI_URL", "meili:7700", "MEILI_URL:"),
        ("ALLMENDE_BASE_URL", "ftp://example.org", "ALLMENDE_BASE_URL:"),
        ("ALLMENDE_BASE_URL", "", "ALLMENDE_BASE_URL:"),  # links in mails need it; empty is not "unset"
        ("SMTP_URL", "smtp://", "SMTP_URL:"),
        ("ALLMENDE_SECRET_KEY", "short", "ALLMENDE_SECRET_KEY:"),
    ],
)
def test_a_bad_variable_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(words)
    assert "\n" not in message


@pytest.mark.parametrize("variable", ["REDIS_URL", "MEILI_URL", "SMTP_URL", "DATABASE_URL"])
def test_an_empty_service_url_means_unset(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "")
    settings = load_settings()
    assert getattr(settings, variable.lower()) is None
    assert settings.profile == "embedded"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=9001\nALLMENDE_INSTANCE_NAME=Allmende Bayern\n")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.instance_name == "Allmende Bayern"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings().effective_secret_key
    second = load_settings().effective_secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o777 == 0o600

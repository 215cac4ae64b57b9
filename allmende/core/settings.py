"""Settings read from the environment (and an optional ``.env``), validated once at start.

No configuration at all selects the embedded profile: SQLite in the data directory,
the embedded search engine and jobs run in-process.
"""

from __future__ import annotations

import os
import re
import secrets
from email.utils import parseaddr  # issue 7
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from allmende.core.mail import SmtpConfig  # issue 7

Profile = Literal["embedded", "production"]


class SettingsError(Exception):
    """A bad environment variable; the message is one line that names it."""


def _unset_if_empty(value: object) -> object:
    """An empty variable (``REDIS_URL=``) means unset, as a shell user expects."""
    return None if value == "" else value


def _redis_url(value: str) -> str:
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("must be a redis:// or rediss:// URL")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _smtp_url(value: str) -> str:
    SmtpConfig.from_url(value)  # raises ValueError naming what is wrong
    return value


RedisUrl = Annotated[str, AfterValidator(_redis_url)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
SmtpUrl = Annotated[str, AfterValidator(_smtp_url)]
Unset = BeforeValidator(_unset_if_empty)


# --- issue 14: single sign-on. Providers are named in ALLMENDE_OIDC_PROVIDERS (comma-separated); each has
# its own variables ALLMENDE_OIDC_<NAME>_…, the name upper-cased with "-" as "_" (land-bw: LAND_BW).
OIDC_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
OIDC_ROLES = ("member", "editor", "owner")


class OidcProvider(BaseModel, frozen=True):
    """One OpenID provider this instance accepts sign-ins from (e.g. a Land's Keycloak)."""

    name: str  # in URLs (/auth/oidc/<name>) and in the linked identities
    label: str  # shown on the button: "Anmelden mit <label>"
    issuer: str  # discovery is <issuer>/.well-known/openid-configuration
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"
    # A claim that names public bodies by AGS (8 digits) or ARS (12 digits), a string or a list (groups):
    # a sign-in adds a verified membership with ``membership_role`` in each. Only for a Land's provider.
    membership_claim: str | None = None
    membership_role: str = "member"

    @property
    def variable_prefix(self) -> str:
        return oidc_variable_prefix(self.name)


def oidc_variable_prefix(name: str) -> str:
    return f"ALLMENDE_OIDC_{name.upper().replace('-', '_')}_"


def _oidc_providers(names: str, environ: dict[str, str | None], *, allow_http: bool) -> tuple[OidcProvider, ...]:
    """The providers named in ALLMENDE_OIDC_PROVIDERS, or SettingsError naming the offending variable."""
    providers = []
    seen: set[str] = set()
    for raw in names.split(","):
        name = raw.strip()
        if not name:
            continue
        if not OIDC_NAME.fullmatch(name) or name in seen:
            raise SettingsError(
                f"ALLMENDE_OIDC_PROVIDERS: '{name}' must be a unique name of lower-case letters, digits and '-' "
                "(at most 40)"
            )
        seen.add(name)
        prefix = oidc_variable_prefix(name)

        def value(key: str, prefix: str = prefix) -> str:
            return (environ.get(prefix + key) or "").strip()

        for required in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET"):
            if not value(required):
                raise SettingsError(f"{prefix}{required}: must be set for the provider '{name}'")
        issuer = value("ISSUER").rstrip("/")
        parts = urlsplit(issuer)
        if not parts.netloc or parts.scheme not in ({"https", "http"} if allow_http else {"https"}):
            raise SettingsError(
                f"{prefix}ISSUER: must be an https:// URL (http:// only with ALLMENDE_ALLOW_PRIVATE_URLS=true)"
            )
        role = value("MEMBERSHIP_ROLE") or "member"
        if role not in OIDC_ROLES:
            raise SettingsError(f"{prefix}MEMBERSHIP_ROLE: must be one of {', '.join(OIDC_ROLES)}")
        scopes = value("SCOPES") or "openid email profile"
        if "openid" not in scopes.split():
            raise SettingsError(f"{prefix}SCOPES: must include 'openid'")
        providers.append(
            OidcProvider(
                name=name,
                label=value("LABEL") or name,
                issuer=issuer,
                client_id=value("CLIENT_ID"),
                client_secret=value("CLIENT_SECRET"),
                scopes=scopes,
                membership_claim=value("MEMBERSHIP_CLAIM") or None,
                membership_role=role,
            )
        )
    return tuple(providers)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: Annotated[RedisUrl | None, Unset] = Field(default=None, validation_alias="REDIS_URL")
    meili_url: Annotated[HttpUrl | None, Unset] = Field(default=None, validation_alias="MEILI_URL")
    meili_key: str | None = Field(default=None, validation_alias="MEILI_KEY")
    base_url: HttpUrl = Field(default="http://127.0.0.1:8000", validation_alias="ALLMENDE_BASE_URL")
    instance_name: str = Field(
        default="Allmende", min_length=1, max_length=120, validation_alias="ALLMENDE_INSTANCE_NAME"
    )
    secret_key: str | None = Field(default=None, min_length=32, validation_alias="ALLMENDE_SECRET_KEY")
    data_dir: Path = Field(default=Path("data"), validation_alias="ALLMENDE_DATA_DIR")
    host: str = Field(default="127.0.0.1", validation_alias="HOST")
    port: int = Field(default=8000, ge=1, le=65535, validation_alias="PORT")
    debug: bool = Field(default=False, validation_alias="ALLMENDE_DEBUG")
    log_json: bool = Field(default=False, validation_alias="ALLMENDE_LOG_JSON")
    seed_on_start: bool = Field(default=True, validation_alias=AliasChoices("ALLMENDE_SEED_ON_START"))
    # Development and tests may talk to loopback peers; production never does (design rule 7).
    allow_private_urls: bool = Field(default=False, validation_alias="ALLMENDE_ALLOW_PRIVATE_URLS")
    # --- issue 7 (offer requests): e-mail. No SMTP_URL: mails are logged, not sent (allmende/core/mail.py).
    smtp_url: Annotated[SmtpUrl | None, Unset] = Field(default=None, validation_alias="SMTP_URL")
    mail_from: str = Field(
        default="Allmende <allmende@localhost>", max_length=254, validation_alias="ALLMENDE_MAIL_FROM"
    )

    # issue 14: single sign-on, see OidcProvider; the providers themselves are ``oidc_providers``.
    oidc_provider_names: str = Field(default="", validation_alias="ALLMENDE_OIDC_PROVIDERS")
    _oidc_providers: tuple[OidcProvider, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _read_oidc_providers(self) -> Settings:
        if self.oidc_provider_names.strip():
            env_file = self.model_config.get("env_file")
            from_file = dotenv_values(env_file) if isinstance(env_file, str) and Path(env_file).is_file() else {}
            self._oidc_providers = _oidc_providers(
                self.oidc_provider_names, {**from_file, **os.environ}, allow_http=self.allow_private_urls
            )
        return self

    @property
    def oidc_providers(self) -> tuple[OidcProvider, ...]:
        return self._oidc_providers

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlsplit(value).scheme
        if scheme.startswith("postgres"):
            # Accept the common spellings and pick the async driver ourselves.
            rest = value.split("://", 1)[1]
            return f"postgresql+asyncpg://{rest}"
        if scheme in {"sqlite", "sqlite+aiosqlite"}:
            return "sqlite+aiosqlite://" + value.split("://", 1)[1]
        raise ValueError("must be a postgresql:// or sqlite:// URL")

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError("must be an e-mail address, optionally with a name: 'Allmende <noreply@example.org>'")
        return value

    @property
    def profile(self) -> Profile:
        return "production" if self.database_url and self.database_url.startswith("postgresql") else "embedded"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'allmende.sqlite3').resolve()}"

    @cached_property
    def effective_secret_key(self) -> str:
        """The configured key, or one kept in the data directory so sessions survive restarts."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise SettingsError with one line naming the offending variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field_name = str(first["loc"][0]) if first["loc"] else "?"
        info = Settings.model_fields.get(field_name)
        alias = info.validation_alias if info is not None else None
        variable = alias if isinstance(alias, str) else field_name
        if isinstance(alias, AliasChoices):
            variable = str(alias.choices[0])
        raise SettingsError(f"{variable}: {first['msg']}") from None

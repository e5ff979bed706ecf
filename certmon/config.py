"""Settings from `CERTMON_*` environment variables (pydantic-settings), with embedded defaults."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from certmon.errors import ConfigError

if TYPE_CHECKING:
    from certmon.auth.oidc.providers import OidcProvider


class Settings(BaseSettings):
    """Every knob certmon has. Defaults give the embedded mode: SQLite, embedded broker, mail folder."""

    model_config = SettingsConfigDict(env_prefix="CERTMON_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # default: sqlite:///<data_dir>/certmon.sqlite
    broker_url: str = ""  # default: embedded filesystem broker under <data_dir>/queue
    result_backend: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # web server processes for the API and dashboard (uvicorn workers); more than one spreads requests over
    # the cores. Sign-in limits are shared between them only through Redis (CERTMON_SIGNIN_STORAGE_URL)
    web_workers: int = Field(default=1, ge=1, le=64)
    base_url: str = ""  # default: http://<host>:<port>
    secret_key: SecretStr = SecretStr("")  # default: generated once into <data_dir>/secret_key
    # load the demo scenario and point sources at the bundled samples; unset, a data directory that
    # was set up in demo mode (it holds demo.json) keeps every command there in demo mode
    demo: bool = False
    log_level: str = "INFO"
    # connections per process: enough for every request thread (anyio's 40) so a request never waits
    # long on the pool; past db_pool_timeout_s it answers 503 with Retry-After instead of hanging
    db_pool_size: int = Field(default=20, ge=1)
    db_pool_overflow: int = Field(default=20, ge=0)
    db_pool_timeout_s: float = Field(default=5.0, gt=0)
    session_lifetime_hours: float = Field(default=12.0, gt=0, le=24 * 30)  # absolute: no sliding past it
    # sign-in throttling (certmon.auth.throttle, docs/security.md), in the `limits` notation
    signin_client_limit: str = "30/minute;300/hour"  # every sign-in request from one address
    signin_account_limit: str = "5/5 minutes;20/hour;50/day"  # wrong passwords per account and address
    signin_storage_url: str = ""  # default: the broker's Redis when it is Redis, else process memory
    # operations endpoints (/metrics, /docs, /redoc, /openapi.json): certmon/api/ops.py, docs/operations.md
    ops_access: str = ""  # open | restricted; default: open on embedded SQLite, restricted with PostgreSQL
    ops_token: SecretStr = SecretStr("")  # Authorization: Bearer <token> passes in restricted mode
    ops_networks: str = ""  # comma-separated CIDRs that pass in restricted mode
    api_docs: bool = True  # serve /docs and /redoc (from local files); false: not at all
    # single sign-on (certmon/auth/oidc, docs/authentication.md): a JSON list of providers, and/or a YAML file
    oidc_providers: SecretStr = SecretStr("")  # it carries client secrets
    oidc_providers_file: str = ""
    # roles whose accounts may not sign in with a local password (comma-separated); break-glass accounts
    # keep a role not listed here, e.g. CERTMON_PASSWORD_LOGIN_OFF_ROLES=analyst,reader,constituent
    password_login_off_roles: str = ""
    # proxies whose X-Forwarded-For is believed (comma-separated addresses); empty: the peer is the client
    trusted_proxies: str = ""

    smtp_host: str = ""  # empty: write mail to <data_dir>/mail (a Maildir) instead of sending
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout: float = Field(default=30.0, gt=0)
    mail_from: str = "varsel@kommunecert.invalid"
    mail_rate_per_domain: int = Field(default=60, ge=1)  # messages per minute per recipient domain
    # the relay's limit: a token bucket per relay and process (0: no limit); see docs/alerts.md
    smtp_rate_per_second: float = Field(default=20.0, ge=0)
    smtp_rate_burst: int = Field(default=40, ge=1)
    # one delivery run sends batch after batch until nothing is due or this many seconds have passed
    delivery_budget_s: float = Field(default=50.0, gt=0)
    # how long a delivery claimed by a worker that then died is left alone before another takes it over
    delivery_lease_s: int = Field(default=600, ge=1)
    # the safety net: every this many seconds a worker delivers whatever is due (retries, outages missed)
    delivery_tick_s: int = Field(default=60, ge=1)

    fetch_politeness_s: float = Field(default=1.0, ge=0)
    fetch_max_bytes: int = Field(default=50_000_000, gt=0)
    fetch_max_duration_s: float = Field(default=120.0, gt=0)  # the whole of one fetch, retries included
    push_max_bytes: int = Field(default=20_000_000, gt=0)  # the largest body POST /sources/{name}/items takes
    # the largest request body any other route takes (JSON, forms); larger ones get 413 before they are read
    max_body_bytes: int = Field(default=5_000_000, gt=0)
    # how often the scheduler looks for due sources: a source runs at most this late after its interval
    scheduler_tick_s: int = Field(default=5, ge=1)
    # Networks a source marked `internal` may reach besides the public internet (comma-separated CIDRs).
    # Cloud metadata and link-local addresses stay blocked whatever this says (docs/fetching.md).
    internal_networks: str = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

    @field_validator("internal_networks", "ops_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        import ipaddress

        for part in value.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"ikke et nettverk (CIDR): {part.strip()!r}") from None
        return value

    @field_validator("signin_client_limit", "signin_account_limit")
    @classmethod
    def _limits(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"ikke en grense som «30/minute;300/hour»: {value!r}") from None
        return value

    @field_validator("password_login_off_roles")
    @classmethod
    def _off_roles(cls, value: str) -> str:
        from certmon.auth.roles import ROLES

        unknown = [r for r in (p.strip() for p in value.split(",")) if r and r not in ROLES]
        if unknown:
            raise ValueError(f"ukjent rolle {unknown[0]!r}; gyldige roller: {', '.join(ROLES)}")
        return value

    @model_validator(mode="after")
    def _oidc(self) -> Settings:
        from certmon.auth.oidc.providers import parse_providers

        try:
            parse_providers(self.oidc_providers.get_secret_value(), self.oidc_providers_file)
        except (ValueError, OSError) as exc:
            raise ValueError(f"CERTMON_OIDC_PROVIDERS: {exc}") from None
        return self

    @field_validator("ops_access")
    @classmethod
    def _ops_access(cls, value: str) -> str:
        if value.strip().lower() not in ("", "open", "restricted"):
            raise ValueError("må være open eller restricted")
        return value.strip().lower()

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return upper

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value

    @model_validator(mode="after")
    def _demo_from_data_dir(self) -> Settings:
        if "demo" not in self.model_fields_set:
            from certmon.demo.dates import is_demo_dir

            self.demo = is_demo_dir(self.data_dir.expanduser().resolve())
        return self

    # Derived values ---------------------------------------------------------------------------
    @property
    def data_path(self) -> Path:
        """Absolute data directory (created on demand)."""
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def db_url(self) -> str:
        """The effective database URL."""
        return self.database_url or f"sqlite:///{self.data_path / 'certmon.sqlite'}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def public_base_url(self) -> str:
        """Base URL used in links in e-mails and reports."""
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_ops_access(self) -> str:
        """`open` or `restricted`: as configured, else open on the embedded SQLite set-up only."""
        return self.ops_access or ("open" if self.is_sqlite else "restricted")

    @property
    def signin_storage(self) -> str:
        """Where the sign-in counters live: configured, the broker's Redis, or this process's memory."""
        if self.signin_storage_url:
            return self.signin_storage_url
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return "memory://"

    @property
    def oidc(self) -> list[OidcProvider]:
        """The configured OpenID Connect providers, in the order of their buttons."""
        from certmon.auth.oidc.providers import parse_providers

        return parse_providers(self.oidc_providers.get_secret_value(), self.oidc_providers_file)

    @property
    def password_off_roles(self) -> frozenset[str]:
        """Roles that may not sign in with a local password."""
        return frozenset(r.strip() for r in self.password_login_off_roles.split(",") if r.strip())

    @property
    def mail_dir(self) -> Path:
        """Where mail goes when no SMTP host is configured."""
        return self.data_path / "mail"

    def secret(self) -> str:
        """The signing key: configured, or generated once and kept in the data directory."""
        configured = self.secret_key.get_secret_value()
        if configured:
            return configured
        path = self.data_path / "secret_key"
        try:  # created readable by the owner only, atomically; a concurrent creator wins cleanly
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


def load_settings() -> Settings:
    """Read settings from the environment; an invalid value raises ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "CERTMON_" + str(err["loc"][0]).upper() if err.get("loc") else "CERTMON_*"
        raise ConfigError(f"invalid setting {name}: {err['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached; tests call `get_settings.cache_clear()`)."""
    return load_settings()

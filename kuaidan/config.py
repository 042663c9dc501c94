"""Every setting of the platform, read from ``KUAIDAN_*`` environment variables.

Nothing else in the code reads ``os.environ``: a component that needs a setting receives
the :class:`Settings` object (or the value) from the composition root.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kuaidan.core.worker import WorkerSettings


class Settings(BaseSettings):
    """Platform settings with safe defaults for the embedded (single-box, SQLite) mode."""

    model_config = SettingsConfigDict(env_prefix="KUAIDAN_", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"),
        description="Where the SQLite database, generated secrets, TLS certificate and media live.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL. Empty means SQLite in the data dir. PostgreSQL: "
            "postgresql+asyncpg://user@host:5432/kuaidan (plain postgresql:// is accepted)."
        ),
    )
    db_pool_size: int = Field(default=10, ge=1, le=200, description="Connections per process.")
    db_echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")

    host: str = Field(default="127.0.0.1", description="Address the web server binds to.")
    https_port: int = Field(default=8443, ge=1, le=65535, description="HTTPS port.")
    http_port: int = Field(
        default=8080, ge=0, le=65535, description="Plain HTTP port that only redirects; 0 = off."
    )
    public_url: str | None = Field(
        default=None, description="External base URL (e.g. https://shop.example.com)."
    )
    tls_cert: Path | None = Field(default=None, description="PEM certificate chain to serve.")
    tls_key: Path | None = Field(default=None, description="PEM private key for tls_cert.")
    hsts_max_age_s: int = Field(default=31_536_000, ge=0, description="HSTS max-age in seconds.")

    timezone: str = Field(default="Asia/Shanghai", description="Zone used to display times.")
    currency: str = Field(default="CNY", min_length=3, max_length=3)

    session_max_age_s: int = Field(default=7 * 24 * 3600, ge=60, description="Page session life.")
    login_max_failures: int = Field(default=10, ge=1, description="Failures before a lockout.")
    lockout_minutes: int = Field(default=30, ge=1, description="How long a locked account waits.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body.")

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    run_worker_in_process: bool = Field(
        default=True, description="Run the outbox/job worker inside `serve` (embedded default)."
    )

    worker_poll_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="How often an idle worker looks for due work."
    )
    outbox_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Tries of a failing handler before a dead letter."
    )
    outbox_lease_s: int = Field(
        default=60, ge=5, description="How long a worker owns a claimed delivery or job run."
    )

    order_payment_ttl_s: int = Field(
        default=900, ge=60, le=86_400, description="How long a placed order waits for payment."
    )
    order_auto_complete_days: int = Field(
        default=10, ge=1, le=90, description="Days after delivery (or shipping) until completion."
    )

    pay_provider: Literal["sandbox"] = Field(
        default="sandbox", description="Which payment provider takes the buyers' money."
    )
    pay_app_id: str = Field(
        default="kuaidan-demo-app",
        min_length=1,
        max_length=64,
        description="The merchant app id kuaidan signs its payment requests as.",
    )
    pay_sandbox_url: str = Field(
        default="https://localhost:8444", description="Base URL of the sandbox payment provider."
    )
    pay_sandbox_ca: Path | None = Field(
        default=None,
        description="CA file to verify the sandbox's certificate; empty = its self-signed one "
        "in data_dir/sandbox-pay/tls-cert.pem.",
    )
    pay_sandbox_public_key: Path | None = Field(
        default=None,
        description="The sandbox's RSA public key; empty = "
        "data_dir/sandbox-pay/provider-public.pem.",
    )
    pay_timeout_minutes: int = Field(
        default=15, ge=1, le=1440, description="How long the provider keeps a trade payable."
    )
    pay_http_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one call to the payment provider."
    )

    sandbox_pay_port: int = Field(
        default=8444, ge=1, le=65535, description="HTTPS port of `kuaidan sandbox-pay`."
    )
    sandbox_pay_notify_delays_s: tuple[float, ...] = Field(
        default=(0, 2, 4, 8, 16, 32, 64, 128),
        min_length=1,
        max_length=20,
        description="The sandbox's notification schedule: one delay (seconds) per try.",
    )
    sandbox_pay_notify_ca: Path | None = Field(
        default=None,
        description="CA file the sandbox verifies kuaidan's certificate with; "
        "empty = data_dir/tls-cert.pem.",
    )
    sandbox_pay_test_hooks: bool = Field(
        default=False, description="Enable the sandbox's /sandbox/* hooks (tests only)."
    )

    def worker_settings(self) -> WorkerSettings:
        return WorkerSettings(
            poll_interval_s=self.worker_poll_interval_s,
            max_attempts=self.outbox_max_attempts,
            lease=timedelta(seconds=self.outbox_lease_s),
        )

    webhook_timeout_s: float = Field(
        default=5.0, gt=0, le=30, description="How long a merchant's webhook receiver may take."
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs on loopback/private addresses (tests, closed networks).",
    )
    webhook_ca_file: Path | None = Field(
        default=None, description="Extra CA certificate(s) trusted for webhook receivers."
    )

    @property
    def public_base_url(self) -> str:
        """Where outside parties and browsers reach kuaidan: ``public_url`` or local HTTPS."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"https://localhost:{self.https_port}"

    @property
    def sandbox_pay_dir(self) -> Path:
        """The sandbox provider's own files: its keys, certificate and trades."""
        return self.data_dir / "sandbox-pay"

    @property
    def pay_sandbox_ca_file(self) -> Path:
        return self.pay_sandbox_ca or self.sandbox_pay_dir / "tls-cert.pem"

    @property
    def pay_sandbox_public_key_file(self) -> Path:
        return self.pay_sandbox_public_key or self.sandbox_pay_dir / "provider-public.pem"

    @property
    def sandbox_pay_notify_ca_file(self) -> Path:
        return self.sandbox_pay_notify_ca or self.data_dir / "tls-cert.pem"

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        return value

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'kuaidan.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]

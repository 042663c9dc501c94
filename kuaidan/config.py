"""Every setting of the platform, read from ``KUAIDAN_*`` environment variables.

Nothing else in the code reads ``os.environ``: a component that needs a setting receives
the :class:`Settings` object (or the value) from the composition root.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
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
    metrics_allow_networks: tuple[str, ...] = Field(
        default=("127.0.0.0/8", "::1/128"),
        max_length=100,
        description="Client networks that may scrape /metrics without the token.",
    )
    metrics_token: str | None = Field(
        default=None,
        min_length=16,
        description="A bearer token that lets any address scrape /metrics; empty means none.",
    )
    metrics_dir: Path | None = Field(
        default=None,
        description="Where the worker processes of `serve --workers N` keep their metrics, so "
        "that /metrics adds them up; `serve` sets it for its workers (a new directory at each "
        "start). Empty: a process answers with its own.",
    )

    timezone: str = Field(default="Asia/Shanghai", description="Zone used to display times.")
    currency: str = Field(default="CNY", min_length=3, max_length=3)

    session_max_age_s: int = Field(default=7 * 24 * 3600, ge=60, description="Page session life.")
    login_max_failures: int = Field(default=10, ge=1, description="Failures before a lockout.")
    lockout_minutes: int = Field(default=30, ge=1, description="How long a locked account waits.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body.")

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = Field(
        default="json",
        description="Log lines as JSON objects (with request, trace, order and event ids), or "
        "as readable text for a terminal (`kuaidan demo` uses text unless this is set).",
    )
    run_worker_in_process: bool = Field(
        default=True, description="Run the outbox/job worker inside `serve` (embedded default)."
    )

    worker_start_delay_s: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="How long `serve`'s in-process worker waits after start-up before its first "
        "pass, so that a restarted server answers requests before it drains a backlog.",
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
    order_change_approval_hours: float = Field(
        default=12,
        gt=0,
        le=168,
        description="Hours a change after packing began waits for the merchant before approval.",
    )
    after_sales_return_days: int = Field(
        default=7,
        ge=0,
        le=30,
        description="Days after delivery for a no-reason return or an exchange (a category may "
        "set its own window, or none).",
    )
    after_sales_quality_days: int = Field(
        default=15,
        ge=1,
        le=90,
        description="Days after delivery to report a fault or a missing item.",
    )
    after_sales_answer_hours: float = Field(
        default=48,
        gt=0,
        le=168,
        description="Hours a shop has to answer an after-sales request before the platform "
        "decides.",
    )
    after_sales_dispute_days: int = Field(
        default=7, ge=1, le=30, description="Days a buyer has to dispute a shop's rejection."
    )
    after_sales_send_back_days: int = Field(
        default=7, ge=1, le=30, description="Days a buyer has to send the goods back once approved."
    )
    after_sales_trusted_orders: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Completed orders (and no case ruled against them in 180 days) that make a "
        "buyer trusted: refunded when the goods are handed in, not when they arrive.",
    )
    tracking_stream_recheck_s: float = Field(
        default=3.0,
        ge=0.2,
        le=60,
        description="How often a live tracking page's stream re-reads the order even without "
        "a notice (a notice from another process can be missed).",
    )
    tracking_stream_heartbeat_s: float = Field(
        default=15.0, ge=1, le=120, description="Seconds between a stream's keep-alive comments."
    )
    tracking_stream_max_s: float = Field(
        default=300.0,
        ge=5,
        le=3600,
        description="How long one tracking stream lasts; the browser then reconnects.",
    )
    tracking_stream_max_clients: int = Field(
        default=500, ge=1, le=100_000, description="Live tracking streams one process serves."
    )

    redis_url: str | None = Field(
        default=None,
        description="Redis for state shared by app nodes (flash-sale sold-out marks); "
        "empty = in-process only.",
    )
    flash_hot_inflight: int = Field(
        default=16,
        ge=0,
        le=10_000,
        description="Concurrent single-item checkouts of one SKU in a process at which it is "
        "hot and its reservations are granted in batches; 0 = never batch.",
    )
    flash_sold_out_ttl_s: float = Field(
        default=1.0, ge=0, le=60, description="How long a SKU found sold out is refused at once."
    )
    flash_max_batch: int = Field(
        default=100, ge=1, le=10_000, description="Most claims granted in one batch."
    )
    flash_max_queue: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Most units waiting for one hot SKU per process; more are answered 429.",
    )
    flash_hold_ttl_s: int = Field(
        default=120,
        ge=10,
        le=3600,
        description="How long a batch's hold waits for its order before going back on sale.",
    )
    flash_lease_ttl_s: float = Field(
        default=4.0,
        ge=1,
        le=300,
        description="How long a process's lease on its flash holds lasts unrenewed; the "
        "holds of a process that stopped renewing go back on sale after it.",
    )
    flash_lease_renew_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often a process renews its lease on its flash holds (well below "
        "KUAIDAN_FLASH_LEASE_TTL_S).",
    )

    pay_provider: Literal["alipay"] = Field(
        default="alipay",
        description="Which payment provider takes the buyers' money: Alipay's open platform "
        "(the local gateway `kuaidan sandbox-alipay` unless pay_alipay_gateway_url is set).",
    )
    pay_timeout_minutes: int = Field(
        default=15, ge=1, le=1440, description="How long the provider keeps a trade payable."
    )
    pay_http_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one call to the payment provider."
    )

    pay_notify_max_age_hours: int = Field(
        default=26,
        ge=1,
        le=720,
        description="A provider notification sent longer ago than this is refused as a replay.",
    )
    pay_reconcile_interval_minutes: int = Field(
        default=60, ge=1, le=1440, description="How often the payment reconciliation job runs."
    )
    pay_reconcile_window_hours: int = Field(
        default=24, ge=1, le=720, description="How far back one reconciliation run looks."
    )
    pay_alipay_gateway_url: str | None = Field(
        default=None,
        description="The Alipay open-platform gateway: https://openapi.alipay.com/gateway.do in "
        "production (Alipay's sandbox: https://openapi-sandbox.dl.alipaydev.com/gateway.do); "
        "empty = the local gateway, https://localhost:<sandbox_alipay_port>/gateway.do.",
    )
    pay_alipay_app_id: str = Field(
        default="2021000000000001",
        min_length=1,
        max_length=32,
        description="The Alipay app id kuaidan signs its requests as.",
    )
    pay_alipay_seller_id: str | None = Field(
        default=None,
        max_length=32,
        description="The merchant's Alipay user id (2088…); when set, notifications must carry it.",
    )
    pay_alipay_app_private_key: Path | None = Field(
        default=None,
        description="The app's RSA private key (PEM); empty = data_dir/alipay-app-private.pem, "
        "a test key generated on first use.",
    )
    pay_alipay_app_public_key: Path | None = Field(
        default=None,
        description="The app's RSA public key (PEM) registered with Alipay; empty = "
        "data_dir/alipay-app-public.pem.",
    )
    pay_alipay_public_key: Path | None = Field(
        default=None,
        description="Alipay's RSA public key (PEM); empty = the local gateway's "
        "data_dir/sandbox-alipay/alipay-public.pem.",
    )
    pay_alipay_ca: Path | None = Field(
        default=None,
        description="CA file to verify the gateway's certificate; empty = the local gateway's "
        "data_dir/sandbox-alipay/tls-cert.pem, or the system store when that does not exist.",
    )
    sandbox_alipay_port: int = Field(
        default=8446, ge=1, le=65535, description="HTTPS port of `kuaidan sandbox-alipay`."
    )
    sandbox_alipay_notify_delays_s: tuple[float, ...] = Field(
        default=(0, 2, 4, 8, 16, 32, 64, 128),
        min_length=1,
        max_length=20,
        description="The local Alipay gateway's notification schedule: one delay per try.",
    )
    sandbox_alipay_notify_ca: Path | None = Field(
        default=None,
        description="CA file the local Alipay gateway verifies kuaidan's certificate with; "
        "empty = data_dir/tls-cert.pem.",
    )
    sandbox_alipay_test_hooks: bool = Field(
        default=False, description="Enable the local Alipay gateway's /sandbox/* hooks (tests)."
    )

    carrier_gateway: Literal["sandbox"] = Field(
        default="sandbox", description="Which tracking aggregator books carriers and pushes scans."
    )
    carrier_sandbox_url: str = Field(
        default="https://localhost:8445", description="Base URL of the carrier simulator."
    )
    carrier_sandbox_ca: Path | None = Field(
        default=None,
        description="CA file to verify the carrier simulator's certificate; empty = its "
        "self-signed one in data_dir/sandbox-carrier/tls-cert.pem.",
    )
    carrier_sandbox_credentials: Path | None = Field(
        default=None,
        description="The aggregator's customer key and secret (JSON); empty = "
        "data_dir/sandbox-carrier/credentials.json, which the simulator issues.",
    )
    carrier_http_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one call to the carrier aggregator."
    )
    logistics_no_pickup_hours: int = Field(
        default=48, ge=1, le=720, description="Hours after booking without a pickup scan."
    )
    logistics_stale_transit_hours: int = Field(
        default=48, ge=1, le=720, description="Hours in transit without a scan."
    )
    logistics_stale_destination_hours: int = Field(
        default=24, ge=1, le=720, description="Hours in the destination city without a scan."
    )
    logistics_scorecard_days: int = Field(
        default=30, ge=1, le=365, description="Length of a carrier scorecard's period."
    )
    logistics_inbox_interval_s: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="How often the job applying stored tracking pushes runs (it drains the "
        "inbox each time; an accepted push also wakes the local worker).",
    )
    logistics_inbox_batch: int = Field(
        default=200, ge=1, le=5000, description="Most tracking pushes applied in one transaction."
    )

    sandbox_carrier_port: int = Field(
        default=8445, ge=1, le=65535, description="HTTPS port of `kuaidan sandbox-carrier`."
    )
    sandbox_carrier_time_factor: float = Field(
        default=3600.0,
        gt=0,
        le=10_000_000,
        description="Simulated seconds per real second (3600: an hour a second).",
    )
    sandbox_carrier_push_delays_s: tuple[float, ...] = Field(
        default=(0, 1, 2, 4, 8, 16, 32, 64),
        min_length=1,
        max_length=20,
        description="The simulator's push schedule: one delay (seconds) per try.",
    )
    sandbox_carrier_push_ca: Path | None = Field(
        default=None,
        description="CA file the simulator verifies kuaidan's certificate with; "
        "empty = data_dir/tls-cert.pem.",
    )
    sandbox_carrier_delay_probability: float = Field(
        default=0.05, ge=0, le=1, description="Share of parcels the simulator delays."
    )
    sandbox_carrier_loss_probability: float = Field(
        default=0.005, ge=0, le=1, description="Share of parcels the simulator loses."
    )
    sandbox_carrier_damage_probability: float = Field(
        default=0.01, ge=0, le=1, description="Share of parcels the simulator damages."
    )
    sandbox_carrier_seed: int | None = Field(
        default=None, description="Seed of the simulator's randomness (empty = random)."
    )
    sandbox_carrier_test_hooks: bool = Field(
        default=False, description="Enable the carrier simulator's /sandbox/* hooks (tests only)."
    )

    risk_verify_score: int = Field(
        default=40, ge=1, le=100, description="Least risk score that asks the buyer for a code."
    )
    risk_hold_score: int = Field(
        default=80, ge=1, le=100, description="Least risk score that holds for an analyst."
    )
    risk_block_score: int = Field(
        default=95, ge=1, le=100, description="Least risk score that blocks the payment."
    )
    risk_hold_ttl_hours: int = Field(
        default=24, ge=1, le=720, description="How long a held payment waits before it expires."
    )
    risk_code_ttl_minutes: int = Field(
        default=10, ge=1, le=60, description="How long a one-time verification code is valid."
    )
    risk_code_max_tries: int = Field(
        default=5, ge=1, le=20, description="Wrong codes that block a held payment."
    )
    risk_ignore_networks: tuple[str, ...] = Field(
        default=("127.0.0.0/8", "::1/128"),
        max_length=100,
        description="Client addresses that say nothing about the buyer (loopback, own proxies): "
        "IP signals skip them.",
    )
    notifier: Literal["dev_inbox"] = Field(
        default="dev_inbox", description="How messages (one-time codes) reach people."
    )
    dev_inbox_page: bool = Field(
        default=False, description="Show the dev inbox to admins at /dev/inbox (demo, tests)."
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
    def sandbox_alipay_dir(self) -> Path:
        """The local Alipay gateway's own files: its keys, certificate and trades."""
        return self.data_dir / "sandbox-alipay"

    @property
    def effective_alipay_gateway_url(self) -> str:
        """``pay_alipay_gateway_url``, or the local gateway that `kuaidan sandbox-alipay` and
        `kuaidan demo` run."""
        if self.pay_alipay_gateway_url:
            return self.pay_alipay_gateway_url
        return f"https://localhost:{self.sandbox_alipay_port}/gateway.do"

    @property
    def pay_alipay_app_private_key_file(self) -> Path:
        return self.pay_alipay_app_private_key or self.data_dir / "alipay-app-private.pem"

    @property
    def pay_alipay_app_public_key_file(self) -> Path:
        return self.pay_alipay_app_public_key or self.data_dir / "alipay-app-public.pem"

    @property
    def pay_alipay_public_key_file(self) -> Path:
        return self.pay_alipay_public_key or self.sandbox_alipay_dir / "alipay-public.pem"

    @property
    def pay_alipay_ca_file(self) -> Path:
        return self.pay_alipay_ca or self.sandbox_alipay_dir / "tls-cert.pem"

    @property
    def sandbox_alipay_notify_ca_file(self) -> Path:
        return self.sandbox_alipay_notify_ca or self.data_dir / "tls-cert.pem"

    @property
    def sandbox_carrier_dir(self) -> Path:
        """The carrier simulator's own files: certificate, credentials, parcels."""
        return self.data_dir / "sandbox-carrier"

    @property
    def carrier_sandbox_ca_file(self) -> Path:
        return self.carrier_sandbox_ca or self.sandbox_carrier_dir / "tls-cert.pem"

    @property
    def carrier_sandbox_credentials_file(self) -> Path:
        return self.carrier_sandbox_credentials or self.sandbox_carrier_dir / "credentials.json"

    @property
    def sandbox_carrier_push_ca_file(self) -> Path:
        return self.sandbox_carrier_push_ca or self.data_dir / "tls-cert.pem"

    @field_validator("metrics_token", "pay_alipay_gateway_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("pay_provider", mode="before")
    @classmethod
    def _removed_provider(cls, value: object) -> object:
        if value == "sandbox":
            raise ValueError(
                "the sandbox payment provider was removed (docs/decisions/"
                "010-one-payment-protocol.md): use pay_provider=alipay, the default, with the "
                "local Alipay gateway (`kuaidan sandbox-alipay` instead of `kuaidan sandbox-pay`; "
                "KUAIDAN_SANDBOX_ALIPAY_* instead of KUAIDAN_SANDBOX_PAY_*)"
            )
        return value

    @field_validator("metrics_allow_networks")
    @classmethod
    def _check_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return tuple(str(ipaddress.ip_network(n.strip(), strict=False)) for n in value)
        except ValueError as exc:
            raise ValueError(f"metrics_allow_networks: {exc}") from exc

    @model_validator(mode="after")
    def _lease_renewed_in_time(self) -> Settings:
        if self.flash_lease_renew_s * 2 > self.flash_lease_ttl_s:
            raise ValueError(
                "flash_lease_renew_s must be at most half of flash_lease_ttl_s, or one late "
                f"renewal lets a live process's holds expire (renew {self.flash_lease_renew_s} s, "
                f"ttl {self.flash_lease_ttl_s} s)"
            )
        return self

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

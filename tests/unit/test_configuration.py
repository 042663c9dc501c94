"""Settings: every one is documented, URLs are normalised, bad values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kuaidan.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"`KUAIDAN_{n.upper()}`" not in text]
    assert missing == []


def test_plain_postgres_urls_use_the_async_driver() -> None:
    url = Settings(database_url="postgresql://u@db:5432/shop").effective_database_url
    assert url == "postgresql+asyncpg://u@db:5432/shop"


def test_empty_database_url_means_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="")
    assert settings.is_sqlite
    assert settings.effective_database_url.endswith(str(tmp_path / "kuaidan.db"))


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUAIDAN_HTTPS_PORT", "9443")
    monkeypatch.setenv("KUAIDAN_LOCKOUT_MINUTES", "45")
    settings = Settings()
    assert (settings.https_port, settings.lockout_minutes) == (9443, 45)


@pytest.mark.parametrize(
    ("field", "value"),
    [("https_port", 0), ("https_port", 70000), ("login_max_failures", 0), ("currency", "RMBX")],
)
def test_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({field: value})


def test_the_embedded_default_pays_through_the_local_alipay_gateway(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sandbox_alipay_port=9446)
    assert settings.pay_provider == "alipay"
    assert settings.effective_alipay_gateway_url == "https://localhost:9446/gateway.do"
    assert settings.pay_alipay_public_key_file == tmp_path / "sandbox-alipay" / "alipay-public.pem"
    real = "https://openapi.alipay.com/gateway.do"
    assert Settings(pay_alipay_gateway_url=real).effective_alipay_gateway_url == real
    assert Settings(pay_alipay_gateway_url="").pay_alipay_gateway_url is None


def test_the_removed_sandbox_provider_is_refused_naming_its_replacement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUAIDAN_PAY_PROVIDER", "sandbox")
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "pay_provider=alipay" in message and "kuaidan sandbox-alipay" in message

"""Which provider the payments area talks to, and where the provider reaches us back.

The composition root binds ``payments_adapter(settings)`` to the ``PAYMENTS`` port once; every
unit of work then carries it as ``uow.adapters[PAYMENTS]``. Only this module knows which
adapters exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from kuaidan.core.ports import Port
from kuaidan.payments.adapters.base import PaymentProvider

if TYPE_CHECKING:
    from kuaidan.config import Settings


@dataclass(frozen=True, slots=True)
class PaymentsConfig:
    provider: PaymentProvider
    public_base_url: str
    # How long a pay link given out when a hold is released stays payable.
    pay_window: timedelta = timedelta(minutes=15)
    # A notification sent longer ago than this is a replay, whatever its id.
    notify_max_age: timedelta = timedelta(hours=26)


PAYMENTS = Port("payments", PaymentsConfig)


def build_provider(settings: Settings) -> PaymentProvider:
    """The configured provider's adapter (``pay_provider``); nothing else knows which it is.

    Alipay's open platform is the one provider; its gateway is the local one
    (``kuaidan sandbox-alipay``) unless ``pay_alipay_gateway_url`` names the real one.
    """
    from kuaidan.payments.adapters.alipay import AlipayConfig, AlipayProvider

    return AlipayProvider(
        AlipayConfig(
            gateway_url=settings.effective_alipay_gateway_url,
            app_id=settings.pay_alipay_app_id,
            app_private_key=settings.pay_alipay_app_private_key_file,
            alipay_public_key=settings.pay_alipay_public_key_file,
            ca_file=settings.pay_alipay_ca_file,
            seller_id=settings.pay_alipay_seller_id,
            timeout_minutes=settings.pay_timeout_minutes,
            http_timeout_s=settings.pay_http_timeout_s,
            generate_app_key_with_public=(
                None
                if settings.pay_alipay_app_private_key
                else settings.pay_alipay_app_public_key_file
            ),
        )
    )


def payments_adapter(settings: Settings) -> PaymentsConfig:
    """What the composition root binds to ``PAYMENTS`` for every unit of work."""
    window = timedelta(minutes=settings.pay_timeout_minutes)
    max_age = timedelta(hours=settings.pay_notify_max_age_hours)
    return PaymentsConfig(build_provider(settings), settings.public_base_url, window, max_age)

"""The carriers the platform starts with: five national networks with list prices (fen) and
service agreements typical of e-commerce contracts. Operators change them later; the seeder
only adds carriers that are missing.
"""

from __future__ import annotations

from kuaidan.logistics.domain.carriers import (
    CarrierProfile,
    CarrierStatus,
    PenaltyTerms,
    PriceTable,
    ServiceAgreement,
    ServiceArea,
    ZonePrice,
)
from kuaidan.logistics.domain.geo import Zone

_ZONES = (Zone.SAME_CITY, Zone.SAME_PROVINCE, Zone.NEIGHBOURING, Zone.FAR)


def _prices(*pairs: tuple[int, int]) -> PriceTable:
    return PriceTable(
        {z: ZonePrice(first, extra) for z, (first, extra) in zip(_ZONES, pairs, strict=True)}
    )


def _promise(*days: int) -> dict[Zone, int]:
    return dict(zip(_ZONES, days, strict=True))


NATIONWIDE = ServiceArea(frozenset({"*"}))
LICENCE = "快递业务经营许可证"

DEFAULT_CARRIERS: tuple[CarrierProfile, ...] = (
    CarrierProfile(
        code="shunfeng",
        name="顺丰速运 SF Express",
        status=CarrierStatus.ACTIVE,
        qualifications=(LICENCE, "航空货运资质", "冷链运输资质"),
        area=NATIONWIDE,
        prices=_prices((1200, 200), (1300, 300), (1800, 600), (2300, 1100)),
        agreement=ServiceAgreement(
            _promise(1, 1, 2, 3), 0.95, 0.995, 4.6, PenaltyTerms(on_time_floor=0.85)
        ),
    ),
    CarrierProfile(
        code="jd",
        name="京东物流 JD Logistics",
        status=CarrierStatus.ACTIVE,
        qualifications=(LICENCE, "航空货运资质", "冷链运输资质", "仓配一体"),
        area=NATIONWIDE,
        prices=_prices((1000, 200), (1100, 300), (1500, 500), (2000, 800)),
        agreement=ServiceAgreement(
            _promise(1, 1, 2, 3), 0.95, 0.995, 4.6, PenaltyTerms(on_time_floor=0.85)
        ),
    ),
    CarrierProfile(
        code="ems",
        name="中国邮政 EMS",
        status=CarrierStatus.ACTIVE,
        qualifications=(LICENCE, "邮政普遍服务", "航空货运资质"),
        area=NATIONWIDE,
        prices=_prices((900, 200), (1000, 300), (1500, 500), (2000, 900)),
        agreement=ServiceAgreement(_promise(2, 2, 3, 5), 0.90, 0.99, 4.3),
    ),
    CarrierProfile(
        code="zhongtong",
        name="中通快递 ZTO Express",
        status=CarrierStatus.ACTIVE,
        qualifications=(LICENCE,),
        area=ServiceArea(frozenset({"*"}), excluded=frozenset({"西藏"})),
        prices=_prices((500, 100), (600, 100), (800, 200), (1000, 400)),
        agreement=ServiceAgreement(_promise(2, 2, 3, 4), 0.90, 0.99, 4.2),
    ),
    CarrierProfile(
        code="yuantong",
        name="圆通速递 YTO Express",
        status=CarrierStatus.ACTIVE,
        qualifications=(LICENCE, "航空货运资质"),
        area=ServiceArea(frozenset({"*"}), excluded=frozenset({"西藏"})),
        prices=_prices((500, 100), (550, 100), (800, 250), (1000, 450)),
        agreement=ServiceAgreement(_promise(2, 2, 3, 5), 0.88, 0.99, 4.2),
    ),
)

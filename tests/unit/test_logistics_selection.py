"""Carrier selection: coverage, suspension, probation, and that better never ranks lower."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.core.errors import InvalidInput
from kuaidan.logistics.domain.carriers import (
    CarrierStatus,
    PriceTable,
    ServiceArea,
    ZonePrice,
    agreement_from_json,
    agreement_to_json,
    prices_from_json,
    prices_to_json,
)
from kuaidan.logistics.domain.defaults import DEFAULT_CARRIERS
from kuaidan.logistics.domain.geo import (
    NEIGHBOURS,
    Place,
    Zone,
    place_of,
    province_of,
    zone_between,
)
from kuaidan.logistics.domain.selection import (
    CarrierQuality,
    effective_quality,
    prior_quality,
    rank_carriers,
)

HANGZHOU, NINGBO = Place("浙江", "杭州"), Place("浙江", "宁波")
SHANGHAI, LHASA = Place("上海", "上海"), Place("西藏", "拉萨")
SF, JD, EMS, ZTO, YTO = DEFAULT_CARRIERS


def test_free_text_places_are_understood() -> None:
    assert place_of("上海市 Shanghai", "上海市 Shanghai") == Place("上海", "上海")
    assert province_of("Inner Mongolia") == "内蒙古"
    assert province_of("陕西省") == "陕西" and province_of("Shanxi") == "山西"
    with pytest.raises(InvalidInput):
        province_of("Atlantis")


def test_neighbours_are_symmetric_and_zones_follow_them() -> None:
    assert all(p in NEIGHBOURS[q] for p, qs in NEIGHBOURS.items() for q in qs)
    assert zone_between(HANGZHOU, HANGZHOU) == Zone.SAME_CITY
    assert zone_between(HANGZHOU, NINGBO) == Zone.SAME_PROVINCE
    assert zone_between(HANGZHOU, SHANGHAI) == Zone.NEIGHBOURING
    assert zone_between(HANGZHOU, LHASA) == Zone.FAR


def test_price_is_first_kilogram_plus_each_started_extra_kilogram() -> None:
    table = PriceTable({z: ZonePrice(1000, 300) for z in Zone})
    assert table.price_fen(Zone.FAR, 1) == 1000
    assert table.price_fen(Zone.FAR, 1000) == 1000
    assert table.price_fen(Zone.FAR, 1001) == 1300
    assert table.price_fen(Zone.FAR, 3500) == 1900
    with pytest.raises(InvalidInput):
        table.price_fen(Zone.FAR, 0)


def test_json_forms_round_trip() -> None:
    assert prices_from_json(prices_to_json(SF.prices)) == SF.prices
    assert agreement_from_json(agreement_to_json(SF.agreement)) == SF.agreement


def test_carriers_must_cover_both_ends_and_suspended_ones_are_never_chosen() -> None:
    quotes = rank_carriers(DEFAULT_CARRIERS, origin=HANGZHOU, destination=LHASA, weight_g=500)
    assert {q.code for q in quotes} == {"shunfeng", "jd", "ems"}
    suspended = [replace(SF, status=CarrierStatus.SUSPENDED), JD]
    only = rank_carriers(suspended, origin=HANGZHOU, destination=SHANGHAI, weight_g=500)
    assert [q.code for q in only] == ["jd"]
    regional = replace(JD, area=ServiceArea(frozenset({"浙江/杭州", "上海"})))
    assert rank_carriers([regional], origin=HANGZHOU, destination=SHANGHAI, weight_g=500)
    assert not rank_carriers([regional], origin=NINGBO, destination=SHANGHAI, weight_g=500)


def test_probation_lowers_a_carrier_below_its_equal() -> None:
    twin = replace(SF, code="sf2", status=CarrierStatus.PROBATION)
    quotes = rank_carriers([twin, SF], origin=HANGZHOU, destination=SHANGHAI, weight_g=500)
    assert [q.code for q in quotes] == ["shunfeng", "sf2"]
    assert quotes[1].score == pytest.approx(quotes[0].score * 0.8)


def test_little_history_is_shrunk_toward_the_agreement() -> None:
    prior = prior_quality(SF)
    assert effective_quality(SF, None) == prior
    measured = CarrierQuality(0.5, 0.9, 3.0, shipments=30)
    blended = effective_quality(SF, measured)
    assert blended.on_time_rate == pytest.approx((prior.on_time_rate + 0.5) / 2)
    many = effective_quality(SF, replace(measured, shipments=30_000))
    assert many.on_time_rate == pytest.approx(0.5, abs=0.001)


rates = st.floats(min_value=0.0, max_value=0.98)
stars = st.floats(min_value=1.0, max_value=4.9)


@given(
    on_time=rates,
    intact=rates,
    satisfaction=stars,
    first=st.integers(min_value=100, max_value=5000),
    extra=st.integers(min_value=0, max_value=2000),
    days=st.integers(min_value=2, max_value=6),
    weight=st.integers(min_value=1, max_value=30_000),
    step=st.floats(min_value=0.01, max_value=0.02),
)
def test_a_strictly_better_carrier_never_ranks_lower(
    on_time: float,
    intact: float,
    satisfaction: float,
    first: int,
    extra: int,
    days: int,
    weight: int,
    step: float,
) -> None:
    worse = replace(
        ZTO,
        code="worse",
        prices=PriceTable({z: ZonePrice(first + 1, extra + 1) for z in Zone}),
        agreement=replace(ZTO.agreement, promise_days=dict.fromkeys(Zone, days)),
    )
    better = replace(
        worse,
        code="better",
        prices=PriceTable({z: ZonePrice(first, extra) for z in Zone}),
        agreement=replace(ZTO.agreement, promise_days=dict.fromkeys(Zone, days - 1)),
    )
    quality = {
        "worse": CarrierQuality(on_time, intact, satisfaction),
        "better": CarrierQuality(on_time + step, intact + step, satisfaction + 0.1),
    }
    for carriers in ([worse, better], [better, worse], [worse, better, SF, EMS]):
        quotes = rank_carriers(
            carriers, origin=HANGZHOU, destination=SHANGHAI, weight_g=weight, quality=quality
        )
        order = [q.code for q in quotes]
        assert order.index("better") < order.index("worse")

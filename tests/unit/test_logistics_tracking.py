"""Tracking: state codes to one status, a status that never goes backwards, and the push
signature and format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.logistics.adapters.kuaidi100 import (
    AggregatorConfig,
    Kuaidi100Gateway,
    md5_sign,
    parse_last_result,
)
from kuaidan.logistics.domain import ShipmentStatus, SignatureInvalid
from kuaidan.logistics.domain.tracking import (
    RANK,
    TERMINAL,
    ScanReport,
    TrackState,
    advance,
    fold,
    status_of,
)

T0 = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
START = TrackState(ShipmentStatus.CREATED, ShipmentStatus.CREATED, None)
S = ShipmentStatus


@pytest.mark.parametrize(
    ("state", "code", "status"),
    [
        ("0", None, S.IN_TRANSIT),
        ("1", None, S.PICKED_UP),
        ("2", None, S.PROBLEM),
        ("3", None, S.DELIVERED),
        ("4", None, S.RETURNED),
        ("5", None, S.OUT_FOR_DELIVERY),
        ("6", None, S.RETURNING),
        ("14", None, S.REFUSED),
        (None, "1001", S.IN_TRANSIT),
        (None, "103", S.PICKED_UP),
        (None, "301", S.DELIVERED),
        ("2", "209", S.DAMAGED),
        ("2", "211", S.LOST),
        (None, "201", S.PROBLEM),
        (None, None, None),
        ("99", None, None),
    ],
)
def test_state_codes_map_to_one_status(state: str | None, code: str | None, status: S) -> None:
    assert status_of(state, code) == status


def test_a_journey_runs_forward_and_problems_pass() -> None:
    steps = [(S.PICKED_UP, 1), (S.IN_TRANSIT, 5), (S.PROBLEM, 9), (S.IN_TRANSIT, 12)]
    state = START
    seen = []
    for status, hours in steps:
        state = advance(state, status, T0 + timedelta(hours=hours))
        seen.append(state.status)
    assert seen == [S.PICKED_UP, S.IN_TRANSIT, S.PROBLEM, S.IN_TRANSIT]
    state = advance(state, S.OUT_FOR_DELIVERY, T0 + timedelta(hours=20))
    state = advance(state, S.PROBLEM, T0 + timedelta(hours=21))  # nobody at home
    state = advance(state, S.IN_TRANSIT, T0 + timedelta(hours=22))  # back to the station
    assert state.status == S.OUT_FOR_DELIVERY  # the progress made is kept


def test_an_older_scan_neither_regresses_nor_raises_a_problem() -> None:
    state = advance(START, S.OUT_FOR_DELIVERY, T0 + timedelta(hours=30))
    assert advance(state, S.PICKED_UP, T0).status == S.OUT_FOR_DELIVERY
    assert advance(state, S.PROBLEM, T0 + timedelta(hours=1)).status == S.OUT_FOR_DELIVERY
    delivered = advance(state, S.DELIVERED, T0 + timedelta(hours=31))
    assert advance(delivered, S.PROBLEM, T0 + timedelta(hours=40)).status == S.DELIVERED


statuses = st.sampled_from([*ShipmentStatus, None])
scans = st.lists(st.tuples(statuses, st.integers(min_value=0, max_value=200)), max_size=30)


@given(scans)
def test_progress_never_goes_backwards_whatever_the_order(
    steps: list[tuple[S | None, int]],
) -> None:
    state = START
    for status, hours in steps:
        after = advance(state, status, T0 + timedelta(hours=hours))
        assert RANK[after.progress] >= RANK[state.progress]
        assert after.status in (after.progress, S.PROBLEM)
        if state.status in TERMINAL:
            assert after == state
        state = after


@given(scans)
def test_applying_every_scan_twice_changes_nothing_more(steps: list[tuple[S | None, int]]) -> None:
    reports = [
        ScanReport(T0 + timedelta(hours=h), f"scan {i}", "杭州", None, None)
        for i, (_, h) in enumerate(steps)
    ]
    once = START
    for (status, _), report in zip(steps, reports, strict=True):
        once = advance(once, status, report.at)
    twice = once
    for (status, _), report in zip(steps, reports, strict=True):
        twice = advance(twice, status, report.at)
    assert RANK[twice.progress] == RANK[once.progress]


def test_fold_applies_reported_statuses() -> None:
    reports = [
        ScanReport(T0, "已揽收", "杭州", None, "103"),
        ScanReport(T0 + timedelta(hours=30), "已签收", "上海", "3", None),
    ]
    assert fold(START, reports).status == S.DELIVERED


def _gateway(base: Path) -> Kuaidi100Gateway:
    return Kuaidi100Gateway(
        AggregatorConfig("https://127.0.0.1:1", base / "c.json", base / "ca.pem")
    )


def _param() -> str:
    data = [
        {"time": "2026-11-11 18:00:00", "context": "派件中", "statusCode": "5"},
        {"time": "2026-11-11 10:00:00", "context": "已揽收", "location": "杭州"},
    ]
    body = {"lastResult": {"nu": "SF1", "com": "shunfeng", "state": "5", "data": data}}
    return json.dumps(body, ensure_ascii=False)


def test_the_push_signature_is_upper_hex_md5_of_param_and_salt(tmp_path: Path) -> None:
    assert md5_sign('{"a":1}', "salt") == "B218F90555A22945EC35A666B2C7B040"
    param = _param()
    gateway = _gateway(tmp_path)
    push = gateway.verify_push(param=param, sign=md5_sign(param, "s3"), salt="s3")
    assert push.tracking_number == "SF1" and len(push.scans) == 2
    assert push.scans[0].status == S.OUT_FOR_DELIVERY  # newest first, its own code
    assert push.scans[1].status is None  # an older scan without a code says nothing
    assert push.scans[0].at == datetime(2026, 11, 11, 10, 0, tzinfo=UTC)  # Beijing → UTC
    lowered = gateway.verify_push(param=param, sign=md5_sign(param, "s3").lower(), salt="s3")
    assert lowered == push
    for sign, salt in ((md5_sign(param, "s3"), "other"), ("", "s3"), ("0" * 32, "s3")):
        with pytest.raises(SignatureInvalid):
            gateway.verify_push(param=param, sign=sign, salt=salt)
    with pytest.raises(SignatureInvalid):
        gateway.verify_push(param="{}", sign=md5_sign("{}", "s3"), salt="s3")


def test_a_push_without_codes_takes_its_state_for_the_newest_scan() -> None:
    data = [{"time": "2026-11-12 09:00:00", "context": "已签收"}, {"time": "2026-11-11 09:00:00"}]
    push = parse_last_result({"nu": "YT1", "com": "yuantong", "state": "3", "data": data})
    assert [s.status for s in push.scans] == [S.DELIVERED, None]

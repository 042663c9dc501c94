"""The pure risk rules: signals, rules as data, evaluation order, bands, and monotonicity."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuaidan.core.errors import InvalidInput
from kuaidan.risk.domain import (
    OPERATORS,
    SIGNALS,
    Action,
    Condition,
    Counts,
    Facts,
    RiskContext,
    Risky,
    Rule,
    ScoreBands,
    Signals,
    build_signals,
    evaluate,
    in_networks,
    median_fen,
    parse_rule,
    parse_rule_file,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RULE_FILE = Path(__file__).resolve().parents[2] / "kuaidan" / "risk" / "default_rules.json"
DEFAULTS = parse_rule_file(json.loads(RULE_FILE.read_text(encoding="utf-8")))


def rule(name: str, *when: Condition, score: int = 10, action: Action = Action.ALLOW) -> Rule:
    return Rule(name, 100, name, tuple(when), score, action)


# --- evaluation -------------------------------------------------------------------------------


def test_an_ordinary_returning_buyer_is_allowed_with_no_reasons() -> None:
    signals = Signals(
        amount_fen=9900,
        account_age_hours=24 * 400,
        device_age_minutes=60 * 24 * 90,
        history_payments=12,
        amount_to_median=1.1,
        device_attempts_hour=0,
        ip_attempts_hour=0,
        accounts_on_device=1,
        accounts_on_ip=2,
    )
    decision = evaluate(signals, DEFAULTS.rules)
    assert (decision.action, decision.score, decision.reasons) == (Action.ALLOW, 0, ())


def test_a_new_device_unusual_amount_and_a_burst_ask_for_verification() -> None:
    signals = Signals(
        amount_fen=388_800,
        account_age_hours=0.2,
        device_age_minutes=1,
        buyer_attempts_hour=3,
        device_attempts_hour=3,
        history_payments=0,
    )
    decision = evaluate(signals, DEFAULTS.rules)
    assert decision.action is Action.VERIFY
    assert decision.score == 75
    assert [r.rule for r in decision.reasons] == [
        "new_account",
        "new_device",
        "buyer_burst",
        "device_burst",
        "high_amount_no_history",
    ]


def test_a_listed_ip_blocks_whatever_the_score() -> None:
    decision = evaluate(Signals(amount_fen=100, ip_listed=True), DEFAULTS.rules)
    assert decision.action is Action.BLOCK and decision.score == 100


def test_a_rule_action_is_a_floor_and_the_band_may_raise_it() -> None:
    verify = rule("flag", Condition("ip_listed", "is", True), score=5, action=Action.VERIFY)
    big = rule("big", Condition("amount_fen", ">=", 1000), score=80)
    assert evaluate(Signals(amount_fen=1, ip_listed=True), [verify]).action is Action.VERIFY
    assert evaluate(Signals(amount_fen=1000, ip_listed=True), [verify, big]).action is Action.HOLD


def test_the_score_is_capped_at_100() -> None:
    rules = [rule(f"r{n}", Condition("amount_fen", ">=", 0), score=60) for n in range(3)]
    assert evaluate(Signals(amount_fen=1), rules).score == 100


def test_rules_are_evaluated_by_position_then_name_and_disabled_ones_are_skipped() -> None:
    always = Condition("amount_fen", ">=", 0)
    rules = [
        dataclasses.replace(rule("zeta", always), position=1),
        dataclasses.replace(rule("beta", always), position=2),
        dataclasses.replace(rule("alpha", always), position=2),
        dataclasses.replace(rule("off", always), position=0, enabled=False),
    ]
    reasons = evaluate(Signals(amount_fen=5), rules).reasons
    assert [r.rule for r in reasons] == ["zeta", "alpha", "beta"]


def test_an_unknown_signal_never_matches() -> None:
    young = rule("young", Condition("device_age_minutes", "<", 60), score=50)
    assert evaluate(Signals(amount_fen=1, device_age_minutes=None), [young]).score == 0
    assert evaluate(Signals(amount_fen=1, device_age_minutes=0), [young]).score == 50


def test_bands_map_scores_to_actions() -> None:
    bands = ScoreBands(verify=40, hold=80, block=95)
    assert [bands.action_for(s) for s in (0, 39, 40, 79, 80, 94, 95, 100)] == [
        Action.ALLOW,
        Action.ALLOW,
        Action.VERIFY,
        Action.VERIFY,
        Action.HOLD,
        Action.HOLD,
        Action.BLOCK,
        Action.BLOCK,
    ]
    with pytest.raises(ValueError):
        ScoreBands(verify=50, hold=40, block=95)


# --- facts → signals --------------------------------------------------------------------------


def test_signals_measure_ages_from_now_and_compare_with_the_median() -> None:
    facts = Facts(
        amount_fen=40_000,
        account_created_at=NOW - timedelta(hours=5),
        device_first_seen_at=NOW - timedelta(minutes=30),
        counts=Counts(buyer_hour=2, device_hour=1, ip_day=7, failed_day=1),
        history_fen=(10_000, 9_000, 11_000),
        password_changed_at=NOW - timedelta(hours=2),
        accounts_on_device=2,
        accounts_on_ip=4,
    )
    signals = build_signals(facts, now=NOW, device_known=True, ip_known=True)
    assert signals.account_age_hours == pytest.approx(5)
    assert signals.device_age_minutes == pytest.approx(30)
    assert signals.amount_to_median == pytest.approx(4)
    assert signals.history_payments == 3
    assert signals.password_changed_hours == pytest.approx(2)
    assert (signals.buyer_attempts_hour, signals.device_attempts_hour, signals.ip_attempts_day) == (
        2,
        1,
        7,
    )
    assert signals.phone_changed_hours is None


def test_a_device_seen_for_the_first_time_is_zero_minutes_old_and_no_device_is_unknown() -> None:
    facts = Facts(amount_fen=100, counts=Counts(device_hour=4), accounts_on_device=1)
    new = build_signals(facts, now=NOW, device_known=True, ip_known=False)
    assert new.device_age_minutes == 0 and new.device_attempts_hour == 4
    none = build_signals(facts, now=NOW, device_known=False, ip_known=False)
    assert none.device_age_minutes is None and none.device_attempts_hour is None
    assert none.accounts_on_device is None and none.ip_attempts_hour is None


def test_median_is_the_lower_middle_in_whole_fen() -> None:
    assert median_fen([]) is None
    assert median_fen([300, 100, 200]) == 200
    assert median_fen([400, 100, 300, 200]) == 200


# --- rules as data ----------------------------------------------------------------------------


def test_the_default_rule_file_parses_with_unique_names() -> None:
    assert len(DEFAULTS.rules) == 17
    assert {n for n, _ in DEFAULTS.networks} == {
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
    }
    assert all(r.when for r in DEFAULTS.rules)


@pytest.mark.parametrize(
    "raw",
    [
        {"name": "x", "when": [{"signal": "amount_fen", "op": ">=", "value": 1}]},
        {"name": "Bad Name", "when": [{"signal": "amount_fen", "op": ">=", "value": 1}]},
        {"name": "no_conditions", "when": []},
        {"name": "unknown", "when": [{"signal": "shoe_size", "op": ">=", "value": 1}]},
        {"name": "wrong_way", "when": [{"signal": "amount_fen", "op": "<", "value": 100}]},
        {"name": "old_is_safe", "when": [{"signal": "account_age_hours", "op": ">", "value": 9}]},
        {"name": "false_flag", "when": [{"signal": "ip_listed", "op": "is", "value": False}]},
        {"name": "negative", "when": [{"signal": "amount_fen", "op": ">=", "value": -1}]},
        {
            "name": "too_much",
            "score": 101,
            "when": [{"signal": "amount_fen", "op": ">", "value": 1}],
        },
        {
            "name": "bad_action",
            "action": "shrug",
            "when": [{"signal": "ip_listed", "op": "is", "value": True}],
        },
    ],
)
def test_a_rule_that_could_lower_a_score_or_makes_no_sense_is_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        parse_rule(raw)


def test_a_rule_round_trips_through_its_json_form() -> None:
    original = DEFAULTS.rules[-6]
    assert parse_rule(original.to_dict()) == original


# --- context ----------------------------------------------------------------------------------


def test_a_malformed_context_is_dropped_not_trusted() -> None:
    ctx = RiskContext.of(ip="not-an-ip", device_id="a b<script>", user_agent="  x " * 200)
    assert ctx.ip is None and ctx.device_id is None
    assert ctx.user_agent is not None and len(ctx.user_agent) <= 200
    good = RiskContext.of(ip=" 203.0.113.9 ", device_id="dev_0123456789", user_agent=None)
    assert (good.ip, good.device_id, good.user_agent) == ("203.0.113.9", "dev_0123456789", None)


def test_networks_match_by_cidr_and_bad_entries_are_skipped() -> None:
    assert in_networks("203.0.113.9", ["junk", "203.0.113.0/24"])
    assert not in_networks("198.18.0.1", ["203.0.113.0/24"])
    assert not in_networks(None, ["0.0.0.0/0"])
    assert in_networks("::1", ["::1/128"])


# --- monotonicity: a riskier picture never scores lower ---------------------------------------

NUMERIC = [name for name, (risky, _) in SIGNALS.items() if risky is not Risky.TRUE]
FLOAT_SIGNALS = {
    "account_age_hours",
    "device_age_minutes",
    "amount_to_median",
    "password_changed_hours",
    "phone_changed_hours",
    "address_changed_hours",
}
NON_OPTIONAL = {f.name for f in dataclasses.fields(Signals) if f.default is not None}


def _value(name: str) -> st.SearchStrategy[Any]:
    if name == "ip_listed":
        return st.booleans()
    number: st.SearchStrategy[Any] = (
        st.floats(0, 10_000, allow_nan=False) if name in FLOAT_SIGNALS else st.integers(0, 10_000)
    )
    return number if name in NON_OPTIONAL else st.none() | number


signals_strategy = st.builds(Signals, **{name: _value(name) for name in SIGNALS})


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    name = draw(st.sampled_from(sorted(SIGNALS)))
    risky = SIGNALS[name][0]
    op = draw(st.sampled_from(sorted(OPERATORS[risky])))
    if risky is Risky.TRUE:
        return Condition(name, "is", True)
    return Condition(name, op, draw(st.integers(0, 10_000)))


rules_strategy = st.lists(
    st.builds(
        Rule,
        name=st.from_regex(r"[a-z][a-z0-9_]{2,10}", fullmatch=True),
        position=st.integers(0, 1000),
        description=st.just(""),
        when=st.lists(conditions(), min_size=1, max_size=3).map(tuple),
        score=st.integers(0, 100),
        action=st.sampled_from(list(Action)),
        enabled=st.booleans(),
    ),
    max_size=12,
)


@st.composite
def riskier(draw: st.DrawFn, signals: Signals) -> Signals:
    """``signals`` with one signal moved the risky way (or an unknown one become known)."""
    name = draw(st.sampled_from(sorted(SIGNALS)))
    risky, current = SIGNALS[name][0], signals.value(name)
    if risky is Risky.TRUE:
        return dataclasses.replace(signals, **{name: True})
    step = draw(st.integers(0, 5_000))
    if current is None:
        moved: float = float(draw(st.integers(0, 10_000)))
    elif risky is Risky.HIGHER:
        moved = float(current) + step
    else:
        moved = max(float(current) - step, 0.0)
    changes: dict[str, Any] = {name: moved if name in FLOAT_SIGNALS else int(moved)}
    return dataclasses.replace(signals, **changes)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), signals=signals_strategy, rules=rules_strategy)
def test_adding_a_risk_signal_never_lowers_the_score_or_the_action(
    data: st.DataObject, signals: Signals, rules: list[Rule]
) -> None:
    worse = data.draw(riskier(signals))
    before, after = evaluate(signals, rules), evaluate(worse, rules)
    assert after.score >= before.score
    assert after.action.severity >= before.action.severity
    assert {r.rule for r in before.reasons} <= {r.rule for r in after.reasons}


@settings(max_examples=200, deadline=None)
@given(data=st.data(), signals=signals_strategy)
def test_the_default_rules_are_monotonic_too(data: st.DataObject, signals: Signals) -> None:
    worse = data.draw(riskier(signals))
    assert evaluate(worse, DEFAULTS.rules).score >= evaluate(signals, DEFAULTS.rules).score


@settings(max_examples=200, deadline=None)
@given(signals=signals_strategy, rules=rules_strategy)
def test_the_score_is_0_to_100_and_a_matching_block_rule_blocks(
    signals: Signals, rules: list[Rule]
) -> None:
    decision = evaluate(signals, rules)
    assert 0 <= decision.score <= 100
    if any(r.rule for r in decision.reasons if r.action is Action.BLOCK):
        assert decision.action is Action.BLOCK

"""The automatic checks on a listing submission: each rule firing and not, the verdicts, the
rules file refused when it is wrong, and properties over arbitrary submissions."""

from __future__ import annotations

import copy
import dataclasses
import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuaidan.catalog.checks import (
    Assessment,
    CheckContext,
    Finding,
    Submission,
    SubmittedSku,
    Verdict,
    assess,
)
from kuaidan.catalog.domain import MAX_SKUS, CategoryInfo
from kuaidan.catalog.listing_rules import (
    ListingRulesError,
    Severity,
    load_rules,
    normalised_title,
    parse_rules,
)
from kuaidan.catalog.service import listing_rules as default_rules

APPAREL = CategoryInfo(
    id=1, slug="apparel", name="服装", name_en="Apparel", parent_id=None, position=1
)
TSHIRTS = CategoryInfo(
    id=2, slug="tshirts", name="T恤", name_en="T-shirts", parent_id=1, position=1
)
BABY = CategoryInfo(id=3, slug="baby", name="母婴", name_en="Baby", parent_id=None, position=6)
KIDS = CategoryInfo(
    id=4, slug="kids-clothing", name="童装", name_en="Kids", parent_id=3, position=1
)
TOBACCO = CategoryInfo(
    id=5, slug="tobacco", name="烟草", name_en="Tobacco", parent_id=None, position=9
)
PIPES = CategoryInfo(id=6, slug="pipes", name="烟斗", name_en="Pipes", parent_id=5, position=1)
PLAIN = CategoryInfo(
    id=7, slug="stationery", name="文具", name_en="Stationery", parent_id=None, position=8
)

COLOUR, SIZE = "颜色", "尺码"


def sku(code: str, colour: str, size: str, **changes: Any) -> SubmittedSku:
    base = SubmittedSku(code=code, specs={COLOUR: colour, SIZE: size}, price_fen=9900, stock=50)
    return dataclasses.replace(base, **changes)


def submission(**changes: Any) -> Submission:
    """A clean T-shirt listing: two colours by two sizes, every required field filled."""
    base = Submission(
        title="纯棉圆领T恤 Cotton crew-neck tee",
        category_id=TSHIRTS.id,
        brand="潮流服饰",
        description="精梳棉,柔软透气。 Combed cotton, soft and breathable.",
        parameters={"材质": "棉", "领型": "圆领"},
        specs={COLOUR: ("白", "黑"), SIZE: ("M", "L")},
        skus=(
            sku("TEE-W-M", "白", "M"),
            sku("TEE-W-L", "白", "L"),
            sku("TEE-B-M", "黑", "M"),
            sku("TEE-B-L", "黑", "L"),
        ),
        weight_g=200,
        ship_from="浙江杭州",
    )
    return dataclasses.replace(base, **changes)


def context(**changes: Any) -> CheckContext:
    base = CheckContext(category=TSHIRTS, ancestors=(APPAREL,), trusted_shop=True)
    return dataclasses.replace(base, **changes)


def findings(sub: Submission, ctx: CheckContext | None = None) -> list[Finding]:
    return list(assess(sub, ctx or context(), rules=default_rules()).findings)


def rules_hit(sub: Submission, ctx: CheckContext | None = None) -> set[tuple[str, str]]:
    return {(f.field, f.rule) for f in findings(sub, ctx)}


def only(sub: Submission, rule: str, ctx: CheckContext | None = None) -> list[Finding]:
    return [f for f in findings(sub, ctx) if f.rule == rule]


# --- the clean case and the verdicts -----------------------------------------------------


def test_clean_submission_from_trusted_shop_is_approved() -> None:
    result = assess(submission(), context(), rules=default_rules())
    assert result == Assessment(findings=(), verdict=Verdict.APPROVE)


def test_clean_submission_from_untrusted_shop_goes_to_a_human() -> None:
    result = assess(submission(), context(trusted_shop=False), rules=default_rules())
    assert result.findings == ()
    assert result.verdict is Verdict.HUMAN


def test_a_review_finding_sends_a_trusted_shop_to_a_human() -> None:
    result = assess(submission(title="第一次穿就爱上 T恤"), context(), rules=default_rules())
    assert [f.severity for f in result.findings] == [Severity.REVIEW]
    assert result.verdict is Verdict.HUMAN


def test_a_block_finding_rejects_whatever_else() -> None:
    result = assess(submission(title="最佳T恤"), context(trusted_shop=True), rules=default_rules())
    assert result.verdict is Verdict.REJECT
    assert result.blocking == (result.findings[0],)


def test_findings_are_sorted_by_field_with_sku_indexes_in_number_order() -> None:
    sizes = tuple(f"S{i}" for i in range(12))
    skus = tuple(sku(f"C{i}", "白" if i % 2 else "黑", f"S{i}", stock=-1) for i in range(12))
    sub = submission(skus=skus, specs={COLOUR: ("白", "黑"), SIZE: sizes}, title="最佳")
    fields = [f.field for f in findings(sub)]
    assert fields == [*(f"skus[{i}].stock" for i in range(12)), "title"]


def test_messages_are_chinese_then_english() -> None:
    for finding in findings(submission(brand="", title="最佳 best", parameters={})):
        chinese, _, english = finding.message.partition(" ")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), finding
        assert any("a" <= ch.lower() <= "z" for ch in english), finding


# --- 1. required fields, inherited down the category tree --------------------------------


def test_child_category_inherits_its_ancestors_required_parameter() -> None:
    # "材质" is required on apparel, not on tshirts itself.
    sub = submission(parameters={"领型": "圆领"})
    assert only(sub, "required_parameter_missing") == [
        Finding(
            field="parameters.材质",
            rule="required_parameter_missing",
            message="缺少必填参数「材质」 This category requires the parameter “材质”",
            severity=Severity.BLOCK,
        )
    ]


def test_required_parameter_with_blank_value_is_missing() -> None:
    sub = submission(parameters={"材质": "  "})
    assert ("parameters.材质", "required_parameter_missing") in rules_hit(sub)


def test_child_adds_its_own_required_parameters_to_the_parents() -> None:
    sub = submission(category_id=KIDS.id, parameters={"材质": "棉"}, brand="小熊")
    hit = rules_hit(sub, context(category=KIDS, ancestors=(BABY,)))
    assert ("parameters.安全类别", "required_parameter_missing") in hit
    assert ("parameters.适用年龄", "required_parameter_missing") in hit
    assert ("parameters.材质", "required_parameter_missing") not in hit


def test_required_top_level_fields_inherited_from_every_category_and_ancestors() -> None:
    sub = submission(brand=" ", ship_from="", description="")
    assert {("brand", "required_field_missing"), ("ship_from", "required_field_missing")} <= (
        rules_hit(sub)
    )
    assert ("description", "required_field_missing") in rules_hit(sub)


def test_a_category_without_rules_needs_only_the_platform_wide_fields() -> None:
    sub = submission(category_id=PLAIN.id, brand="", parameters={})
    assert findings(sub, context(category=PLAIN, ancestors=())) == []


def test_weight_is_required_where_the_category_says_and_must_be_positive() -> None:
    assert ("weight_g", "weight_not_positive") in rules_hit(submission(weight_g=0))
    assert rules_hit(submission(weight_g=None)) == set()  # apparel does not require it
    rules = _rules(lambda raw: raw["categories"]["apparel"]["required_fields"].append("weight_g"))
    result = assess(submission(weight_g=None), context(), rules=rules)
    assert [(f.field, f.rule) for f in result.findings] == [("weight_g", "required_field_missing")]


def test_unknown_category_is_blocked() -> None:
    assert ("category_id", "category_unknown") in rules_hit(submission(), context(category=None))
    mismatch = submission(category_id=99)
    assert ("category_id", "category_unknown") in rules_hit(mismatch)


# --- 2. banned and absolute terms --------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "国家级品质T恤",
        "最 佳 T恤",
        "最\u200b佳T恤",
        "顶级面料",
        "全网最低价",
        "极品",
        "ＢＥＳＴ tee",
        "The best tee",
        "No.1 tee",
        "no 1 tee",
        "NO. 1 TEE",
        "highest grade cotton",
        "World-Class fit",
        "the cheapest tee",
    ],
)
def test_banned_terms_in_the_title_block(title: str) -> None:
    hit = only(submission(title=title), "banned_term")
    assert [(f.field, f.severity) for f in hit] == [("title", Severity.BLOCK)]


@pytest.mark.parametrize(
    "title",
    [
        "Bestow a gift tee",
        "Bestseller-free tee",
        "No. 10 tee",
        "Finest" + "ra tee",
        "worldclassy",
        "最高温度 30°C",
        "纯棉T恤",
    ],
)
def test_near_misses_are_not_banned_terms(title: str) -> None:
    assert only(submission(title=title), "banned_term") == []


def test_review_terms_are_flagged_for_a_human_not_blocked() -> None:
    hit = only(submission(parameters={"材质": "100% 棉"}), "banned_term")
    assert [(f.field, f.severity) for f in hit] == [("parameters.材质", Severity.REVIEW)]
    assert "100%" in hit[0].message


def test_banned_terms_are_found_in_every_text_field() -> None:
    sub = submission(
        brand="顶级牌",
        description="This is the best.",
        parameters={"材质": "棉", "等级": "国家级"},
        specs={COLOUR: ("白", "极品黑"), SIZE: ("M", "L")},
        skus=(
            sku("A", "白", "M"),
            sku("B", "极品黑", "L"),
            sku("C", "白", "L"),
            sku("D", "极品黑", "M"),
        ),
    )
    fields = {f.field for f in only(sub, "banned_term")}
    assert fields == {"brand", "description", "parameters.等级", f"specs.{COLOUR}"}


def test_a_banned_parameter_name_is_found_too() -> None:
    sub = submission(parameters={"材质": "棉", "最佳用途": "日常"})
    assert [f.field for f in only(sub, "banned_term")] == ["parameters.最佳用途"]


def test_one_finding_per_term_and_field_however_often_it_appears() -> None:
    hit = only(submission(description="best best BEST 最佳 最佳"), "banned_term")
    assert len(hit) == 2


# --- 3. prohibited categories ------------------------------------------------------------


def test_prohibited_category_blocks_and_so_does_its_child() -> None:
    direct = rules_hit(submission(category_id=TOBACCO.id), context(category=TOBACCO, ancestors=()))
    assert ("category_id", "category_prohibited") in direct
    child = rules_hit(
        submission(category_id=PIPES.id), context(category=PIPES, ancestors=(TOBACCO,))
    )
    assert ("category_id", "category_prohibited") in child
    assert ("category_id", "category_prohibited") not in rules_hit(submission())


# --- 4. price sanity ---------------------------------------------------------------------


def test_price_must_be_positive() -> None:
    skus = (sku("A", "白", "M", price_fen=0), *submission().skus[1:])
    hit = only(submission(skus=skus), "price_not_positive")
    assert [(f.field, f.severity) for f in hit] == [("skus[0].price_fen", Severity.BLOCK)]


def test_price_outside_the_inherited_category_range_is_reviewed() -> None:
    # apparel: 100..10,000,000 fen; tshirts inherits it.
    low = (sku("A", "白", "M", price_fen=99), *submission().skus[1:])
    high = (*submission().skus[:3], sku("D", "黑", "L", price_fen=10_000_001))
    assert [(f.field, f.severity) for f in only(submission(skus=low), "price_out_of_range")] == [
        ("skus[0].price_fen", Severity.REVIEW)
    ]
    assert [f.field for f in only(submission(skus=high), "price_out_of_range")] == [
        "skus[3].price_fen"
    ]
    at_edges = (
        sku("A", "白", "M", price_fen=100),
        *submission().skus[1:3],
        sku("D", "黑", "L", price_fen=10_000_000),
    )
    assert only(submission(skus=at_edges), "price_out_of_range") == []


def test_list_price_below_price_blocks() -> None:
    skus = (*submission().skus[:2], sku("C", "黑", "M", list_price_fen=9899), submission().skus[3])
    assert [f.field for f in only(submission(skus=skus), "list_price_below_price")] == [
        "skus[2].list_price_fen"
    ]
    equal = (sku("A", "白", "M", list_price_fen=9900), *submission().skus[1:])
    assert only(submission(skus=equal), "list_price_below_price") == []


@pytest.mark.parametrize(
    ("new_price", "flagged"),
    [(13_000, False), (13_001, True), (7_000, False), (6_999, True), (10_000, False)],
)
def test_price_change_beyond_the_threshold_is_reviewed(new_price: int, flagged: bool) -> None:
    skus = (sku("TEE-W-M", "白", "M", price_fen=new_price), *submission().skus[1:])
    ctx = context(approved_prices={"TEE-W-M": 10_000, "TEE-W-L": 9900})
    hit = only(submission(skus=skus), "price_change_large", ctx)
    assert [(f.field, f.severity) for f in hit] == (
        [("skus[0].price_fen", Severity.REVIEW)] if flagged else []
    )


def test_a_new_sku_has_no_history_to_compare() -> None:
    ctx = context(approved_prices={"OLD-CODE": 1})
    assert only(submission(), "price_change_large", ctx) == []


# --- 5. stock sanity ---------------------------------------------------------------------


def test_negative_stock_blocks_and_absurd_stock_is_reviewed() -> None:
    skus = (
        sku("A", "白", "M", stock=-1),
        sku("B", "白", "L", stock=1_000_001),
        sku("C", "黑", "M", stock=1_000_000),
        sku("D", "黑", "L", stock=0),
    )
    hit = findings(submission(skus=skus))
    assert [(f.field, f.rule, f.severity) for f in hit] == [
        ("skus[0].stock", "stock_negative", Severity.BLOCK),
        ("skus[1].stock", "stock_absurd", Severity.REVIEW),
    ]


# --- 6. SKU and spec consistency ---------------------------------------------------------


def test_a_sku_must_name_a_value_for_every_axis() -> None:
    skus = (
        SubmittedSku(code="A", specs={COLOUR: "白"}, price_fen=9900, stock=1),
        *submission().skus[1:],
    )
    assert (f"skus[0].specs.{SIZE}", "spec_value_missing") in rules_hit(submission(skus=skus))


def test_a_sku_may_use_only_declared_axes_and_values() -> None:
    odd = SubmittedSku(
        code="A", specs={COLOUR: "红", SIZE: "M", "款式": "宽松"}, price_fen=9900, stock=1
    )
    hit = rules_hit(submission(skus=(odd, *submission().skus[1:])))
    assert (f"skus[0].specs.{COLOUR}", "spec_value_undeclared") in hit
    assert ("skus[0].specs.款式", "spec_axis_undeclared") in hit


def test_two_skus_with_the_same_combination_block() -> None:
    skus = (*submission().skus, sku("TEE-W-M-2", "白", "M"))
    hit = only(submission(skus=skus), "sku_combination_duplicate")
    assert [f.field for f in hit] == ["skus[4]"]
    assert "skus[0]" in hit[0].message


def test_sku_codes_must_be_present_and_unique() -> None:
    skus = (sku("A", "白", "M"), sku("A", "白", "L"), sku(" ", "黑", "M"), sku("D", "黑", "L"))
    hit = rules_hit(submission(skus=skus))
    assert ("skus[1].code", "sku_code_duplicate") in hit
    assert ("skus[2].code", "sku_code_missing") in hit


def test_every_declared_value_must_be_used() -> None:
    sub = submission(specs={COLOUR: ("白", "黑", "红"), SIZE: ("M", "L")})
    hit = only(sub, "spec_value_unused")
    assert [f.field for f in hit] == [f"specs.{COLOUR}"]
    assert "红" in hit[0].message


def test_an_axis_without_values_blocks() -> None:
    sub = submission(specs={COLOUR: ("白", "黑"), SIZE: ("M", "L"), "款式": ()})
    assert ("specs.款式", "spec_axis_empty") in rules_hit(sub)


def test_a_listing_needs_a_sku() -> None:
    assert ("skus", "skus_missing") in rules_hit(submission(skus=(), specs={}))


def test_a_single_sku_without_specs_is_fine() -> None:
    one = SubmittedSku(code="ONE", specs={}, price_fen=9900, stock=3)
    assert findings(submission(skus=(one,), specs={})) == []


def test_a_huge_matrix_is_refused_without_looking_at_its_entries() -> None:
    # Every entry is wrong in several ways; none of that is reported, only the size.
    skus = tuple(
        SubmittedSku(code="X", specs={"?": "?"}, price_fen=-1, stock=-1) for _ in range(10_000)
    )
    hit = findings(submission(skus=skus))
    assert [(f.field, f.rule, f.severity) for f in hit] == [
        ("skus", "skus_too_many", Severity.BLOCK)
    ]
    assert str(MAX_SKUS) in hit[0].message


def test_matrix_at_the_limit_is_checked_entry_by_entry() -> None:
    sizes = tuple(f"S{i}" for i in range(MAX_SKUS))
    skus = tuple(sku(f"C{i}", "白", f"S{i}") for i in range(MAX_SKUS))
    assert findings(submission(specs={COLOUR: ("白",), SIZE: sizes}, skus=skus)) == []


# --- 7. duplicate listings in the same shop ----------------------------------------------


def test_normalised_title_ignores_width_case_punctuation_and_spaces() -> None:
    assert normalised_title("纯棉 圆领T恤，Cotton-Tee!") == normalised_title(
        "纯棉圆领ｔ恤 cotton tee"
    )
    assert normalised_title("  ") == ""


def test_same_normalised_title_in_the_shop_is_reviewed() -> None:
    ctx = context(shop_titles=frozenset({normalised_title("纯棉圆领T恤 — COTTON crew neck tee")}))
    hit = only(submission(), "duplicate_listing", ctx)
    assert [(f.field, f.severity) for f in hit] == [("title", Severity.REVIEW)]


def test_a_different_title_in_the_shop_is_not_a_duplicate() -> None:
    ctx = context(shop_titles=frozenset({normalised_title("纯棉圆领T恤 Cotton crew-neck tee 2")}))
    assert only(submission(), "duplicate_listing", ctx) == []


# --- the rules file ----------------------------------------------------------------------


def test_the_shipped_rules_load_and_are_cached() -> None:
    rules = default_rules()
    assert rules is default_rules()
    assert rules.price_change_review_percent == 30
    assert "tobacco" in rules.prohibited_categories


def _raw() -> dict[str, Any]:
    text = resources.files("kuaidan.catalog").joinpath("listing_rules.json").read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return raw


def _rules(change: Any) -> Any:
    raw = copy.deepcopy(_raw())
    change(raw)
    return parse_rules(raw)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda r: r["banned_terms"].append({"term": "", "severity": "block"}), "banned_terms[39]"),
        (lambda r: r["banned_terms"][2].update(severity="warn"), "banned_terms[2]"),
        (
            lambda r: r["banned_terms"].append({"term": "最 佳", "severity": "block"}),
            "banned_terms[39]",
        ),
        (
            lambda r: r["categories"]["apparel"]["price_fen"].update(min=500, max=100),
            "categories.apparel.price_fen",
        ),
        (
            lambda r: r["categories"]["beauty"].update(required_fields=["colour"]),
            "categories.beauty.required_fields",
        ),
        (lambda r: r["categories"]["toys"].update(requried_parameters=[]), "categories.toys"),
        (lambda r: r.update(price_change_review_percent=True), "price_change_review_percent"),
        (lambda r: r.update(stock_review_above=0), "stock_review_above"),
        (lambda r: r.update(version=2), "version"),
        (lambda r: r.pop("every_category"), "every_category"),
        (lambda r: r["prohibited_categories"].append(7), "prohibited_categories[12]"),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_entry(change: Any, named: str) -> None:
    with pytest.raises(ListingRulesError) as caught:
        _rules(change)
    assert named in str(caught.value)


def test_a_rules_file_that_is_not_json_is_refused() -> None:
    with pytest.raises(ListingRulesError, match="not JSON"):
        load_rules("{'version': 1")
    with pytest.raises(ListingRulesError, match="an object"):
        load_rules("[]")


def test_rules_from_the_caller_replace_the_shipped_ones() -> None:
    rules = _rules(lambda raw: raw["banned_terms"].append({"term": "爆款", "severity": "block"}))
    result = assess(submission(title="爆款T恤"), context(), rules=rules)
    assert result.verdict is Verdict.REJECT
    assert (
        assess(submission(title="爆款T恤"), context(), rules=default_rules()).verdict
        is Verdict.APPROVE
    )


# --- properties --------------------------------------------------------------------------

_text = st.text(max_size=30)
_ints = st.one_of(st.integers(min_value=-(10**12), max_value=10**12), st.none())


@st.composite
def submissions(draw: st.DrawFn) -> Submission:
    axes = draw(st.dictionaries(_text, st.lists(_text, max_size=4).map(tuple), max_size=3))
    axis_names = [*axes, *draw(st.lists(_text, max_size=1))]
    skus = draw(
        st.lists(
            st.builds(
                SubmittedSku,
                code=_text,
                specs=st.dictionaries(st.sampled_from(axis_names or ["x"]), _text, max_size=3),
                price_fen=st.integers(min_value=-(10**12), max_value=10**12),
                stock=st.integers(min_value=-(10**12), max_value=10**12),
                list_price_fen=_ints,
            ),
            max_size=8,
        )
    )
    return Submission(
        title=draw(_text),
        category_id=draw(st.sampled_from([TSHIRTS.id, KIDS.id, 99])),
        brand=draw(_text),
        description=draw(st.text(max_size=200)),
        parameters=draw(st.dictionaries(_text, _text, max_size=4)),
        specs=axes,
        skus=tuple(skus),
        weight_g=draw(_ints),
        ship_from=draw(_text),
    )


contexts = st.builds(
    CheckContext,
    category=st.sampled_from([TSHIRTS, KIDS, TOBACCO, None]),
    ancestors=st.sampled_from([(), (APPAREL,), (BABY,)]),
    approved_prices=st.dictionaries(_text, st.integers(min_value=0, max_value=10**9), max_size=3),
    shop_titles=st.frozensets(_text.map(normalised_title), max_size=3),
    trusted_shop=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(submissions(), contexts)
def test_assess_never_raises_and_its_verdict_follows_its_findings(
    sub: Submission, ctx: CheckContext
) -> None:
    result = assess(sub, ctx, rules=default_rules())
    severities = {f.severity for f in result.findings}
    if Severity.BLOCK in severities:
        assert result.verdict is Verdict.REJECT
    elif result.findings or not ctx.trusted_shop:
        assert result.verdict is Verdict.HUMAN
    else:
        assert result.verdict is Verdict.APPROVE
    assert assess(sub, ctx, rules=default_rules()) == result  # deterministic


_terms = [t.term for t in default_rules().banned_terms]
_places = st.sampled_from(["title", "brand", "description", "parameter", "spec"])


def _full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def _spaced_out(text: str) -> str:
    # Chinese spelled apart ("最 佳"); English is matched as words, so it stays whole.
    return text if text.isascii() else " ".join(text)


_disguises = st.sampled_from([str, str.upper, str.title, _full_width, _spaced_out])


def _with_term(sub: Submission, place: str, text: str) -> Submission:
    if place == "parameter":
        return dataclasses.replace(sub, parameters={**sub.parameters, "说明": text})
    if place == "spec":
        return dataclasses.replace(sub, specs={**sub.specs, "款式": (text,)})
    changes: dict[str, Any] = {place: f"{getattr(sub, place)} {text} "}
    return dataclasses.replace(sub, **changes)


@settings(max_examples=200, deadline=None)
@given(submissions(), contexts, st.sampled_from(_terms), _places, _disguises)
def test_a_submission_with_a_banned_term_is_never_approved(
    sub: Submission, ctx: CheckContext, term: str, place: str, disguise: Any
) -> None:
    changed = _with_term(sub, place, disguise(term))
    result = assess(changed, dataclasses.replace(ctx, trusted_shop=True), rules=default_rules())
    assert result.verdict is not Verdict.APPROVE
    assert any(f.rule == "banned_term" for f in result.findings)

"""The automatic checks on a listing submission, and the verdict they lead to.

Pure: the caller passes the submission and everything the checks need from outside (the
category and its ancestors, the approved prices, the shop's other titles, whether the shop
is trusted) and the rules, which are data: ``catalog.service.listing_rules()`` reads the
shipped ones (``listing_rules.json``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kuaidan.catalog.domain import MAX_SKUS, CategoryInfo, is_whole
from kuaidan.catalog.listing_rules import (
    REQUIRABLE_FIELDS,
    BannedTerm,
    CategoryRules,
    ListingRules,
    PriceRange,
    Searchable,
    Severity,
    normalised_title,
)
from kuaidan.core.money import format_minor


class Verdict(StrEnum):
    APPROVE = "approve"
    HUMAN = "human"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: ``field`` is a path the editor can highlight (``skus[2].price_fen``,
    ``parameters.材质``), ``rule`` a stable code, ``message`` Chinese then English."""

    field: str
    rule: str
    message: str
    severity: Severity


@dataclass(frozen=True, slots=True)
class Assessment:
    findings: tuple[Finding, ...]
    verdict: Verdict

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.BLOCK)


def _block(field: str, rule: str, message: str) -> Finding:
    return Finding(field, rule, message, Severity.BLOCK)


def _review(field: str, rule: str, message: str) -> Finding:
    return Finding(field, rule, message, Severity.REVIEW)


# --- what is checked --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmittedSku:
    """One variant: its code, its value on each spec axis, price and stock."""

    code: str
    specs: Mapping[str, str]
    price_fen: int
    stock: int
    list_price_fen: int | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """A listing as the merchant submits it for review. ``specs`` declares each axis's
    values in display order (颜色 → 白, 黑); each SKU names one value per axis."""

    title: str
    category_id: int
    brand: str
    description: str
    parameters: Mapping[str, str]
    specs: Mapping[str, Sequence[str]]
    skus: Sequence[SubmittedSku]
    weight_g: int | None
    ship_from: str


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the checks need from outside. ``category`` is None when the submitted id names
    no category; ``ancestors`` run from the top level down (as ``domain.ancestors`` gives
    them); ``approved_prices`` is each SKU code's price in the last approved version;
    ``shop_titles`` are the shop's other listings' titles through ``normalised_title``."""

    category: CategoryInfo | None
    ancestors: Sequence[CategoryInfo] = ()
    approved_prices: Mapping[str, int] = dataclasses.field(default_factory=dict)
    shop_titles: frozenset[str] = frozenset()
    trusted_shop: bool = False


# --- the decision -----------------------------------------------------------------------


def assess(submission: Submission, context: CheckContext, *, rules: ListingRules) -> Assessment:
    """Every check's findings, sorted by field, and the verdict: ``reject`` on any blocking
    finding, ``approve`` only without findings from a trusted shop, else ``human``."""
    chain = _category_chain(submission, context)
    applying = rules.chain(chain or ())
    found = [
        *_category_findings(chain, rules),
        *_required_findings(submission, applying),
        *_term_findings(submission, rules),
        *_sku_findings(submission, context, rules, _price_range(applying)),
        *_spec_findings(submission),
        *_duplicate_findings(submission, context),
    ]
    ordered = tuple(dict.fromkeys(sorted(found, key=_order)))
    return Assessment(findings=ordered, verdict=_verdict(ordered, trusted=context.trusted_shop))


def _verdict(findings: Sequence[Finding], *, trusted: bool) -> Verdict:
    if any(f.severity is Severity.BLOCK for f in findings):
        return Verdict.REJECT
    return Verdict.APPROVE if trusted and not findings else Verdict.HUMAN


_DIGITS_RE = re.compile(r"([0-9]+)")


def _order(finding: Finding) -> tuple[Any, ...]:
    """By field, numbers by value (``skus[2]`` before ``skus[10]``), then rule and message."""
    parts = _DIGITS_RE.split(finding.field)
    key = tuple((len(p.lstrip("0")), p) if i % 2 else p for i, p in enumerate(parts))
    return key, finding.rule, finding.message


# --- 1 and 3: the category and what it requires ------------------------------------------


def _category_chain(submission: Submission, context: CheckContext) -> list[CategoryInfo] | None:
    """The category and its ancestors, nearest first; None when the category is unknown."""
    category = context.category
    if category is None or category.id != submission.category_id:
        return None
    return [category, *reversed(context.ancestors)]


def _category_findings(chain: list[CategoryInfo] | None, rules: ListingRules) -> Iterator[Finding]:
    if chain is None:
        yield _block("category_id", "category_unknown", "类目不存在 No such category")
        return
    if any(c.slug in rules.prohibited_categories for c in chain):
        zh, en = chain[0].name, chain[0].name_en
        message = f"平台禁售「{zh}」类目 Listings in “{en}” are not allowed on the platform"
        yield _block("category_id", "category_prohibited", message)


def _required_findings(submission: Submission, applying: list[CategoryRules]) -> Iterator[Finding]:
    fields = dict.fromkeys(name for rules in applying for name in rules.required_fields)
    for name in fields:
        value = getattr(submission, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            zh, en = REQUIRABLE_FIELDS[name]
            message = f"{zh}为必填项 The {en} is required in this category"
            yield _block(name, "required_field_missing", message)
    weight = submission.weight_g
    if weight is not None and (not is_whole(weight) or weight <= 0):
        message = "重量须为大于0的整数(克) The weight is a whole number of grams above 0"
        yield _block("weight_g", "weight_not_positive", message)
    parameters = dict.fromkeys(name for rules in applying for name in rules.required_parameters)
    for name in parameters:
        if not submission.parameters.get(name, "").strip():
            message = f"缺少必填参数「{name}」 This category requires the parameter “{name}”"
            yield _block(f"parameters.{name}", "required_parameter_missing", message)


def _price_range(applying: list[CategoryRules]) -> PriceRange | None:
    """The nearest category's price range (a child's own, else its parent's, ...)."""
    return next((r.price_fen for r in applying if r.price_fen is not None), None)


# --- 2: banned and absolute terms -------------------------------------------------------


def _texts_of(submission: Submission) -> Iterator[tuple[str, list[str]]]:
    yield "title", [submission.title]
    yield "brand", [submission.brand]
    yield "description", [submission.description]
    for key, value in submission.parameters.items():
        yield f"parameters.{key}", [key, value]
    for axis, values in submission.specs.items():
        yield f"specs.{axis}", [axis, *values]


def _term_findings(submission: Submission, rules: ListingRules) -> Iterator[Finding]:
    for field, texts in _texts_of(submission):
        searchable = [Searchable.of(text) for text in texts]
        for banned in rules.banned_terms:
            if any(banned.found_in(text) for text in searchable):
                yield _term_finding(field, banned)


def _term_finding(field: str, banned: BannedTerm) -> Finding:
    term = banned.term
    if banned.severity is Severity.BLOCK:
        message = (
            f"含有广告法禁用的绝对化用语「{term}」 "
            f"“{term}” is an absolute claim the Advertising Law forbids"
        )
    else:
        message = (
            f"可能是绝对化用语「{term}」 "
            f"“{term}” may be an absolute claim; a reviewer will check it"
        )
    return Finding(field, "banned_term", message, banned.severity)


# --- 4 and 5: prices and stock, SKU by SKU ----------------------------------------------


def _sku_findings(
    submission: Submission, context: CheckContext, rules: ListingRules, span: PriceRange | None
) -> Iterator[Finding]:
    skus = submission.skus
    if not skus:
        yield _block("skus", "skus_missing", "至少需要一个SKU A listing needs at least one SKU")
        return
    if len(skus) > MAX_SKUS:
        message = (
            f"SKU数量超过上限{MAX_SKUS} "
            f"{len(skus)} SKUs are more than the {MAX_SKUS} a listing may have"
        )
        yield _block("skus", "skus_too_many", message)
        return
    for index, sku in enumerate(skus):
        old = context.approved_prices.get(sku.code.strip()) if isinstance(sku.code, str) else None
        yield from _price_findings(f"skus[{index}]", sku, span, old, rules)
        yield from _stock_findings(f"skus[{index}]", sku.stock, rules)
    yield from _code_findings(skus)
    yield from _matrix_findings(submission.specs, skus)


def _price_findings(
    at: str, sku: SubmittedSku, span: PriceRange | None, old: int | None, rules: ListingRules
) -> Iterator[Finding]:
    price, percent = sku.price_fen, rules.price_change_review_percent
    valid = is_whole(price) and price > 0
    if not valid:
        message = "价格须为大于0的整数(分) The price is a whole number of fen above 0"
        yield _block(f"{at}.price_fen", "price_not_positive", message)
    elif span is not None and not span.min_fen <= price <= span.max_fen:
        low, high = format_minor(span.min_fen), format_minor(span.max_fen)
        message = f"价格超出本类目范围{low}–{high} The category's prices run {low}–{high}"
        yield _review(f"{at}.price_fen", "price_out_of_range", message)
    if (
        valid
        and old is not None
        and is_whole(old)
        and old > 0
        and abs(price - old) * 100 > percent * old
    ):
        message = (
            f"价格较上次审核通过的{format_minor(old)}变动超过{percent}% "
            f"The price moved more than {percent}% from the approved {format_minor(old)}"
        )
        yield _review(f"{at}.price_fen", "price_change_large", message)
    listed = sku.list_price_fen
    if listed is not None and (not is_whole(listed) or listed <= 0):
        message = "划线价须为大于0的整数(分) The list price is a whole number of fen above 0"
        yield _block(f"{at}.list_price_fen", "list_price_not_positive", message)
    elif listed is not None and valid and listed < price:
        message = "划线价不能低于售价 The list price may not be below the price"
        yield _block(f"{at}.list_price_fen", "list_price_below_price", message)


def _stock_findings(at: str, stock: int, rules: ListingRules) -> Iterator[Finding]:
    ceiling = rules.stock_review_above
    if not is_whole(stock) or stock < 0:
        message = "库存须为不小于0的整数 Stock is a whole number, 0 or more"
        yield _block(f"{at}.stock", "stock_negative", message)
    elif stock > ceiling:
        message = (
            f"库存超过{ceiling},请核实 Stock above {ceiling} looks wrong; a reviewer will check it"
        )
        yield _review(f"{at}.stock", "stock_absurd", message)


# --- 6: the SKU matrix against the declared specs ---------------------------------------


def _code_findings(skus: Sequence[SubmittedSku]) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for index, sku in enumerate(skus):
        code = sku.code.strip() if isinstance(sku.code, str) else ""
        if not code:
            message = "请填写SKU编码 Give the SKU a code"
            yield _block(f"skus[{index}].code", "sku_code_missing", message)
        elif code in first:
            message = f"SKU编码与skus[{first[code]}]重复 The code repeats skus[{first[code]}]'s"
            yield _block(f"skus[{index}].code", "sku_code_duplicate", message)
        else:
            first[code] = index


def _matrix_findings(
    specs: Mapping[str, Sequence[str]], skus: Sequence[SubmittedSku]
) -> Iterator[Finding]:
    """Each SKU names a declared value on every axis, no two SKUs share a combination, and
    every declared value is sold by some SKU. Linear in the SKUs: one pass, one dict."""
    declared = {axis: frozenset(values) for axis, values in specs.items()}
    used: set[tuple[str, str]] = set()
    combinations: dict[frozenset[tuple[str, str]], int] = {}
    for index, sku in enumerate(skus):
        at = f"skus[{index}]"
        for axis in declared:
            if axis not in sku.specs:
                message = f"请选择「{axis}」 Choose a value for “{axis}”"
                yield _block(f"{at}.specs.{axis}", "spec_value_missing", message)
        for axis, value in sku.specs.items():
            yield from _sku_value_findings(f"{at}.specs.{axis}", axis, value, declared)
            used.add((axis, value))
        combination = frozenset(sku.specs.items())
        if combination in combinations:
            twin = combinations[combination]
            message = f"与skus[{twin}]规格组合相同 The same spec values as skus[{twin}]"
            yield _block(at, "sku_combination_duplicate", message)
        else:
            combinations[combination] = index
    for axis, values in specs.items():
        for value in dict.fromkeys(values):
            if (axis, value) not in used:
                message = f"「{value}」没有对应的SKU No SKU sells “{value}” of “{axis}”"
                yield _block(f"specs.{axis}", "spec_value_unused", message)


def _sku_value_findings(
    at: str, axis: str, value: str, declared: Mapping[str, frozenset[str]]
) -> Iterator[Finding]:
    if axis not in declared:
        message = f"规格「{axis}」未声明 “{axis}” is not one of the listing's specs"
        yield _block(at, "spec_axis_undeclared", message)
    elif value not in declared[axis]:
        message = f"「{value}」不是「{axis}」的可选值 “{value}” is not a declared value of “{axis}”"
        yield _block(at, "spec_value_undeclared", message)


def _spec_findings(submission: Submission) -> Iterator[Finding]:
    for axis, values in submission.specs.items():
        if not values:
            message = f"规格「{axis}」没有可选值 The spec “{axis}” has no values"
            yield _block(f"specs.{axis}", "spec_axis_empty", message)


# --- 7: the same listing twice in one shop ----------------------------------------------


def _duplicate_findings(submission: Submission, context: CheckContext) -> Iterator[Finding]:
    title = normalised_title(submission.title)
    if title and title in context.shop_titles:
        message = "店内已有同名商品 The shop already lists a product with this title"
        yield _review("title", "duplicate_listing", message)

"""The rules of the automatic listing checks, as data: ``listing_rules.json`` beside this
module, read and validated once (a bad entry fails naming it), and the text forms the checks
search (NFKC, case folded; squeezed of spaces and punctuation for Chinese).

Pure but for reading the shipped package file; callers may pass rules of their own.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kuaidan.catalog.domain import CategoryInfo, is_whole

RULES_VERSION = 1
PRICE_FEN_LIMIT = 10**12

# The top-level fields a category may require, with their labels for messages.
REQUIRABLE_FIELDS: Mapping[str, tuple[str, str]] = {
    "title": ("标题", "title"),
    "brand": ("品牌", "brand"),
    "description": ("商品描述", "description"),
    "weight_g": ("重量", "weight"),
    "ship_from": ("发货地", "ship-from place"),
}


class Severity(StrEnum):
    BLOCK = "block"  # the listing cannot be approved until it is fixed
    REVIEW = "review"  # a human must look


# --- the rules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceRange:
    min_fen: int
    max_fen: int


@dataclass(frozen=True, slots=True)
class CategoryRules:
    required_fields: tuple[str, ...] = ()
    required_parameters: tuple[str, ...] = ()
    price_fen: PriceRange | None = None


@dataclass(frozen=True, slots=True)
class BannedTerm:
    """An absolute term. Chinese is found as a substring of the squeezed text (no spaces or
    punctuation, so "最 佳" is "最佳"); English as whole words (``pattern``), any case."""

    term: str
    severity: Severity
    key: str
    pattern: re.Pattern[str] | None

    def found_in(self, text: Searchable) -> bool:
        if self.pattern is None:
            return self.key in text.squeezed
        return self.pattern.search(text.words) is not None


@dataclass(frozen=True, slots=True)
class ListingRules:
    price_change_review_percent: int
    stock_review_above: int
    prohibited_categories: frozenset[str]
    every_category: CategoryRules
    categories: Mapping[str, CategoryRules]
    banned_terms: tuple[BannedTerm, ...]

    def chain(self, categories: Sequence[CategoryInfo]) -> list[CategoryRules]:
        """The rules that apply, nearest first: each category's own, then every category's."""
        own = [self.categories.get(c.slug) for c in categories]
        return [*(r for r in own if r is not None), self.every_category]


class ListingRulesError(ValueError):
    """The rules file is wrong; the message names the entry."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"listing rules, {where or 'top level'}: {problem}")


def load_rules(text: str) -> ListingRules:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ListingRulesError("", f"not JSON ({error})") from None
    return parse_rules(raw)


def parse_rules(raw: object) -> ListingRules:
    """Rules from their JSON form, every entry checked; ListingRulesError names a bad one."""
    top = _object(
        raw,
        "",
        required=("version", "price_change_review_percent", "stock_review_above"),
        optional=("prohibited_categories", "every_category", "categories", "banned_terms"),
    )
    if top["version"] != RULES_VERSION:
        raise ListingRulesError("version", f"must be {RULES_VERSION}")
    if "every_category" not in top:
        raise ListingRulesError("every_category", "is missing (the rules for all categories)")
    categories = _object(top.get("categories", {}), "categories", optional=None)
    return ListingRules(
        price_change_review_percent=_whole(
            top["price_change_review_percent"], "price_change_review_percent", 1, 1000
        ),
        stock_review_above=_whole(top["stock_review_above"], "stock_review_above", 1, 10**12),
        prohibited_categories=frozenset(
            _texts(top.get("prohibited_categories", []), "prohibited_categories")
        ),
        every_category=_category_rules(top["every_category"], "every_category"),
        categories={
            slug: _category_rules(value, f"categories.{slug}") for slug, value in categories.items()
        },
        banned_terms=_banned_terms(top.get("banned_terms", []), "banned_terms"),
    )


def _object(
    raw: object, where: str, *, required: Collection[str] = (), optional: Collection[str] | None
) -> dict[str, Any]:
    """``raw`` as an object with only the known keys (``optional=None``: any keys)."""
    if not isinstance(raw, dict):
        raise ListingRulesError(where, "must be an object")
    if optional is not None:
        known = [*required, *optional]
        for key in raw:
            if key not in known:
                raise ListingRulesError(where, f"unknown key {key!r}; known: {', '.join(known)}")
    for key in required:
        if key not in raw:
            raise ListingRulesError(where, f"lacks {key!r}")
    return raw


def _whole(raw: object, where: str, low: int, high: int) -> int:
    if not is_whole(raw) or not low <= raw <= high:  # type: ignore[operator]
        raise ListingRulesError(where, f"must be a whole number {low}..{high}")
    return raw  # type: ignore[return-value]


def _texts(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ListingRulesError(where, "must be a list of text")
    for index, item in enumerate(raw):
        if not isinstance(item, str) or not item.strip():
            raise ListingRulesError(f"{where}[{index}]", "must be non-empty text")
    return tuple(item.strip() for item in raw)


def _category_rules(raw: object, where: str) -> CategoryRules:
    rules = _object(raw, where, optional=("required_fields", "required_parameters", "price_fen"))
    fields = _texts(rules.get("required_fields", []), f"{where}.required_fields")
    for index, name in enumerate(fields):
        if name not in REQUIRABLE_FIELDS:
            known = ", ".join(REQUIRABLE_FIELDS)
            raise ListingRulesError(
                f"{where}.required_fields[{index}]", f"{name!r} is not one of {known}"
            )
    price = None
    if "price_fen" in rules:
        at = f"{where}.price_fen"
        bounds = _object(rules["price_fen"], at, required=("min", "max"), optional=())
        low = _whole(bounds["min"], f"{at}.min", 1, PRICE_FEN_LIMIT)
        high = _whole(bounds["max"], f"{at}.max", 1, PRICE_FEN_LIMIT)
        if low > high:
            raise ListingRulesError(at, f"min {low} is above max {high}")
        price = PriceRange(low, high)
    parameters = _texts(rules.get("required_parameters", []), f"{where}.required_parameters")
    return CategoryRules(required_fields=fields, required_parameters=parameters, price_fen=price)


def _banned_terms(raw: object, where: str) -> tuple[BannedTerm, ...]:
    if not isinstance(raw, list):
        raise ListingRulesError(where, "must be a list")
    terms: list[BannedTerm] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        entry = _object(item, at, required=("term", "severity"), optional=())
        term, severity = entry["term"], entry["severity"]
        if severity not in {s.value for s in Severity}:
            raise ListingRulesError(at, "severity must be 'block' or 'review'")
        if not isinstance(term, str):
            raise ListingRulesError(at, "the term must be text")
        banned = _banned_term(term.strip(), Severity(severity))
        if banned is None:
            raise ListingRulesError(at, f"the term {term!r} has nothing to search for")
        if banned.key in seen:
            raise ListingRulesError(at, f"{term!r} repeats {where}[{seen[banned.key]}]")
        seen[banned.key] = index
        terms.append(banned)
    return tuple(terms)


def _banned_term(term: str, severity: Severity) -> BannedTerm | None:
    if _CJK_RE.search(term):
        key = _squeeze(_normal(term))
        return BannedTerm(term, severity, key, None) if key else None
    parts = [part for part in _SEPARATORS_RE.split(_normal(term)) if part]
    if not parts:
        return None
    # Separators inside the term ("No. 1", "world-class") match any separators, or none.
    body = r"[\W_]*".join(r"\s*".join(map(re.escape, _PIECE_RE.findall(p))) for p in parts)
    before = r"(?<!\w)" if _WORD_RE.match(parts[0][0]) else ""
    after = r"(?!\w)" if _WORD_RE.match(parts[-1][-1]) else ""
    key = "\x00".join(parts)
    return BannedTerm(term, severity, key, re.compile(before + body + after))


# --- text -------------------------------------------------------------------------------

_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SEPARATORS_RE = re.compile(r"[\s.\-_/·]+")
_PIECE_RE = re.compile(r"\w+|\W")
_WORD_RE = re.compile(r"\w")
# Left out of the squeezed text: punctuation, symbols, spaces, controls and invisible marks.
_SQUEEZED_OUT = frozenset("PSZC")


def _normal(text: str) -> str:
    """Full-width and compatibility forms folded (NFKC), case folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _squeeze(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in _SQUEEZED_OUT)


def normalised_title(title: str) -> str:
    """The form in which two titles are the same listing: NFKC, case folded, without
    punctuation, symbols or spaces ("纯棉 T恤!" and "纯棉ｔ恤" are one)."""
    return _squeeze(_normal(title))


@dataclass(frozen=True, slots=True)
class Searchable:
    words: str  # normalised, invisible format characters removed
    squeezed: str

    @classmethod
    def of(cls, text: str) -> Searchable:
        normal = _normal(text)
        words = "".join(ch for ch in normal if unicodedata.category(ch) != "Cf")
        return cls(words=words, squeezed=_squeeze(normal))

"""Catalog rules and value types: listing validation, search filters and the variant matrix.

Pure: no database and no HTTP. Other areas receive these dataclasses, never ORM rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from kuaidan.core.errors import InvalidInput
from kuaidan.merchants.domain import MerchantInfo

TITLE_MAX = 120
DESCRIPTION_MAX = 20_000
SKU_CODE_MAX = 64
MAX_SKUS = 200
MAX_IMAGES = 20
MAX_SPECS = 50
ATTRIBUTE_MAX = 40
SPEC_MAX = 200
QUERY_MAX = 100
MAX_TERMS = 8
LIKE_ESCAPE = "\\"

_IMAGE_PATH_RE = re.compile(r"^[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*$")
AXIS_LABELS = {
    "colour": "颜色 Colour",
    "color": "颜色 Colour",
    "size": "尺码 Size",
    "style": "款式 Style",
    "capacity": "容量 Capacity",
    "model": "型号 Model",
    "flavour": "口味 Flavour",
    "weight": "重量 Weight",
}


class ProductStatus(StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    LISTED = "listed"
    DELISTED = "delisted"


class SkuStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Sort(StrEnum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    SALES = "sales"


def is_whole(value: object) -> bool:
    """A whole number (an int, and not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: object) -> bool:
    return isinstance(value, str)


# --- categories -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    id: int
    slug: str
    name: str
    name_en: str
    parent_id: int | None
    position: int
    # Days of no-reason return: None inherits the parent's (at the top, the platform
    # default), 0 means none (fresh food, custom-made goods...), 1..30 that many days.
    no_reason_return_days: int | None = None


def descendant_ids(categories: Iterable[CategoryInfo], root_id: int) -> set[int]:
    """``root_id`` and every category below it, however deep (cycles are harmless)."""
    children: dict[int, list[int]] = {}
    for category in categories:
        if category.parent_id is not None:
            children.setdefault(category.parent_id, []).append(category.id)
    found, todo = {root_id}, [root_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def children_by_parent(categories: Iterable[CategoryInfo]) -> dict[int | None, list[CategoryInfo]]:
    """Categories grouped under their parent's id (None for the top level), in given order."""
    grouped: dict[int | None, list[CategoryInfo]] = {}
    for category in categories:
        grouped.setdefault(category.parent_id, []).append(category)
    return grouped


def ancestors(categories: Iterable[CategoryInfo], category_id: int) -> list[CategoryInfo]:
    """The chain from the top level down to (not including) ``category_id``."""
    by_id = {c.id: c for c in categories}
    chain: list[CategoryInfo] = []
    current = by_id.get(category_id)
    while current is not None and current.parent_id is not None and len(chain) < len(by_id):
        current = by_id.get(current.parent_id)
        if current is not None:
            chain.append(current)
    return chain[::-1]


MAX_NO_REASON_RETURN_DAYS = 30


def check_return_days(days: int | None) -> int | None:
    """A category's no-reason return window: None (inherit), 0 (none) or 1..30 days."""
    if days is None:
        return None
    if not is_whole(days) or not 0 <= days <= MAX_NO_REASON_RETURN_DAYS:
        raise InvalidInput(
            f"a no-reason return window is 0..{MAX_NO_REASON_RETURN_DAYS} days, or none to inherit",
            details={"field": "no_reason_return_days"},
        )
    return days


def return_window(categories: Mapping[int, CategoryInfo], category_id: int) -> int | None:
    """The first window set walking from the category up to the top (cycles are harmless);
    None when no category on the way sets one, and the caller applies the platform default."""
    seen: set[int] = set()
    current = categories.get(category_id)
    while current is not None and current.id not in seen:
        if current.no_reason_return_days is not None:
            return current.no_reason_return_days
        seen.add(current.id)
        current = None if current.parent_id is None else categories.get(current.parent_id)
    return None


# --- new listings -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewSku:
    """One variant of a new listing: its code, attributes (e.g. colour, size), price, stock."""

    code: str
    attributes: dict[str, str]
    price_fen: int
    stock: int
    list_price_fen: int | None = None


@dataclass(frozen=True, slots=True)
class NewProduct:
    """A listing as a merchant submits it; ``problems()`` says what is wrong with it."""

    title: str
    description: str
    category_slug: str
    specs: list[tuple[str, str]]
    images: list[str]
    skus: list[NewSku]

    def problems(self) -> list[str]:
        found = _text_problems(self) + _spec_problems(self.specs) + _image_problems(self.images)
        return found + _skus_problems(self.skus)

    def check(self) -> None:
        """Raise InvalidInput listing every problem, if there is any."""
        found = self.problems()
        if found:
            raise InvalidInput(
                "the product is not valid: " + "; ".join(found), details={"problems": found}
            )


def _text_problems(product: NewProduct) -> list[str]:
    found = []
    if not 1 <= len(product.title.strip()) <= TITLE_MAX:
        found.append(f"the title must be 1..{TITLE_MAX} characters")
    if len(product.description) > DESCRIPTION_MAX:
        found.append(f"the description is longer than {DESCRIPTION_MAX} characters")
    if not product.category_slug.strip():
        found.append("a category is required")
    return found


def _spec_problems(specs: Sequence[tuple[str, str]]) -> list[str]:
    if len(specs) > MAX_SPECS:
        return [f"at most {MAX_SPECS} specification rows"]
    for pair in specs:
        if len(pair) != 2 or not all(isinstance(part, str) for part in pair):
            return ["each specification is a (name, value) pair of text"]
        name, value = pair
        if not name.strip() or not value.strip() or len(name) > SPEC_MAX or len(value) > SPEC_MAX:
            return [f"specification names and values are 1..{SPEC_MAX} characters"]
    return []


def _image_problems(images: Sequence[str]) -> list[str]:
    if len(images) > MAX_IMAGES:
        return [f"at most {MAX_IMAGES} images"]
    for path in images:
        if not isinstance(path, str) or not is_safe_media_path(path):
            return [f"image {path!r} is not a relative media path like 'products/12/1.png'"]
    return []


def is_safe_media_path(path: str) -> bool:
    """A relative path under the media dir: no leading slash, no '..', plain characters."""
    return bool(_IMAGE_PATH_RE.fullmatch(path)) and ".." not in path and len(path) <= 300


def _skus_problems(skus: Sequence[NewSku]) -> list[str]:
    if not skus:
        return ["a product needs at least one SKU"]
    if len(skus) > MAX_SKUS:
        return [f"at most {MAX_SKUS} SKUs"]
    found: list[str] = []
    for sku in skus:
        found += _sku_problems(sku)
    codes = [sku.code.strip() for sku in skus]
    if len(set(codes)) != len(codes):
        found.append("SKU codes must be unique")
    if len({frozenset(sku.attributes) for sku in skus}) > 1:
        found.append("every SKU must have the same attribute names")
    elif len({frozenset(sku.attributes.items()) for sku in skus}) != len(skus):
        found.append("two SKUs have the same attributes; each variant must differ")
    return found


def _sku_problems(sku: NewSku) -> list[str]:
    found = []
    code = sku.code.strip() if _is_text(sku.code) else ""
    if not 1 <= len(code) <= SKU_CODE_MAX or any(ch.isspace() for ch in code):
        found.append(f"SKU code {sku.code!r} must be 1..{SKU_CODE_MAX} characters without spaces")
    if not is_whole(sku.price_fen) or sku.price_fen <= 0:
        found.append(f"SKU {code}: the price must be a whole number of fen > 0")
    if not is_whole(sku.stock) or sku.stock < 0:
        found.append(f"SKU {code}: the stock must be a whole number ≥ 0")
    found += list_price_problems(sku.price_fen, sku.list_price_fen, code=code)
    for name, value in sku.attributes.items():
        if not (_is_text(name) and _is_text(value)):
            found.append(f"SKU {code}: attributes are text")
        elif not (
            1 <= len(name.strip()) <= ATTRIBUTE_MAX and 1 <= len(value.strip()) <= ATTRIBUTE_MAX
        ):
            found.append(
                f"SKU {code}: attribute names and values are 1..{ATTRIBUTE_MAX} characters"
            )
    return found


def list_price_problems(price_fen: int, list_price_fen: int | None, *, code: str = "") -> list[str]:
    """A strike-through price, when given, is a whole number of fen at least the price."""
    if list_price_fen is None:
        return []
    if not is_whole(list_price_fen) or list_price_fen <= 0:
        return [f"SKU {code}: the list price must be a whole number of fen > 0"]
    if is_whole(price_fen) and list_price_fen < price_fen:
        return [f"SKU {code}: the list price may not be below the selling price"]
    return []


# --- denormalised price and stock -------------------------------------------------------


class SkuFacts(NamedTuple):
    price_fen: int
    active: bool
    available: int


@dataclass(frozen=True, slots=True)
class PriceAndStock:
    """What a product row caches about its SKUs so that search needs no join."""

    min_price_fen: int
    max_price_fen: int
    in_stock: bool


def summarise_skus(skus: Sequence[SkuFacts]) -> PriceAndStock:
    """Price range over active SKUs (all SKUs if none is active); in stock if any active is."""
    if not skus:
        raise ValueError("a product has at least one SKU")
    active = [sku for sku in skus if sku.active]
    priced = active or list(skus)
    prices = [sku.price_fen for sku in priced]
    return PriceAndStock(
        min_price_fen=min(prices),
        max_price_fen=max(prices),
        in_stock=any(sku.available > 0 for sku in active),
    )


# --- search -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductQuery:
    """What a buyer searches for. Prices are in fen and compare with SKU prices."""

    q: str | None = None
    category: str | None = None
    min_price_fen: int | None = None
    max_price_fen: int | None = None
    in_stock_only: bool = False
    sort: Sort = Sort.RELEVANCE

    def __post_init__(self) -> None:
        q = " ".join(self.q.split()) if self.q else ""
        if len(q) > QUERY_MAX:
            raise InvalidInput(f"the search text is longer than {QUERY_MAX} characters")
        object.__setattr__(self, "q", q or None)
        object.__setattr__(self, "category", (self.category or "").strip() or None)
        try:
            object.__setattr__(self, "sort", Sort(self.sort))
        except ValueError:
            choices = ", ".join(s.value for s in Sort)
            raise InvalidInput(f"sort must be one of {choices}") from None
        for name in ("min_price_fen", "max_price_fen"):
            value = getattr(self, name)
            if value is not None and (not is_whole(value) or value < 0):
                raise InvalidInput(f"{name} must be a whole number of fen ≥ 0")
        low, high = self.min_price_fen, self.max_price_fen
        if low is not None and high is not None and low > high:
            raise InvalidInput("the lowest price is above the highest price")

    @property
    def terms(self) -> tuple[str, ...]:
        """The query's search tokens, each of which must match; duplicates dropped."""
        return tuple(dict.fromkeys(search_tokens(self.q or "")))[:MAX_TERMS]


# Ideographs, kana and hangul: runs of them match as substrings (no spaces between words).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN_RE = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+")
_CJK_RE = re.compile(f"[{_CJK}]")
TITLE_END = "|"  # separates the title's tokens from the description's in the search text


def search_tokens(text: str) -> list[str]:
    """Lower-cased tokens: runs of letters and digits (whole words), and runs of CJK script.

    Punctuation and spaces separate tokens, and so does a change of script: "T恤" is "t", "恤".
    """
    return _TOKEN_RE.findall(text.lower())


def search_text(title: str, description: str) -> str:
    """What a product stores for search: every token between spaces, the title's first."""
    title_part = " ".join(search_tokens(title))
    return f" {title_part} {TITLE_END} {' '.join(search_tokens(description))} "


def token_pattern(token: str, *, in_title: bool = False) -> str:
    """The LIKE pattern that finds ``token`` in a search text.

    A Latin word or number matches whole (between spaces), so "tee" never finds "steel";
    a CJK run matches anywhere inside a run, as Chinese writes words without spaces.
    """
    core = escape_like(token)
    pattern = f"%{core}%" if _CJK_RE.match(token) else f"% {core} %"
    return pattern + TITLE_END + "%" if in_title else pattern


def escape_like(term: str, escape: str = LIKE_ESCAPE) -> str:
    """Make ``term`` match literally inside a LIKE pattern (``%`` and ``_`` lose their magic)."""
    return (
        term.replace(escape, escape + escape).replace("%", escape + "%").replace("_", escape + "_")
    )


def contains_pattern(term: str) -> str:
    return f"%{escape_like(term)}%"


# --- read models ------------------------------------------------------------------------


def media_url(path: str) -> str:
    return f"/media/{path}"


@dataclass(frozen=True, slots=True)
class ProductSummary:
    """A product as a search result or a card in a grid."""

    id: int
    merchant_id: int
    merchant_name: str
    category_id: int
    title: str
    image: str | None
    min_price_fen: int
    max_price_fen: int
    in_stock: bool
    sales_count: int
    created_at: datetime

    @property
    def image_url(self) -> str | None:
        return media_url(self.image) if self.image else None

    @property
    def has_price_range(self) -> bool:
        return self.min_price_fen != self.max_price_fen


@dataclass(frozen=True, slots=True)
class SkuInfo:
    """One SKU with its product's essentials and what buyers can still order of it."""

    id: int
    product_id: int
    merchant_id: int
    product_title: str
    product_status: ProductStatus
    code: str
    attributes: Mapping[str, str]
    price_fen: int
    list_price_fen: int | None
    status: SkuStatus
    position: int
    available: int
    # The product's first picture (order lines keep it), None when it has none.
    product_image: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status is SkuStatus.ACTIVE

    @property
    def in_stock(self) -> bool:
        return self.is_active and self.available > 0

    @property
    def label(self) -> str:
        return " / ".join(self.attributes.values()) or self.code


@dataclass(frozen=True, slots=True)
class ProductDetail:
    """A product page's worth: the listing, its merchant and category, and its SKUs."""

    id: int
    merchant: MerchantInfo
    category: CategoryInfo
    title: str
    description: str
    specs: tuple[tuple[str, str], ...]
    images: tuple[str, ...]
    status: ProductStatus
    min_price_fen: int
    max_price_fen: int
    in_stock: bool
    sales_count: int
    created_at: datetime
    updated_at: datetime
    skus: tuple[SkuInfo, ...] = field(default=())

    @property
    def image_urls(self) -> list[str]:
        return [media_url(path) for path in self.images]

    @property
    def total_available(self) -> int:
        return sum(sku.available for sku in self.skus if sku.is_active)

    def variants(self) -> VariantMatrix:
        return variant_matrix(self.skus)


# --- the variant matrix -----------------------------------------------------------------


def axis_label(name: str) -> str:
    """A bilingual label for an attribute name ('colour' → '颜色 Colour'); others as they are."""
    return AXIS_LABELS.get(name.strip().lower(), name)


def colour_axis(axes: Sequence[VariantAxis]) -> int | None:
    """The position of the colour axis ('颜色 Colour', 'colour', 'color'), if there is one."""
    colour = AXIS_LABELS["colour"]
    return next((i for i, axis in enumerate(axes) if axis_label(axis.name) == colour), None)


def colour_pictures(axes: Sequence[VariantAxis], pictures: Sequence[str]) -> dict[str, str]:
    """Which picture shows each colour: a listing orders its pictures as its colours, so the
    n-th picture shows the n-th colour; colours beyond the pictures get none (the page keeps
    the first). Empty when no axis is a colour."""
    index = colour_axis(axes)
    return {} if index is None else dict(zip(axes[index].values, pictures, strict=False))


@dataclass(frozen=True, slots=True)
class VariantAxis:
    name: str
    values: tuple[str, ...]

    @property
    def label(self) -> str:
        return axis_label(self.name)


@dataclass(frozen=True, slots=True)
class Variant:
    """One existing combination of axis values: the active SKU that sells it."""

    sku_id: int
    values: tuple[str, ...]
    price_fen: int
    list_price_fen: int | None
    available: int

    @property
    def in_stock(self) -> bool:
        return self.available > 0


@dataclass(frozen=True, slots=True)
class VariantOption:
    """One button of the picker, given what is selected on the other axes."""

    value: str
    selected: bool
    exists: bool
    in_stock: bool
    sku_id: int | None

    @property
    def enabled(self) -> bool:
        return self.exists and self.in_stock


@dataclass(frozen=True, slots=True)
class VariantMatrix:
    """The axes (e.g. colours, sizes) and which combinations exist and are in stock."""

    axes: tuple[VariantAxis, ...]
    variants: tuple[Variant, ...]

    def by_sku(self, sku_id: int) -> Variant | None:
        return next((v for v in self.variants if v.sku_id == sku_id), None)

    def find(self, selection: Mapping[str, str]) -> Variant | None:
        """The variant for a full selection (one value per axis), or None."""
        if set(selection) != {axis.name for axis in self.axes}:
            return None
        wanted = tuple(selection[axis.name] for axis in self.axes)
        return next((v for v in self.variants if v.values == wanted), None)

    def exists(self, values: Sequence[str]) -> bool:
        return any(v.values == tuple(values) for v in self.variants)

    def is_in_stock(self, values: Sequence[str]) -> bool:
        return any(v.values == tuple(values) and v.in_stock for v in self.variants)

    def selection_of(self, variant: Variant | None) -> dict[str, str]:
        if variant is None:
            return {}
        return {axis.name: value for axis, value in zip(self.axes, variant.values, strict=True)}

    def options(self, selection: Mapping[str, str]) -> tuple[tuple[VariantOption, ...], ...]:
        """Per axis, each value's state when combined with the other axes' selected values."""
        return tuple(
            tuple(self._option(index, value, selection) for value in axis.values)
            for index, axis in enumerate(self.axes)
        )

    def _option(self, index: int, value: str, selection: Mapping[str, str]) -> VariantOption:
        fixed = {
            i: selection[axis.name]
            for i, axis in enumerate(self.axes)
            if i != index and axis.name in selection
        }
        matches = [
            v
            for v in self.variants
            if v.values[index] == value and all(v.values[i] == val for i, val in fixed.items())
        ]
        stocked = [v for v in matches if v.in_stock]
        target = (stocked or matches)[0] if matches else None
        return VariantOption(
            value=value,
            selected=selection.get(self.axes[index].name) == value,
            exists=bool(matches),
            in_stock=bool(stocked),
            sku_id=target.sku_id if target else None,
        )


def variant_matrix(skus: Iterable[SkuInfo]) -> VariantMatrix:
    """Build the picker's matrix from a product's SKUs (inactive SKUs do not exist for it).

    Axes follow the attribute order of the first SKU (by position); values follow their first
    appearance. A SKU whose attribute names differ from the first one's is left out.
    """
    active = sorted((s for s in skus if s.is_active), key=lambda s: (s.position, s.id))
    if not active:
        return VariantMatrix(axes=(), variants=())
    names = tuple(active[0].attributes)
    values: dict[str, dict[str, None]] = {name: {} for name in names}
    variants = []
    for sku in active:
        if set(sku.attributes) != set(names):
            continue
        combo = tuple(sku.attributes[name] for name in names)
        for name, value in zip(names, combo, strict=True):
            values[name].setdefault(value)
        variants.append(
            Variant(sku.id, combo, sku.price_fen, sku.list_price_fen, max(sku.available, 0))
        )
    axes = tuple(VariantAxis(name, tuple(values[name])) for name in names)
    return VariantMatrix(axes=axes, variants=tuple(variants))

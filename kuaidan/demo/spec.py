"""Shapes of the demo catalogue (merchants, categories, product templates, variant axes).

Plain data with no I/O; ``expand_skus`` turns a template into its SKUs deterministically.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from kuaidan.accounts.domain import Role

COLOUR_AXIS = "颜色 Colour"
SIZE_AXIS = "尺码 Size"


@dataclass(frozen=True, slots=True)
class DemoMerchant:
    slug: str
    name: str
    name_en: str
    description: str
    sku_prefix: str


@dataclass(frozen=True, slots=True)
class DemoCategory:
    slug: str
    name: str
    name_en: str
    parent_slug: str | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class DemoUser:
    email: str
    role: Role
    display_name: str
    try_this: str
    merchant_slug: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class AxisValue:
    """One choice on a variant axis: its label, a short code for SKU codes, a price step."""

    label: str
    code: str
    delta_fen: int = 0
    rgb: str | None = None


@dataclass(frozen=True, slots=True)
class Axis:
    name: str
    values: tuple[AxisValue, ...]


@dataclass(frozen=True, slots=True)
class ProductTemplate:
    """A product as a merchant would list it; SKUs are the product of its axes."""

    code: str
    slug: str
    category_slug: str
    shape: str
    title: str
    short_en: str
    description: str
    specs: tuple[tuple[str, str], ...]
    price_fen: int
    axes: tuple[Axis, ...]
    list_price_fen: int | None = None
    tint: str = "#8aa6c1"
    sold_out: bool = False
    pending_review: bool = False

    @property
    def image_key(self) -> str:
        return f"{self.code.lower()}-{self.slug}"

    @property
    def colours(self) -> tuple[str, ...]:
        """The product's colours (hex), or its tint when it has no colour axis."""
        for axis in self.axes:
            if axis.name == COLOUR_AXIS:
                return tuple(v.rgb or self.tint for v in axis.values)
        return (self.tint,)


@dataclass(frozen=True, slots=True)
class SkuSpec:
    code: str
    attributes: dict[str, str] = field(hash=False)
    price_fen: int
    stock: int
    list_price_fen: int | None = None


# (label, hex) by the code used in SKU codes.
COLOURS: dict[str, tuple[str, str]] = {
    "BLK": ("黑色 Black", "#1d1d1f"),
    "WHT": ("白色 White", "#f4f4f2"),
    "GRY": ("浅灰 Light Grey", "#b9bcc0"),
    "CHR": ("深灰 Charcoal", "#4a4d52"),
    "NAV": ("藏青 Navy", "#1f2f4f"),
    "OAT": ("燕麦色 Oatmeal", "#d8c8ae"),
    "KHA": ("卡其 Khaki", "#b59d6b"),
    "OLV": ("军绿 Army Green", "#56603c"),
    "BUR": ("酒红 Burgundy", "#7b2233"),
    "PNK": ("樱花粉 Sakura Pink", "#f2b8c6"),
    "BLU": ("雾霾蓝 Haze Blue", "#8aa6c1"),
    "SKY": ("天蓝 Sky Blue", "#6fb7e9"),
    "YEL": ("柠檬黄 Lemon Yellow", "#f3d84b"),
    "RED": ("中国红 China Red", "#c8102e"),
    "ORG": ("活力橙 Orange", "#f08a24"),
    "GRN": ("薄荷绿 Mint Green", "#9ed9c0"),
    "PUR": ("香芋紫 Taro Purple", "#b7a2d6"),
    "BRN": ("咖啡色 Coffee", "#6b4a35"),
    "SLV": ("银色 Silver", "#c9ccd1"),
    "GLD": ("香槟金 Champagne Gold", "#d9c08c"),
    "CRM": ("奶白 Cream", "#f3ead8"),
    "CLR": ("透明 Clear", "#dfe9ee"),
}

# Stock levels a SKU is drawn from; 0 shows "out of stock", 1–5 shows "only a few left".
STOCK_LEVELS = (0, 2, 3, 5, 12, 18, 30, 45, 60, 88, 120, 200, 500)


def colours(*codes: str) -> Axis:
    return Axis(COLOUR_AXIS, tuple(AxisValue(COLOURS[c][0], c, 0, COLOURS[c][1]) for c in codes))


def options(name: str, *values: tuple[str, str, int]) -> Axis:
    """An axis with a price step per value: ``options("容量 Capacity", ("10000mAh", "10K", 0))``."""
    return Axis(name, tuple(AxisValue(label, code, delta) for label, code, delta in values))


def sizes(*labels: str, name: str = SIZE_AXIS, step_fen: int = 0) -> Axis:
    """A size axis; ``step_fen`` raises the price for each larger size."""
    return Axis(
        name,
        tuple(AxisValue(label, label.upper(), i * step_fen) for i, label in enumerate(labels)),
    )


def expand_skus(template: ProductTemplate, rng: random.Random) -> list[SkuSpec]:
    """Every combination of the template's axes as a SKU, with stock drawn from ``rng``."""
    skus: list[SkuSpec] = []
    for combo in itertools.product(*(axis.values for axis in template.axes)):
        delta = sum(value.delta_fen for value in combo)
        stock = 0 if template.sold_out else rng.choice(STOCK_LEVELS)
        list_price = template.list_price_fen + delta if template.list_price_fen else None
        skus.append(
            SkuSpec(
                code="-".join([template.code, *(value.code for value in combo)]),
                attributes={
                    axis.name: value.label for axis, value in zip(template.axes, combo, strict=True)
                },
                price_fen=template.price_fen + delta,
                stock=stock,
                list_price_fen=list_price,
            )
        )
    return skus

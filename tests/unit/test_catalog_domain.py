"""Pure catalog rules: the variant matrix, search filters, listing validation, price cache."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.catalog.domain import (
    CategoryInfo,
    NewProduct,
    NewSku,
    ProductQuery,
    ProductStatus,
    SkuFacts,
    SkuInfo,
    SkuStatus,
    Sort,
    ancestors,
    descendant_ids,
    escape_like,
    search_text,
    search_tokens,
    summarise_skus,
    token_pattern,
    variant_matrix,
)
from kuaidan.catalog.pages import parse_search_form
from kuaidan.core.errors import InvalidInput
from kuaidan.inventory.domain import StockLevel
from tests.factories import ProductFactory, SkuFactory

COLOUR, SIZE = "颜色 Colour", "尺码 Size"


def sku(
    sku_id: int,
    attributes: dict[str, str],
    *,
    available: int = 5,
    price: int = 1000,
    status: SkuStatus = SkuStatus.ACTIVE,
) -> SkuInfo:
    return SkuInfo(
        id=sku_id,
        product_id=1,
        merchant_id=1,
        product_title="T",
        product_status=ProductStatus.LISTED,
        code=f"C{sku_id}",
        attributes=attributes,
        price_fen=price,
        list_price_fen=None,
        status=status,
        position=sku_id,
        available=available,
    )


def tee_skus() -> list[SkuInfo]:
    """Black in M and L (L sold out), White in M only."""
    return [
        sku(1, {COLOUR: "Black", SIZE: "M"}),
        sku(2, {COLOUR: "Black", SIZE: "L"}, available=0),
        sku(3, {COLOUR: "White", SIZE: "M"}, price=1200),
    ]


# --- the variant matrix -------------------------------------------------------------------


def test_matrix_axes_follow_attribute_order_and_first_appearance():
    matrix = variant_matrix(tee_skus())
    assert [(a.name, a.values) for a in matrix.axes] == [
        (COLOUR, ("Black", "White")),
        (SIZE, ("M", "L")),
    ]
    assert matrix.exists(["White", "M"]) and not matrix.exists(["White", "L"])
    assert matrix.is_in_stock(["Black", "M"]) and not matrix.is_in_stock(["Black", "L"])


def test_matrix_finds_a_variant_only_for_a_full_selection():
    matrix = variant_matrix(tee_skus())
    found = matrix.find({COLOUR: "White", SIZE: "M"})
    assert found is not None and found.sku_id == 3 and found.price_fen == 1200
    assert matrix.find({COLOUR: "White"}) is None
    assert matrix.find({COLOUR: "White", SIZE: "L"}) is None


def test_options_disable_missing_and_sold_out_combinations():
    matrix = variant_matrix(tee_skus())
    colours, sizes = matrix.options({COLOUR: "White"})
    assert [(o.value, o.selected, o.enabled) for o in colours] == [
        ("Black", False, True),
        ("White", True, True),
    ]
    medium, large = sizes
    assert medium.enabled and medium.sku_id == 3
    assert not large.exists and not large.enabled and large.sku_id is None

    _, sizes = matrix.options({COLOUR: "Black"})
    large = sizes[1]
    assert large.exists and not large.in_stock and not large.enabled and large.sku_id == 2


def test_options_without_a_selection_point_at_an_in_stock_variant():
    matrix = variant_matrix(tee_skus())
    colours, sizes = matrix.options({})
    assert colours[0].sku_id == 1 and sizes[0].sku_id == 1
    assert not sizes[1].enabled  # L exists only in Black, which is sold out


def test_inactive_skus_do_not_exist_for_buyers():
    skus = [*tee_skus(), sku(4, {COLOUR: "Red", SIZE: "M"}, status=SkuStatus.INACTIVE)]
    matrix = variant_matrix(skus)
    assert "Red" not in matrix.axes[0].values
    assert matrix.by_sku(4) is None


def test_a_product_without_attributes_has_one_variant_and_no_axes():
    matrix = variant_matrix([sku(9, {})])
    assert matrix.axes == ()
    assert [v.sku_id for v in matrix.variants] == [9]
    assert matrix.find({}) == matrix.variants[0]


grids = st.tuples(
    st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=4, unique=True),
    st.lists(st.sampled_from("SMLX"), min_size=1, max_size=4, unique=True),
)


@given(grid=grids, data=st.data())
def test_every_active_sku_is_exactly_one_variant_of_the_matrix(grid, data):
    colours, sizes = grid
    combos = data.draw(
        st.lists(st.sampled_from(list(itertools.product(colours, sizes))), min_size=1, unique=True)
    )
    stock = data.draw(st.lists(st.integers(0, 3), min_size=len(combos), max_size=len(combos)))
    skus = [
        sku(i + 1, {COLOUR: c, SIZE: s}, available=n)
        for i, ((c, s), n) in enumerate(zip(combos, stock, strict=True))
    ]
    matrix = variant_matrix(skus)
    assert len(matrix.variants) == len(skus)
    for item in skus:
        found = matrix.find(dict(item.attributes))
        assert found is not None and found.sku_id == item.id
        assert found.in_stock == (item.available > 0)
    for index, axis in enumerate(matrix.axes):
        assert set(axis.values) == {v.values[index] for v in matrix.variants}


@given(grid=grids, data=st.data())
def test_an_enabled_option_always_leads_to_an_in_stock_variant(grid, data):
    colours, sizes = grid
    combos = list(itertools.product(colours, sizes))
    stock = data.draw(st.lists(st.integers(0, 2), min_size=len(combos), max_size=len(combos)))
    skus = [
        sku(i + 1, {COLOUR: c, SIZE: s}, available=n)
        for i, ((c, s), n) in enumerate(zip(combos, stock, strict=True))
    ]
    matrix = variant_matrix(skus)
    chosen = data.draw(st.sampled_from([None, *matrix.variants]))
    for row in matrix.options(matrix.selection_of(chosen)):
        for option in row:
            if option.enabled:
                target = matrix.by_sku(option.sku_id) if option.sku_id else None
                assert target is not None and target.in_stock


# --- search filters -----------------------------------------------------------------------


def test_query_normalises_text_and_splits_terms():
    query = ProductQuery(q="  纯棉   T恤  t恤 ", category=" ", sort="newest")  # type: ignore[arg-type]
    assert query.q == "纯棉 T恤 t恤"
    assert query.terms == ("纯棉", "t", "恤")
    assert query.category is None and query.sort is Sort.NEWEST


def test_search_tokens_split_words_punctuation_and_scripts():
    assert search_tokens("纯棉宽松T恤 Cotton T-shirt Tee, 260g #3") == [
        *("纯棉宽松", "t", "恤", "cotton", "t", "shirt", "tee", "260g", "3")
    ]
    assert search_tokens("_ % ,。") == []


@pytest.mark.parametrize(
    ("query", "title", "found"),
    [
        ("tee", "Stainless Steel Pan", False),
        ("tee", "Cotton T-shirt tee", True),
        ("TEE", "Relaxed Tee, black", True),
        ("steel", "Stainless Steel Pan", True),
        ("3", "Storage Box #30", False),
        ("3", "Storage Box #3", True),
        ("纯棉", "纯棉宽松T恤", True),
        ("宽松", "纯棉宽松T恤", True),
        ("t恤", "纯棉宽松T恤", True),
        ("锅", "纯棉宽松T恤", False),
    ],
)
def test_a_token_pattern_matches_whole_words_and_chinese_inside_runs(query, title, found):
    text = search_text(title, "")
    assert all(like_matches(token_pattern(t), text) for t in ProductQuery(q=query).terms) is found


def test_a_title_pattern_matches_the_title_only():
    text = search_text("Wool Coat", "pairs well with a tee")
    assert like_matches(token_pattern("coat", in_title=True), text)
    assert not like_matches(token_pattern("tee", in_title=True), text)
    assert like_matches(token_pattern("tee"), text)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_price_fen": 500, "max_price_fen": 100},
        {"min_price_fen": -1},
        {"sort": "cheapest"},
        {"q": "x" * 101},
    ],
)
def test_query_rejects_bad_filters(kwargs):
    with pytest.raises(InvalidInput):
        ProductQuery(**kwargs)


@given(low=st.integers(0, 10**9), high=st.integers(0, 10**9))
def test_a_price_range_is_accepted_exactly_when_it_is_ordered(low, high):
    if low <= high:
        assert ProductQuery(min_price_fen=low, max_price_fen=high).min_price_fen == low
    else:
        with pytest.raises(InvalidInput):
            ProductQuery(min_price_fen=low, max_price_fen=high)


def like_matches(pattern: str, text: str) -> bool:
    """A reference LIKE with backslash escapes, to check what escape_like produces."""
    regex, chars = "", iter(pattern)
    for ch in chars:
        if ch == "\\":
            regex += re.escape(next(chars))
        elif ch == "%":
            regex += ".*"
        elif ch == "_":
            regex += "."
        else:
            regex += re.escape(ch)
    return re.fullmatch(regex, text, re.S) is not None


@given(term=st.text(min_size=1, max_size=8), text=st.text(max_size=20))
def test_escaped_terms_match_literally(term, text):
    pattern = f"%{escape_like(term)}%"
    assert like_matches(pattern, text) == (term in text)


def test_search_form_turns_yuan_into_fen_and_explains_bad_values():
    form = parse_search_form({"q": "tee", "min_price": "12.5", "max_price": "abc", "page": "x"})
    assert form.query.min_price_fen == 1250 and form.query.max_price_fen is None
    assert len(form.errors) == 2 and form.page == 1
    form = parse_search_form({"page": "-1", "page_size": "100000"})
    assert (form.page, form.size) == (1, 24) and len(form.errors) == 2
    form = parse_search_form({"min_price": "20", "max_price": "10", "sort": "bogus"})
    assert form.query.min_price_fen is None and form.query.sort is Sort.RELEVANCE
    assert form.errors


def test_search_form_page_links_keep_the_filters():
    form = parse_search_form({"q": "棉 tee", "in_stock": "1", "sort": "price_asc", "page": "2"})
    url = form.url("/search", page=3)
    assert url.startswith("/search?") and "page=3" in url and "in_stock=1" in url
    assert "sort=price_asc" in url and "q=%E6%A3%89+tee" in url
    assert form.url("/search", page=1).count("page=") == 0


# --- new listings -------------------------------------------------------------------------


def listing(**changes: Any) -> NewProduct:
    """A good listing (a spec, a picture, a struck-through price, a SKU sold out), changed."""
    fields: dict[str, Any] = {
        "category_slug": "tees",
        "specs": [("材质 Material", "棉 Cotton")],
        "images": ["products/1/1.png"],
        "skus": [
            SkuFactory.build(
                attributes={COLOUR: "Black", SIZE: "M"}, price_fen=7900, list_price_fen=12900
            ),
            SkuFactory.build(attributes={COLOUR: "Black", SIZE: "L"}, price_fen=7900, stock=0),
        ],
    }
    return ProductFactory.build(**{**fields, **changes})


def sku_with(attributes: dict[str, str]) -> NewSku:
    return SkuFactory.build(attributes=attributes)


def test_a_good_listing_has_no_problems():
    assert listing().problems() == []
    listing().check()


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"skus": []}, "at least one SKU"),
        ({"skus": [SkuFactory.build(code="A"), SkuFactory.build(code="A")]}, "unique"),
        ({"skus": [SkuFactory.build(price_fen=0)]}, "price"),
        ({"skus": [SkuFactory.build(stock=-1)]}, "stock"),
        ({"skus": [SkuFactory.build(price_fen=100, list_price_fen=50)]}, "list price"),
        ({"skus": [sku_with({"c": "1"}), sku_with({"s": "1"})]}, "same"),
        ({"skus": [sku_with({"c": "1"}), sku_with({"c": "1"})]}, "differ"),
        ({"skus": [SkuFactory.build(code="A B")]}, "without spaces"),
        ({"images": ["../etc/passwd"]}, "media path"),
        ({"images": ["/abs/1.png"]}, "media path"),
        ({"specs": [("", "x")]}, "specification"),
    ],
)
def test_a_bad_listing_says_what_is_wrong(changes, fragment):
    problems = listing(**changes).problems()
    assert any(fragment in p for p in problems), problems
    with pytest.raises(InvalidInput):
        listing(**changes).check()


# --- cached price range and stock ----------------------------------------------------------


@given(
    st.lists(
        st.tuples(st.integers(1, 10**7), st.booleans(), st.integers(0, 50)), min_size=1, max_size=8
    )
)
def test_price_range_and_stock_flag_come_from_active_skus(rows):
    facts = summarise_skus([SkuFacts(*row) for row in rows])
    active = [row for row in rows if row[1]] or rows
    assert facts.min_price_fen == min(r[0] for r in active)
    assert facts.max_price_fen == max(r[0] for r in active)
    assert facts.in_stock == any(r[1] and r[2] > 0 for r in rows)


@given(on_hand=st.integers(0, 1000), data=st.data())
def test_available_is_on_hand_minus_reserved(on_hand, data):
    reserved = data.draw(st.integers(0, on_hand))
    level = StockLevel(sku_id=1, on_hand=on_hand, reserved=reserved)
    assert level.available == on_hand - reserved >= 0
    assert level.in_stock == (level.available > 0)


# --- categories ---------------------------------------------------------------------------


def category(cid: int, parent: int | None) -> CategoryInfo:
    return CategoryInfo(cid, f"c{cid}", "分类", "Category", parent, 0)


def test_descendants_include_every_level_below_and_survive_cycles():
    tree = [category(1, None), category(2, 1), category(3, 2), category(4, None), category(5, 5)]
    assert descendant_ids(tree, 1) == {1, 2, 3}
    assert descendant_ids(tree, 4) == {4}
    assert descendant_ids(tree, 5) == {5}
    assert [c.id for c in ancestors(tree, 3)] == [1, 2]

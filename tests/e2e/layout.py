"""Layout checks the browser tests share: a page fits a phone, boxes do not collide, radio
buttons sit by their words. Each measures the rendered page, not the CSS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PHONE = {"width": 390, "height": 844}

_FITS = """(screen) => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    // Measured against the phone's width: a mobile browser widens its viewport to the page.
    wide: [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > screen + 1
                       && getComputedStyle(e).position !== 'fixed')
        .slice(-5).map((e) => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 60)),
    links: [...document.querySelectorAll('.topbar a, .topbar button')].map((e) => {
        const r = e.getBoundingClientRect();
        const style = getComputedStyle(e);
        return {text: e.textContent.trim(), left: r.left, right: r.right, top: r.top,
                bottom: r.bottom, shown: style.visibility !== 'hidden' && r.width > 0};
    }),
})"""

_RADIOS = """() => [...document.querySelectorAll('input[type=radio]')]
    .filter((input) => input.closest('label') && input.getBoundingClientRect().width > 0)
    .map((input) => {
        const box = input.getBoundingClientRect();
        const words = document.createRange();
        words.setStartAfter(input);
        words.setEndAfter(input.closest('label').lastChild);
        const first = [...words.getClientRects()].find((r) => r.width > 0);
        return {name: input.name, value: input.value, radio: [box.right, box.top, box.bottom],
                words: first ? [first.left, first.top, first.bottom] : null};
    })"""


async def assert_fits_phone(page: Any, shots: Path, name: str) -> None:
    """Nothing is wider than the screen, every header link is on screen; saves a screenshot."""
    await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    screen = PHONE["width"]  # a phone's browser widens its layout to fit a page that overflows
    found = await page.evaluate(_FITS, screen)
    assert found["scroll"] <= found["inner"] == screen, f"{name} is too wide: {found}"
    assert found["links"], f"{name} has no header links"
    for link in found["links"]:
        assert link["shown"], f"{name}: header link {link['text']!r} is hidden"
        assert link["left"] >= 0 and link["right"] <= screen, f"{name}: {link}"


async def box(locator: Any) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None, f"{locator} is not rendered"
    return dict(found)


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        outer["x"] - 1 <= inner["x"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
        and outer["y"] - 1 <= inner["y"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


async def assert_badges_stay_put(page: Any) -> None:
    """No badge outside a product card covers the logo or leaves its own parent's box."""
    logo = await box(page.locator(".brand"))
    badges = page.locator(".badge:not(.product-card .badge)")
    for index in range(await badges.count()):
        badge = badges.nth(index)
        mine = await box(badge)
        assert not overlaps(mine, logo), f"badge {await badge.inner_text()!r} covers the logo"
        assert inside(mine, await box(badge.locator("xpath=.."))), "a badge left its place"


async def assert_radios_by_their_words(page: Any) -> int:
    """Every radio button is on the line of its label's words, just before them."""
    radios = await page.evaluate(_RADIOS)
    for radio in radios:
        right, top, bottom = radio["radio"]
        assert radio["words"] is not None, radio
        left, words_top, words_bottom = radio["words"]
        assert 0 <= left - right <= 16, f"radio {radio['value']} is {left - right} px off: {radio}"
        assert words_top < bottom and top < words_bottom, f"radio not on its words' line: {radio}"
    return len(radios)

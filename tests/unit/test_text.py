"""Typed text is cleaned one way: whitespace collapsed, control characters refused by name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.core.errors import InvalidInput
from kuaidan.core.text import CONTROL_CHARACTERS, one_line, refuse_controls


def test_a_line_collapses_whitespace_and_line_breaks() -> None:
    assert one_line("  请放\t门口\r\n谢谢  ", field="note") == "请放 门口 谢谢"


@pytest.mark.parametrize("bad", ["nul\x00", "bell\x07", "esc\x1b[2J", "del\x7f", "c1\x85", "\x1c"])
def test_control_characters_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        one_line(bad, field="reason")
    assert refused.value.details["field"] == "reason"
    assert "control characters" in refused.value.message


def test_multiline_text_keeps_tabs_and_line_breaks_only() -> None:
    assert refuse_controls("a\tb\nc\r\n", field="comment", multiline=True) == "a\tb\nc\r\n"
    with pytest.raises(InvalidInput):
        refuse_controls("a\nb", field="name")


@given(st.text())
def test_a_cleaned_line_never_holds_a_control_character(value: str) -> None:
    try:
        cleaned = one_line(value, field="x")
    except InvalidInput:
        assert any(c in CONTROL_CHARACTERS and c not in "\t\n\r" for c in value)
        return
    assert not any(c in CONTROL_CHARACTERS for c in cleaned)

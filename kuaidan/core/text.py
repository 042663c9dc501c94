"""Text a person typed, cleaned one way everywhere: inner whitespace collapsed, and control
characters refused with the field named (a NUL would abort a PostgreSQL transaction; the
others garble pages and logs). Pure: the areas' domain modules use it too."""

from __future__ import annotations

from kuaidan.core.errors import InvalidInput

# C0 controls, DEL and C1 controls. Multi-line text may hold tabs and line breaks.
CONTROL_CHARACTERS = frozenset(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)))
LINE_BREAKS = frozenset("\t\n\r")


def control_character(value: str, *, allowed: frozenset[str] = frozenset()) -> int | None:
    """The position of the first control character of ``value`` not ``allowed``, or None."""
    for position, char in enumerate(value):
        if char in CONTROL_CHARACTERS and char not in allowed:
            return position
    return None


def refuse_controls(value: str, *, field: str, multiline: bool = False) -> str:
    """``value``, unless it holds a control character (tabs and line breaks pass when
    ``multiline``): then InvalidInput naming ``field``."""
    position = control_character(value, allowed=LINE_BREAKS if multiline else frozenset())
    if position is not None:
        code = f"U+{ord(value[position]):04X}"
        raise InvalidInput(
            f"{field} must not contain control characters (found {code})",
            details={"field": field, "position": position},
        )
    return value


def one_line(value: str, *, field: str) -> str:
    """A line of text as stored: whitespace runs (line breaks included) become one space,
    the ends are trimmed, and any other control character is refused."""
    return " ".join(refuse_controls(value, field=field, multiline=True).split())

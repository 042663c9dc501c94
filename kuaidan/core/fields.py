"""Constrained types for every request schema and route parameter: ids, quantities and text.

They bound what the edge accepts so that nothing a database cannot hold gets further: an id
beyond the widest id column is a 422 (it cannot exist), and a control character in a name,
address or note is refused with the field named instead of being stored (PostgreSQL rejects
NUL in text mid-transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from kuaidan.core.text import LINE_BREAKS, control_character

# Ids are INTEGER columns on PostgreSQL (32 bits); an id past that cannot exist, and passing
# it to the driver fails before the query runs. SQLite's 64 bits hold every such id too.
MAX_ID = 2**31 - 1
MAX_QUANTITY = 99

Id = Annotated[int, Ge(1), Le(MAX_ID)]
"""A row id in a path, query or body: 1 to ``MAX_ID``."""

MAX_FEN = 10**12  # ten billion yuan: above any price, total or claim
Fen = Annotated[int, Ge(0), Le(MAX_FEN)]
"""An amount of money in fen, as a filter or an input: 0 to ``MAX_FEN``."""

Quantity = Annotated[int, Ge(1), Le(MAX_QUANTITY)]
"""Units of one SKU on a line: 1 to ``MAX_QUANTITY``."""

_MULTILINE_ALLOWED = LINE_BREAKS


@dataclass(frozen=True)
class NoControlCharacters:
    """Refuses a string holding a control character (other than those ``allowed``)."""

    allowed: frozenset[str] = frozenset()

    def _pattern(self) -> str:
        ranges = r"\u0000-\u001f\u007f-\u009f"
        kept = "".join(f"\\u{ord(c):04x}" for c in sorted(self.allowed))
        if not kept:
            return f"^[^{ranges}]*$"
        # Any character that is not a control, or one of the allowed ones.
        return f"^(?:[^{ranges}]|[{kept}])*$"

    def check(self, value: str) -> str:
        position = control_character(value, allowed=self.allowed)
        if position is not None:
            raise PydanticCustomError(
                "control_character",
                "must not contain control characters (found U+{code} at position {pos})",
                {"code": f"{ord(value[position]):04X}", "pos": position},
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self._pattern()
        return json_schema


Text = Annotated[str, NoControlCharacters()]
"""One line of text (a name, an address line, a reason): no control characters at all."""

MultilineText = Annotated[str, NoControlCharacters(_MULTILINE_ALLOWED)]
"""Text that may span lines (a note, a comment): tabs and line breaks, no other controls."""


def _refuse_controls_in(value: Any) -> None:
    if isinstance(value, str):
        NoControlCharacters(_MULTILINE_ALLOWED).check(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_controls_in(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_controls_in(key)
            _refuse_controls_in(item)


class RequestBody(BaseModel):
    """The base of every JSON request body: unknown fields are refused, and no text anywhere in
    it may hold a control character other than tabs and line breaks (``Text`` fields refuse
    those too). The 422 names the field."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        _refuse_controls_in(value)
        return value


class ResponseBody(BaseModel):
    """The base of every JSON answer: a field it does not declare is a bug that fails where the
    answer is built, never a key the client sees; ``model_validate(row, from_attributes=True)``
    reads a read model or row whose attributes carry the fields' names."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

"""Money in integer minor units (fen). No floats anywhere near money."""

from __future__ import annotations

from dataclasses import dataclass

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€"}


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units, e.g. fen
    currency: str = "CNY"

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("money amounts are integers in minor units")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __str__(self) -> str:
        return format_minor(self.amount, self.currency)


def format_minor(amount: int, currency: str = "CNY") -> str:
    """Render minor units for people: 12345 CNY → '¥123.45'."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{whole:,}.{cents:02d}"


def parse_major(text: str) -> int:
    """Parse a price typed by a person ('12.5', '¥1,299.00') into minor units, exactly."""
    cleaned = text.strip().lstrip("¥$€").replace(",", "").strip()
    if not cleaned:
        raise ValueError("empty amount")
    negative = cleaned.startswith("-")
    cleaned = cleaned.lstrip("-")
    whole, _, frac = cleaned.partition(".")
    if not whole.isdigit() and whole != "":
        raise ValueError(f"not an amount: {text!r}")
    if frac and (not frac.isdigit() or len(frac) > 2):
        raise ValueError(f"at most two decimals: {text!r}")
    value = int(whole or "0") * 100 + int((frac + "00")[:2])
    return -value if negative else value

"""graph-node's BigInt and BigDecimal semantics in Python.

BigInt crosses the wasm boundary as signed little-endian two's complement bytes. BigDecimal is (digits, exp)
normalised as graph-node does: rounded to 34 significant digits (half up), trailing zeros stripped, zero is
(0, 0); division is computed to 100 digits first (as the `bigdecimal` crate graph-node uses), and the string
form never uses exponent notation.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SIGNIFICANT_DIGITS = 34
_DIVISION_DIGITS = 100


def bigint_from_le(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=True) if data else 0


def bigint_to_le(value: int) -> bytes:
    """Minimal signed little-endian bytes (num-bigint's `to_signed_bytes_le`; zero is one 0x00 byte)."""
    if value == 0:
        return b"\x00"
    length = (value.bit_length() + 8) // 8
    data = value.to_bytes(length, "little", signed=True)
    # Strip redundant sign-extension bytes.
    while len(data) > 1 and ((data[-1] == 0 and data[-2] < 0x80) or (data[-1] == 0xFF and data[-2] >= 0x80)):
        data = data[:-1]
    return data


def _round_digits(digits: int, exp: int, precision: int) -> tuple[int, int]:
    sign = -1 if digits < 0 else 1
    magnitude = abs(digits)
    text = str(magnitude)
    if len(text) > precision:
        drop = len(text) - precision
        kept, rest = divmod(magnitude, 10**drop)
        if rest * 2 >= 10**drop:
            kept += 1
        magnitude, exp = kept, exp + drop
        if len(str(magnitude)) > precision:  # 999.. rounded up to 1000..
            magnitude, exp = magnitude // 10, exp + 1
    return sign * magnitude, exp


@dataclass(frozen=True, order=False)
class BigDecimal:
    """value = digits * 10**exp, always normalised."""

    digits: int
    exp: int

    @staticmethod
    def make(digits: int, exp: int) -> BigDecimal:
        if digits == 0:
            return BigDecimal(0, 0)
        digits, exp = _round_digits(digits, exp, MAX_SIGNIFICANT_DIGITS)
        while digits % 10 == 0:
            digits //= 10
            exp += 1
        return BigDecimal(digits, exp)

    @staticmethod
    def from_int(value: int) -> BigDecimal:
        return BigDecimal.make(value, 0)

    @staticmethod
    def parse(text: str) -> BigDecimal:
        """Parse `-12.5`, `1e-3`, `+7` (the forms the bigdecimal crate accepts); ValueError otherwise."""
        s = text.strip()
        if not s:
            raise ValueError(f"not a BigDecimal: {text!r}")
        mantissa, has_exp, exponent = s.lower().partition("e")
        if has_exp and not exponent.lstrip("+-").isdigit():
            raise ValueError(f"not a BigDecimal: {text!r}")
        exp = int(exponent) if exponent else 0
        sign = 1
        if mantissa[:1] in "+-":
            sign = -1 if mantissa[0] == "-" else 1
            mantissa = mantissa[1:]
        whole, _, frac = mantissa.partition(".")
        if not (whole + frac).isdigit() or not (whole.isdigit() or whole == "") or not (frac.isdigit() or frac == ""):
            raise ValueError(f"not a BigDecimal: {text!r}")
        return BigDecimal.make(sign * int(whole + frac), exp - len(frac))

    def _aligned(self, other: BigDecimal) -> tuple[int, int, int]:
        exp = min(self.exp, other.exp)
        return self.digits * 10 ** (self.exp - exp), other.digits * 10 ** (other.exp - exp), exp

    def __add__(self, other: BigDecimal) -> BigDecimal:
        a, b, exp = self._aligned(other)
        return BigDecimal.make(a + b, exp)

    def __sub__(self, other: BigDecimal) -> BigDecimal:
        a, b, exp = self._aligned(other)
        return BigDecimal.make(a - b, exp)

    def __mul__(self, other: BigDecimal) -> BigDecimal:
        return BigDecimal.make(self.digits * other.digits, self.exp + other.exp)

    def __truediv__(self, other: BigDecimal) -> BigDecimal:
        if other.digits == 0:
            raise ZeroDivisionError(f"attempted to divide BigDecimal `{self}` by zero")
        if self.digits == 0:
            return BigDecimal(0, 0)
        # Scale the numerator so the truncated quotient has at least _DIVISION_DIGITS digits.
        shift = max(0, _DIVISION_DIGITS - (len(str(abs(self.digits))) - len(str(abs(other.digits)))))
        num = abs(self.digits) * 10**shift
        quotient = num // abs(other.digits)
        sign = -1 if (self.digits < 0) != (other.digits < 0) else 1
        digits, exp = _round_digits(quotient, self.exp - other.exp - shift, _DIVISION_DIGITS)
        return BigDecimal.make(sign * digits, exp)

    def _cmp_key(self, other: BigDecimal) -> tuple[int, int]:
        a, b, _ = self._aligned(other)
        return a, b

    def __lt__(self, other: BigDecimal) -> bool:
        a, b = self._cmp_key(other)
        return a < b

    def __le__(self, other: BigDecimal) -> bool:
        a, b = self._cmp_key(other)
        return a <= b

    def __gt__(self, other: BigDecimal) -> bool:
        a, b = self._cmp_key(other)
        return a > b

    def __ge__(self, other: BigDecimal) -> bool:
        a, b = self._cmp_key(other)
        return a >= b

    def __str__(self) -> str:
        sign = "-" if self.digits < 0 else ""
        text = str(abs(self.digits))
        if self.exp >= 0:
            return sign + text + "0" * self.exp
        scale = -self.exp
        if len(text) > scale:
            return f"{sign}{text[:-scale]}.{text[-scale:]}"
        return f"{sign}0.{'0' * (scale - len(text))}{text}"

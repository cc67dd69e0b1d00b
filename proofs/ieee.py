"""The IEEE formats as the SMT encoding declares them, and exact arithmetic in them with Fractions.

Its own module because two checks re-check their witnesses with it: the floating-point proofs
(`proofs.floating`) and the exhaustive 16-bit enumeration (`proofs.exhaustive`), which must not
import each other.
"""

from __future__ import annotations

from fractions import Fraction

FORMATS = {"bfloat16": (8, 8), "float16": (5, 11), "float32": (8, 24)}  # what the SMT encoding reads


def decode(expr, fmt: str) -> Fraction:
    """(fp #b<sign> #b/#x<exponent> #b/#x<significand>) -> its exact value (finite only)."""
    eb, sb = FORMATS[fmt]
    _, sign, exponent, significand = expr
    bits = [int(t[2:], 2) if t.startswith("#b") else int(t[2:], 16) for t in (sign, exponent, significand)]
    s, e, m = bits
    bias = 2 ** (eb - 1) - 1
    if e == 2**eb - 1:
        raise ValueError("not a finite number")
    value = Fraction(m, 2 ** (sb - 1)) * Fraction(2) ** (1 - bias) if e == 0 else \
        (1 + Fraction(m, 2 ** (sb - 1))) * Fraction(2) ** (e - bias)
    return -value if s else value


def round_to(fmt: str, r: Fraction, bits: tuple[int, int] | None = None) -> Fraction | float:
    """IEEE round-to-nearest-even of the exact real r into the format (inf on overflow).
    bits: (exponent bits, significand bits); default the encoding's FORMATS entry. The witness
    re-checks pass `proofs.floating.library_format(fmt)` instead, so they do not trust that table."""
    eb, sb = bits or FORMATS[fmt]
    if r == 0:
        return Fraction(0)
    bias = 2 ** (eb - 1) - 1
    a = abs(r)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    quantum = Fraction(2) ** (max(e, 1 - bias) - (sb - 1))
    q, rest = divmod(a / quantum, 1)
    q = int(q) + (1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and q % 2) else 0)
    value = q * quantum
    if value >= Fraction(2) ** (bias + 1):
        return float("inf") if r > 0 else float("-inf")
    return value if r > 0 else -value

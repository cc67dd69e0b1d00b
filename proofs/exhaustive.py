"""Exhaustive enumeration of the 16-bit subtraction lemmas: a solver-free second opinion.

For bfloat16 and float16 every finite value is enumerated from the libraries' own types (numpy's
`float16`, mlx's `bfloat16`): all 65,536 bit patterns are decoded by the library, the NaNs dropped,
and each value checked to round-trip (float64 -> library type -> the same bits). Nothing about
the format is typed in by hand: the precision, the largest value and the rounding intervals are
all read off that list of values.

Rounding. For finite x, c the difference is formed in float64: d = RN64(x - c). For float16 this
is exact (all values are integer multiples of 2^-24 below 2^16, checked); for bfloat16 it need not
be (an exact difference can need 262 bits), so where it matters the exact error e = (x - c) - d is
computed with TwoSum (Knuth): x - c = d + e exactly. d is then rounded by a fast routine (numpy's own
float64 -> float16 conversion; a bit-level round-to-nearest-even for bfloat16), and EVERY rounded
result r is verified against the definition of round-to-nearest-even: the exact x - c must lie in
the rounding interval of r, i.e. between the midpoints to r's neighbours in the sorted list of the
format's values (the midpoint itself included only when r's encoding is even; beyond the largest
value the neighbour is the next power of two, so ties there go to infinity, as IEEE 754 says).
The midpoints are exact in float64 (checked with Fractions). Comparing the exact x - c with a
float64 midpoint t uses only that RN64 is monotone and fixes t: d > t implies x - c > t, d < t
implies x - c < t, and if d = t the sign of e decides. So a wrong fast rounding cannot produce a
wrong verdict: it is reported as an unverified rounding, and the verdict is inconclusive.

The owner's entry point is `check(fmt, lemma)` (or `record(ctx, fmt, lemma)`, one proof step).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache

import numpy as np

from proofs.ieee import round_to

FORMATS = ("bfloat16", "float16")
LEMMAS = ("monotone", "strict", "guard")
CHUNK = 1  # values of c per vectorised block: one row of 63k keeps the working set in L2 (3x faster than 4)


# --- the formats, from the libraries' own types ------------------------------------------------------

@dataclass(frozen=True)
class Table:
    """One 16-bit format. Arrays indexed by encoding (0..65535) unless said otherwise."""

    name: str
    value: np.ndarray  # float64 value of each encoding (NaN for the NaN encodings)
    lo: np.ndarray  # lower end of the rounding interval of each encoding (float64, exact)
    hi: np.ndarray  # upper end
    even: np.ndarray  # encoding is even: its interval includes its ends (ties go to it)
    lo_in: np.ndarray  # the least float64 in the interval: lo if even, else the float64 after lo
    hi_in: np.ndarray  # the greatest float64 in it
    codes: np.ndarray  # encodings of the finite values, sorted by value (stable: +0 before -0)
    sorted: np.ndarray  # their values
    distinct: np.ndarray  # the distinct finite values, increasing
    precision: int  # significand bits, read off the values: 2^(p-1) values in [1, 2)
    top: float  # the power of two past the largest value (where the next binade would start)
    exact_differences: bool  # every x - c of finite values is a float64 (checked): no TwoSum needed

    @property
    def finite(self) -> int:
        return len(self.codes)

    @property
    def key(self) -> np.ndarray:
        """Orders results: lo_in is strictly increasing in the value, equal for +0 and -0 (checked)."""
        return self.lo_in


def _library_values(name: str) -> tuple[np.ndarray, np.ndarray]:
    """All 65,536 encodings decoded by the library, and re-encoded from float64 by the library."""
    codes = np.arange(65536, dtype=np.uint16)
    if name == "float16":
        value = codes.view(np.float16).astype(np.float64)
        with np.errstate(invalid="ignore"):
            back = value.astype(np.float16).view(np.uint16)
    elif name == "bfloat16":
        import mlx.core as mx
        with np.errstate(invalid="ignore"):  # the signalling NaN encodings
            value = np.array(mx.view(mx.array(codes), mx.bfloat16).astype(mx.float32)).astype(np.float64)
            single = value.astype(np.float32)
        if not np.array_equal(single.astype(np.float64), value, equal_nan=True):
            raise AssertionError("bfloat16 -> float32 -> float64 is not exact")
        back = np.array(mx.view(mx.array(single).astype(mx.bfloat16), mx.uint16))
    else:
        raise ValueError(f"unknown format {name!r}; one of {FORMATS}")
    return value, back


@cache
def table(name: str) -> Table:
    value, back = _library_values(name)
    codes = np.arange(65536)
    number = ~np.isnan(value)
    if not np.array_equal(back[number], codes[number]):
        raise AssertionError(f"{name}: some value does not round-trip through float64")
    finite = np.flatnonzero(np.isfinite(value))
    order = finite[np.argsort(value[finite], kind="stable")]
    distinct = np.unique(value[finite])
    big = distinct[-1]
    if distinct[0] != -big or not np.array_equal(distinct, -distinct[::-1]):
        raise AssertionError(f"{name}: the finite values are not symmetric about 0")
    ones = int(np.count_nonzero((distinct >= 1) & (distinct < 2)))
    precision = ones.bit_length()
    if ones != 2 ** (precision - 1):
        raise AssertionError(f"{name}: {ones} values in [1, 2) is not a power of two")
    top = 2 * big - distinct[-2]  # big + ulp(big): the next power of two
    if np.frexp(top)[0] != 0.5:
        raise AssertionError(f"{name}: max + ulp(max) = {top} is not a power of two")
    # rounding intervals: halfway to each neighbour, with +-top standing in past the largest value
    ext = np.concatenate([[-top], distinct, [top]])
    mid = (ext[:-1] + ext[1:]) / 2  # mid[i] between ext[i] and ext[i + 1]
    for a, b, m in zip(ext[:-1].tolist(), ext[1:].tolist(), mid.tolist(), strict=True):
        if Fraction(m) != (Fraction(a) + Fraction(b)) / 2:
            raise AssertionError(f"{name}: the midpoint of {a} and {b} is not exact in float64")
    lo, hi = np.full(65536, np.inf), np.full(65536, -np.inf)  # NaN encodings: an empty interval
    where = np.searchsorted(distinct, value[finite])  # index in `distinct`
    lo[finite], hi[finite] = mid[where], mid[where + 1]
    plus, minus = (int(np.flatnonzero(value == s * np.inf)[0]) for s in (1, -1))
    lo[plus], hi[plus], lo[minus], hi[minus] = mid[-1], np.inf, -np.inf, mid[0]
    even = (codes & 1) == 0
    lo_in, hi_in = np.where(even, lo, np.nextafter(lo, np.inf)), np.where(even, hi, np.nextafter(hi, -np.inf))
    # ties are decided by parity: of two neighbouring values exactly one must be even (0 counts as even)
    canonical = order[np.searchsorted(value[order], distinct)]  # +0 for zero (the stable sort puts it first)
    line = np.concatenate([[minus], canonical, [plus]])
    if np.any(even[line][1:] == even[line][:-1]):
        raise AssertionError(f"{name}: two neighbouring values with the same parity")
    if np.any(np.diff(lo_in[line]) <= 0) or np.any(lo_in[finite] != lo_in[canonical[where]]):
        raise AssertionError(f"{name}: lo_in does not order the values")
    # x - c exact in float64: all values are integer multiples of the least positive one, q, and
    # |x - c| / q <= 2 max / q <= 2^53
    q = distinct[distinct > 0][0]
    exact_differences = bool(np.all(np.mod(distinct, q) == 0) and 2 * big / q <= 2.0**53)
    return Table(name, value, lo, hi, even, lo_in, hi_in, order, value[order], distinct, precision, float(top),
                 exact_differences)


# --- rounding float64 -> the format (fast; every result is verified afterwards) --------------------

def round_float16(d: np.ndarray) -> np.ndarray:
    """numpy's own float64 -> float16 conversion; returns encodings."""
    with np.errstate(over="ignore"):
        return d.astype(np.float16).view(np.uint16)


def round_bfloat16(d: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even of finite float64 to bfloat16 (8-bit significand) on the bits: add
    0x7FF...F plus the lowest kept bit, then clear the 45 dropped bits; a carry moves into the
    exponent as it should. Below the smallest normal 2^-126 the grid is fixed (2^-133): there
    (|d| + K) - K with K = 1.5 * 2^-81 rounds at 2^-133 by float64's own round-to-nearest-even
    (|d| + K stays in K's binade), and the sign is put back."""
    u = np.ascontiguousarray(d, dtype=np.float64).view(np.uint64)
    t = u >> np.uint64(45)
    t &= np.uint64(1)
    t += np.uint64(2**44 - 1)
    t += u
    t &= np.uint64(2**64 - 2**45)
    r = t.view(np.float64)
    tiny = np.flatnonzero(np.abs(d) < 2.0**-126)
    if len(tiny):
        k, small = 1.5 * 2.0**-81, d.ravel()[tiny]
        r.ravel()[tiny] = np.copysign((np.abs(small) + k) - k, small)
    with np.errstate(over="ignore"):
        single = r.astype(np.float32)  # exact, or inf past the largest bfloat16 (r >= 2^128)
    return single.view(np.uint32) >> np.uint32(16)


ROUNDERS = {"float16": round_float16, "bfloat16": round_bfloat16}


def two_sum_error(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s, e) with s = RN64(a + b) and a + b = s + e exactly (Knuth's TwoSum; no overflow here)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def unverified(tab: Table, x, c, d: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Mask of the results `code` (intp encodings) that are NOT the round-to-nearest-even of the
    exact x - c, where d = RN64(x - c) and x, c broadcast to d's shape.

    lo_in/hi_in are the least and greatest float64 in the rounding interval of the result. If x - c
    is a float64 (d = x - c) it is in the interval iff lo_in <= d <= hi_in. Otherwise: if
    lo_in < d < hi_in, then x - c is in the interval too (RN64 is monotone and fixes float64s, so
    lo < d implies lo < x - c, and the same at hi); the rest (ties, mostly) are decided exactly
    with TwoSum's error e = (x - c) - d.
    """
    lo, hi = np.take(tab.lo_in, code), np.take(tab.hi_in, code)
    if tab.exact_differences:
        return ~((d >= lo) & (d <= hi))
    bad = ~((d > lo) & (d < hi))
    edge = np.flatnonzero(bad)
    if len(edge):
        at = np.unravel_index(edge, d.shape)
        xs, cs = np.broadcast_to(x, d.shape)[at], np.broadcast_to(c, d.shape)[at]
        s, e = two_sum_error(xs, -cs)
        de, ce = d.ravel()[edge], code.ravel()[edge]
        if not np.array_equal(s, de):
            raise AssertionError("d is not RN64(x - c)")
        le, he, ev = tab.lo[ce], tab.hi[ce], tab.even[ce]
        above_lo = (de > le) | ((de == le) & ((e > 0) | ((e == 0) & ev)))
        below_hi = (de < he) | ((de == he) & ((e < 0) | ((e == 0) & ev)))
        bad.ravel()[edge] = ~(above_lo & below_hi)
    return bad


def rounded(tab: Table, x, c, rounder=None, verify=True) -> tuple[np.ndarray, np.ndarray]:
    """(encodings of fl(x - c) as intp, mask of unverified results), elementwise, x and c float64."""
    d = np.subtract(x, c)
    code = (rounder or ROUNDERS[tab.name])(d).astype(np.intp)
    return code, (unverified(tab, x, c, d, code) if verify else np.zeros(d.shape, bool))


# --- exact re-check of witnesses ---------------------------------------------------------------------

def exact(fmt: str, x: float, c: float) -> Fraction | float:
    """fl(x - c) by the project's Fraction round-to-nearest-even (`proofs.ieee.round_to`, which
    has its own hand-written format parameters: independent of this module)."""
    return round_to(fmt, Fraction(x) - Fraction(c))


def show(v) -> str:
    """A dyadic number as n * 2^e (n odd), e.g. -2047 * 2^-23; integers and infinities as they are."""
    if isinstance(v, float) and not np.isfinite(v):
        return repr(v)
    f = Fraction(v)
    if f.denominator == 1 or f.denominator & (f.denominator - 1):
        return str(f)
    k = f.denominator.bit_length() - 1
    n = f.numerator
    return f"{'-' if n < 0 else ''}2^-{k}" if abs(n) == 1 else f"{n} * 2^-{k}"


# --- the enumerations --------------------------------------------------------------------------------

@dataclass
class Scan:
    """One pass over the chosen c (default every finite c): fl(v - c) for every finite v, compared
    between neighbours in the sorted order of v."""

    fmt: str
    rows: int = 0  # values of c
    pairs: int = 0  # neighbour pairs compared (rows x (finite - 1))
    roundings: int = 0  # results rounded (and verified unless verify=False)
    bad_rounding: int = 0
    first_bad_rounding: tuple | None = None  # (x, c)
    violations: int = 0  # fl(v_k - c) > fl(v_k+1 - c)
    first_violation: tuple | None = None  # (x, y, c)
    merges: int = 0  # v_k < v_k+1 but fl(v_k - c) >= fl(v_k+1 - c)
    first_merge: tuple | None = None
    first_modest_merge: tuple | None = None  # the first with 1 <= |x|, |y|, |c| <= 100
    guard_pairs: int = 0  # (m, c) with m <= c < 2m: the pair (pred m, m) in the row of c
    guard_fails: int = 0
    first_guard_fail: tuple | None = None  # (x, m, c)
    seconds: float = 0.0
    partial: bool = False  # only some values of c
    verified: bool = True


def c_order(tab: Table) -> np.ndarray:
    """Every finite encoding as c, ordered by |c|, then +0 before -0, positive before negative."""
    v = tab.value[tab.codes]
    return tab.codes[np.lexsort((np.signbit(v), np.abs(v)))]


def _first(mask: np.ndarray, v: np.ndarray, c: np.ndarray) -> tuple:
    i, k = np.unravel_index(np.argmax(mask), mask.shape)
    return float(v[k]), float(v[k + 1]), float(c[i, 0])


def scan(fmt: str, c_codes=None, rounder=None, verify=True, chunk=CHUNK) -> Scan:
    """For each c (default: every finite encoding, in `c_order`), round v - c for every finite v
    and compare neighbours in the sorted order of v. `rounder` and `verify` exist for the tests:
    a wrong rounding must be caught (verify=True) or at least never confirmed (verify=False)."""
    tab = table(fmt)
    t0 = time.perf_counter()
    res = Scan(fmt, partial=c_codes is not None, verified=verify)
    cc = c_order(tab) if c_codes is None else np.asarray(c_codes)
    v = tab.sorted
    n = len(v)
    strictly = v[1:] > v[:-1]  # all neighbours except the +0, -0 pair
    modest = (np.abs(v) >= 1) & (np.abs(v) <= 100)
    modest = modest[1:] & modest[:-1]
    for start in range(0, len(cc), chunk):
        c = tab.value[cc[start:start + chunk]][:, None]
        code, bad = rounded(tab, v[None, :], c, rounder, verify)
        key = np.take(tab.key, code)
        res.rows += len(c)
        res.pairs += len(c) * (n - 1)
        res.roundings += code.size
        nbad = int(np.count_nonzero(bad))
        if nbad:
            res.bad_rounding += nbad
            if res.first_bad_rounding is None:
                i, k = np.unravel_index(np.argmax(bad), bad.shape)
                res.first_bad_rounding = (float(v[k]), float(c[i, 0]))
        down = key[:, 1:] < key[:, :-1]
        nd = int(np.count_nonzero(down))
        if nd:
            res.violations += nd
            res.first_violation = res.first_violation or _first(down, v, c)
        merge = (key[:, 1:] <= key[:, :-1]) & strictly
        nm = int(np.count_nonzero(merge))
        if nm:
            res.merges += nm
            res.first_merge = res.first_merge or _first(merge, v, c)
            if res.first_modest_merge is None:
                sel = (np.abs(c) >= 1) & (np.abs(c) <= 100) & modest & merge
                if sel.any():
                    res.first_modest_merge = _first(sel, v, c)
        # the guard in the same rows: c > 0, m in (c/2, c] (that is m <= c < 2m): the pair (pred m, m)
        for i, ci in enumerate(c[:, 0].tolist()):
            if ci > 0:
                a, b = int(np.searchsorted(v, ci / 2, "right")), int(np.searchsorted(v, ci, "right"))
                res.guard_pairs += b - a
                fails = merge[i, a - 1:b - 1] | down[i, a - 1:b - 1]
                if fails.any():
                    res.guard_fails += int(np.count_nonzero(fails))
                    if res.first_guard_fail is None:
                        k = a - 1 + int(np.argmax(fails))
                        res.first_guard_fail = (float(v[k]), float(v[k + 1]), ci)
    res.seconds = time.perf_counter() - t0
    return res


_SCANS: dict[str, Scan] = {}


def full_scan(fmt: str) -> Scan:
    """The exhaustive scan of a format, run once per process and shared by monotone and strict."""
    if fmt not in _SCANS:
        _SCANS[fmt] = scan(fmt)
    return _SCANS[fmt]


@dataclass
class Guard:
    fmt: str
    pairs: int = 0  # (m, c)
    triples: int = 0  # (x, m, c) covered through monotonicity (x over finite encodings below m)
    bad_rounding: int = 0
    first_bad_rounding: tuple | None = None  # (x, c)
    fails: int = 0
    first_fail: tuple | None = None  # (x, m, c)
    seconds: float = 0.0
    upper: float = 2.0
    verified: bool = True


def guard(fmt: str, rounder=None, verify=True, upper: float = 2.0, block: int = 1 << 20) -> Guard:
    """Every (m, c) of finite values with m <= c < upper * m (upper = 2: the lemma; then m > 0 and
    c > 0): fl(pred(m) - c) < fl(m - c), pred(m) the largest finite value below m."""
    if upper <= 1 or np.frexp(upper)[0] != 0.5:
        raise ValueError("upper must be a power of two above 1 (so that upper * m is exact)")
    tab = table(fmt)
    t0 = time.perf_counter()
    res = Guard(fmt, upper=upper, verified=verify)
    u = tab.distinct
    ms = np.arange(int(np.searchsorted(u, 0, "right")), len(u))  # m > 0
    counts = np.searchsorted(u, upper * u[ms], "left") - ms  # c in [m, upper * m)
    below = np.searchsorted(tab.sorted, u[ms], "left")  # finite encodings x < m
    res.pairs, res.triples = int(counts.sum()), int((counts * below).sum())
    bounds = np.concatenate([[0], np.cumsum(counts)])
    i = 0
    while i < len(ms):  # blocks of about `block` pairs
        j = max(int(np.searchsorted(bounds, bounds[i] + block, "right")) - 1, i + 1)
        mi = np.repeat(ms[i:j], counts[i:j])
        ci = mi + (np.arange(len(mi)) - np.repeat(bounds[i:j] - bounds[i], counts[i:j]))
        m, c, x = u[mi], u[ci], u[mi - 1]
        cm, bm = rounded(tab, m, c, rounder, verify)
        cx, bx = rounded(tab, x, c, rounder, verify)
        bad = bm | bx
        if bad.any():
            res.bad_rounding += int(np.count_nonzero(bad))
            k = int(np.argmax(bad))
            res.first_bad_rounding = res.first_bad_rounding or (float(m[k] if bm[k] else x[k]), float(c[k]))
        fail = ~(tab.key[cx] < tab.key[cm])
        if fail.any():
            res.fails += int(np.count_nonzero(fail))
            k = int(np.argmax(fail))
            res.first_fail = res.first_fail or (float(x[k]), float(m[k]), float(c[k]))
        i = j
    res.seconds = time.perf_counter() - t0
    return res


# --- the verdicts --------------------------------------------------------------------------------------

@dataclass
class Result:
    fmt: str
    lemma: str
    holds: bool  # the lemma's claim held on everything enumerated (and every rounding was verified)
    checked: int  # cases enumerated: neighbour pairs x c (monotone, strict), pairs (m, c) (guard)
    seconds: float
    witness: dict | None  # a failing case (or an unverified rounding), else None
    detail: str  # Markdown: what was enumerated, the reduction, the counts
    status: str = "inconclusive"  # for proofs.core: holds | counterexample (confirmed exactly) | inconclusive
    extra: dict = field(default_factory=dict)


def _source(fmt: str) -> str:
    tab = table(fmt)
    lib = "numpy `np.float16`" if fmt == "float16" else "mlx `mx.bfloat16`"
    how = ("numpy's own float64 -> float16 conversion (`astype`)" if fmt == "float16" else
           "a round-to-nearest-even on the float64 bits (`round_bfloat16`)")
    exactness = ("exact: all float16 values are integer multiples of 2^-24 below 2^16, checked" if
                 tab.exact_differences else "not always exact for bfloat16; where d meets a midpoint, "
                 "TwoSum's exact error decides")
    return (f"Values: all 65,536 encodings of {lib}, decoded by the library; each of the {tab.finite:,} finite "
            f"ones (both zeros included) round-trips float64 -> {fmt} -> the same bits; precision "
            f"{tab.precision} bits and largest value {float(tab.distinct[-1])!r} are read off the values. "
            f"Rounding: d = RN64(x - c) ({exactness}), rounded by {how}, and every result verified to be "
            "the round-to-nearest-even of the exact x - c: inside its rounding interval, whose ends are the "
            "midpoints to its neighbours (exact in float64, checked with Fractions), an end included only for "
            "an even encoding; past the largest value the neighbour is the next power of two, so from max + "
            "ulp/2 on (included) the result is infinity. Results are compared as numbers (+0 = -0).")


def _confirm(fmt: str, x: float, y: float, c: float, strict: bool) -> tuple[bool, str]:
    """Re-check fl(x - c) against fl(y - c) with Fractions: a reported failure must be real."""
    rx, ry = exact(fmt, x, c), exact(fmt, y, c)
    real = (x < y and rx >= ry) if strict else (x <= y and rx > ry)
    return real, (f"x = {show(x)}, y = {show(y)}, c = {show(c)}: exactly x - c = {show(Fraction(x) - Fraction(c))}"
                  f" and y - c = {show(Fraction(y) - Fraction(c))}, rounded to {fmt} in Fractions by "
                  f"`proofs.floating.round_to`: {show(rx)} and {show(ry)}: "
                  + ("confirmed" if real else "NOT confirmed"))


def _unverified(fmt: str, lemma: str, what: tuple, total: int, checked: int, seconds: float) -> Result:
    return Result(fmt, lemma, False, checked, seconds, {"unverified_rounding": what},
                  f"**{fmt}, {lemma}: inconclusive.** {total:,} rounded results are not the round-to-nearest-even "
                  f"of the exact difference (the first at (x, c) = ({show(what[0])}, {show(what[1])})): the "
                  "enumeration proves nothing.", "inconclusive")


def _status(ok: bool, complete: bool) -> str:
    return "holds" if ok and complete else "inconclusive"


def _monotone(s: Scan) -> Result:
    fmt, t = s.fmt, s.seconds
    if s.verified and s.bad_rounding:
        return _unverified(fmt, "monotone", s.first_bad_rounding, s.bad_rounding, s.pairs, t)
    scope = f"{s.rows:,} chosen values of c (NOT exhaustive)" if s.partial else f"every finite c ({s.rows:,})"
    what = (f"Enumerated: {scope} x every pair of neighbours (v_k, v_k+1) in the sorted list of the "
            f"{table(fmt).finite:,} finite values: {s.pairs:,} comparisons fl(v_k - c) <= fl(v_k+1 - c) "
            f"({s.roundings:,} roundings{', each verified' if s.verified else ', NOT verified'}), {t:.1f} s. "
            "Reduction: for fixed c, v -> fl(v - c) is non-decreasing on the sorted list iff it is between "
            "neighbours (transitivity); finite x <= y are v_i, v_j with i <= j, or equal numbers (the two "
            "zeros) whose exact differences are equal and round to equal numbers. So every triple x <= y, c "
            "of finite values is covered.")
    extra = {"roundings": s.roundings, "guard_pairs": s.guard_pairs, "guard_fails": s.guard_fails}
    if not s.violations:
        return Result(fmt, "monotone", True, s.pairs, t, None, f"**{fmt}: holds for {scope}.** {what}\n\n"
                      f"{_source(fmt)}", _status(True, s.verified and not s.partial), extra)
    x, y, c = s.first_violation
    real, text = _confirm(fmt, x, y, c, strict=False)
    return Result(fmt, "monotone", False, s.pairs, t, {"x": x, "y": y, "c": c, "confirmed": real},
                  f"**{fmt}: {s.violations:,} violations.** The first: {text}.\n\n{what}",
                  "counterexample" if real else "inconclusive", extra)


def _strict(s: Scan) -> Result:
    fmt, t = s.fmt, s.seconds
    if s.verified and s.bad_rounding:
        return _unverified(fmt, "strict", s.first_bad_rounding, s.bad_rounding, s.pairs, t)
    what = (f"Enumerated: {'chosen' if s.partial else 'every finite'} c ({s.rows:,}) x every pair of "
            f"neighbours in the sorted finite values ({s.pairs:,} pairs, the +0/-0 pair not counted as "
            f"x < y), in the same pass as the monotone check ({t:.1f} s). The witness is the first failing pair "
            "in a fixed order: c by |c| (then + before -), then x increasing.")
    if not s.merges:
        return Result(fmt, "strict", True, s.pairs, t, None, f"**{fmt}: no pair loses strict order.** {what}",
                      _status(True, s.verified and not s.partial))
    x, y, c = s.first_merge
    real, text = _confirm(fmt, x, y, c, strict=True)
    witness = {"x": x, "y": y, "c": c, "fl_x": float(exact(fmt, x, c)), "fl_y": float(exact(fmt, y, c)),
               "confirmed": real}
    more = ""
    if s.first_modest_merge is not None:
        mx_, my, mc = s.first_modest_merge
        ok, mtext = _confirm(fmt, mx_, my, mc, strict=True)
        witness["modest"] = {"x": mx_, "y": my, "c": mc, "confirmed": ok}
        more = f" The first with 1 <= |x|, |y|, |c| <= 100: {mtext}."
        real = real and ok
    return Result(fmt, "strict", False, s.pairs, t, witness,
                  f"**{fmt}: refuted. {s.merges:,} of {s.pairs:,} neighbour pairs x < y get fl(x - c) = "
                  f"fl(y - c).** The first: {text}.{more}\n\n{what}\n\n{_source(fmt)}",
                  "counterexample" if real else "inconclusive", {"merges": s.merges})


def _guard(g: Guard) -> Result:
    fmt, t = g.fmt, g.seconds
    if g.verified and g.bad_rounding:
        return _unverified(fmt, "guard", g.first_bad_rounding, g.bad_rounding, g.pairs, t)
    premise = "m <= c < 2m" if g.upper == 2 else f"m <= c < {g.upper:g}m (NOT the lemma's premise)"
    what = (f"Enumerated: every pair of finite values (m, c) with {premise}, {g.pairs:,} pairs (then m > 0, "
            f"c > 0), {t:.1f} s: fl(pred(m) - c) < fl(m - c), pred(m) the largest finite value below m. "
            f"Reduction: a finite x < m has x <= pred(m), so fl(x - c) <= fl(pred(m) - c) by `fp-sub-monotone`, "
            f"enumerated for every c by check({fmt!r}, 'monotone'); so these pairs decide all {g.triples:,} "
            "triples (x, m, c), x over the finite encodings.")
    s = _SCANS.get(fmt)
    if s is not None and g.upper == 2:
        what += (f" Cross-check: the monotone scan of this process saw the same pairs in its rows, where it "
                 f"also checked monotonicity: {s.guard_pairs:,} pairs, {s.guard_fails} failures.")
    if not g.fails:
        return Result(fmt, "guard", True, g.pairs, t, None, f"**{fmt}: holds.** {what}\n\n{_source(fmt)}",
                      _status(True, g.verified and g.upper == 2), {"triples": g.triples})
    x, m, c = g.first_fail
    real, text = _confirm(fmt, x, m, c, strict=True)
    return Result(fmt, "guard", False, g.pairs, t, {"x": x, "m": m, "c": c, "confirmed": real},
                  f"**{fmt}: {g.fails:,} failing pairs (m, c).** The first, with y = m: {text}.\n\n{what}",
                  "counterexample" if real else "inconclusive", {"triples": g.triples})


def verdict(run: Scan | Guard, lemma: str) -> Result:
    """The Result of a scan (lemma monotone or strict) or of a guard enumeration."""
    if lemma == "guard" and isinstance(run, Guard):
        return _guard(run)
    if lemma in ("monotone", "strict") and isinstance(run, Scan):
        return _monotone(run) if lemma == "monotone" else _strict(run)
    raise ValueError(f"no verdict on {lemma!r} from a {type(run).__name__}")


def check(fmt: str, lemma: str) -> Result:
    """Exhaustive check of one lemma in one format ("bfloat16", "float16").

    monotone: finite x <= y, finite c => fl(x - c) <= fl(y - c); status holds when it does.
    strict: the false claim x < y => fl(x - c) < fl(y - c); status counterexample (confirmed exactly).
    guard: x < m <= c < 2m, c > 0 => fl(x - c) < fl(m - c); status holds when it does.
    monotone and strict share one pass over every c, about a minute per format on one core; guard
    takes seconds (its reduction rests on monotone, so run that too).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {FORMATS}")
    if lemma not in LEMMAS:
        raise ValueError(f"unknown lemma {lemma!r}; one of {LEMMAS}")
    return verdict(guard(fmt) if lemma == "guard" else full_scan(fmt), lemma)


def record(ctx, fmt: str, lemma: str) -> Result:
    """check() recorded as one step of a proofs.core.Context (method `exact`)."""
    r = check(fmt, lemma)
    ctx.step(f"{fmt}: exhaustive enumeration, no solver ({lemma})", "exact", r.status, r.detail, r.seconds)
    return r

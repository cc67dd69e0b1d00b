"""Exhaustive 16-bit enumeration (proofs.exhaustive): the rounding is right, the lemmas hold or
are refuted as the solver says, and the checker can say no.

The full float16 pass (monotone and strict share it) takes about a minute; the full bfloat16
pass as long again, so it runs only with EXHAUSTIVE_FULL=1. The guard enumerations are seconds.
"""

import os
from fractions import Fraction

import mlx.core as mx
import numpy as np
import pytest

from proofs import exhaustive as ex
from proofs.core import Context
from proofs.floating import round_to

FULL_BFLOAT16 = os.environ.get("EXHAUSTIVE_FULL") == "1"


def code_of(fmt: str, value: float) -> int:
    tab = ex.table(fmt)
    k = int(np.searchsorted(tab.sorted, value))
    assert tab.sorted[k] == value, f"{value} is not a {fmt} value"
    return int(tab.codes[k])


def as_number(fmt: str, code) -> list:
    return [float(v) for v in ex.table(fmt).value[np.asarray(code)].ravel()]


def reference(fmt: str, x, c) -> list:
    """Fraction round-to-nearest-even of the exact differences (proofs.floating.round_to)."""
    return [float(round_to(fmt, Fraction(a) - Fraction(b))) for a, b in zip(np.ravel(x), np.ravel(c), strict=True)]


def edge_values(fmt: str) -> np.ndarray:
    """Zeros, subnormal and normal edges, 1 and its neighbours, the largest values, both signs."""
    pos = ex.table(fmt).distinct
    pos = pos[pos > 0]
    tiny = float(np.finfo(np.float16).smallest_normal if fmt == "float16" else mx.finfo(mx.bfloat16).smallest_normal)
    k, one = int(np.searchsorted(pos, tiny)), int(np.searchsorted(pos, 1.0))
    picks = sorted({*pos[:3], *pos[k - 1:k + 2], *pos[one - 1:one + 2], *pos[-3:], 0.5, 3.0, 1024.0})
    return np.concatenate([-np.array(picks[::-1]), [0.0, -0.0], picks])


# --- the formats come from the libraries -------------------------------------------------------------

def test_formats_are_read_from_numpy_and_mlx():
    h, b = ex.table("float16"), ex.table("bfloat16")
    fi = np.finfo(np.float16)
    assert (h.finite, h.precision, h.distinct[-1], h.top) == (63_488, fi.nmant + 1, fi.max, 65536.0)
    assert h.distinct[h.distinct > 0][0] == fi.smallest_subnormal
    bi = mx.finfo(mx.bfloat16)
    assert (b.finite, b.precision, b.top) == (65_280, 8, 2.0**128)
    assert b.distinct[-1] == float(bi.max) and 2.0 ** (1 - b.precision) == float(bi.eps)
    assert h.exact_differences and not b.exact_differences
    # the two zeros are both enumerated, equal as numbers, and ordered by the same key
    zeros = h.codes[h.sorted == 0]
    assert sorted(zeros.tolist()) == [0, 0x8000] and h.key[0] == h.key[0x8000]


# --- the rounding: exact references -------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["float16", "bfloat16"])
def test_every_halfway_case_rounds_to_the_even_neighbour(fmt):
    """All midpoints of neighbouring positive values (and their negatives), and the float64 just
    either side of each, with neighbours taken from the encoding order: no table of this module."""
    k = np.arange(0, 0x7C00 if fmt == "float16" else 0x7F80, dtype=np.uint16)  # +0 and the positive finite
    if fmt == "float16":
        a = k[:-1].view(np.float16).astype(np.float64)
        b = np.nextafter(k[:-1].view(np.float16), np.float16(np.inf)).astype(np.float64)
        assert np.array_equal(b, k[1:].view(np.float16).astype(np.float64))
    else:
        vals = np.array(mx.view(mx.array(k), mx.bfloat16).astype(mx.float32)).astype(np.float64)
        a, b = vals[:-1], vals[1:]
    lower, upper = k[:-1], k[1:]
    mid = (a + b) / 2
    assert np.all((a < mid) & (mid < b))
    even = np.where(lower % 2 == 0, lower, upper)
    rounder = ex.ROUNDERS[fmt]
    for sign, flip in ((1, 0), (-1, 0x8000)):
        assert np.array_equal(rounder(sign * mid), even | flip)
        assert np.array_equal(rounder(sign * np.nextafter(mid, a)), lower | flip)
        assert np.array_equal(rounder(sign * np.nextafter(mid, b)), upper | flip)
    tab = ex.table(fmt)
    code = rounder(mid).astype(np.intp)
    assert not ex.unverified(tab, mid, 0.0, mid, code).any()
    wrong = np.where(code == lower, upper, lower).astype(np.intp)  # the odd neighbour: must be flagged
    assert ex.unverified(tab, mid, 0.0, mid, wrong).all()
    # the same midpoints through the library's own conversion (float32 holds them exactly)
    if fmt == "bfloat16":
        lib = np.array(mx.view(mx.array(mid.astype(np.float32)).astype(mx.bfloat16), mx.uint16))
        assert np.array_equal(lib, even)


@pytest.mark.parametrize("fmt", ["float16", "bfloat16"])
def test_overflow_threshold(fmt):
    tab = ex.table(fmt)
    big = tab.distinct[-1]
    threshold = (big + tab.top) / 2  # max + ulp/2: ties go to infinity (IEEE 754 4.3.1)
    d = np.array([threshold, np.nextafter(threshold, 0), -threshold, -np.nextafter(threshold, 0), 2 * big])
    assert as_number(fmt, ex.ROUNDERS[fmt](d)) == [np.inf, big, -np.inf, -big, np.inf]
    assert reference(fmt, d, np.zeros(5)) == [np.inf, big, -np.inf, -big, np.inf]


@pytest.mark.parametrize("fmt", ["float16", "bfloat16"])
def test_rounded_differences_match_fractions_and_the_libraries(fmt):
    """Edge values x edge values, and a seeded sample of finite pairs: our fl(x - c) equals the
    Fraction reference, every result verifies, and numpy / mlx subtraction agree."""
    tab = ex.table(fmt)
    e = edge_values(fmt)
    ex_, ec = np.meshgrid(e, e)
    rng = np.random.default_rng(2024)
    rx, rc = (tab.sorted[rng.integers(0, tab.finite, 3000)] for _ in range(2))
    # pairs that tie often: c in a few binades near x
    near = tab.sorted[rng.integers(0, tab.finite, 1000)]
    nc = near * rng.choice([0.5, 1.0, 2.0, 3.0, 1024.0, -1.0, -2.0], 1000)
    nc = as_number(fmt, ex.ROUNDERS[fmt](nc))
    x = np.concatenate([ex_.ravel(), rx, near])
    c = np.concatenate([ec.ravel(), rc, nc])
    keep = np.isfinite(c)
    x, c = x[keep], c[keep]
    code, bad = ex.rounded(tab, x, c)
    assert not bad.any()
    assert as_number(fmt, code) == reference(fmt, x, c)
    with np.errstate(over="ignore"):
        if fmt == "float16":
            lib = (x.astype(np.float16) - c.astype(np.float16)).astype(np.float64)
        else:
            xs, cs = (mx.array(v.astype(np.float32)).astype(mx.bfloat16) for v in (x, c))
            lib = np.array((xs - cs).astype(mx.float32)).astype(np.float64)
    assert lib.tolist() == as_number(fmt, code)


@pytest.mark.parametrize("fmt", ["float16", "bfloat16"])
def test_rounding_of_arbitrary_float64(fmt):
    """Beyond differences: random float64 across the whole range of the format (and subnormals)."""
    rng = np.random.default_rng(7)
    top = 16 if fmt == "float16" else 128
    low = -26 if fmt == "float16" else -135
    d = rng.uniform(1, 2, 4000) * 2.0 ** rng.integers(low, top + 1, 4000) * rng.choice([-1, 1], 4000)
    assert as_number(fmt, ex.ROUNDERS[fmt](d)) == [float(round_to(fmt, Fraction(v))) for v in d]


def test_known_hand_witnesses_merge():
    """1 and its successor, shifted by a c whose ulp is coarser: both land on 1 - c."""
    for fmt, (x, y, c) in {"float16": (1.0, 1 + 2.0**-10, 1024.0), "bfloat16": (1.0, 1 + 2.0**-7, 256.0)}.items():
        code, bad = ex.rounded(ex.table(fmt), np.array([x, y]), np.array([c, c]))
        assert not bad.any() and as_number(fmt, code) == [1 - c, 1 - c] == reference(fmt, [x, y], [c, c])


# --- the enumerations ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def float16_full():
    return ex.check("float16", "monotone"), ex.check("float16", "strict")


@pytest.mark.slow
def test_float16_full_enumeration(float16_full):
    mono, strict = float16_full
    pairs = 63_488 * 63_487
    assert mono.holds and mono.status == "holds" and mono.checked == pairs and mono.witness is None
    assert mono.extra["roundings"] == 63_488**2
    assert (mono.extra["guard_pairs"], mono.extra["guard_fails"]) == (31_457_280, 0)  # the same pairs as guard
    assert not strict.holds and strict.status == "counterexample" and strict.checked == pairs
    w = strict.witness
    # derivable by hand: c = 2^-24 is half an ulp in [2^-13, 2^-12); both ties go to the even -2^-12
    assert (w["x"], w["y"], w["c"]) == (-(2.0**-12), -2047 * 2.0**-23, 2.0**-24)
    assert w["fl_x"] == w["fl_y"] == -(2.0**-12) and w["confirmed"] and w["modest"]["confirmed"]
    assert strict.extra["merges"] == 1_919_825_922
    assert "every finite c (63,488)" in mono.detail and "round-trips" in mono.detail


@pytest.mark.slow
@pytest.mark.skipif(not FULL_BFLOAT16, reason="about a minute more: EXHAUSTIVE_FULL=1")
def test_bfloat16_full_enumeration():
    mono, strict = ex.check("bfloat16", "monotone"), ex.check("bfloat16", "strict")
    assert mono.status == "holds" and mono.checked == 65_280 * 65_279
    assert (mono.extra["guard_pairs"], mono.extra["guard_fails"]) == (4_161_536, 0)
    assert strict.status == "counterexample" and strict.extra["merges"] == 2_118_138_370
    w = strict.witness
    assert (w["x"], w["y"], w["c"]) == (-(2.0**-124), -255 * 2.0**-132, 2.0**-133)


def test_bfloat16_strict_witness_row():
    """The first bfloat16 witness of the full pass, found again from its row alone."""
    s = ex.scan("bfloat16", c_codes=[code_of("bfloat16", 2.0**-133)])
    assert s.first_merge == (-(2.0**-124), -255 * 2.0**-132, 2.0**-133) and s.bad_rounding == 0
    r = ex.verdict(s, "strict")
    assert r.status == "counterexample" and r.witness["confirmed"]
    assert ex.verdict(s, "monotone").status == "inconclusive"  # one row: not the whole claim


@pytest.mark.parametrize("fmt, pairs", [("float16", 31_457_280), ("bfloat16", 4_161_536)])
def test_guard_holds(fmt, pairs):
    r = ex.check(fmt, "guard")
    assert r.holds and r.status == "holds" and r.checked == pairs and r.witness is None
    assert "fp-sub-monotone" in r.detail


# --- the checker can say no ------------------------------------------------------------------------------

ROWS = [2.0**-24, 1.0, 3.0, -3.5, 1024.0, float(np.float16(0.1))]  # c values of float16 for partial scans


def rows() -> list[int]:
    return [code_of("float16", v) for v in ROWS]


def toward_zero(d):
    with np.errstate(over="ignore"):
        r = d.astype(np.float16)
    over = np.abs(r.astype(np.float64)) > np.abs(d)
    r[over] = np.nextafter(r[over], np.float16(0))
    return r.view(np.uint16)


def ties_away(d):
    return ex.round_float16(np.nextafter(d, np.copysign(np.inf, d)))


def carry_lost(d):
    """Round to 11 bits on the float64 bits but drop the carry out of the significand: a value just
    below a power of two falls to the bottom of its binade (not monotone)."""
    u = np.ascontiguousarray(d, dtype=np.float64).view(np.uint64)
    frac = u & np.uint64(2**52 - 1)
    kept = (frac + np.uint64(2**41 - 1) + ((frac >> np.uint64(42)) & np.uint64(1))) & np.uint64(2**52 - 2**42)
    return ex.round_float16(((u & np.uint64(2**64 - 2**52)) | kept).view(np.float64))


@pytest.mark.parametrize("wrong", [toward_zero, ties_away, carry_lost])
def test_a_wrong_rounding_is_caught(wrong):
    s = ex.scan("float16", c_codes=rows(), rounder=wrong)
    assert s.bad_rounding > 0
    for lemma in ("monotone", "strict"):
        r = ex.verdict(s, lemma)
        assert not r.holds and r.status == "inconclusive" and "unverified_rounding" in r.witness
    g = ex.verdict(ex.guard("bfloat16", rounder=lambda d: ex.round_bfloat16(d) ^ 1), "guard")
    assert not g.holds and g.status == "inconclusive"


def test_unverified_wrong_rounding_is_never_confirmed():
    """Without the verification, the non-monotone rounding breaks the monotone check, but the
    exact re-check refuses to call it a counterexample."""
    s = ex.scan("float16", c_codes=rows(), rounder=carry_lost, verify=False)
    assert s.violations > 0
    r = ex.verdict(s, "monotone")
    assert not r.holds and r.status == "inconclusive" and r.witness["confirmed"] is False
    x, y, c = s.first_violation
    assert x < y and float(round_to("float16", Fraction(x) - Fraction(c))) <= float(
        round_to("float16", Fraction(y) - Fraction(c)))


def test_correct_rows_hold_and_strengthened_claim_fails():
    s = ex.scan("float16", c_codes=rows())
    assert s.bad_rounding == 0 and s.violations == 0 and s.merges > 0
    assert ex.verdict(s, "monotone").holds  # holds on these rows (status inconclusive: not every c)
    assert ex.verdict(s, "strict").status == "counterexample"  # `<=` strengthened to `<`


def test_weakened_guard_premise_fails():
    """c < 4m instead of c < 2m: pred(m) - c and m - c can round together, and it is confirmed."""
    r = ex.verdict(ex.guard("bfloat16", upper=4), "guard")
    assert not r.holds and r.status == "counterexample" and r.witness["confirmed"]
    x, m, c = r.witness["x"], r.witness["m"], r.witness["c"]
    assert x < m <= c < 4 * m and not m <= c < 2 * m


def test_api_and_record():
    with pytest.raises(ValueError):
        ex.check("float32", "monotone")
    with pytest.raises(ValueError):
        ex.check("float16", "weak")
    ctx = Context()
    r = ex.record(ctx, "bfloat16", "guard")
    step = ctx.steps[-1]
    assert (step.method, step.status, step.detail) == ("exact", "holds", r.detail)

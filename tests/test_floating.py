"""Floating-point helpers of the proofs, and the spec's guard built on fp-greedy-exact-guard."""

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spec
from proofs.floating import FORMATS, decode, round_to


@settings(max_examples=300, deadline=None)
@given(a=st.floats(-6e4, 6e4, width=16), b=st.floats(-6e4, 6e4, width=16))
def test_exact_rounding_matches_numpy_float16(a, b):
    """Our Fraction rounding, used to re-check solver witnesses, agrees with IEEE hardware."""
    from fractions import Fraction
    with np.errstate(over="ignore"):
        expected = float(np.float16(a) - np.float16(b))
    got = round_to("float16", Fraction(a) - Fraction(b))
    assert float(got) == expected


@settings(max_examples=300, deadline=None)
@given(a=st.floats(-(2.0**100), 2.0**100, width=32), b=st.floats(-(2.0**100), 2.0**100, width=32))
def test_exact_rounding_matches_float32_and_bfloat16(a, b):
    from fractions import Fraction
    assert float(round_to("float32", Fraction(a) - Fraction(b))) == float(np.float32(a) - np.float32(b))
    x, y = mx.array(a).astype(mx.bfloat16), mx.array(b).astype(mx.bfloat16)
    exact = Fraction(x.astype(mx.float32).item()) - Fraction(y.astype(mx.float32).item())
    assert float(round_to("bfloat16", exact)) == (x - y).astype(mx.float32).item()


def test_decode_fp_literals():
    assert decode(["fp", "#b0", "#x85", "#b1000010"], "bfloat16") == 97  # 1.0000010b * 2^6
    assert decode(["fp", "#b1", "#b01111", "#b0000000000"], "float16") == -1
    assert decode(["fp", "#b0", "#b00000", "#b0000000001"], "float16") == 2.0**-24  # smallest subnormal
    assert set(FORMATS) == {"float16", "bfloat16", "float32"}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_greedy_logprobs_exact_guard(dtype):
    """The premises on the row's own logsumexp: with zeros elsewhere, fl(2m) > c from m = 6.1 on
    (c = m + log(1 + 151,935 e^-m) ~ 11.94 there), not at 5.5; bfloat16 at m = 6 only just misses:
    c = 11.9375 < 12 = 2m, but an engine within logsumexp_error may compute c = 12."""
    row = np.zeros(151_936)
    for top, expected in ((14.0, True), (11.0, True), (6.5, True), (6.1, True), (5.5, False), (-3.0, False)):
        row[3] = top
        assert spec.greedy_logprobs_exact(row, dtype) == expected, top
    row[3] = 6.0
    assert spec.greedy_logprobs_exact(row, dtype) == (dtype != "bfloat16")
    row[3] = 5.5
    assert spec.greedy_logprobs_exact(np.stack([row, row + 20]), dtype).tolist() == [False, True]
    assert not spec.greedy_logprobs_exact(row + 20, "float64")  # no proof for float64


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**31), top=st.floats(0, 40))
def test_guarded_rows_really_keep_the_greedy_token_in_mlx(seed, top):
    """Where the guard says yes, greedy on mlx float16 / bfloat16 log-probabilities agrees."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, 4096)
    z[rng.integers(4096)] = top
    for dtype in ("float16", "bfloat16"):
        x = mx.array(z).astype(getattr(mx, dtype))
        logprobs = x - mx.logsumexp(x)
        if spec.greedy_logprobs_exact(np.array(x.astype(mx.float32)), dtype):
            assert mx.argmax(logprobs).item() == mx.argmax(x).item()


# --- the guard: premises checked on the row, one derived slack -------------------------------------

def _c_candidates(dtype, lo, hi):
    """Every number of the dtype in [lo, hi] (float64), in numpy / mlx."""
    from proofs.floating import to_library
    if dtype == "float16":
        grid = np.arange(np.float16(lo).view(np.uint16), np.float16(hi).view(np.uint16) + 1, dtype=np.uint16)
        return grid.view(np.float16).astype(np.float64)
    f32 = np.arange(np.float32(lo).view(np.uint32) & 0xFFFF0000, np.float32(hi).view(np.uint32) + 1, 0x10000,
                    dtype=np.uint32).view(np.float32).astype(np.float64)
    return np.unique(to_library(dtype, f32))


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**31), top=st.floats(-2, 12), n=st.sampled_from([2, 3, 16, 1000]))
def test_guard_is_the_premises_and_every_engine_c_keeps_the_argmax(seed, top, n):
    """Where the guard says yes, every c an engine may compute (every number of the dtype in
    [max z, c_hi]) satisfies the theorem's premises, and fl(z - c) keeps the first maximum (numpy /
    mlx arithmetic). The top two entries are one or two ulps apart: the hard case."""
    from proofs.floating import _sub
    from spec.exactness import _in_dtype, premises
    rng = np.random.default_rng(seed)
    for dtype in ("float16", "bfloat16"):
        z = _in_dtype(dtype, top - rng.exponential(2, n))
        k = int(rng.integers(n))
        z[k] = _in_dtype(dtype, [z.max() + 2 * spec.numerics.EPS[dtype] * max(1, abs(z.max()))])[0]
        p = premises(z, dtype)
        assert spec.greedy_logprobs_exact(z, dtype) == p["hold"]
        if not p["hold"]:
            continue
        m = p["m"]
        assert p["c"] >= m and p["c"] > 0 and p["2m"] > p["c_hi"] >= p["c"]
        for c in _c_candidates(dtype, m, p["c_hi"]):
            y = _sub(dtype, z, np.full(n, c))
            assert int(np.argmax(y)) == int(np.argmax(z)), (dtype, c)


def test_logsumexp_error_bounds_engines():
    """The one slack bounds what numpy and mlx really compute (float32 and half inputs, V = 151,936)."""
    from spec.exactness import logsumexp_error
    from spec.numerics import logsumexp
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(4):
        z = (rng.normal(0, 3, 151_936) + 10).astype(np.float32)
        exact = float(logsumexp(z.astype(np.float64))[0])
        bound = logsumexp_error(z.size, float(z.max()))
        for got in (mx.logsumexp(mx.array(z)).item(), mx.logsumexp(mx.array(z).astype(mx.float16)).item(),
                    float(np.logaddexp.reduce(z))):
            worst = max(worst, abs(got - exact))
            assert abs(got - exact) <= bound + abs(exact) * 2.0**-10  # float16 output: its own rounding
    assert logsumexp_error(151_936, 20.0) < 0.013 and logsumexp_error(2, 0.0) < 1e-5
    assert logsumexp_error(2**24 + 2, 0.0) == float("inf")


# --- the compositions: one query each, resting on the per-format lemmas -----------------------------

def _guard_steps(monkeypatch, strict):
    from proofs import floating
    from proofs.core import Context
    monkeypatch.setattr(floating, "STRICT", strict)
    monkeypatch.setattr(floating, "_monotone_steps", lambda ctx: None)  # fp-sub-monotone: minutes, not at issue
    ctx = Context(timeout=300)
    floating.fp_greedy_exact_guard(ctx)
    return ctx.steps


def test_guard_composition_proves_and_a_weakened_lemma_does_not(monkeypatch):
    """Strict at the max weakened from fp.lt to fp.leq: its per-format queries still hold (a weaker
    lemma), but the composition no longer follows and fp-greedy-exact-guard is not proved."""
    from proofs.core import verdict
    steps = _guard_steps(monkeypatch, "fp.lt")
    assert verdict(steps) == "proved"
    assert {s.query.name for s in steps if s.query} >= {"guard.bfloat16.negation", "guard.float16.negation"}
    steps = _guard_steps(monkeypatch, "fp.leq")
    assert verdict(steps) == "not proved"
    by_name = {s.query.name: s for s in steps if s.query}
    for fmt in ("bfloat16", "float16"):
        assert by_name[f"strict-at-max.{fmt}.negation"].status == "holds"
        assert by_name[f"guard.{fmt}.negation"].answer.status in ("resource limit", "unknown")


def test_weak_composition_needs_its_hypothesis():
    from proofs import floating
    from proofs.smt import solve
    claim = "(and (<= k2 k) (forall ((j Int)) (=> (and (<= 0 j) (< j n)) (fp.leq (select y j) (select y k)))))"
    for lemmas, expected in (({"monotone": floating.lemma_monotone}, "unsat"), ({}, "resource limit")):
        (neg, _), (pre, _) = floating._composition("bfloat16", "weak", "weak", lemmas,
                                                   ["(first-max z n k)", "(first-max y n k2)"], claim)
        assert solve(neg, 120).status == expected
        assert solve(pre, 120).status == "sat"


@pytest.mark.parametrize("fmt", ["bfloat16", "float16", "float32"])
def test_hypothesis_is_the_lemma_the_query_proves(fmt):
    """The hypotheses are generated from the same lemma as the per-format query: with fp.sub for f,
    each is exactly the universal closure of that query's premises => claim."""
    from proofs import floating
    for lemma in (floating.lemma_monotone, floating.lemma_strict):
        premises, claim = lemma(fmt, floating.fl, "a", "b", "d")
        binders = " ".join(f"({v} {floating.sort(fmt)})" for v in "abd")
        closure = f"(forall ({binders}) (! (=> (and {' '.join(premises)}) {claim}) :pattern ((fp.sub RNE a d) " \
                  "(fp.sub RNE b d))))"
        text = floating.hypothesis(fmt, lemma)
        for a in "ab":
            text = text.replace(f"(f {a} d)", f"(fp.sub RNE {a} d)")
        assert text == closure


# --- witnesses: genuine log-probabilities, re-checked against numpy / mlx -----------------------------

def test_formats_from_the_libraries():
    from fractions import Fraction

    from proofs.floating import library_format, representable
    assert {f: library_format(f) for f in FORMATS} == FORMATS
    assert representable("bfloat16", Fraction(255, 512), Fraction(153, 128))
    assert not representable("bfloat16", Fraction(257))  # 9 significant bits
    assert representable("float16", Fraction(65504)) and not representable("float16", Fraction(65520))
    assert not representable("float32", Fraction(1, 3))


def test_logprob_witnesses():
    """c = fl(logsumexp(z)) computed in the format: the two adjacent logits tie as log-probabilities."""
    from fractions import Fraction

    from proofs.floating import _logprob_witness
    known = {"bfloat16": ("255/512", "153/128", "-89/128"), "float16": ("2047/4096", "611/512", "-355/512"),
             "float32": ("16777215/33554432", "2502211/2097152", "-1453635/2097152")}
    for fmt, (z0, c, y) in known.items():
        w = _logprob_witness(fmt)
        assert (w[0], w[1], w[4], w[5], w[6]) == (Fraction(z0), Fraction(1, 2), Fraction(c), Fraction(y), Fraction(y))
        assert w[2] <= w[3] and w[3] - w[2] < Fraction(1, 2**100)
    x = mx.array([0.498046875, 0.5]).astype(mx.bfloat16)  # and mlx's own log-probabilities agree
    assert (x - mx.logsumexp(x)).astype(mx.float32).tolist() == [-0.6953125, -0.6953125]


def test_fp_argmax_shift_exact_is_refuted_by_a_logprob_witness():
    from proofs import floating
    from proofs.core import Context, verdict
    ctx = Context(timeout=120)
    floating.fp_argmax_shift_exact(ctx)
    assert verdict(ctx.steps) == "refuted"
    assert "c = fl(logsumexp(z)) = 1.1953125" in ctx.counterexample


@pytest.mark.parametrize("theorem", ["fp_sub_strict", "fp_argmax_shift_exact"])
def test_a_wrong_format_in_the_encoding_is_not_refuted(monkeypatch, theorem):
    """bfloat16 declared to z3 as (8, 9): its witnesses fail the re-check against mlx's bfloat16."""
    from proofs import floating
    from proofs.core import Context, verdict
    monkeypatch.setitem(floating.FORMATS, "bfloat16", (8, 9))
    ctx = Context(timeout=120)
    getattr(floating, theorem)(ctx)
    assert verdict([s for s in ctx.steps if "bfloat16" in s.title]) != "refuted"
    assert verdict(ctx.steps) != "refuted"

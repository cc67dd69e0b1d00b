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
    row = np.zeros(151_936)
    row[3] = 12.5  # > log(151,936) = 11.93 plus slack (float16 and float32; bfloat16 needs more)
    assert spec.greedy_logprobs_exact(row, dtype) == (dtype != "bfloat16")
    row[3] = 14.0
    assert spec.greedy_logprobs_exact(row, dtype)
    row[3] = 11.0
    assert not spec.greedy_logprobs_exact(row, dtype)
    assert spec.greedy_logprobs_exact(np.stack([row, row + 20]), dtype).tolist() == [False, True]


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

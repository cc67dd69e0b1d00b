"""The spec against the engines' own expectations.

Ported cases are data: (input probabilities, parameters, expected output) copied from the
engines' test suites, each with its source. Then the installed mlx-lm's own filters run on
Hypothesis-generated rows and must keep exactly the spec's support, boundary tokens aside."""

import importlib.util

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spec
from spec import presets
from spec.strategies import tie_free_rows

MLX_LM_TESTS = "ml-explore/mlx-lm tests/test_sample_utils.py @1e4fb24"
HF_TESTS = "huggingface/transformers tests/generation/test_logits_process.py (main, late 2026)"


def log(probs):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(probs, dtype=np.float64))


# (source test, transform as mlx-lm applies it, input probs, expected probs after the filter)
MLX_LM_CASES = [
    ("test_apply_top_p", spec.TopP(0.3, ties="all"), [[0.9, 0, 0, 0.1]], [[1, 0, 0, 0]]),
    ("test_apply_top_p", spec.TopP(0.95, ties="all"), [[0.9, 0, 0, 0.1]], [[0.9, 0, 0, 0.1]]),
    ("test_apply_top_p", spec.TopP(0.4, ties="all"), [[0, 0.5, 0.4, 0.1]], [[0, 1, 0, 0]]),
    ("test_apply_top_p", spec.TopP(0.6, ties="all"), [[0, 0.5, 0.4, 0.1]], [[0, 0.5556, 0.4444, 0]]),
    ("test_apply_top_p", spec.TopP(0.95, ties="all"), [[0, 0.5, 0.4, 0.1]], [[0, 0.5, 0.4, 0.1]]),
    ("test_apply_top_p batch", spec.TopP(0.5, ties="all"), [[0.9, 0, 0, 0.1], [0, 0.8, 0.1, 0.1]],
     [[1, 0, 0, 0], [0, 1, 0, 0]]),
    ("test_apply_min_p", spec.MinP(0.8), [[0.9, 0, 0, 0.1]], [[1, 0, 0, 0]]),
    ("test_apply_min_p", spec.MinP(0.05), [[0.9, 0, 0, 0.1]], [[0.9, 0, 0, 0.1]]),
    ("test_apply_min_p batch", spec.MinP(0.7), [[0.9, 0, 0, 0.1], [0, 0.8, 0, 0.1]], [[1, 0, 0, 0], [0, 1, 0, 0]]),
    ("test_apply_top_k", spec.TopK(1, ties="any", over_vocab="error"), [[0.9, 0, 0, 0.1]], [[1, 0, 0, 0]]),
    ("test_apply_top_k", spec.TopK(2, ties="any", over_vocab="error"), [[0.6, 0, 0.1, 0.3]],
     [[0.6667, 0, 0, 0.3333]]),
    ("test_apply_top_k batch", spec.TopK(1, ties="any", over_vocab="error"),
     [[0.9, 0, 0, 0.1], [0, 0.8, 0, 0.1]], [[1, 0, 0, 0], [0, 1, 0, 0]]),
]


@pytest.mark.parametrize("case", MLX_LM_CASES, ids=[f"{c[0]}-{c[1]}" for c in MLX_LM_CASES])
def test_mlx_lm_ported_cases(case):
    """Source: MLX_LM_TESTS."""
    _, step, probs_in, expected = case
    t = spec.target(log(probs_in), spec.Pipeline((step,), "mlx_lm"))
    np.testing.assert_allclose(t.probs, expected, atol=1e-4)


def hf_support(pipeline, logits):
    return spec.target(np.asarray(logits, dtype=np.float64), pipeline)


def test_hf_temperature_uniform_stays_uniform_peaks_sharpen():
    """Source: HF_TESTS test_temperature_dist_warper."""
    scores = np.full((2, 20), 1 / 20)
    scores[1, 5], scores[1, 10] = 1 / 20 + 0.1, 1 / 20 - 0.4
    plain = spec.target(scores, presets.hf(temperature=1.0, top_k=0)).probs
    sharp = spec.target(scores, presets.hf(temperature=0.5, top_k=0)).probs
    smooth = spec.target(scores, presets.hf(temperature=1.3, top_k=0)).probs
    np.testing.assert_allclose(sharp[0], plain[0], atol=1e-3)
    np.testing.assert_allclose(smooth[0], plain[0], atol=1e-3)
    assert plain[1].max() < sharp[1].max() and plain[1].min() > sharp[1].min()
    assert plain[1].max() > smooth[1].max() and plain[1].min() < smooth[1].min()


def test_hf_top_k():
    """Source: HF_TESTS test_top_k_dist_warper."""
    ramp = np.tile(np.arange(10.0), (2, 1))
    ramp[1, :5] += 10
    t = hf_support(presets.hf(top_k=3), ramp)
    assert (~t.support[0]).tolist() == 7 * [True] + 3 * [False]
    assert (~t.support[1]).tolist() == 2 * [True] + 3 * [False] + 5 * [True]
    uniform = np.full((2, 5), 1 / 5)
    assert hf_support(presets.hf(top_k=1, min_tokens_to_keep=3), uniform).support.all()  # ties kept
    ramp5 = np.tile(np.arange(5.0), (2, 1))
    assert (~hf_support(presets.hf(top_k=1, min_tokens_to_keep=3), ramp5).support).sum(axis=1).tolist() == [2, 2]


def test_hf_top_p_exact_sum_is_a_boundary_case():
    """Source: HF_TESTS test_top_p_dist_warper: p = 0.8 with 0.5 + 0.3 = 0.8 exactly drops the
    0.1 tokens; the spec agrees on the support and reports those tokens as boundary."""
    t = hf_support(presets.hf(top_k=0, top_p=0.8), log([[0.3, 0.1, 0.1, 0.5], [0.15, 0.3, 0.3, 0.25]]))
    expected = np.array([[0.3, 0, 0, 0.5], [0, 0.3, 0.3, 0.25]]) > 0
    assert (expected <= t.allowed).all() and (t.support <= (expected | t.boundary)).all()
    assert t.boundary[0, 1] and t.boundary[0, 2]


def test_hf_top_p_min_tokens_to_keep():
    """Source: HF_TESTS test_top_p_dist_warper, edge cases."""
    ramp = np.tile(np.arange(10.0) - 5, (2, 1))
    ramp[1] *= 100
    t = hf_support(presets.hf(top_k=0, top_p=0.9, min_tokens_to_keep=2), ramp)
    assert t.support.sum(axis=1).tolist() == [3, 2]


def test_hf_min_p():
    """Source: HF_TESTS test_min_p_dist_warper."""
    rows = log([[0.9, 0.0274, 0.047, 0.0274], [0.15, 0.3, 0.3, 0.25], [0.97, 0.01, 0.01, 0.01]])
    t = hf_support(presets.hf(top_k=0, min_p=0.05), rows)
    assert t.support.tolist() == [[True, False, True, False], [True] * 4, [True, False, False, False]]
    ramp = np.tile(np.arange(10.0) - 5, (2, 1))
    ramp[1] *= 100
    t = hf_support(presets.hf(top_k=0, min_p=0.9, min_tokens_to_keep=2), ramp)
    assert t.support.sum(axis=1).tolist() == [2, 2]


# --- the installed mlx-lm's own filters against the mlx_lm preset ------------------------------

needs_mlx_lm = pytest.mark.skipif(importlib.util.find_spec("mlx_lm") is None, reason="mlx-lm not installed")


def mlx_lm_keep(row_logprobs, name, param):
    import mlx.core as mx
    from mlx_lm import sample_utils
    x = mx.array(row_logprobs[None, :])
    out = getattr(sample_utils, f"apply_{name}")(x, param)
    return np.isfinite(np.array(out[0].astype(mx.float32)))


@needs_mlx_lm
@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(row=tie_free_rows(max_size=200), which=st.sampled_from(["top_p", "min_p", "top_k"]),
       p=st.floats(0.05, 0.95), k=st.integers(1, 50))
def test_installed_mlx_lm_filters_keep_the_spec_support(row, which, p, k):
    import mlx.core as mx
    z = mx.array(row.astype(np.float32))
    logprobs = np.array(z - mx.logsumexp(z))  # what mlx-lm hands its filters, float32
    if which == "top_k" and not 0 < k < row.size:
        return
    step = {"top_p": spec.TopP(p, ties="all"), "min_p": spec.MinP(p),
            "top_k": spec.TopK(k, ties="any", over_vocab="error")}[which]
    t = spec.target(logprobs, spec.Pipeline((step,), "mlx_lm"))
    kept = mlx_lm_keep(logprobs, which, k if which == "top_k" else p)
    assert not ((kept != t.support) & ~t.boundary).any(), (which, np.flatnonzero(kept != t.support))

"""spec.validator.deployment's partial rows (a server that reports only its top log-probabilities):
a configuration is checked only where the target cannot depend on what the server leaves out, and
refused, with the reason, where it could. Exact (no draws)."""

import numpy as np
import pytest

from spec import presets
from spec.numerics import log_softmax
from spec.validator.deployment import TopRow, completed

MLX = presets.PRESETS["mlx_lm_server"]


def _top(logits, m=11):
    lp = log_softmax(logits)
    top = np.argsort(-lp)[:m]
    return TopRow(tuple(int(i) for i in top), tuple(float(np.float32(lp[i])) for i in top))


ROW = np.random.default_rng(0).normal(0, 3, 1_000)  # its top 11 tokens hold 0.61 of the mass


@pytest.mark.parametrize("params", [dict(temperature=0.0), dict(temperature=1.0, top_k=5),
                                    dict(temperature=0.7, top_p=0.3), dict(temperature=1.0, min_p=0.2)])
def test_a_truncation_inside_the_reported_tokens_is_checked_exactly(params):
    top = _top(ROW)
    row, index = completed(top, MLX(**params))
    assert sorted(index) == sorted(top.ids) and np.isneginf(row[-1])
    # the target on the stand-in row is the target on the true row, token for token
    from spec.target import target
    want = np.asarray(target(ROW, MLX(**params)).probs)
    got = np.asarray(target(row, MLX(**params)).probs)
    assert np.allclose([got[index[t]] for t in top.ids], want[list(top.ids)], atol=1e-6)
    assert got[len(index):].sum() == 0 and want.sum() == pytest.approx(sum(want[list(top.ids)]))


@pytest.mark.parametrize("params, reason", [
    (dict(temperature=1.0), "the rest of the row can be drawn"),
    (dict(temperature=0.7, top_p=0.9), "the rest of the row can be drawn"),  # the nucleus needs 0.9 > 0.61
    (dict(temperature=1.0, top_k=11), "unreported tokens may tie with it"),  # the 11th token is in the support
])
def test_a_target_that_depends_on_the_unreported_rest_is_refused(params, reason):
    with pytest.raises(ValueError, match=reason):
        completed(_top(ROW), MLX(**params))


def test_temperature_before_the_nucleus_depends_on_how_the_rest_is_spread():
    """vLLM tempers before top-p: at temperature 2 a thin rest over a large vocabulary outweighs a
    thick one, so the nucleus is not decided by the top tokens alone, even holding 0.95 of the mass."""
    logits = np.r_[[8.0, 7.5, 7.0], np.zeros(997)]
    top = _top(logits, 3)
    assert sum(np.exp(top.logprobs)) > 0.5
    with pytest.raises(ValueError, match="rest"):
        completed(top, presets.PRESETS["vllm"](temperature=2.0, top_p=0.5))
    completed(top, MLX(temperature=2.0, top_p=0.5))  # mlx-lm cuts before tempering: decided


def test_a_nucleus_cut_within_rounding_of_a_token_is_refused():
    """Top-p 0.5 of a row whose top 11 hold 0.61: with the reported mass off by up to ROUNDING the
    cut can move by a token."""
    with pytest.raises(ValueError, match="the cut falls too close to a token"):
        completed(_top(ROW), MLX(temperature=0.7, top_p=0.5))


def test_vllms_temperature_min_p_top_p_order_is_refused():
    """Tokens just above the min-p cut could hold more tempered mass than either extreme."""
    with pytest.raises(ValueError, match="then min-p or top-k, then top-p"):
        completed(_top(ROW), presets.PRESETS["vllm"](temperature=4.0, min_p=0.15, top_p=0.25))
    completed(_top(ROW), presets.PRESETS["vllm"](temperature=0.7, min_p=0.5))  # no nucleus after: decided


def test_a_transform_that_can_lift_or_read_the_unreported_tokens_is_refused():
    """A logit bias on token 3 acts on a token the server may not have reported, whose logit is then
    unknown."""
    with pytest.raises(ValueError, match="LogitBias cannot be checked"):
        completed(_top(ROW), MLX(temperature=1.0, top_k=5, logit_bias={3: 5.0}))


def test_a_reported_zero_means_nothing_is_unreported():
    top = TopRow((3, 1, 0, 2), (np.log(0.5), np.log(0.3), np.log(0.2), -1e30))  # token 2: probability 0
    row, index = completed(top, MLX(temperature=1.0))
    assert index == {3: 0, 1: 1, 0: 2, 2: 3} and row[3] == -1e30 and np.isneginf(row[4:]).all()


def test_garbage_top_log_probabilities_are_refused():
    for bad in (TopRow((1, 1), (-0.1, -0.2)), TopRow((1, 2), (float("nan"), -1.0)), TopRow((1,), (0.5,))):
        with pytest.raises(ValueError, match="distinct tokens"):
            completed(bad, MLX(temperature=1.0))

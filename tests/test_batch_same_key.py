"""The batch same-key check (spec.validator.independence.same_key; invariant batch-same-key): under
one key a row's token does not depend on its batch-mate.

Its bugs are ones the rest of the validator misses: min-p's maximum taken over the batch (the
min-p shape of ml-explore/mlx-lm #1575, where XTC's `.min()` had no axis) leaves two copies of one
row exact and the opposite-top-token batch too (both rows have the same maximum). False alarms:
the correct runs use ALPHA_RUN (tests/validating.py).
"""

import numpy as np
import pytest
from validating import ALPHA_RUN
from zoo import inverse_cdf, masked, softmax_rows, with_checks

import impl
import spec
from spec import presets
from spec.validator.context import Context, same_key_applies
from spec.validator.independence import GEOMETRIC, PEAKED
from spec.validator.sampler import Sampler

MIN_P = presets.hf(top_k=0, min_p=0.3)


def min_p_keep(z, batch_max: bool):
    p = softmax_rows(z)
    top = p.max() if batch_max else p.max(-1, keepdims=True)
    return p >= 0.3 * top


def black_box(name, draw):
    def sample(logits, seed):
        with_checks(lambda z: None)(logits)  # NaN, +inf and all -inf rows raise
        return draw(logits, seed)
    return Sampler(sample, "numpy", "seed", name=name)


def min_p_sampler(batch_max: bool):
    return black_box(f"min-p, maximum over the {'batch' if batch_max else 'row'}",
                     lambda z, seed: inverse_cdf(softmax_rows(masked(z, min_p_keep(z, batch_max))),
                                                 np.random.default_rng(seed)))


def content_ordered(z, seed):
    """Exact per row, but the key's uniforms go to the rows in order of their top logit: each row's
    distribution is right and the rows are independent, yet a row's draw moves with its batch-mate."""
    u = np.random.default_rng(seed).random(len(z))[np.argsort(np.argsort(-z.max(-1), kind="stable"))]
    cdf = np.cumsum(softmax_rows(masked(z, min_p_keep(z, False))), -1)
    return np.array([min(np.searchsorted(c, x * c[-1], side="right"), c.size - 1) for c, x in zip(cdf, u, strict=True)])


def test_the_pair_tells_a_batch_maximum_from_a_row_maximum():
    """Why the check's rows: under min-p 0.3, GEOMETRIC keeps other tokens beside PEAKED."""
    rows = np.stack([GEOMETRIC, PEAKED])
    assert not np.array_equal(min_p_keep(rows, True)[0], min_p_keep(rows[:1], True)[0])
    assert np.array_equal(min_p_keep(np.stack([GEOMETRIC] * 2), True), min_p_keep(np.stack([GEOMETRIC] * 2), False))


def test_a_batch_wide_min_p_is_caught_only_by_the_batch_same_key_check():
    report = spec.validate(min_p_sampler(batch_max=True), MIN_P, profile="quick")
    (failure,) = report.failures
    assert failure.check == "structure: batch same-key", str(report)
    assert failure.invariant.startswith("batch-same-key")
    assert failure.counterexample["values"][0] == list(GEOMETRIC)
    assert "a filter is computed over the batch" in failure.message
    # every other tier passed: the statistics ran before it and found nothing
    assert any(c.startswith("statistics: batch independence") for c in report.checks)


def test_the_same_sampler_with_a_row_maximum_passes():
    report = spec.validate(min_p_sampler(batch_max=False), MIN_P, profile="quick", alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert any(c.startswith("structure: batch same-key") for c in report.checks), report.checks


def test_uniforms_handed_out_by_content_fail_and_the_message_says_why():
    """A documented strictness: a reproducible sampler must give a row the same token for the same
    key whatever its batch-mates (batch invariance), which this exact sampler does not."""
    report = spec.validate(black_box("uniforms by top logit", content_ordered), MIN_P, profile="quick")
    assert [f.check for f in report.failures] == ["structure: batch same-key"], str(report)
    assert "in an order that depends on their content" in report.failures[0].message


@pytest.mark.parametrize("pipeline", [MIN_P, presets.mlx_lm(temp=0.7, top_p=0.9, min_p=0.05)], ids=str)
def test_impl_passes_with_its_keys(pipeline):
    report = spec.validate(impl.make_sampler(pipeline), pipeline, profile="quick", alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert any(c.startswith("structure: batch same-key") for c in report.checks), report.checks


def test_random_steps_and_one_row_samplers_skip_it():
    """XTC's coins may be drawn in any order by a correct sampler; one-row samplers have no batch."""
    xtc = presets.mlx_lm(temp=1.0, xtc_probability=0.5, xtc_threshold=0.1)
    build = lambda sampler, pipeline: Context.build(sampler, pipeline, None, "auto", "quick", 1e-6, 0, None,  # noqa: E731
                                                   None, None)
    assert same_key_applies(build(impl.make_sampler(MIN_P), MIN_P))
    assert not same_key_applies(build(impl.make_sampler(xtc), xtc))
    one_row = Sampler(lambda logits, seed: np.zeros(len(logits), int), "numpy", "seed", batched=False)
    ctx = build(one_row, MIN_P)
    assert not same_key_applies(ctx) and ctx.alpha_batch_key == 0

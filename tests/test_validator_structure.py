"""Tier 3, structure and same-key coupling (spec/validator/structure.py, coupling.py): the
floating-point theorems set the same-key tolerances.

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import mlx.core as mx
import numpy as np
from zoo import CORRECT

import spec
from spec import presets
from spec.validator import mismatch_rate


def test_same_key_mismatch_bound_follows_the_precision():
    z = np.array([[0.0, 3.0, 1.0, 2.5, 0.2]])
    t = spec.target(z, presets.reference(temperature=0.7))
    f32, _ = mismatch_rate(t, z[0], z[0] - 37.0, "float32", presets.reference(temperature=0.7))
    bf16, _ = mismatch_rate(t, z[0], z[0] - 37.0, "bfloat16", presets.reference(temperature=0.7))
    assert f32 < 1e-3 and bf16 > 0.1


def test_a_shift_dependent_sampler_fails_the_same_key_check_citing_the_theorems():
    """Clipping logits at -30 (a 'numerical safety' step) is invisible on every case row, whose
    values lie above -30, but not after the shift by -37: only the same-key check sees it."""
    def clips_at_minus_30(x, seed):
        z = np.where(np.isfinite(x), np.maximum(x, -30.0), x)
        return CORRECT[3].black_box().draw(z, seed)  # a correct temperature-0.5 sampler, on the clipped row
    report = spec.validate(clips_at_minus_30, presets.hf(temperature=0.5, top_k=0))
    failure = report.failures[0]
    assert failure.check == "structure: same-key shift", str(report)
    for theorem in ("softmax-shift", "gumbel-coupling", "fp-sub-monotone"):
        assert theorem in failure.theorems


def test_greedy_logprobs_check_uses_the_guard_theorem():
    """A greedy sampler that rounds its input to bfloat16 first: on a row whose top two logits
    round together, the logits and the log-probabilities may pick different tokens only as
    fp-argmax-shift-weak allows; the validator accepts exactly that."""
    def greedy_bf16(x):
        return np.array(mx.argmax(mx.array(x).astype(mx.bfloat16), axis=-1))
    report = spec.validate(greedy_bf16, presets.reference(temperature=0), array="numpy")
    assert report.passed, str(report)

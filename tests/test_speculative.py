"""Speculative decoding, end to end (spec.validate_generation). The mlx-lm loops themselves run in the
conformance grid (tests/test_conformance.py checks their rows): mlx-lm's speculative_generate_step
must generate plain generation's exact joint of the first two tokens. With XTC it does not: the
target samples every verified position in one sampler call, and mlx-lm's XTC tosses one coin per
call, so consecutive accepted tokens share it (the same model as its own draft, vocabulary 8, prompt
[1, 2, 3]: P(3, 3) is about 0.17 instead of 0.125). Plain generation with XTC, and speculative
generation without it, pass.

A second finding: speculative_generate_step starts its processors' token list from the part of the
prompt it has not prefilled (`prev_tokens = None`, then only the last prompt token is added), so a
repetition penalty ignores every prompt token but the last, where generate_step counts the whole
prompt: the white-box tier catches it on the first token.

Here: a speculative loop around any verifier (spec.validator.generation.speculative_loop), an exact verifier
that passes, and the verifier zoo, each bug caught."""

import pytest

from spec import presets
from spec.engines.mlx_lm import tiny_llama
from spec.validator.generation import validate_generation
from tests.validating import ALPHA_RUN

PROMPT = [1, 2, 3]


# --- the verifier zoo: spec.validator.generation.speculative_loop around each verifier --------------------

FLAT = presets.reference(temperature=2.0)  # 64 sequences of two tokens have mass: every bug shape shows


@pytest.fixture(scope="module")
def two_models():
    (_, target), (_, draft) = tiny_llama(vocab=8, seed=2), tiny_llama(vocab=8, seed=3)
    return target, draft


def verify_check(loop, target):
    return validate_generation(loop, target, PROMPT, FLAT, yields="none", profile="quick", alpha=ALPHA_RUN)


def test_an_exact_rejection_verifier_passes(two_models):
    from spec.validator.generation import rejection_verify, speculative_loop
    target, draft = two_models
    report = verify_check(speculative_loop(rejection_verify, target, draft, FLAT), target)
    assert report.passed, str(report)


@pytest.mark.parametrize("bug, options", [
    ("resample_from_p", {}), ("ratio_from_logits", {}), ("bonus_from_q", {"k": 1}), ("shared_uniform", {}),
    ("draft_seen_raw", {"draft_seen": "raw", "draft_pipeline": presets.reference(temperature=0.5, top_p=0.8)}),
])
def test_each_verifier_bug_is_caught(two_models, bug, options):
    """Resampling from p, the ratio from raw logits, the bonus token from q, one uniform for every
    position, and a verifier handed the draft's plain softmax while the drafts were drawn after
    temperature and top-p."""
    from spec.validator.generation import rejection_verify, speculative_loop
    from tests import zoo_speculative
    target, draft = two_models
    verify = rejection_verify if bug == "draft_seen_raw" else getattr(zoo_speculative, bug)
    report = verify_check(speculative_loop(verify, target, draft, FLAT, **options), target)
    assert not report.passed
    assert report.failures[0].check in ("generation: statistics", "generation: support")
    assert report.failures[0].counterexample

"""Hugging Face transformers' own processors and warpers, as generate(do_sample=True) builds them
(spec/engines/transformers.py: GenerationMixin._get_logits_processor, then torch.multinomial), validated
against the hf preset. Skipped without torch and transformers (pip install -e ".[hf]").

False alarms: each validation run uses alpha = ALPHA_RUN (counted in tests/validating.py).
"""

import pytest
from validating import ALPHA_RUN

import spec
from spec import presets

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from spec.engines import transformers as hf  # noqa: E402 - after the skips

# temperature + top-k + top-p is test_validate.py's test_hf_warpers_conform_to_the_hf_preset, and
# repetition_penalty + typical_p + sequence_bias is test_validator_history.py's.
CONFIGS = [
    dict(top_k=0, typical_p=0.9),
    dict(temperature=0.8, top_k=0, epsilon_cutoff=0.05),
    dict(top_k=0, eta_cutoff=0.05),
    dict(temperature=0.9, top_k=0, repetition_penalty=1.5, sequence_bias={1: 2.0, 3: -float("inf"), 5: -1.0}),
    dict(temperature=0.8, top_k=0, min_p=0.1),
    dict(temperature=0.7, top_k=2, top_p=0.5, min_tokens_to_keep=3),  # built by hand: generate() has no such knob
    dict(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, typical_p=0.8, eta_cutoff=0.02, repetition_penalty=1.2,
         sequence_bias={0: 1.0}),  # every processor the preset models but epsilon, in generate()'s order
]


@pytest.mark.parametrize("params", CONFIGS, ids=str)
def test_hf_generate_processors_conform_to_the_hf_preset(params):
    report = spec.validate(hf.sampler(**params), presets.hf(**params), alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert report.input == "logits"
    assert any(c.startswith("white-box: keep-set") for c in report.checks), report.checks


@pytest.mark.parametrize("params", [
    dict(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, typical_p=0.9, epsilon_cutoff=0.1, eta_cutoff=0.1,
         repetition_penalty=1.2, sequence_bias={1: 1.0}),
    dict(),
    dict(top_k=None, top_p=None, typical_p=None, epsilon_cutoff=None, eta_cutoff=None, repetition_penalty=None),
], ids=str)
def test_the_by_hand_list_is_the_one_generate_builds(params):
    """min_tokens_to_keep != 1 is built by hand: at 1, the same processors in the same order as
    _get_logits_processor's, with the same effect."""
    config = hf.generation_config(**params)
    ids = torch.tensor([[1, 2, 1], [4, 4, 0]])
    built = hf.logits_processor(config, ids)
    by_hand = hf._by_hand(config, 1)
    assert [type(p) for p in built] == [type(p) for p in by_hand]
    scores = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(built(ids, scores.clone()), by_hand(ids, scores.clone()))


def test_the_hf_preset_defaults_are_generates():
    """generate(do_sample=True) with nothing else set: top-k 50 alone (transformers' global defaults)."""
    built = hf.logits_processor(hf.generation_config(), torch.tensor([[0]]))
    assert [type(p).__name__ for p in built] == ["TopKLogitsWarper"]
    assert [type(s).__name__ for s in presets.hf().steps] == ["TopK"]


def test_a_processor_list_is_fresh_for_each_call():
    """SequenceBiasLogitsProcessor fixes the vocabulary size at its first call: hf() copies the
    list for each call, as generate() builds one per call, so vocabularies of any size can follow."""
    from transformers import generation as g

    sampler = hf.from_processors(g.LogitsProcessorList([g.SequenceBiasLogitsProcessor([[[1], 2.0]])]))
    for vocab in (5, 8, 3):
        assert sampler.filtered(torch.zeros(2, vocab))[:, 1].tolist() == [2.0, 2.0]


def test_typical_p_min_tokens_to_keep_ranks_far_tokens_as_hugging_face_does():
    """Found with Hugging Face's warper: tokens far below the top (p = 0 in float64) are ranked by
    their exact surprise, not tied at inf."""
    import numpy as np

    params = dict(top_k=0, typical_p=0.5, min_tokens_to_keep=2)
    row = np.array([0.0, 10000.0, 5000.0])  # surprise 10000, 0, 5000: token 2 is the more typical
    kept = hf.sampler(**params).filtered(torch.tensor(row[None], dtype=torch.float32))[0]
    assert np.flatnonzero(np.isfinite(kept.numpy())).tolist() == [1, 2]
    assert np.flatnonzero(spec.target(row, presets.hf(**params)).support).tolist() == [1, 2]


@pytest.mark.parametrize("params", [dict(temperature=0.8, top_p=0.9, repetition_penalty=1.3),
                                    dict(top_k=5, typical_p=0.9)], ids=str)
def test_hf_generate_loop_samples_the_spec_joint(params):
    """transformers' real generate() on a small random LlamaForCausalLM: the first two tokens follow
    the exact joint of the hf preset, the scores it draws from match the spec at every history."""
    from spec.validator.generation import validate_generation
    model, next_logits = hf.tiny_llama()
    report = validate_generation(hf.loop(model, **params), next_logits, [1, 2, 3, 2], presets.hf(**params),
                                 yields="final", profile="quick", alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert any("white-box" in c and "(final)" in c for c in report.checks)


def test_the_conformance_grid_of_transformers_conforms():
    from spec import conformance
    rows = conformance.run(["transformers"], profile="quick", alpha=ALPHA_RUN * len(hf.ENGINE.configs))
    assert [r.verdict for r in rows] == ["conforms"] * len(hf.ENGINE.configs), conformance.markdown(rows)

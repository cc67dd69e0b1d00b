"""spec.validate end to end: the bug zoo is caught black-box by the default profile, correct samplers
and real engines pass.

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import json

import pytest
from validating import ALPHA_RUN
from zoo import BUGGY, CORRECT

import impl
import spec
from proofs.catalogue import BY_ID as THEOREMS
from spec import presets
from spec.engines import mlx_lm


@pytest.mark.parametrize("bug", BUGGY, ids=lambda s: s.name)
def test_default_profile_catches_the_bug_black_box(bug):
    report = spec.validate(bug.black_box(), bug.pipeline)
    assert not report.passed, f"{bug.name} was not caught"
    failure = report.failures[0]
    assert failure.message and failure.check and failure.case
    assert failure.check not in ("contract: output", "contract: no hang")  # caught by its defect, not by garbage
    assert str(report).startswith("DOES NOT CONFORM")
    assert json.loads(report.to_json())["passed"] is False
    for theorem in failure.theorems:
        assert theorem in THEOREMS


@pytest.mark.parametrize("sampler", CORRECT, ids=lambda s: s.name)
def test_correct_numpy_samplers_pass(sampler):
    report = spec.validate(sampler.black_box(), sampler.pipeline, alpha=ALPHA_RUN)
    assert report.passed, str(report)


MLX_LM_CONFIGS = [dict(temp=0.7, top_p=0.9), dict(temp=1.0, min_p=0.1, top_k=20), dict(temp=0.0)]
# mlx-lm's make_sampler with make_logits_processors, composed as generate_step does (mlx_lm.sampler),
# at the new parameters. XTC runs one case copy per call (an engine may toss one coin per call): quick.
XTC = dict(temp=1.0, xtc_probability=0.5, xtc_threshold=0.1)
MLX_LM_PROCESSOR_CONFIGS = [
    (XTC, "quick"),
    (dict(temp=0.8, repetition_penalty=1.3, presence_penalty=0.5, frequency_penalty=0.3,
          logit_bias={3: 1.5, 5: -float("inf"), 7: -2.0}), "default"),
    (dict(temp=0.7, top_p=0.9, min_p=0.05, top_k=20, repetition_penalty=1.2, repetition_context_size=8,
          frequency_penalty=0.2, logit_bias={1: 2.0}), "quick"),
    (dict(temp=0.0, repetition_penalty=1.5, logit_bias={0: -float("inf")}), "default"),
]


@pytest.mark.parametrize("params", MLX_LM_CONFIGS, ids=str)
def test_mlx_lm_make_sampler_conforms_to_the_mlx_lm_preset(params):
    report = spec.validate(mlx_lm.sampler(**params), presets.mlx_lm(**params), input="logprobs", alpha=ALPHA_RUN)
    assert report.passed, str(report)


@pytest.mark.parametrize(("params", "profile"), MLX_LM_PROCESSOR_CONFIGS, ids=lambda v: str(v) if isinstance(v, dict)
                         else v)
def test_mlx_lm_sampler_and_logits_processors_conform_to_the_mlx_lm_preset(params, profile):
    """The adapter takes logits (its processors see raw logits), with one spec.History per row.
    mlx-lm's XTC tosses one coin per call for the whole batch: every row's marginal is right, and
    the batch-independence check catches it with a 2-row counterexample."""
    report = spec.validate(mlx_lm.sampler(**params), presets.mlx_lm(**params), profile=profile, alpha=ALPHA_RUN)
    if params is XTC:
        (failure,) = report.failures
        assert failure.check == "statistics: batch independence", str(report)
        assert len(failure.counterexample["values"]) == 2 and "(2, 2)" in failure.message
        return
    assert report.passed, str(report)
    assert report.input == "logits"
    if params.get("temp"):
        assert any(c.startswith("white-box: keep-set") for c in report.checks), report.checks


def _impl_has_rules(pipeline) -> bool:
    from impl import rules as impl_rules
    return all(callable(getattr(impl_rules, type(s).impl, None)) for s in pipeline.steps)


@pytest.mark.parametrize(("params", "profile"), MLX_LM_PROCESSOR_CONFIGS, ids=lambda v: str(v) if isinstance(v, dict)
                         else v)
def test_impl_conforms_to_the_mlx_lm_preset_with_processors(params, profile):
    pipeline = presets.mlx_lm(**params)
    if not _impl_has_rules(pipeline):
        from impl import rules as impl_rules
        missing = [type(s).impl for s in pipeline.steps if not callable(getattr(impl_rules, type(s).impl, None))]
        pytest.skip("impl.rules has no rule yet for " + ", ".join(missing))
    report = spec.validate(impl.make_sampler(pipeline), pipeline, profile=profile, alpha=ALPHA_RUN)
    assert report.passed, str(report)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_samplers_pass_on_other_seeds(seed):
    runs = [(mlx_lm.sampler(temp=0.7, top_p=0.9), presets.mlx_lm(temp=0.7, top_p=0.9), "logprobs"),
            (impl.make_sampler(presets.hf(top_k=0, top_p=0.8)), presets.hf(top_k=0, top_p=0.8), "logits"),
            (CORRECT[4].black_box(), CORRECT[4].pipeline, "logits")]
    for sampler, pipeline, input_kind in runs:
        report = spec.validate(sampler, pipeline, input=input_kind, profile="quick", seed=seed, alpha=ALPHA_RUN)
        assert report.passed, str(report)


def test_hf_warpers_conform_to_the_hf_preset():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from spec.engines import transformers as hf
    params = dict(temperature=0.7, top_k=40, top_p=0.9)
    report = spec.validate(hf.sampler(**params), presets.hf(**params), alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert report.fingerprint["consistent"] and "hf" in report.fingerprint["consistent"]

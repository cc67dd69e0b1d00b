"""Token histories and random steps in the validator (spec/validator/cases.py, sampler.py,
white_box.py, calls.py): the cases carry histories that tell the penalty conventions apart, a
sampler reads them through its `history` parameter, and XTC's mixture is checked component-wise.

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import inspect

import mlx.core as mx
import numpy as np
import pytest
from validating import ALPHA_RUN

import spec
from spec import History, presets
from spec.engines import mlx_lm
from spec.validator import cases
from spec.validator.keep import components
from spec.validator.sampler import Sampler, as_sampler

PENALTY = presets.mlx_lm(temp=1.0, presence_penalty=0.7, presence_context_size=0)


def test_cases_carry_histories_only_when_the_pipeline_reads_them():
    assert not any(c.histories for c in cases(0, presets.mlx_lm(temp=0.7, top_p=0.9)))
    made = cases(0, presets.mlx_lm(temp=1.0, repetition_penalty=1.3, frequency_penalty=0.2, frequency_context_size=7))
    names = " | ".join(c.name for c in made if c.seen)
    for words in ("seen 3 times", "positive and negative logits", "prompt (0, 0, 2) vs output (5,)", "window 7",
                  "window 20", "each row's top token seen twice", "generation-like history"):
        assert words in names, words
    window = next(c for c in made if "window 7" in c.name)
    assert window.histories[0].seen("all", 7) == (6,) * 7 and 0 in window.histories[1].seen("all", 7)
    assert all(len(c.history(3)) == 3 * c.rows.shape[0] for c in made)
    assert any(not c.seen for c in made)  # the empty history stays a case (the probes)


def _output_only(inner):
    def sample(x, history):
        return inner.draw(x, history=[History(output=h.output) for h in history])
    return sample


def _first_row_history(inner):
    def sample(x, history):
        return inner.draw(x, history=[history[0]] * len(history))
    return sample


@pytest.mark.parametrize(("name", "sampler", "pipeline", "case"), [
    ("the context window ignored", mlx_lm.sampler(temp=1.0, repetition_penalty=1.5, repetition_context_size=0),
     presets.mlx_lm(temp=1.0, repetition_penalty=1.5), "window 20"),
    ("presence counted as frequency", mlx_lm.sampler(temp=1.0, frequency_penalty=0.5),
     presets.mlx_lm(temp=1.0, presence_penalty=0.5), "seen 3 times"),
    ("the prompt not counted", _output_only(mlx_lm.sampler(temp=1.0, presence_penalty=0.7, presence_context_size=0)),
     PENALTY, "prompt (0, 0, 2) vs output"),
    ("row 0's history used for every row",
     _first_row_history(mlx_lm.sampler(temp=1.0, presence_penalty=0.7, presence_context_size=0)), PENALTY,
     "two rows with opposite top tokens"),
    ("the repetition penalty's sign ignored", mlx_lm.sampler(temp=1.0, repetition_penalty=1.0 / 1.5),
     presets.mlx_lm(temp=1.0, repetition_penalty=1.5), "history"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_history_bugs_are_caught_on_the_case_made_for_them(name, sampler, pipeline, case):
    report = spec.validate(sampler, pipeline, profile="quick")
    assert not report.passed, name
    assert case in report.failures[0].case["case"], (name, report.failures[0].case["case"])


def test_a_sampler_without_a_history_parameter_is_validated_with_empty_histories_and_told_so():
    inner = mlx_lm.sampler(temp=1.0, presence_penalty=0.7)
    report = spec.validate(lambda x: inner.draw(x), presets.mlx_lm(temp=1.0, presence_penalty=0.7), profile="quick",
                           alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert any(s.startswith("token histories: the sampler takes no `history` argument") for s in report.skipped)


def test_history_is_detected_by_name_or_declared():
    def sample(x, history):
        return np.zeros(len(x), dtype=np.int64)
    assert as_sampler(sample).history and not as_sampler(lambda x: x).history
    declared = Sampler(lambda x, history: np.array([len(history[0].output)]), history=True)
    assert declared(np.zeros((1, 3)), None, [History(output=(1, 2))]).tolist() == [2]


def test_mlx_lm_adapter_composes_generate_step_and_leaves_its_input_alone():
    """Processors on the raw logits with prompt + output, then logits - logsumexp, per row."""
    params = dict(temp=1.0, repetition_penalty=2.0, logit_bias={1: 1.0})
    sampler = mlx_lm.sampler(**params)
    assert sampler.input == "logits" and sampler.history
    assert set(inspect.signature(mlx_lm.sampler).parameters) == set(inspect.signature(presets.mlx_lm).parameters) - {
        "version"}
    x = mx.array([[1.0, -1.0, 0.5], [1.0, -1.0, 0.5]])
    got = np.array(sampler.filter(x, [History(prompt=(0,), output=(1,)), History()]))
    # bias first (token 1: -1 + 1 = 0), then the penalty on tokens 0 and 1 (1 / 2, and 0 stays 0)
    expect = [np.array([0.5, 0.0, 0.5]), np.array([1.0, 0.0, 0.5])]
    for row, z in zip(got, expect, strict=True):
        assert np.allclose(row, z - np.log(np.exp(z).sum()), atol=1e-6)
    assert np.array(x).tolist() == [[1.0, -1.0, 0.5], [1.0, -1.0, 0.5]]


def test_mixture_components():
    pipeline = presets.mlx_lm(temp=1.0, xtc_probability=0.5)
    off, on = components(pipeline)
    assert [type(s).__name__ for s in off.steps] == ["Temperature"]
    assert on.steps[0].probability == 1.0 and components(presets.mlx_lm(temp=1.0)) == [presets.mlx_lm(temp=1.0)]


def _xtc_filter(buggy: bool):
    """XTC on log-probabilities, always acting; buggy: removes every token above the threshold."""
    def filtered(x):
        z = np.array(x, dtype=np.float64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        over = p > 0.1
        least = np.where(over, p, np.inf).min(axis=1, keepdims=True)
        cut = over if buggy else p > least
        cut &= over.sum(axis=1, keepdims=True) >= 2
        return mx.array(np.where(cut, -np.inf, z).astype(np.float32))
    return filtered


@pytest.mark.parametrize("buggy", [False, True], ids=["one component", "no component"])
def test_white_box_with_random_steps_accepts_any_one_component(buggy):
    """A filter that always acts matches the 'XTC acts' component: not a failure. One whose
    keep-set matches no component is."""
    pipeline = presets.mlx_lm(temp=1.0, xtc_probability=0.5)
    draw = mlx_lm.sampler(temp=1.0, xtc_probability=0.5)
    sampler = Sampler(draw.draw, "mlx", "global", _xtc_filter(buggy), input="logits")
    report = spec.validate(sampler, pipeline, profile="quick", alpha=ALPHA_RUN)
    if buggy:
        assert report.failures[0].check == "white-box: keep-set", str(report)
        assert "matches none" in report.failures[0].message
    else:
        assert not report.failures or report.failures[0].check != "white-box: keep-set", str(report)
        assert any("one mixture component's support" in c for c in report.checks), report.checks


def test_hf_processors_conform_to_the_hf_preset():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from spec.engines import transformers as hf
    params = dict(temperature=0.8, top_k=0, repetition_penalty=1.3, typical_p=0.9, sequence_bias={2: 1.5})
    report = spec.validate(hf.sampler(**params), presets.hf(**params), alpha=ALPHA_RUN)
    assert report.passed, str(report)


def test_hf_factory_takes_every_parameter_of_the_hf_preset():
    from spec.engines import transformers as hf  # importable without torch: the engine loads on first use
    assert inspect.signature(hf.sampler).parameters.keys() == inspect.signature(presets.hf).parameters.keys()

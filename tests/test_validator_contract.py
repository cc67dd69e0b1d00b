"""Tier 1, contract (spec/validator/contract.py and calls.py): bad samplers are findings, never a
crash of the validator; factory variants; one-row samplers.

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import time

import mlx.core as mx
import numpy as np
import pytest
from validating import ALPHA_RUN

import impl
import spec
from spec import presets
from spec.engines import mlx_lm
from spec.validator import Family
from spec.validator.sampler import Sampler


def _raises(x):
    raise RuntimeError("kaput")


def _hangs(x):
    time.sleep(60)


def _mutates(x):
    x[:, 0] = 0.0
    return np.zeros(len(x), dtype=np.int64)


@pytest.mark.parametrize(("sampler", "words"), [
    (_raises, "raised RuntimeError: kaput"),
    (_hangs, "no answer within 1 s"),
    (_mutates, "modified in place"),
    (lambda x: np.zeros(len(x)), "token ids must be integers"),
    (lambda x: np.zeros((len(x), 1), dtype=int), "expected (1,)"),
    (lambda x: np.full(len(x), 10**6), "outside [0, 5)"),
    (lambda x: "garbage", "returned str"),
    (lambda x: None, "returned NoneType"),
], ids=["raises", "hangs", "mutates", "floats", "shape", "range", "str", "none"])
def test_bad_samplers_are_reported_as_such(sampler, words):
    report = spec.validate(sampler, presets.reference(), timeout=1)
    assert not report.passed and words in report.failures[0].message
    assert report.failures[0].check.startswith("contract")


def test_nan_rows_returned_silently_are_noted_not_failed():
    """mlx-lm returns a token for a NaN row; the spec has no target there, so it is a note."""
    report = spec.validate(mlx_lm.sampler(temp=0.0), presets.mlx_lm(temp=0.0), input="logprobs", profile="quick")
    assert report.passed and any("NaN" in n for n in report.notes)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(spec.InvalidParameter, match="profile"):
        spec.validate(np.argmax, presets.reference(), profile="fast")
    with pytest.raises(spec.InvalidParameter, match="input"):
        spec.validate(np.argmax, presets.reference(), input="probs")
    with pytest.raises(spec.InvalidParameter, match="alpha"):
        spec.validate(np.argmax, presets.reference(), alpha=0)
    with pytest.raises(spec.InvalidParameter, match="pipeline"):
        spec.validate(np.argmax, "hf")
    with pytest.raises(spec.InvalidParameter, match="sampler"):
        spec.validate(42, presets.reference())


def _impl_factory(bug: bool):
    def build(**common):
        if bug and common.get("top_p") == 1.0:  # the classic: top_p = 1 taken as "keep the top token"
            return impl.make_sampler(presets.reference(temperature=0))
        return impl.make_sampler(presets.common("hf", **common))
    return build


@pytest.mark.parametrize("bug", [False, True], ids=["correct", "top_p=1 is greedy"])
def test_factory_variants(bug):
    params = {"temperature": 0.7, "top_k": 0}
    build = _impl_factory(bug)
    family = Family(build, "hf", params)
    report = spec.validate(build(**params), presets.common("hf", **params), family=family, profile="quick",
                           alpha=ALPHA_RUN)
    if bug:
        assert report.failures[0].check == "contract: no-op parameters", str(report)
        assert "top_p = 1" in report.failures[0].message
    else:
        assert report.passed, str(report)
        factory = [c for c in report.checks if c.startswith("contract (factory)")]
        assert factory and factory[0].startswith("contract (factory): top_k = 1, top_p = 1, min_p = 0"), factory


def test_a_one_row_sampler_is_called_row_by_row():
    """tiny-llm's sampler takes one (1, V) row; declared batched=False, it is validated row by row."""
    def one_row(logprobs, key):
        if logprobs.shape[0] != 1:
            raise ValueError("one row at a time")
        return mx.random.categorical(logprobs * (1 / 0.7), key=mx.random.key(key))
    pipeline = presets.tiny_llm(temp=0.7)
    report = spec.validate(Sampler(one_row, "mlx", "key", batched=False), pipeline, input="logprobs",
                           profile="quick", alpha=ALPHA_RUN)
    assert report.passed, str(report)
    batched = spec.validate(one_row, pipeline, input="logprobs", profile="quick")
    assert "one row at a time" in batched.failures[0].message

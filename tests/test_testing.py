"""spec.testing.assert_conforms: the validator as a test assertion."""

import pytest
from validating import ALPHA_RUN
from zoo import BUGGY, CORRECT

from spec.testing import assert_conforms


def test_a_correct_sampler_passes_and_the_report_comes_back():
    sampler = CORRECT[0]
    report = assert_conforms(sampler.black_box(), sampler.pipeline, profile="quick", alpha=ALPHA_RUN)
    assert report.passed


def test_a_broken_sampler_fails_with_its_counterexample_as_the_message():
    bug = next(b for b in BUGGY if b.name == "top-p drops the crossing token")
    with pytest.raises(AssertionError) as failed:
        assert_conforms(bug.black_box(), bug.pipeline, profile="quick")
    message = str(failed.value)
    assert message.startswith("DOES NOT CONFORM") and "FAILED structure: support" in message
    assert "minimal counterexample" in message and "checks run:" not in message

"""Tier 2, white-box (spec/validator/white_box.py): keep-sets compared with the spec's support.

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import pytest
from validating import ALPHA_RUN
from zoo import BUGGY

import impl
import spec
from spec import presets


def test_white_box_zoo_is_caught_by_its_keep_set():
    bug = BUGGY[0]  # top-p drops the crossing token
    report = spec.validate(bug.black_box(white_box=True), bug.pipeline)
    failure = report.failures[0]
    assert failure.check == "white-box: keep-set"
    assert "keeps" in failure.counterexample["spec"]


@pytest.mark.parametrize("pipeline", [presets.mlx_lm(temp=0.7, top_p=0.9), presets.hf(temperature=0.8, top_k=40,
                         top_p=0.9, min_p=0.05), presets.reference(temperature=0)], ids=lambda p: p.name)
def test_impl_conforms(pipeline):
    report = spec.validate(impl.make_sampler(pipeline), pipeline, alpha=ALPHA_RUN)
    assert report.passed, str(report)
    if not pipeline.greedy:  # impl exposes .filter: its keep-set is checked
        assert any(c.startswith("white-box: keep-set") for c in report.checks)

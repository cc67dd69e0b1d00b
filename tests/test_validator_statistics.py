"""Tier 4, statistics (spec/validator/statistics.py): boundary tokens left out, power and alpha
split stated.

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import json

import pytest
from validating import ALPHA_RUN
from zoo import CORRECT

import impl
import spec
from spec import presets
from spec.validator.sampler import Sampler


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_inputs_pass_with_boundary_tokens_left_out(dtype):
    """In bfloat16 many tokens sit within rounding of a cut: the statistics leave them out and
    test the rest, whose relative probabilities do not depend on the boundary."""
    pipeline = presets.mlx_lm(temp=0.7, top_p=0.9)
    sampler = impl.make_sampler(pipeline)
    report = spec.validate(Sampler(sampler, "mlx", "key", sampler.filter, dtype=dtype), pipeline,
                           input="logprobs", profile="quick", alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert any(c.startswith("statistics: 11 cases (12 rows)") for c in report.checks), report.checks
    if dtype == "bfloat16":
        assert any("leave out" in n for n in report.notes)


def test_a_pass_states_its_power_and_alpha_split():
    sampler = CORRECT[3]
    report = spec.validate(sampler.black_box(), sampler.pipeline, profile="quick", alpha=ALPHA_RUN)
    assert report.passed
    text = str(report)
    assert "a pass rules out" in text and "missing token with spec probability >=" in text
    assert "temperature-like deviation with total variation >=" in text
    assert "split by Bonferroni" in report.alpha_split
    data = json.loads(report.to_json())
    assert data["passed"] and data["power"] and data["draws"] > 10_000


def test_looks_go_breadth_first_so_a_late_case_failure_costs_one_look_per_case():
    """"min_tokens_to_keep ignored" shows only on the two-row batch case, the 9th of 12 rows. Before
    the looks went breadth first, the cases before it were taken to 40,000 draws per row first:
    348,024 draws to the failure; now every row gets its 2,500-draw look first (85,524, and 67,524
    since the structure tier's 2,000 draws per case count towards that look)."""
    from zoo import BUGGY
    bug = next(b for b in BUGGY if b.name == "min_tokens_to_keep ignored")
    report = spec.validate(bug.black_box(), bug.pipeline)
    (failure,) = report.failures
    assert failure.check.startswith("statistics") and failure.statistics["draws"] <= 2_500
    assert report.draws < 120_000, report.draws

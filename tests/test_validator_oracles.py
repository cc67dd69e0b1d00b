"""Shrinking oracles (spec/validator/oracles.py, shrink.py): deterministic, minimal counterexamples.

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import numpy as np
from zoo import BUGGY

import spec
from spec.validator.shrink import shrink


def test_a_full_vocabulary_row_shrinks_to_two_tokens():
    """White-box oracle: the filter drops the crossing token. 151,936 tokens -> 2."""
    bug = BUGGY[0]
    row = 0.3 * spec.rows.llm_logits(np.random.default_rng(5), 1, spec.rows.VOCAB)  # a nucleus of many tokens

    def drops_a_kept_token(rows):  # the zoo computes in float64: compare exactly
        t = spec.target(rows, bug.pipeline, tol=spec.Tolerance(0.0, 0.0))
        return bool((t.support & (bug.probs(rows) == 0)).any())

    assert drops_a_kept_token(row)
    small = shrink(row, drops_a_kept_token)
    assert small.shape == (1, 2) and drops_a_kept_token(small)


def test_black_box_failures_come_with_a_minimal_counterexample():
    bug = next(b for b in BUGGY if b.name == "top-k keeps k + 1")
    failure = spec.validate(bug.black_box(), bug.pipeline).failures[0]
    assert failure.counterexample is not None and "fixed-key" in failure.counterexample["how"]
    assert "(V = 4)" in failure.counterexample["row"]  # k = 3 keeps 4 tokens: 4 is the least that shows it
    small = np.array(failure.counterexample["values"])
    assert small.shape == (1, 4)
    assert not spec.target(small, bug.pipeline).allowed[0, np.argmin(small[0])]  # the spec drops the smallest


def test_same_key_failures_shrink_with_the_failing_keys():
    bug = next(b for b in BUGGY if "overflow" in b.name)
    failure = spec.validate(bug.black_box(), bug.pipeline).failures[0]
    assert failure.check == "structure: same-key logits-vs-logprobs"
    assert "(V = 2)" in failure.counterexample["row"] and "fixed keys" in failure.counterexample["how"]


def test_missing_tokens_shrink_with_a_fixed_key_oracle():
    bug = next(b for b in BUGGY if b.name == "min_tokens_to_keep ignored")
    failure = spec.validate(bug.black_box(), bug.pipeline).failures[0]
    assert failure.check.startswith("statistics") and "never drawn" in failure.message
    assert "(V = 2)" in failure.counterexample["row"]

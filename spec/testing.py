"""The validator inside a test suite: `assert_conforms(sampler, pipeline)` fails the test with the
report's failure and its minimal counterexample as the assertion message.

False alarms add up over a suite: N validations at alpha each raise one by chance with probability
at most N * alpha (Bonferroni). Give each `alpha = budget / N`: with a budget of 1e-6 for 50
validations, 2e-8 each. The cost is mild: the statistics' thresholds grow with log(1 / alpha).
"""

from __future__ import annotations

from spec.transforms import Pipeline


def assert_conforms(sampler, pipeline: Pipeline, *, alpha: float = 1e-6, **options):
    """spec.validate(sampler, pipeline, alpha=alpha, **options), raising AssertionError whose
    message is the failure (check, evidence, minimal counterexample) when the sampler does not
    conform; the report otherwise. `options` are validate's: input, array, profile, seed, family,
    timeout, progress."""
    from spec.validator import validate  # the validator loads on first use, not with the spec

    report = validate(sampler, pipeline, alpha=alpha, **options)
    if not report.passed:
        text = str(report)
        raise AssertionError(text.split("\n\nchecks run:")[0])
    return report

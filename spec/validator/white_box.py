"""Tier 2, white-box: when the sampler exposes its filtered logits (a `filter` attribute), its
keep-set must equal the spec's support outside the boundary tokens, on every case (with its token
histories) and on rows Hypothesis generates (derandomized, shrunk by Hypothesis on a failure).
With random steps (XTC) the filter is random too: a keep-set is correct iff it equals the support
of one of the mixture's components (each combination of random steps acting or not)."""

from __future__ import annotations

from spec.validator.cases import fit, reads_history
from spec.validator.context import Capabilities, Context
from spec.validator.keep import components, keep_mismatch
from spec.validator.oracles import white_box_failure

FILTER_CALLS = 4  # filter calls per case when the pipeline has random steps (each a fresh key)


def white_box(ctx: Context, caps: Capabilities):
    if ctx.sampler.filter is None or ctx.pipeline.greedy:
        why = "greedy has no keep-set" if ctx.sampler.filter else "the sampler exposes no filtered logits"
        ctx.report.skipped.append(f"white-box keep-set: {why}")
        return
    ctx.tick("white-box")
    calls = FILTER_CALLS if len(components(ctx.pipeline)) > 1 else 1
    for case in ctx.cases:
        for _ in range(calls):
            bad = keep_mismatch(ctx, case.rows, case)
            if bad is not None:
                r = bad[0]
                white_box_failure(ctx, case.rows[r:r + 1], case.name, history=case.history()[r:r + 1])
    examples = _hypothesis_search(ctx)
    mixture = (f"; random steps: each keep-set one mixture component's support, {calls} filter calls per case"
               if calls > 1 else "")
    empty = " (empty histories)" if reads_history(ctx.pipeline) else ""
    ctx.report.checks.append(f"white-box: keep-set = spec support (outside boundary tokens) on {len(ctx.cases)} "
                             f"cases and {examples} Hypothesis rows{empty}{mixture}")


def _hypothesis_search(ctx: Context) -> int:
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from spec.strategies import logit_rows

    seen = [0]

    def disagrees(row):
        seen[0] += 1
        return keep_mismatch(ctx, fit(row[None], ctx.pipeline)) is not None

    try:
        row = find(logit_rows(max_size=32, llm_max_size=2048), disagrees,
                   settings=settings(max_examples=ctx.profile.hypothesis_examples, derandomize=True,
                                     database=None, deadline=None, phases=[Phase.generate, Phase.shrink],
                                     suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        return seen[0]
    white_box_failure(ctx, fit(row[None], ctx.pipeline), "a row Hypothesis generated (shrunk by Hypothesis)",
                      shrunk=True)
    return seen[0]

"""Tier 2, white-box: when the sampler exposes its filtered logits (a `filter` attribute), its
keep-set must equal the spec's support outside the boundary tokens, on every case and on rows
Hypothesis generates (derandomized, and shrunk by Hypothesis on a failure)."""

from __future__ import annotations

import numpy as np

from spec.validator.cases import fit
from spec.validator.context import Capabilities, Context, fail, targets_or_none
from spec.validator.oracles import white_box_failure
from spec.validator.report import Check


def white_box(ctx: Context, caps: Capabilities):
    if ctx.sampler.filter is None or ctx.pipeline.greedy:
        why = "greedy has no keep-set" if ctx.sampler.filter else "the sampler exposes no filtered logits"
        ctx.report.skipped.append(f"white-box keep-set: {why}")
        return
    ctx.tick("white-box")
    for case in ctx.cases:
        bad = keep_mismatch(ctx, case.rows, case)
        if bad is not None:
            white_box_failure(ctx, case.rows[bad[0]:bad[0] + 1], case.name)
    examples = _hypothesis_search(ctx)
    ctx.report.checks.append(f"white-box: keep-set = spec support (outside boundary tokens) on {len(ctx.cases)} "
                             f"cases and {examples} Hypothesis rows")


def kept(ctx: Context, rows: np.ndarray, case=None):
    """(the filter's keep-set, the spec's target) for rows, or None where the spec has no target."""
    x = ctx.sampler.to_array(ctx.feed(rows))
    t = targets_or_none(ctx, x, case)
    if t is None:
        return None
    try:
        out, error = ctx.calls.raw(lambda: ctx.sampler.as_numpy(ctx.sampler.filter(x)))
    except TimeoutError:
        fail(Check.HANG, "the filter returns", (),
             f"the filter gave no answer within {ctx.profile.call_timeout:g} s on shape {rows.shape}", {"row": rows[0]})
    if error is not None:
        fail(Check.FILTER, "the filter returns logits for every valid row", (),
             f"filter raised {type(error).__name__}: {error}", {"row": rows[0]})
    return np.isfinite(out).reshape(rows.shape), t


def keep_mismatch(ctx: Context, rows: np.ndarray, case=None):
    """(row, token) where the filter's keep-set disagrees with the spec, or None."""
    got = kept(ctx, rows, case)
    if got is None:
        return None
    keep, t = got
    bad = (keep != np.atleast_2d(t.support)) & ~np.atleast_2d(t.boundary)
    return tuple(int(i) for i in np.argwhere(bad)[0]) if bad.any() else None


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

"""Tier 2, white-box: when the sampler exposes its filtered logits (a `filter` attribute), its
keep-set must equal the spec's support outside the boundary tokens, on every case (with its token
histories) and on rows Hypothesis generates (derandomized, shrunk by Hypothesis on a failure).
With random steps (XTC) the filter is random too: a keep-set is correct iff it equals the support
of one of the mixture's components (each combination of random steps acting or not)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from spec.transforms import Pipeline
from spec.validator.cases import fit, reads_history
from spec.validator.context import Capabilities, Context, fail, targets_or_none
from spec.validator.oracles import white_box_failure
from spec.validator.report import Check

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


def components(pipeline: Pipeline) -> list[Pipeline]:
    """The deterministic pipelines a random pipeline mixes: every combination of its random steps
    left out or made certain (chance 1). A pipeline without random steps is its own component."""
    random = [i for i, s in enumerate(pipeline.steps) if 0 < s.chance < 1]
    out = []
    for acts in itertools.product((False, True), repeat=len(random)):
        on = {i for i, a in zip(random, acts, strict=True) if a}
        steps = tuple(replace(s, **{s.param: 1.0}) if i in on else s for i, s in enumerate(pipeline.steps)
                      if i not in random or i in on)
        out.append(replace(pipeline, steps=steps))
    return out


def kept(ctx: Context, rows: np.ndarray, case=None, history=None):
    """(the filter's keep-set, the spec's target of each mixture component) for rows, or None where
    the spec has no target."""
    x = ctx.sampler.to_array(ctx.feed(rows))
    history = case.history() if history is None and case is not None else history
    targets = [targets_or_none(ctx, x, case, p, history) for p in components(ctx.pipeline)]
    if any(t is None for t in targets):
        return None
    key = ctx.key()
    try:
        out, error = ctx.calls.raw(lambda: ctx.sampler.as_numpy(ctx.sampler.filtered(x, history, key)))
    except TimeoutError:
        fail(Check.HANG, "the filter returns", (),
             f"the filter gave no answer within {ctx.profile.call_timeout:g} s on shape {rows.shape}", {"row": rows[0]})
    if error is not None:
        fail(Check.FILTER, "the filter returns logits for every valid row", (),
             f"filter raised {type(error).__name__}: {error}", {"row": rows[0]})
    return np.isfinite(out).reshape(rows.shape), targets


def keep_mismatch(ctx: Context, rows: np.ndarray, case=None, history=None):
    """(row, token, the nearest component's target, the filter's keep-set of that row) where the
    filter's keep-set matches no component's support outside its boundary tokens, or None."""
    got = kept(ctx, rows, case, history)
    if got is None:
        return None
    keep, targets = got
    for r in range(keep.shape[0]):
        bads = [(keep[r] != np.atleast_2d(t.support)[r]) & ~np.atleast_2d(t.boundary)[r] for t in targets]
        if all(b.any() for b in bads):
            nearest = min(range(len(bads)), key=lambda i: int(bads[i].sum()))
            return r, int(np.argmax(bads[nearest])), targets[nearest], keep[r]
    return None


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

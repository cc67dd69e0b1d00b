"""The white-box comparison itself: the keep-set a sampler's filter returns against the support of
the spec's target (of each mixture component, with random steps). The white-box tier and the
shrinking oracles both use it, so it lives apart from both."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from spec.transforms import Pipeline
from spec.validator.context import Context, fail, targets_or_none
from spec.validator.report import Check


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

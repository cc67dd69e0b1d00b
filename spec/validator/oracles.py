"""Shrinking oracles and the one counterexample builder. Every oracle is deterministic (a
white-box keep-set, or fixed keys): a statistical oracle would shrink towards noise. Shrinking
shares the run's time budget (`Profile.shrink_seconds`); past it the oracles answer "no", so the
smallest row found so far is reported."""

from __future__ import annotations

import math
import time

import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.presets import CONVENTIONS, common, common_params
from spec.target import Target, target
from spec.validator.context import Context, fail, targets_or_none
from spec.validator.keep import keep_mismatch
from spec.validator.report import Check, probs_text, row_text
from spec.validator.rounding import mismatch_rate
from spec.validator.shrink import shrink


def rank(probs: np.ndarray, token: int) -> int:
    return int((probs > probs[token]).sum() + (probs[:token] == probs[token]).sum() + 1)


def tie_note(ctx: Context, row: np.ndarray, token: int, drawn: bool) -> str:
    """When `token` (never drawn, or drawn outside the support) has the same logit as another token,
    whether a tie is kept whole or cut at k or p is a convention: say so, and name the presets
    whose rule, at the same settings, would have done what the sampler did. '' when there is no
    tie or no preset's rule would explain the draws."""
    tied = [int(j) for j in np.flatnonzero(row == row[token]) if j != token]
    if not tied or not np.isfinite(row[token]):
        return ""
    agree = []
    for name in CONVENTIONS:
        try:
            t = target(ctx.feed(row[None]), common(name, explicit=True, **common_params(ctx.pipeline)))
        except (InvalidParameter, InvalidLogits):
            continue
        if (np.atleast_2d(t.probs)[0, token] > 0) == drawn:
            agree.append(name)
    if not agree:  # no tie rule explains it: the tie is beside the point
        return ""
    return (f"; token {token} is tied with token{'s' * (len(tied) > 1)} {tied} (equal logits), and ties at a cut "
            f"are a convention: the preset under test ({ctx.pipeline.name}) {'drops' if drawn else 'keeps'} it; "
            f"at these settings {', '.join(agree)} would {'keep' if drawn else 'drop'} it (choose with --preset)")


def counterexample(how: str, rows: np.ndarray, spec: str, sampler: str) -> dict:
    return {"how": how, "row": "; ".join(row_text(r, 40) for r in rows), "values": rows.tolist(), "spec": spec,
            "sampler": sampler}


def _start_shrinking(ctx: Context):
    if ctx.shrink_deadline == math.inf:
        ctx.shrink_deadline = time.monotonic() + ctx.profile.shrink_seconds


def _in_budget(ctx: Context) -> bool:
    return time.monotonic() <= ctx.shrink_deadline


def support_failure(ctx: Context, case, row: int, token: int, t: Target, key: int, reps: int, sampler, pipeline,
                    shrinkable: bool):
    """A drawn token outside the support: the failure, under the check of the pipeline that was
    drawn (greedy variants fail "contract: greedy"), shrunk with fixed keys."""
    probs = np.atleast_2d(t.probs)[row]
    greedy = int(np.atleast_1d(t.greedy)[row])
    if pipeline.greedy:
        check, inv, msg = (Check.GREEDY, "greedy = first-index argmax of the (filtered) row",
                           f"returned token {token}; the deterministic answer is token {greedy}")
    else:
        check, inv, msg = (Check.SUPPORT, "every sampled token is in the spec's support",
                           f"returned token {token}, which the spec gives probability 0")
    msg += tie_note(ctx, ctx.feed(case.rows)[row], token, drawn=True) if not pipeline.greedy else ""
    if case.exact and np.atleast_2d(target(ctx.feed(case.rows), pipeline).boundary)[row, token]:
        msg += (f"; token {token} sits exactly on a cut of this row (float64, decided with no tolerance): keeping it "
                "is a `<=` where the preset has `<` (or `>` for `>=`)")
    if case.batch:
        msg += f" (row {row} of a {case.rows.shape[0]}-row batch)"
        if ctx.sampler.batched:
            inv += " (batch-rows: each row of a batch is sampled as if it were alone)"
    info = {"case": case.name, "pipeline": str(pipeline), "input": ctx.input, "key": key,
            "batch": f"{reps} copies of the case", "row": case.rows[row],
            **({"history": case.histories[row]} if case.seen else {})}
    ce = None
    if shrinkable and sampler is ctx.sampler and pipeline is ctx.pipeline:
        ce = _shrink_outside(ctx, case, row, key, reps)
    fail(check, inv, (), msg, info,
         observed=[{"token": token, "rank": rank(probs, token), "spec_p": float(probs[token]),
                    "observed": "drawn", "expected": 0.0}],
         counterexample=ce)


def _shrink_outside(ctx: Context, case, row: int, key: int, reps: int):
    _start_shrinking(ctx)
    keys = [key] + [ctx.key() for _ in range(7)]

    def outside(r):
        return _in_budget(ctx) and _outside(ctx, r, keys, reps, case) is not None
    # A batch case shrinks as a batch (its rows together); an exact-sum case is not shrunk:
    # smaller rows would lose the exact sums it is about.
    start = case.rows if case.batch else case.rows[row:row + 1]
    if _outside(ctx, start, keys[:1], reps, case) is None:
        return None  # the control: the failing key does not reproduce the failure, so no fixed-key shrinking
    small = start if case.exact or case.seen else shrink(start, outside)
    got = _outside(ctx, small, keys, reps, case)
    if got is None:
        return None
    b, token_out = got
    ts = ctx.spec(ctx.sampler.to_array(ctx.feed(small)), case)
    which = f" for row {b}" if len(small) > 1 else ""
    how = ("the case itself (exact sums)" if case.exact else "the case itself (it has a token history)" if case.seen
           else "delta debugging")
    return counterexample(f"fixed-key oracle (keys {keys[:2]}...), {how}", small,
                          probs_text(np.atleast_2d(ts.probs)[b], np.atleast_2d(ts.allowed)[b]) + which,
                          f"returned token {token_out}{which}")


def _outside(ctx: Context, rows, keys, reps, case):
    """(row, token) for a token some fixed key draws outside the spec's support of `rows`
    (tiled `reps` times as in the failing call, so the failing key reproduces), or None."""
    fed = ctx.feed(rows)
    t = targets_or_none(ctx, ctx.sampler.to_array(fed), case)
    if t is None:
        return None
    b, v = fed.shape
    x = ctx.sampler.to_array(np.tile(fed, (reps, 1)))
    allowed = np.atleast_2d(t.allowed)
    for key in keys:
        ids = ctx.calls.quiet(x, reps * b, v, key, history=case.history(reps))
        if ids is None:
            continue
        ids = ids.reshape(reps, b)
        bad = ~allowed[np.arange(b)[None, :], ids]
        if bad.any():
            r, row = np.argwhere(bad)[0]
            return int(row), int(ids[r, row])
    return None


def white_box_failure(ctx: Context, rows, where: str, shrunk: bool = False, history=None):
    """A keep-set that differs from the spec's support (from every mixture component's, with
    random steps), shrunk by delta debugging unless Hypothesis did or the row has a token history
    (removing tokens would renumber the history)."""

    seen = bool(history) and any(h.prompt or h.output for h in history)
    if not shrunk and not seen:
        _start_shrinking(ctx)
        rows = shrink(rows, lambda r: _in_budget(ctx) and keep_mismatch(ctx, r) is not None)
    got = None
    for _ in range(8):  # a random filter (XTC) may match a component on one call and not on another
        got = keep_mismatch(ctx, rows, history=history)
        if got is not None:
            break
    if got is None:
        fail(Check.KEEP_SET, "keep-set = spec support (spec.target)", (),
             "the filter's keep-set matched no mixture component on one call, and matched one on 8 later calls",
             {"case": where, "pipeline": str(ctx.pipeline), "row": rows[0]})
    _, token, t, keep = got
    support = np.atleast_2d(t.support)[0]
    what = "keeps" if keep[token] else "drops"
    mixture = (" (and every other mixture component: the keep-set matches none)"
               if any(0 < s.chance < 1 for s in ctx.pipeline.steps) else "")
    how = ("white-box oracle, " + ("Hypothesis shrinking" if shrunk else "the case itself (it has a token history)"
                                   if seen else "delta debugging"))
    fail(Check.KEEP_SET, "keep-set = spec support (spec.target)", (),
         f"the filter {what} token {token}, which the spec {'drops' if keep[token] else 'keeps'}{mixture}",
         {"case": where, "pipeline": str(ctx.pipeline), "row": rows[0],
          **({"history": history[0]} if seen else {})},
         counterexample=counterexample(how, rows, f"keeps {np.flatnonzero(support).tolist()[:40]}",
                                       f"keeps {np.flatnonzero(keep).tolist()[:40]}"))


def shrink_missing(ctx: Context, case, row: int, token: int):
    """Delta-debug the row down while the sampler never returns `token` in m fixed-key draws
    although the spec gives it probability p in the smaller row (m such that a correct sampler
    does this with probability < 1e-9): a fixed-key, not a statistical, oracle."""
    if case.seen or any(0 < s.chance < 1 for s in ctx.pipeline.steps):
        return None  # removing tokens would renumber the history; one coin per call makes tiled draws dependent
    _start_shrinking(ctx)
    keys = [ctx.key() for _ in range(4)]

    def never(rows, ids):
        if token not in ids or not _in_budget(ctx):
            return False
        pos = ids.index(token)
        fed = ctx.feed(rows)
        t = targets_or_none(ctx, ctx.sampler.to_array(fed))
        if t is None:
            return False
        p = float(np.atleast_2d(t.probs)[0, pos])
        if p <= 0 or np.atleast_2d(t.boundary).any():
            return False
        m = min(50_000, math.ceil(math.log(1e-9) / math.log1p(-p)) if p < 1 else 1)
        reps = max(1, min(m, (2**20) // fed.shape[1]))
        x = ctx.sampler.to_array(np.tile(fed, (reps, 1)))
        for k in range(math.ceil(m / reps)):
            drawn = ctx.calls.quiet(x, reps, fed.shape[1], keys[k % 4] + k)
            if drawn is None or (drawn == pos).any():
                return False
        return True

    start = case.rows[row:row + 1]
    small, ids = shrink(start, never, ids=list(range(start.shape[1])), with_ids=True)
    if not never(small, ids):
        return None
    t = ctx.spec(ctx.sampler.to_array(ctx.feed(small)))
    pos = ids.index(token)
    return counterexample("fixed-key oracle (never drawn in m draws where a correct sampler misses with "
                          "probability < 1e-9), delta debugging", small,
                          probs_text(np.atleast_2d(t.probs)[0], np.atleast_2d(t.support)[0]),
                          f"never returns token {pos} (token {token} of the case)")


def shrink_coupling(ctx: Context, case, relate, keys: list, reps: int):
    """Delta-debug a same-key failure with the failing keys fixed: the oracle holds while more
    draws differ than rounding could explain at a 1e-9 error rate."""
    from spec.validator import stats

    if case.seen:  # removing tokens would renumber the history
        return None
    _start_shrinking(ctx)

    def mismatches(rows):
        if not _in_budget(ctx):
            return None
        xa = ctx.sampler.to_array(ctx.feed(rows))
        fed_a = ctx.sampler.as_numpy(xa)
        fed_b = relate(fed_a)
        t, tb = targets_or_none(ctx, xa), targets_or_none(ctx, ctx.sampler.to_array(fed_b))
        if t is None or tb is None or t.boundary.any() or tb.boundary.any():
            return None
        tile_a, tile_b = (ctx.sampler.to_array(np.tile(f, (reps, 1))) for f in (fed_a, fed_b))
        vocab = fed_a.shape[1]
        pairs = [(ctx.calls.quiet(tile_a, reps, vocab, k), ctx.calls.quiet(tile_b, reps, vocab, k)) for k in keys]
        if any(a is None or b is None for a, b in pairs):
            return None
        rate, _ = mismatch_rate(t, fed_a[0], ctx.sampler.as_numpy(ctx.sampler.to_array(fed_b))[0],
                                ctx.sampler.dtype, ctx.pipeline)
        differ = sum(int((a != b).sum()) for a, b in pairs)
        example = next(((a, b) for a, b in pairs if (a != b).any()), pairs[0])  # a pair that shows a mismatch
        return differ, stats.binomial_upper(reps * len(keys), rate, 1e-9), example

    def fails(rows):
        got = mismatches(rows)
        return got is not None and got[0] > got[1]

    if not fails(case.rows):
        return None
    small = shrink(case.rows, fails)
    got = mismatches(small)
    if got is None:
        return None
    differ, limit, (a, b) = got
    if differ == 0:  # a racy sampler that failed before no longer fails on the shrunk rows
        return None
    first = int(np.flatnonzero(a != b)[0])
    return counterexample(f"fixed keys ({len(keys)} keys x {reps} draws; more mismatches than rounding explains at "
                          "error rate 1e-9), delta debugging", small,
                          f"the same token for both inputs (rounding explains <= {limit} of {reps * len(keys)} "
                          "mismatches)", f"{differ} draws differ, e.g. token {int(a[first])} -> {int(b[first])}")

"""Tier 4, batch independence: the rows of one call are independent draws. Every row's marginal
can be right while the rows share a coin (mlx-lm 0.32's XTC: one `mx.random.uniform` per call), a
mask or a random number; the joint of two rows then departs from the product of their targets.

Two copies of one row in a batch of 2, one call per draw, and the pairs of tokens tested against
the exact product target(row) x target(row) with the statistics tier's tests, at the first two of
the profile's random-step looks (400 and 1,600 calls in the quick profile, 500 and 2,000 by
default: a shared coin or random number moves the joint by tenths, not thousandths); a
rejection is a failure whose counterexample is that 2-row batch and its most deviating pair. The
tests count in the run's alpha budget (Context._budget) like one more statistics row.
"""

from __future__ import annotations

import numpy as np

from spec.validator import stats
from spec.validator.cases import Case, fit
from spec.validator.context import Capabilities, Context, fail

# A row where XTC at the common thresholds acts (every token is above 0.1 and 0.15 is the least
# likely), top-k / top-p / min-p leave two or more tokens, and no comparison sits on a threshold.
ROW = np.log([0.55, 0.3, 0.15])


def applies(ctx: Context) -> bool:
    return ctx.sampler.batched and not ctx.pipeline.greedy


def case(ctx: Context) -> Case:
    return Case("batch independence: one row twice in a batch of 2", fit(np.stack([ROW, ROW]), ctx.pipeline))


def independence(ctx: Context, caps: Capabilities):
    if not applies(ctx):
        reason = "the sampler takes one row per call" if not ctx.sampler.batched else "the target is deterministic"
        ctx.report.skipped.append(f"batch independence: {reason}")
        return
    pair = case(ctx)
    fed = ctx.feed(pair.rows)
    t = ctx.spec(ctx.sampler.to_array(fed), pair)
    probs, boundary = np.atleast_2d(t.probs), np.atleast_2d(t.boundary)
    if boundary.any() or (probs[0] > 0).sum() < 2:
        ctx.report.skipped.append("batch independence: its row has boundary tokens or one token under this pipeline")
        return
    joint = np.outer(probs[0], probs[1]).ravel()
    v = fed.shape[1]
    counts = np.zeros(v * v, dtype=np.int64)
    done = 0
    for look in ctx.profile.random_looks[:2]:
        ctx.tick(f"batch independence ({look:,} calls)")
        for _ in range(look - done):
            key = ctx.key()
            ids = ctx.calls.call(ctx.sampler.to_array(fed), 2, v, key, pair.name, history=pair.history())
            ctx.report.draws += 2
            counts[ids[0] * v + ids[1]] += 1
        done = look
        for test in stats.TESTS:
            result = test(counts, joint)
            if result.pvalue < ctx.alpha_stat:
                _failure(ctx, pair, result, counts, joint, v)
    ctx.report.checks.append(f"statistics: batch independence, the joint of two copies of one row in a batch of 2 "
                             f"against the product of their targets, {done:,} calls")


def _failure(ctx: Context, pair: Case, result, counts, joint, v: int):
    n = int(counts.sum())
    expected = n * joint
    z = (counts - expected) / np.sqrt(np.maximum(expected, 1))
    cell = int(np.argmax(np.abs(z)))
    a, b = divmod(cell, v)
    rows = "[" + ", ".join(f"{x:.6g}" for x in pair.rows[0]) + "]"
    fail("statistics: batch independence", "the rows of one call are independent draws (each row sampled as if "
         "it were alone)", (),
         f"{result.name}: p = {result.pvalue:.3g} < {ctx.alpha_stat:.3g}: the two rows drew ({a}, {b}) together "
         f"{int(counts[cell])} times in {n:,} calls, {expected[cell]:.1f} expected if they were independent",
         {"case": pair.name, "pipeline": str(ctx.pipeline), "input": ctx.input, "row": pair.rows[0]},
         statistics={"test": result.name, "p-value": result.pvalue, "alpha used": ctx.alpha_stat, "draws": n,
                     "statistic": result.statistic},
         observed=[{"token": f"({i // v}, {i % v})", "rank": 0, "spec_p": float(joint[i]), "observed": int(counts[i]),
                    "expected": float(expected[i])} for i in np.argsort(-np.abs(z), kind="stable")[:4]],
         counterexample={"how": "a batch of two copies of one row", "row": f"[{rows}, {rows}]",
                         "values": [list(map(float, pair.rows[0]))] * 2,
                         "spec": f"independent rows: P(({a}, {b})) = {joint[cell]:.4g}",
                         "sampler": f"observed {counts[cell] / n:.4g} over {n:,} calls"})

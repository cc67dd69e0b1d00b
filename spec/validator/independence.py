"""Tier 4, batch independence: the rows of one call are independent draws. Every row's marginal
can be right while the rows share a coin (mlx-lm 0.32's XTC: one `mx.random.uniform` per call), a
mask or a random number; the joint of two rows then departs from the product of their targets.

Two copies of one row in a batch of 2, one call per draw, and the pairs of tokens tested against
the exact product target(row) x target(row) with the statistics tier's tests, at the first two of
the profile's random-step looks (400 and 1,600 calls in the quick profile, 500 and 2,000 by
default: a shared coin or random number moves the joint by tenths, not thousandths); a
rejection is a failure whose counterexample is that 2-row batch and its most deviating pair. The
tests count in the run's alpha budget (Context._budget) like one more statistics row.

For a reproducible sampler, `same_key` adds the coupling half: under one key the batches
[r, r], [r, s] and [s, r] must give r the same token wherever it sits, so a mask, threshold or
maximum taken over the batch instead of per row (mlx-lm #1575's XTC `.min()` without an axis) is
caught even on rows whose joint looks right (two copies of one row share every such statistic).
"""

from __future__ import annotations

from contextlib import closing

import numpy as np

from spec.invariants import BY_ID
from spec.validator import stats
from spec.validator.cases import Case, fit
from spec.validator.context import Capabilities, Context, fail, independence_applies, same_key_applies
from spec.validator.contract import unkeyed
from spec.validator.report import Check
from spec.validator.rounding import mismatch_rate

# A row where XTC at the common thresholds acts (every token is above 0.1 and 0.15 is the least
# likely), top-k / top-p / min-p leave two or more tokens, and no comparison sits on a threshold.
ROW = np.log([0.55, 0.3, 0.15])
# The same-key check's pair: GEOMETRIC has a token near every threshold a filter may set
# (masses 0.25 x 0.75^i), PEAKED its top token at the other end and a top mass of 0.85, so a
# filter statistic (a mask, a k-th value, a maximum, a cumulative mass) taken over the batch
# instead of per row moves some of GEOMETRIC's tokens in or out.
GEOMETRIC = np.log(0.75 ** np.arange(16) / (0.75 ** np.arange(16)).sum())
PEAKED = np.log(np.r_[np.full(15, 0.01), 0.85])


def case(ctx: Context) -> Case:
    return Case("batch independence: one row twice in a batch of 2", fit(np.stack([ROW, ROW]), ctx.pipeline))


def independence(ctx: Context, caps: Capabilities):
    if not independence_applies(ctx):
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
    x, before = ctx.calls.tiled(fed, 1)
    for look in ctx.profile.random_looks[:2]:
        ctx.tick(f"batch independence ({look:,} calls)")
        calls = ((x, 2, v, ctx.key(), pair.name, pair.history(), before) for _ in range(look - done))
        with closing(ctx.calls.stream(calls)) as results:
            for _, ids in results:
                ctx.report.draws += 2
                counts[ids[0] * v + ids[1]] += 1
        done = look
        for test in stats.TESTS:
            result = test(counts, joint)
            if result.pvalue < ctx.alpha_stat:
                _failure(ctx, pair, result, counts, joint, v)
    ctx.report.checks.append(f"statistics: batch independence, the joint of two copies of one row in a batch of 2 "
                             f"against the product of their targets, {done:,} calls")
    if caps.reproducible and same_key_applies(ctx):
        same_key(ctx)
    elif same_key_applies(ctx):
        ctx.report.skipped.append("batch same-key: the sampler is not reproducible (no fixed keys)")
    else:
        ctx.report.skipped.append("batch same-key: the pipeline has random steps (XTC), whose coins a correct "
                                  "sampler may draw in any order")


def same_key(ctx: Context):
    """Under each key: [r, r], [r, s], [s, r]. Row 0 of [r, s] and row 1 of [s, r] must be the
    token r got in [r, r] at that position. r is bitwise the same row in all three calls, so only
    rounding in work shared across the batch could move it: the tolerance is
    rounding.mismatch_rate with no input error, at the share Context._budget sets aside."""

    inv = BY_ID["batch-same-key"]
    rows = fit(np.stack([GEOMETRIC, PEAKED]), ctx.pipeline)
    r, s = ctx.feed(rows[:1])[0], ctx.feed(rows[1:])[0]
    batches = {"[r, r]": np.stack([r, r]), "[r, s]": np.stack([r, s]), "[s, r]": np.stack([s, r])}
    arrays = {name: ctx.calls.tiled(b, 1) for name, b in batches.items()}
    fed = ctx.sampler.as_numpy(arrays["[r, r]"][0])
    t = ctx.spec(arrays["[r, r]"][0])
    n, v = max(32, ctx.profile.coupling_draws // 16), fed.shape[1]  # a filter over the batch moves most keys
    ctx.tick(f"batch same-key ({n} keys)")
    keys = [ctx.key() for _ in range(n)]
    calls = [(x, 2, v, key, f"batch same-key {name}", None, before)
             for key in keys for name, (x, before) in arrays.items()]
    with closing(ctx.calls.stream(calls)) as results:
        out = [ids for _, ids in results]
    mismatches = []
    for i, key in enumerate(keys):
        ids = dict(zip(arrays, out[3 * i: 3 * i + 3], strict=True))
        ctx.report.draws += 6
        for other, pos in (("[r, s]", 0), ("[s, r]", 1)):
            if ids[other][pos] != ids["[r, r]"][pos]:
                mismatches.append((key, other, pos, int(ids["[r, r]"][pos]), int(ids[other][pos])))
    rate, _ = mismatch_rate(t, fed[0], fed[0], ctx.sampler.dtype, ctx.pipeline)
    limit = stats.binomial_upper(2 * n, rate, ctx.alpha_batch_key)
    if len(mismatches) > limit:
        if unkeyed(ctx, calls[0::3], out[0::3], "batch same-key"):
            return
        key, other, pos, alone, moved = mismatches[0]
        text = lambda x: "[" + ", ".join(f"{a:.6g}" for a in x) + "]"  # noqa: E731
        fail(Check.BATCH_SAME_KEY, f"{inv.id}: {inv.statement}", inv.theorems,
             f"with the same key, row r drew a different token when its batch-mate changed in {len(mismatches)} "
             f"of {2 * n} comparisons (rounding explains at most {limit}); first: key {key}, r at position {pos} "
             f"drew {alone} in [r, r] and {moved} in {other}. Either a filter is computed over the batch instead "
             f"of per row, or the key's random numbers are handed to rows in an order that depends on their "
             f"content (the draws then change with the batch even if their distribution is right)",
             {"case": "batch same-key", "pipeline": str(ctx.pipeline), "input": ctx.input, "key": key,
              "row": rows[0]},
             statistics={"test": "binomial upper bound", "mismatches": len(mismatches), "comparisons": 2 * n,
                         "alpha used": ctx.alpha_batch_key},
             counterexample={"how": f"the same key ({key}) for the batches [r, r] and {other}",
                             "row": f"r = {text(rows[0])}, s = {text(rows[1])}",
                             "values": [list(map(float, rows[0])), list(map(float, rows[1]))],
                             "spec": f"r's token does not depend on its batch-mate (P = {t.probs[pos][alone]:.4g} "
                                     f"and {t.probs[pos][moved]:.4g} under r's target)",
                             "sampler": f"token {alone} beside r, token {moved} beside s"})
    ctx.report.checks.append(f"structure: batch same-key, a row's token under one key does not depend on its "
                             f"batch-mate ({n} keys x 3 batches of 2)")


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

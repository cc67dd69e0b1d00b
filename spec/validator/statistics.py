"""Tier 4, statistics: goodness of fit of the draws on every case with a random target (every row
of a batch case on its own), at a few looks, and what a pass rules out (`power`)."""

from __future__ import annotations

import numpy as np

from spec.target import target
from spec.transforms import EpsilonCutoff, EtaCutoff, MinP, TopNSigma, TopP, TypicalP
from spec.validator import stats
from spec.validator.context import Capabilities, Context, fail
from spec.validator.oracles import rank, shrink_missing, tie_note


def statistics(ctx: Context, caps: Capabilities):
    """Boundary tokens (whose membership rounding may flip) are left out: given that a draw lands
    on one of the other kept tokens, a correct sampler follows the target restricted to them and
    renormalised, whichever way the boundary went (the ratios exp(s_i - s_j) do not move). Not with a
    random step (XTC): its branches keep different tokens, and which ones depends on how the boundary
    went, so the other tokens' ratios move too; such cases are left to the white-box and support
    checks (found by llama.cpp's real chain on a top-p cut at an exact sum before XTC)."""
    if not ctx.stat_cases:
        ctx.report.checks.append("statistics: none needed (every case has a deterministic target)")
        return
    tested = []  # (case name, draws on tokens outside the boundary, tokens tested)
    random = any(step.random for step in ctx.pipeline.steps)
    plans = []  # (case, rows tested, tokens outside the boundary, their renormalised target, counts, boundary)
    for case in sorted(ctx.stat_cases, key=lambda c: c.rows.shape[1]):
        t = ctx.spec(ctx.sampler.to_array(ctx.feed(case.rows)), case)
        support, boundary, target_probs = (np.atleast_2d(a) for a in (t.support, t.boundary, t.probs))
        definite = support & ~boundary
        if random and boundary.any():
            ctx.report.notes.append(f"statistics skipped on '{case.name}': {int(boundary.sum())} boundary tokens "
                                    "before a random step, which may change the other tokens' ratios")
            continue
        rows = [r for r in range(case.rows.shape[0]) if definite[r].sum() >= 2]
        if not rows:
            ctx.report.notes.append(f"statistics skipped on '{case.name}': fewer than two kept tokens outside "
                                    "the boundary")
            continue
        probs = np.where(definite, target_probs, 0.0)
        probs /= np.maximum(probs.sum(axis=1, keepdims=True), 1e-300)
        counts = caps.drawn.get(case.name, np.zeros(case.rows.shape, dtype=np.int64)).copy()  # the structure's
        plans.append((case, rows, definite, probs, counts, boundary))
    # Breadth first: every case reaches a look before any case goes on to the next, so a sampler
    # that fails at the first look stops after one look's draws on each case, not after the
    # cases before its failing one were taken to the last look (the same tests at the same
    # looks, so the same alpha and the same power for a pass).
    for look in ctx.looks:
        for case, rows, definite, probs, counts, _ in plans:
            ctx.tick(f"statistics: {case.name} ({look:,} draws)")
            if (more := look - int(counts[0].sum())) > 0:
                counts += ctx.calls.draw(case, more, caps=caps)
            for r in rows:
                kept = np.where(definite[r], counts[r], 0)
                for test in stats.TESTS:
                    result = test(kept, probs[r])
                    if result.pvalue < ctx.alpha_stat:
                        _failure(ctx, caps, case, r, result, kept, probs[r])
    for case, rows, definite, _, counts, boundary in plans:
        for r in rows:
            tested.append((case.name, int(np.where(definite[r], counts[r], 0).sum()), int(definite[r].sum())))
        if boundary.any():
            done = int(counts.sum())
            left = done - sum(int(np.where(definite[r], counts[r], 0).sum()) for r in rows)
            ctx.report.notes.append(f"statistics on '{case.name}' leave out its {int(boundary.sum())} boundary "
                                    f"tokens ({left:,} of {done:,} draws)")
    if not tested:
        ctx.report.checks.append("statistics: no case has two kept tokens outside the boundary")
        ctx.report.power = [f"a token outside the spec's support: each is a definitive failure "
                            f"({ctx.report.draws:,} draws were checked); no statistics could run"]
        return
    looked = ", ".join(f"{n:,}" for n in ctx.looks)
    cases = len({name for name, _, _ in tested})
    reused = " (the structure tier's draws count towards them)" if caps.drawn else ""
    ctx.report.checks.append(f"statistics: {cases} cases ({len(tested)} rows), looks at {looked} draws{reused}, tests: "
                             f"{', '.join(t.__name__ for t in stats.TESTS)}"
                             + (" (random steps: one copy of a case per call, since an engine may toss one coin "
                                "per call; the exact mixture is the target)" if ctx.looks != ctx.profile.looks else ""))
    power(ctx, caps, tested)


def _failure(ctx: Context, caps: Capabilities, case, row: int, result: stats.Test, counts, probs):
    n = int(counts.sum())
    expected = n * probs
    z = (counts - expected) / np.sqrt(np.maximum(expected, 1))
    worst = [i for i in np.argsort(-np.abs(z), kind="stable") if probs[i] > 0 or counts[i] > 0][:6]
    missing = [int(i) for i in worst if counts[i] == 0 and probs[i] > 0]
    ce = shrink_missing(ctx, case, row, missing[0]) if missing and caps.reproducible else None
    where = f" (row {row} of the batch)" if case.batch else ""
    fail(f"statistics: {result.name}", "draws follow the spec's target distribution (spec.target)"
         + (" (batch-rows: each row of a batch is sampled as if it were alone)"
            if case.batch and ctx.sampler.batched else ""), (),
         f"{result.detail}{where}; p = {result.pvalue:.3g} < {ctx.alpha_stat:.3g}"
         + (f"; token {missing[0]} (spec p = {probs[missing[0]]:.4g}) was never drawn" if missing else "")
         + (tie_note(ctx, ctx.feed(case.rows)[row], missing[0], drawn=False) if missing else ""),
         {"case": case.name, "pipeline": str(ctx.pipeline), "input": ctx.input,
          "generator": f"spec.validator.cases(seed={ctx.seed})", "row": case.rows[row],
          **({"history": case.histories[row]} if case.seen else {})},
         statistics={"test": result.name, "p-value": result.pvalue, "alpha used": ctx.alpha_stat,
                     "draws": n, "statistic": result.statistic},
         observed=[{"token": int(i), "rank": rank(probs, int(i)), "spec_p": float(probs[i]),
                    "observed": int(counts[i]), "expected": float(expected[i])} for i in worst],
         counterexample=ce)


def power(ctx: Context, caps: Capabilities, tested):
    """What the statistics would have caught, at the fewest draws any tested row got."""
    n = min(draws for _, draws, _ in tested)
    cells = max(tokens for _, _, tokens in tested)
    alpha_t = ctx.alpha_stat
    ctx.report.power = [
        f"a token outside the spec's support: each is a definitive failure; {ctx.report.draws:,} draws were "
        f"checked, and out-of-support mass >= {stats.out_of_support_mass(n):.2g} on any statistics row is "
        "seen with probability >= 0.99",
        f"a missing token with spec probability >= {stats.missing_token(n, alpha_t, cells):.2g} "
        f"(binomial scan, {n:,} draws per row, up to {cells:,} tokens)",
        f"a temperature-like deviation with total variation >= {stats.ks_detectable(n, alpha_t):.3f}, "
        "with probability >= 0.99 (rank KS)",
    ]
    if caps.reproducible and ctx.alpha_coupling > 0:
        ctx.report.power.append("a shift or log-probability dependence that changes more same-key draws "
                                "than rounding allows (see the coupling check)")
    if ctx.sampler.filter is not None:
        ctx.report.power.append("any keep-set difference on the white-box rows (definitive)")
    ctx.report.unseen += unseen_cuts(ctx)


CUTS = (TopP, MinP, TypicalP, EpsilonCutoff, EtaCutoff, TopNSigma)  # filters with a threshold a token may sit on


def unseen_cuts(ctx: Context) -> list[str]:
    """A slip at a threshold (`<=` for `<` at top-p, `>` for `>=` at min-p) shows only on a row with a
    token exactly at the cut in the sampler's own arithmetic; a row whose cut lands within rounding
    has boundary tokens, which every check leaves out. Only the exact-sum case (masses 1/2, 1/4,
    1/8, 1/8; float64 samplers, decided with no tolerance) can put a token exactly on a cut, and
    only at some settings: say so when this run had none, and which settings would."""
    cuts = sorted({type(s).name for s in ctx.pipeline.steps if isinstance(s, CUTS)})
    if not cuts:
        return []
    exact = [c for c in ctx.cases if c.exact]
    reached = ctx.sampler.dtype == "float64" and any(
        np.atleast_2d(target(ctx.feed(c.rows), ctx.pipeline, history=c.history()).boundary).any() for c in exact)
    if reached:
        return []
    near = sum(int(np.atleast_2d(ctx.spec(ctx.feed(c.rows), c).boundary).sum()) for c in ctx.cases)
    how = ("validate a float64 build of the sampler" if ctx.sampler.dtype != "float64" else
           "validate once more with a cut on the exact-sum case: --top-p 0.5, 0.75 or 0.875, --min-p 0.5 or 0.25, "
           "at temperature 1")
    return [f"a slip exactly at the {', '.join(cuts)} cut (`<=` for `<`, `>` for `>=`): no row of this run put a "
            f"token exactly on the cut in the sampler's arithmetic ({near} tokens sat within rounding of one, and "
            f"are left out as boundary tokens); to reach it, {how}"]

"""Same-key coupling (part of tier 3): with the same key, a sampler fed a row and a related row
(shifted, or turned into log-probabilities) must return the same token, up to what rounding
allows; the floating-point theorems bound that (`spec.validator.rounding.mismatch_rate`)."""

from __future__ import annotations

from contextlib import closing

import numpy as np

from spec.exactness import greedy_logprobs_exact
from spec.invariants import BY_ID
from spec.target import Target, logsumexp
from spec.transforms import RepetitionPenalty
from spec.validator import stats
from spec.validator.cases import Case
from spec.validator.context import Context, fail
from spec.validator.contract import unkeyed
from spec.validator.oracles import rank, shrink_coupling
from spec.validator.report import Check
from spec.validator.rounding import mismatch_rate

RELATIONS = ("shift", "logits-vs-logprobs")


def coupling(ctx: Context, reproducible: bool) -> bool:
    """Only for samplers fed logits: a shifted row of log-probabilities is no longer
    log-probabilities, and a sampler documented to take them may rely on the normalisation. Not
    with random steps (XTC): a correct sampler may spend its randomness on the coin differently
    for the two rows; and with a repetition penalty, only on rows with an empty history (the
    penalty is not shift-invariant: `penalty-shift`). A sampler that its key does not reproduce
    is checked on the cases with a deterministic target only (no key needed there). Returns
    whether the sampler is still taken for reproducible (a check's control may say it is not)."""
    if ctx.input == "logprobs":
        ctx.report.skipped.append("same-key coupling: the sampler takes log-probabilities, so shifted rows are "
                                  "outside its contract")
        return reproducible
    if any(0 < s.chance < 1 for s in ctx.pipeline.steps):
        ctx.report.skipped.append("same-key coupling: the pipeline has random steps (XTC), whose coin a correct "
                                  "sampler may draw from its key in any way; the mixture is tested by the statistics")
        return reproducible
    single = [c for c in ctx.cases if not c.batch and c.rows.shape[1] <= 8192 and not c.exact
              and (reproducible or ctx._deterministic(c))]
    if not single:
        return reproducible
    if any(isinstance(s, RepetitionPenalty) for s in ctx.pipeline.steps) and any(c.seen for c in single):
        single = [c for c in single if not c.seen]
        ctx.report.skipped.append("same-key coupling on rows with a token history: the repetition penalty is not "
                                  "shift-invariant (penalty-shift), so a shifted row has another target")
    tests = len(RELATIONS) * len(single)
    for name in RELATIONS:
        relate = (lambda v: v - 37.0) if name == "shift" else (lambda v: _float_logprobs(ctx, v))
        for case in single:
            ctx.tick(f"coupling ({name}): {case.name}")
            if not _couple(ctx, case, name, relate, tests):
                return False
    which = "" if reproducible else " with a deterministic target (the sampler's key does not fix its draws)"
    ctx.report.checks.append(f"structure: same-key coupling under {', '.join(RELATIONS)} on {len(single)} cases"
                             f"{which} ({ctx.profile.coupling_draws} key pairs each)")
    return reproducible


def _float_logprobs(ctx: Context, values: np.ndarray) -> np.ndarray:
    """fl(z - c) with c = fl(logsumexp(z)), both in the sampler's precision: the exact setting
    of the floating-point theorems (z and c are floats of that format, one rounding each)."""
    c = ctx.sampler.as_numpy(ctx.sampler.to_array(logsumexp(values)))
    return values - c  # exact in float64; to_array rounds it once


def _couple(ctx: Context, case: Case, relation: str, relate, tests: int) -> bool:
    """Same keys for a case and its related row, both exactly as the sampler receives them. False:
    the control showed that the keys do not reproduce the draws (the check is skipped)."""
    inv = BY_ID[relation]
    xa = ctx.sampler.to_array(ctx.feed(case.rows))
    fed_a = ctx.sampler.as_numpy(xa)
    fed_b = relate(fed_a)
    xb = ctx.sampler.to_array(fed_b)
    ta = ctx.spec(xa, case)
    if ta.boundary.any() or ctx.spec(xb, case).boundary.any():
        return True  # a boundary token may flip, and with it the whole renormalised distribution
    n = ctx.profile.coupling_draws
    reps = max(1, min(n, (2**20) // fed_a.shape[1]))
    seen, v = case.history(reps), fed_a.shape[1]
    (tile_a, bytes_a), (tile_b, bytes_b) = ctx.calls.tiled(fed_a, reps), ctx.calls.tiled(fed_b, reps)
    keys = [ctx.key() for _ in range(-(-n // reps))]
    calls = [call for key in keys for call in ((tile_a, reps, v, key, case.name, seen, bytes_a),
                                               (tile_b, reps, v, key, f"{case.name}, {relation}", seen, bytes_b))]
    with closing(ctx.calls.stream(calls)) as results:
        ids = [out for _, out in results]
    a, b = np.concatenate(ids[0::2]), np.concatenate(ids[1::2])
    ctx.report.draws += 2 * a.size
    va, vb = ctx.sampler.as_numpy(xa)[0], ctx.sampler.as_numpy(xb)[0]
    if ctx.pipeline.greedy:
        _couple_greedy(ctx, case, relation, inv, a, b, va, vb, keys)
        return True
    rate, delta = mismatch_rate(ta, va, vb, ctx.sampler.dtype, ctx.pipeline)
    differ = int((a != b).sum())
    alpha_t = ctx.alpha_coupling / max(1, tests)
    limit = stats.binomial_upper(a.size, rate, alpha_t)
    if differ > limit:
        if not ctx._deterministic(case) and unkeyed(ctx, calls[0::2], ids[0::2], f"same-key {relation}"):
            return False
        ce = shrink_coupling(ctx, case, relate, keys, reps)
        fail(Check.SAME_KEY_SHIFT if relation == "shift" else Check.SAME_KEY_LOGPROBS,
             f"{inv.id}: {inv.statement}", inv.theorems + BY_ID["same-key-coupling"].theorems + inv.float_theorems,
             f"with the same keys, {differ} of {a.size} draws differ; rounding explains at most {limit} "
             f"(per-draw mismatch bound {rate:.3g} from a score error <= {delta:.3g})",
             {"case": case.name, "pipeline": str(ctx.pipeline), "input": ctx.input, "keys": keys[:4],
              "row": case.rows[0]},
             statistics={"test": "binomial upper bound", "mismatches": differ, "draws": int(a.size),
                         "alpha used": alpha_t},
             observed=_pairs(a, b, ta), counterexample=ce)
    return True


def _couple_greedy(ctx: Context, case, relation, inv, a, b, va, vb, keys):
    """Greedy: theorem-exact. fp-argmax-shift-weak: after rounding, the first maximum can only
    move to an earlier index tied with it; fp-greedy-exact-guard: it does not move at all when
    the row's computed logsumexp lies in the Sterbenz zone of max(z) (spec.greedy_logprobs_exact)."""
    i, j = int(a[0]), int(b[0])
    if i == j:
        return
    guard = relation == "logits-vs-logprobs" and greedy_logprobs_exact(va, ctx.sampler.dtype)
    if not (j < i and vb[j] == vb[i] and not guard):
        fail(Check.GREEDY_SHIFT if relation == "shift" else Check.GREEDY_LOGPROBS, f"{inv.id}: {inv.statement}",
             inv.theorems + inv.float_theorems,
             f"greedy returned token {i} for the row and token {j} after the {relation}; "
             + ("the guard (fp-greedy-exact-guard) holds for this row, so they must be equal" if guard else
                "rounding may only move the first maximum to an earlier, tied index"),
             {"case": case.name, "pipeline": str(ctx.pipeline), "keys": keys[:2], "row": case.rows[0]})


def _pairs(a, b, t: Target):
    """The most frequent same-key mismatches: token for the row -> token for the related row."""
    probs = np.atleast_2d(t.probs)[0]
    pairs, counts = np.unique(np.stack([a[a != b], b[a != b]]), axis=1, return_counts=True)
    top = np.argsort(-counts, kind="stable")[:6]
    return [{"token": int(pairs[0, i]), "rank": rank(probs, int(pairs[0, i])), "spec_p": float(probs[pairs[0, i]]),
             "observed": f"-> {int(pairs[1, i])} x{int(counts[i])}", "expected": 0.0} for i in top]

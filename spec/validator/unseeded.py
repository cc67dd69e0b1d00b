"""No seed at all: does a sampler draw fresh randomness on every call and in every new process?

Users who pass no seed expect different draws each time; a sampler that falls back to a fixed seed
(or reseeds its generator on every call) returns the same tokens again, which no statistical test
of one call's draws can see. The check calls the sampler without a key on a batch of high-entropy
rows, several times in this process and once in each of several new processes, and fails if two
calls return the same tokens. The false-alarm rate is exact, not estimated: two independent calls
agree with probability prod_b sum_x p_b(x)^2 under the spec's own target, so a union bound over
the pairs of calls bounds the run's false alarms, and the batch is made wide enough to keep that
bound below alpha. A configuration whose draws are deterministic (greedy) has nothing to check.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from spec.numerics import log_softmax
from spec.target import target
from spec.transforms import Pipeline
from spec.validator.cases import min_width
from spec.validator.report import Check, Failure, Report
from spec.validator.sampler import Sampler

CALLS = 6  # calls in this process
PROCESSES = 3  # new processes, one call each
VOCAB = 256  # tokens per row, before padding to the pipeline's minimum width
MAX_BATCH = 64


def rows_for(pipeline: Pipeline, alpha: float, pairs: int, seed: int) -> tuple[np.ndarray, float]:
    """(B, V) nearly flat logits (distinct values, no ties) and the bound on the chance that any of
    `pairs` pairs of independent calls agree; B grows until the bound is <= alpha (or MAX_BATCH)."""
    rng = np.random.default_rng(seed)
    width = max(VOCAB, min_width(pipeline))
    rows, agree = np.zeros((0, width)), 1.0
    while agree * pairs > alpha and rows.shape[0] < MAX_BATCH:
        row = rng.normal(0.0, 0.5, size=(1, width))
        p = np.asarray(target(row, pipeline).probs)[0]
        rows, agree = np.vstack([rows, row]), agree * float(np.sum(p * p))
    return rows, agree * pairs


def unseeded(sampler: Sampler, pipeline: Pipeline, *, fresh: Callable[[np.ndarray], list] | None = None,
             alpha: float = 1e-6, seed: int = 0, calls: int = CALLS, processes: int = PROCESSES) -> Report:
    """Check that `sampler` called with no key draws anew each call (and, given `fresh`, a function
    rows -> one process's tokens for each of `processes` new processes, in each new process)."""
    report = Report(sampler.name, str(pipeline), sampler.input or "logits", "unseeded", alpha, seed)
    pairs = math.comb(calls, 2) + (math.comb(processes, 2) if fresh else 0)
    rows, bound = rows_for(pipeline, alpha, pairs, seed)
    if bound > alpha:
        report.skipped.append(f"unseeded: the draws are nearly deterministic here (two calls agree with "
                              f"probability up to {bound:.3g} > alpha {alpha:g}): nothing to check")
        return report
    report.notes.append(f"unseeded: {rows.shape[0]} rows x {rows.shape[1]} tokens; two independent calls agree "
                        f"with probability <= {bound / pairs:.3g}; false-alarm bound {bound:.3g} over {pairs} pairs")
    fed = log_softmax(rows) if sampler.input == "logprobs" else rows
    mine = [_tokens(sampler(sampler.to_array(fed), None)) for _ in range(calls)]
    report.checks.append(Check.UNSEEDED_CALLS.value)
    report.draws = rows.shape[0] * calls
    _compare(report, Check.UNSEEDED_CALLS, "calls", mine, rows, bound)
    if fresh and not report.failures:
        theirs = [_tokens(fresh(fed)) for _ in range(processes)]
        report.checks.append(Check.UNSEEDED_PROCESSES.value)
        report.draws += rows.shape[0] * processes
        _compare(report, Check.UNSEEDED_PROCESSES, "new processes", theirs, rows, bound)
    return report


def _tokens(out) -> tuple[int, ...]:
    return tuple(int(t) for t in np.ravel(Sampler.host(out)))


def _compare(report: Report, check: Check, what: str, draws: list, rows: np.ndarray, bound: float):
    """A failure naming the first two of `draws` that are the same tokens."""
    for i in range(len(draws)):
        for j in range(i):
            if draws[i] == draws[j]:
                shown = list(draws[i][:8]) + (["..."] if len(draws[i]) > 8 else [])
                report.failures.append(Failure(
                    check.value, "unseeded draws are fresh", (),
                    f"with no seed, {what} {j + 1} and {i + 1} returned the same {len(draws[i])} tokens; "
                    f"independent draws agree with probability <= {bound:.3g}",
                    {"name": "unseeded", "rows": rows.shape},
                    counterexample={"label": f"{rows.shape[0]} flat rows, V = {rows.shape[1]}",
                                    "row": f"{what} {j + 1} and {i + 1}",
                                    "spec": f"independent draws (agree with probability <= {bound:.3g})",
                                    "sampler": f"the same tokens {shown}"}))
                return

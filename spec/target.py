"""spec.target: the exact distribution a correct sampler must draw from.

Everything is computed in float64 from the caller's values (converted exactly: float16, bfloat16
and float32 all embed in float64). Decisions that rounding could flip in an engine's own precision
are not decided silently: those tokens are reported in `Target.boundary` (see `Tolerance`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.numerics import EPS, Tolerance, log_softmax, logsumexp, softmax
from spec.transforms import History, Pipeline, Row, as_history, registered

__all__ = ["EPS", "History", "Target", "Tolerance", "as_rows", "log_softmax", "logsumexp", "softmax", "target"]


@dataclass(frozen=True)
class Target:
    """probs: exact target probabilities (float64, each row sums to 1), boundary tokens resolved
    as float64 decides them (ties at an exactly-k cut: lowest index first).
    support: the tokens the pipeline keeps. In real arithmetic each has probability > 0, even
    where float64 underflows it to 0 (a logit 1e4 below the top). boundary: tokens whose
    membership depends on a comparison within the tolerance; a correct sampler may return them or
    not (for greedy: only earlier near-ties, as rounding can only move the first maximum
    earlier). greedy: the token when the draw is deterministic, else -1. All arrays have the caller's
    shape: (V,) or (B, V).
    mixture: for a pipeline with random steps (XTC), the exact components: (weight, probs) for each
    combination of random steps acting or not; probs is their weighted sum. Empty otherwise."""

    probs: np.ndarray
    support: np.ndarray
    boundary: np.ndarray
    greedy: np.ndarray | int
    tolerance: Tolerance | tuple
    mixture: tuple = ()

    @property
    def allowed(self) -> np.ndarray:
        """Every token a correct sampler may return: the support plus the boundary tokens."""
        return self.support | self.boundary


def as_rows(logits) -> tuple[np.ndarray, str, bool]:
    """(B, V) float64 rows, the input dtype name, and whether the input was one row.
    Accepts numpy, mlx and torch arrays and nested lists."""
    module = type(logits).__module__
    if module.startswith("mlx"):
        import mlx.core as mx
        dtype = str(logits.dtype).removeprefix("mlx.core.")
        logits = np.array(logits.astype(mx.float32) if dtype == "bfloat16" else logits)
    elif module.startswith("torch"):
        import torch
        dtype = str(logits.dtype).removeprefix("torch.")
        logits = logits.detach().to("cpu", torch.float64).numpy()
    else:
        try:
            logits = np.asarray(logits)
        except (ValueError, TypeError) as e:
            raise InvalidLogits(f"logits are not a numeric array: {e}") from None
        dtype = logits.dtype.name if logits.dtype.name in EPS else "float64"
        if logits.dtype.kind not in "fiu":
            raise InvalidLogits(f"logits must be real numbers, got dtype {logits.dtype}")
    if dtype not in EPS:
        raise InvalidLogits(f"unsupported dtype {dtype}: use float16, bfloat16, float32 or float64")
    rows = np.asarray(logits, dtype=np.float64)
    if rows.ndim not in (1, 2):
        raise InvalidLogits(f"expected a (V,) row or a (B, V) batch, got shape {rows.shape}")
    single = rows.ndim == 1
    rows = rows.reshape(1, -1) if single else rows
    if rows.shape[0] == 0:
        raise InvalidLogits("empty batch: no rows")
    if rows.shape[1] == 0:
        raise InvalidLogits("empty vocabulary: a row has no entries")
    for b, row in enumerate(rows):
        where = f"row {b}: " if not single else ""
        if np.isnan(row).any():
            raise InvalidLogits(f"{where}NaN at index {int(np.flatnonzero(np.isnan(row))[0])}")
        if np.isposinf(row).any():
            raise InvalidLogits(f"{where}+inf at index {int(np.flatnonzero(np.isposinf(row))[0])}")
        if np.isneginf(row).all():
            raise InvalidLogits(f"{where}every entry is -inf: nothing can be sampled")
    return rows, dtype, single


def _filter(row: Row, steps, history=None, branch: bool = True) -> Row:
    """Apply `steps` to the row in place (each step's spec rule, from the registry) and return it.
    When a filter leaves boundary tokens and filters follow, the rest runs twice more, with
    those tokens all kept and all dropped: a later decision that depends on how rounding settled
    them makes its token a boundary token too."""
    for i, step in enumerate(steps):
        registered(step)
        flagged = row.boundary.copy()
        row.shift_ok = all(s.shift_invariant for s in steps[i + 1:])
        step.apply(row, history)
        if not step.filters:
            continue
        unsettled = row.boundary & ~flagged
        rest = steps[i + 1:]
        if branch and unsettled.any() and any(s.filters for s in rest):
            main = _filter(_copy(row), rest, history)
            for other in (row.keep | unsettled, row.keep & ~unsettled):
                if other.any():
                    alt = _filter(replace(_copy(row), keep=other, boundary=np.zeros_like(row.boundary)), rest,
                                  history, False)
                    main.boundary |= alt.keep != main.keep
            return main
    return row


def _copy(row: Row) -> Row:
    return replace(row, keep=row.keep.copy(), boundary=row.boundary.copy())


def _branch(z: np.ndarray, steps: tuple, greedy: bool, tol: Tolerance, history=None):
    """(probs, support, boundary, greedy token or -1) of deterministic steps on one row."""
    row = _filter(Row(z, z.copy(), np.isfinite(z), np.zeros(z.size, dtype=bool), tol), steps, history)
    masked = np.where(row.keep, row.z, -np.inf)
    if greedy:
        token = int(np.argmax(masked))
        probs = np.zeros(z.size)
        probs[token] = 1.0
        # Rounding is monotone (fp-sub-monotone), so it can merge a near-tie into a tie but never
        # reverse an order: the first maximum can only move to an EARLIER index
        # (fp-argmax-shift-weak). A later token, even an exact tie, is never a correct answer,
        # unless the engine takes the first maximum in an order of its own (ties="any").
        near_top = row.keep & (masked > masked[token] - row.tol.logit)
        near_top[token:] = False
        if any(getattr(s, "ties", "") == "any" and s.t == 0 for s in steps if s.name == "temperature"):
            near_top |= masked == masked[token]
            near_top[token] = False
        # A filter's boundary token that would beat the kept maximum if rounding kept it.
        near_top |= row.boundary & ~row.keep & (row.z > masked[token] - row.tol.logit)
        return probs, probs > 0, near_top, token
    probs = softmax(masked)
    token = int(np.argmax(masked)) if row.keep.sum() == 1 and not row.boundary.any() else -1
    return probs, row.keep, row.boundary, token


def _row(z: np.ndarray, pipeline: Pipeline, tol: Tolerance, history=None):
    """The target of one row, and its mixture components when random steps (XTC) may act or not:
    every combination, weighted by the product of the steps' chances."""
    steps = tuple(s for s in pipeline.steps if s.chance > 0)
    random = [i for i, s in enumerate(steps) if s.chance < 1]
    if not random:
        return (*_branch(z, steps, pipeline.greedy, tol, history), ())
    parts = []
    for acts in itertools.product((False, True), repeat=len(random)):
        weight = math.prod(steps[i].chance if a else 1 - steps[i].chance for i, a in zip(random, acts, strict=True))
        off = {i for i, a in zip(random, acts, strict=True) if not a}
        branch = tuple(s for i, s in enumerate(steps) if i not in off)
        parts.append((weight, _branch(z, branch, pipeline.greedy, tol, history)))
    probs = sum(w * p[0] for w, p in parts)
    support = np.logical_or.reduce([p[1] for _, p in parts])
    boundary = np.logical_or.reduce([p[2] for _, p in parts])
    tokens = {p[3] for _, p in parts}
    token = tokens.pop() if len(tokens) == 1 else -1
    return probs, support, boundary, token, tuple((w, p[0]) for w, p in parts)


def histories(history, rows: int, single: bool) -> list:
    """One History per row: for one row, a History or a sequence of ids; for a batch, a list
    with one of those per row. None: nothing seen."""
    if history is None:
        return [History()] * rows
    if single:
        return [as_history(history)]
    allowed = f"one history per row: a list of {rows} spec.History objects or token-id sequences"
    if isinstance(history, History) or not hasattr(history, "__len__") or len(history) != rows \
            or any(not isinstance(h, History) and not hasattr(h, "__iter__") for h in history):
        raise InvalidParameter("history", history, allowed)
    return [as_history(h) for h in history]


def target(logits, pipeline: Pipeline, tol: Tolerance | None = None, history=None) -> Target:
    """The exact target of `pipeline` on `logits` ((V,) or (B, V); rows are independent).

    Any per-row shift of the logits (log-probabilities included) gives the same target: that is
    what the `softmax-shift`, `argmax-shift` and `filters-shift` theorems establish. `history`
    is what penalties read: for one row a `spec.History(prompt, output)` or a sequence of token
    ids (the output so far); for a batch, a list with one per row. Each penalty applies its own
    engine's convention (which tokens count, the context window).
    """
    if not isinstance(pipeline, Pipeline):
        raise InvalidParameter("pipeline", pipeline, "a spec.Pipeline (see spec.presets)")
    if tol is not None and not isinstance(tol, Tolerance):
        raise InvalidParameter("tol", tol, "a spec.Tolerance(logit, mass), or None for the input's default")
    rows, dtype, single = as_rows(logits)
    seen_by_row = histories(history, rows.shape[0], single)
    out = []
    for row, seen in zip(rows, seen_by_row, strict=True):
        finite = row[np.isfinite(row)]
        row_tol = tol or Tolerance.for_input(dtype, float(np.abs(finite).max()), row.size)
        out.append((*_row(row, pipeline, row_tol, seen), row_tol))
    probs, support, boundary = (np.stack([o[i] for o in out]) for i in range(3))
    greedy = np.array([o[3] for o in out])
    tols = tuple(o[5] for o in out)
    weights = [w for w, _ in out[0][4]]
    mixture = tuple((w, np.stack([o[4][j][1] for o in out])) for j, w in enumerate(weights))
    if single:
        return Target(probs[0], support[0], boundary[0], int(greedy[0]), tols[0], tuple((w, p[0]) for w, p in mixture))
    return Target(probs, support, boundary, greedy, tols, mixture)

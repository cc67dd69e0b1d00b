"""spec.target: the exact distribution a correct sampler must draw from.

Everything is computed in float64 from the caller's values (converted exactly: float16, bfloat16
and float32 all embed in float64). Decisions that rounding could flip in an engine's own precision
are not decided silently: those tokens are reported in `Target.boundary` (see `Tolerance`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.transforms import MinP, Pipeline, Temperature, TopK, TopP

EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}


@dataclass(frozen=True)
class Tolerance:
    """How close to a cut a comparison must be for its token to count as a boundary token.

    logit: absolute, on logit values (top-k cut, min-p threshold, greedy near-ties).
    mass: absolute, on probability masses (top-p: the mass above a token vs p).
    A comparison closer than the tolerance is a boundary; Tolerance(0, 0) decides all exactly.
    The default (`Tolerance.for_input`) is 8 ulps of the input dtype at the row's scale for
    logits, and for masses the larger of 8 ulps and 2e-9 * V: engines sum up to V float32 terms,
    and mlx's float32 sums at V = 151,936 were measured off by about 3e-4.
    """

    logit: float
    mass: float

    @staticmethod
    def for_input(dtype: str, scale: float, vocab: int) -> Tolerance:
        eps = EPS[dtype]
        return Tolerance(logit=8 * eps * max(1.0, scale), mass=max(8 * eps, 2e-9 * vocab))


@dataclass(frozen=True)
class Target:
    """probs: exact target probabilities (float64, each row sums to 1), boundary tokens resolved
    as float64 decides them (ties at an exactly-k cut: lowest index first).
    support: the tokens the pipeline keeps. In real arithmetic each has probability > 0, even
    where float64 underflows it to 0 (a logit 1e4 below the top). boundary: tokens whose
    membership depends on a comparison within the tolerance; a correct sampler may return them or
    not (for greedy: only earlier near-ties, as rounding can only move the first maximum
    earlier). greedy: the token when the draw is deterministic, else -1. All arrays have the caller's
    shape: (V,) or (B, V)."""

    probs: np.ndarray
    support: np.ndarray
    boundary: np.ndarray
    greedy: np.ndarray | int
    tolerance: Tolerance | tuple

    @property
    def allowed(self) -> np.ndarray:
        """Every token a correct sampler may return: the support plus the boundary tokens."""
        return self.support | self.boundary


def softmax(z: np.ndarray) -> np.ndarray:
    """The one softmax of the spec: -inf entries get probability 0."""
    finite = np.isfinite(z)
    out = np.zeros_like(z, dtype=np.float64)
    if finite.any():
        w = np.exp(z[finite] - z[finite].max())
        out[finite] = w / w.sum()
    return out


def logsumexp(rows: np.ndarray) -> np.ndarray:
    """log(sum(exp(z))) per row, kept as a (B, 1) column (float64)."""
    top = np.max(rows, axis=-1, keepdims=True)
    return top + np.log(np.exp(rows - top).sum(axis=-1, keepdims=True))


def log_softmax(rows: np.ndarray) -> np.ndarray:
    """z - logsumexp(z) per row (float64): the log-probabilities engines like mlx-lm sample from."""
    return rows - logsumexp(rows)


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


def _rank_cut(values: np.ndarray, count: int, keep: np.ndarray, boundary: np.ndarray, ties: str):
    """The `count` largest kept values, ties broken by the lower index; with ties="all" every
    token equal to the last one stays too, with ties="any" a tie group straddling the cut is
    boundary. Returns (kept mask, the cut value). O(V): a partition, no sort."""
    cut_value = np.partition(values[keep], -count)[-count]
    above = keep & (values > cut_value)
    tied = keep & (values == cut_value)
    if ties == "all":
        return above | tied, cut_value
    tied_idx = np.flatnonzero(tied)
    need = count - int(above.sum())
    kept = above.copy()
    kept[tied_idx[:need]] = True
    if tied_idx.size > need:
        boundary |= tied
    return kept, cut_value


def _top_k(z, keep, boundary, step: TopK, tol: Tolerance):
    if step.k >= z.size and step.over_vocab == "error":
        raise InvalidParameter("top_k", step.k, f"an integer in [1, {z.size - 1}] for this preset (V = {z.size})")
    if step.k >= int(keep.sum()):
        return keep
    kept, cut_value = _rank_cut(z, step.k, keep, boundary, step.ties)
    boundary |= keep & (np.abs(z - cut_value) < tol.logit) & (z != cut_value)
    return kept


def _top_p(z, unfiltered, keep, boundary, step: TopP, tol: Tolerance):
    probs = softmax(np.where(keep, z, -np.inf)) if step.mass == "renormalized" else softmax(unfiltered)
    alive = np.flatnonzero(keep)
    order = alive[np.lexsort((alive, -probs[alive]))]  # descending probability, ties by index
    sorted_probs = probs[order]
    above = np.concatenate(([0.0], np.cumsum(sorted_probs)[:-1]))
    if step.ties == "all":  # mass strictly above = mass above the first member of the tie group
        first = np.concatenate(([True], sorted_probs[1:] != sorted_probs[:-1]))
        above = above[np.maximum.accumulate(np.where(first, np.arange(order.size), 0))]
    kept_sorted = above < step.p
    kept_sorted[: step.min_tokens_to_keep] = True
    near = np.abs(above - step.p) < tol.mass
    near[: step.min_tokens_to_keep] = False
    if step.ties == "any":  # a tie group straddling the cut
        last = int(kept_sorted.sum()) - 1
        if 0 <= last < order.size - 1 and sorted_probs[last] == sorted_probs[last + 1]:
            near |= sorted_probs == sorted_probs[last]
    boundary[order[near]] = True
    new_keep = np.zeros_like(keep)
    new_keep[order[kept_sorted]] = True
    return new_keep


def _min_p(z, keep, boundary, step: MinP, tol: Tolerance):
    if step.p == 0:
        return keep
    threshold = z[keep].max() + math.log(step.p)
    kept = keep & (z >= threshold)
    boundary |= keep & (np.abs(z - threshold) < tol.logit)
    if kept.sum() < step.min_tokens_to_keep:
        kept |= _rank_cut(z, min(step.min_tokens_to_keep, int(keep.sum())), keep, boundary, "any")[0]
    return kept


def _filter(z, unfiltered, keep, boundary, steps, tol: Tolerance, branch: bool = True):
    """Apply `steps` from this state; returns (scaled logits, keep, tolerance) and adds boundary
    tokens to `boundary` in place. When a filter leaves boundary tokens and filters follow, the
    rest runs twice more, with those tokens all kept and all dropped: a later decision that
    depends on how rounding settled them makes its token a boundary token too."""
    for i, step in enumerate(steps):
        if isinstance(step, Temperature):
            if step.t > 0:
                z, unfiltered = z / step.t, unfiltered / step.t
                tol = Tolerance(tol.logit / step.t, tol.mass)
            continue
        flagged = boundary.copy()
        if isinstance(step, TopK):
            keep = _top_k(z, keep, boundary, step, tol)
        elif isinstance(step, TopP):
            keep = _top_p(z, unfiltered, keep, boundary, step, tol)
        else:
            keep = _min_p(z, keep, boundary, step, tol)
        unsettled = boundary & ~flagged
        rest = steps[i + 1:]
        if branch and unsettled.any() and not all(isinstance(s, Temperature) for s in rest):
            main = _filter(z, unfiltered, keep, boundary, rest, tol)
            for other in (keep | unsettled, keep & ~unsettled):
                if other.any():
                    boundary |= _filter(z, unfiltered, other, np.zeros_like(boundary), rest, tol, False)[1] != main[1]
            return main
    return z, keep, tol


def _row(z: np.ndarray, pipeline: Pipeline, tol: Tolerance):
    boundary = np.zeros(z.size, dtype=bool)
    z, keep, tol = _filter(z, z.copy(), np.isfinite(z), boundary, pipeline.steps, tol)
    masked = np.where(keep, z, -np.inf)
    if pipeline.greedy:
        token = int(np.argmax(masked))
        probs = np.zeros(z.size)
        probs[token] = 1.0
        # Rounding is monotone (fp-sub-monotone), so it can merge a near-tie into a tie but never
        # reverse an order: the first maximum can only move to an EARLIER index
        # (fp-argmax-shift-weak). A later token, even an exact tie, is never a correct answer.
        near_top = keep & (masked > masked[token] - tol.logit)
        near_top[token:] = False
        return probs, probs > 0, near_top, token
    probs = softmax(masked)
    token = int(np.argmax(masked)) if keep.sum() == 1 and not boundary.any() else -1
    return probs, keep, boundary, token


def target(logits, pipeline: Pipeline, tol: Tolerance | None = None) -> Target:
    """The exact target of `pipeline` on `logits` ((V,) or (B, V); rows are independent).

    Any per-row shift of the logits (log-probabilities included) gives the same target: that is
    what the `softmax-shift`, `argmax-shift` and `filters-shift` theorems establish.
    """
    if not isinstance(pipeline, Pipeline):
        raise InvalidParameter("pipeline", pipeline, "a spec.Pipeline (see spec.presets)")
    rows, dtype, single = as_rows(logits)
    out = []
    for row in rows:
        finite = row[np.isfinite(row)]
        row_tol = tol or Tolerance.for_input(dtype, float(np.abs(finite).max()), row.size)
        out.append((*_row(row, pipeline, row_tol), row_tol))
    probs, support, boundary = (np.stack([o[i] for o in out]) for i in range(3))
    greedy = np.array([o[3] for o in out])
    tols = tuple(o[4] for o in out)
    if single:
        return Target(probs[0], support[0], boundary[0], int(greedy[0]), tols[0])
    return Target(probs, support, boundary, greedy, tols)

"""The spec's arithmetic, in one place: float64 softmax, logsumexp, the rank cut every top-k-like
rule uses, and the tolerance that marks decisions rounding could flip."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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

    def __post_init__(self):
        from spec.errors import InvalidParameter

        for name in ("logit", "mass"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer) \
                    or not value >= 0 or value == float("inf"):
                raise InvalidParameter(f"tolerance.{name}", value, "a finite number >= 0")

    @staticmethod
    def for_input(dtype: str, scale: float, vocab: int) -> Tolerance:
        eps = EPS[dtype]
        return Tolerance(logit=8 * eps * max(1.0, scale), mass=max(8 * eps, 2e-9 * vocab))


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


def rank_cut(values: np.ndarray, count: int, keep: np.ndarray, boundary: np.ndarray, ties: str):
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

"""How often rounding alone may change a same-key draw: the bound that the same-key checks
(coupling, batch independence) and their shrinking share, kept apart so none imports another."""

from __future__ import annotations

import math

import numpy as np

from spec.target import EPS, Target
from spec.transforms import Pipeline, Temperature


def mismatch_rate(t: Target, va: np.ndarray, vb: np.ndarray, dtype: str, pipeline: Pipeline) -> tuple[float, float]:
    """An upper bound on the chance that one same-key draw differs between two inputs that are
    the same row up to a shift and rounding (va, vb: the arrays the sampler received).

    Rounding keeps the order of values (fp-sub-monotone) and moves each by at most a few units
    in the last place, so the scores a sampler races or accumulates differ by at most
    delta = |rounding of vb against va's shift| + 8 u (max |score| + 17), where 17 bounds the
    Gumbel noise and the 8 covers a sampler's own operations in precision u. A Gumbel-max race
    changes winner only if its top two scores are within 2 delta, which happens with probability
    at most e^(2 delta) - 1; an inverse CDF moves a boundary F_k by at most
    (e^(2 delta) - 1) min(F_k, 1 - F_k). The bound takes the larger of the two. Returns (rate, delta)."""
    finite = np.isfinite(va) & np.isfinite(vb)
    shift = np.median(va[finite] - vb[finite]) if finite.any() else 0.0
    input_error = float(np.abs((va[finite] - vb[finite]) - shift).max()) if finite.any() else 0.0
    t_min = min([s.t for s in pipeline.steps if isinstance(s, Temperature) and s.t > 0] + [1.0])
    scale = float(np.abs(np.r_[va[finite], vb[finite]]).max()) / t_min if finite.any() else 0.0
    delta = (input_error / t_min) + 8 * EPS[dtype] * (scale + 17)
    probs = np.atleast_2d(t.probs)[0]
    cdf = np.cumsum(np.sort(probs)[::-1])
    spread = max(1.0, float(np.minimum(cdf, 1 - cdf).sum()))
    return min(1.0, math.expm1(2 * delta) * spread), delta

"""When is greedy on floating-point log-probabilities guaranteed to equal greedy on logits?

The theorem `fp-greedy-exact-guard`: if c >= max(z) and 2 max(z) > c > 0, first-index
argmax(fl(z - c)) = argmax(z) exactly. With c the computed logsumexp, c >= max(z) always (the max
term contributes exp(0) = 1, so the computed log is >= 0) and c <= max(z) + log(n) + slack, where
slack bounds the error of the computed logsumexp: 4 ulps of the dtype at that scale, and at least
1e-3 (mlx's float32 logsumexp was measured 3e-4 off at V = 151,936). So the guard holds whenever
max(z) > log(n) + slack. Proved for bfloat16 and float16 in the default run of proofs.check,
float32 under --full.
"""

from __future__ import annotations

import math

import numpy as np

from spec.target import EPS, as_rows


def logsumexp_slack(dtype: str, scale: float) -> float:
    return max(4 * EPS[dtype] * scale, 1e-3)


def greedy_logprobs_exact(logits, dtype: str | None = None):
    """True (per row) when greedy on `dtype` log-probabilities provably equals greedy on the logits.

    `dtype` is the precision the log-probabilities are computed and stored in (default: the input's).
    Returns a bool for one row, a bool array for a batch. A False is not a failure: it says only
    that the guarantee does not apply (rounding may, rarely, pick an earlier tied token).
    """
    rows, input_dtype, single = as_rows(logits)
    dtype = dtype or input_dtype
    out = []
    for row in rows:
        finite = row[np.isfinite(row)]
        top, n = float(finite.max()), finite.size
        bound = math.log(n) + logsumexp_slack(dtype, abs(top) + math.log(n))
        out.append(bool(top > bound))
    return out[0] if single else np.array(out)

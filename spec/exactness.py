"""When is greedy on floating-point log-probabilities guaranteed to equal greedy on logits?

The theorem `fp-greedy-exact-guard` (proofs.check: bfloat16 and float16 in the default run,
float32 under --full): for finite z and c in the format with c >= max(z), c > 0 and
fl(2 max(z)) > c, first-index argmax(fl(z - c)) = argmax(z), for every n. `greedy_logprobs_exact`
checks exactly these premises on the row it is given, with c = fl(logsumexp(z)) computed into the
dtype, and on every c an engine may compute instead. Nothing else is assumed, and there is one
slack, `logsumexp_error`, derived there.

Which c can an engine compute? With m = max(z), the usual algorithm is L' = m + log(sum_i
exp(z_i - m)) and c' = fl(L'). The max term is exp(0) = 1, so the sum is >= 1, its log >= 0, and
c' >= m (rounding is monotone and m is in the format). Above: |L' - logsumexp(z)| <=
logsumexp_error, and our own float64 logsumexp L obeys the same bound, so c' is at most the
dtype's rounding up of L + 2 logsumexp_error. The premises hold for every c' in [m, that] when
they hold at both ends: c' >= m, c' > 0 (as m > 0: fl(2m) > c' >= m), fl(2m) > c'.
"""

from __future__ import annotations

import math

import numpy as np

from spec.numerics import logsumexp
from spec.target import as_rows

PROVED = ("bfloat16", "float16", "float32")  # the formats fp-greedy-exact-guard is proved for


def logsumexp_error(n: int, top: float) -> float:
    """The one slack: a bound on |L' - logsumexp(z)| for a row of n entries with maximum m = top,
    where L' = m + log(s'), s' the computed sum of exp(z_i - m): in float32 or wider (unit
    roundoff u <= 2^-24), exp and log within 4 ulps (relative error <= 8u), any summation order.
    At n = 151,936 and |m| <= 100 it is 0.0127; in float64 (our own L) the same derivation gives
    far less, so the bound covers both.

    Derivation, with s = sum_i exp(z_i - m) >= 1 and x_i = m - z_i >= 0:
    1. z_i - m is rounded with relative error <= u, so the term is exp(-x_i(1 + d)), |d| <= u, off
       from exp(-x_i) by <= exp(-x_i)(e^(x_i u) - 1) <= x_i u e^(-x_i (1 - u)) <= u / (e (1 - u));
       exp adds 8u relatively; an underflow (to 0 or a subnormal) at most 2^-126 absolutely. The
       computed terms sum exactly to T with |T - s| <= a s, a = 8u + n ((1 + 8u) u / (e (1 - u))
       + 2^-126) (s >= 1).
    2. Adding n terms in any order: |s' - T| <= g T, g = (n - 1) u / (1 - (n - 1) u). So
       s' = s (1 + t) with |t| <= h = a + g (1 + a).
    3. |log s' - log s| <= -log(1 - h) <= h / (1 - h) =: l. The computed log adds <= 8u log s' <=
       8u (log n + l) (s <= n), and the final m + log, rounded, u (|m| + (1 + 8u)(log n + l)).
    Returns inf where the bound breaks down (h >= 1: n of order 2^24).
    """
    u = 2.0**-24
    if (n - 1) * u >= 1:
        return math.inf
    a = 8 * u + n * ((1 + 8 * u) * u / (math.e * (1 - u)) + 2.0**-126)
    h = a + (n - 1) * u / (1 - (n - 1) * u) * (1 + a)
    if h >= 1:
        return math.inf
    lg = h / (1 - h)
    return lg + 8 * u * (math.log(n) + lg) + u * (abs(top) + (1 + 8 * u) * (math.log(n) + lg))


def _in_dtype(dtype: str, values) -> np.ndarray:
    """float64 values rounded into the dtype (numpy; mlx for bfloat16, by way of float32), as float64."""
    values = np.asarray(values, dtype=np.float64)
    if dtype == "bfloat16":
        import mlx.core as mx
        return np.array(mx.array(values.astype(np.float32)).astype(mx.bfloat16).astype(mx.float32), dtype=np.float64)
    with np.errstate(over="ignore"):
        return values.astype(dtype).astype(np.float64)


def _round_up(dtype: str, x: float) -> float:
    """The smallest number of the dtype >= x (x finite)."""
    v = float(_in_dtype(dtype, [x])[0])
    if v >= x or not math.isfinite(v):
        return v
    if dtype == "bfloat16":  # a bfloat16 is a float32 whose low 16 bits are 0
        if v == 0:
            return 2.0**-133
        bits = int(np.float32(v).view(np.uint32)) + (0x10000 if v > 0 else -0x10000)
        return float(np.uint32(bits).view(np.float32))
    kind = np.dtype(dtype).type
    return float(np.nextafter(kind(v), kind(np.inf)))


def premises(row: np.ndarray, dtype: str) -> dict:
    """The theorem's premises for one row (float64 values, rounded into the dtype first): c =
    fl(logsumexp(z)) in the dtype, and c_hi, the largest c an engine may compute (module docstring)."""
    z = _in_dtype(dtype, row[np.isfinite(row)])  # -inf entries shift to -inf: never a first maximum
    if z.size == 0 or not np.isfinite(z).all():
        return {"hold": False}
    m = float(z.max())
    lse = float(logsumexp(z)[0])
    c = float(_in_dtype(dtype, [lse])[0])
    two_m = float(_in_dtype(dtype, [m + m])[0])  # fl(2m): exact, or inf on overflow
    c_hi = _round_up(dtype, math.nextafter(lse + 2 * logsumexp_error(row.size, m), math.inf))
    hold = c >= m and c > 0 and two_m > c and two_m > c_hi
    return {"hold": bool(hold), "m": m, "c": c, "c_hi": c_hi, "2m": two_m}


def greedy_logprobs_exact(logits, dtype: str | None = None):
    """True (per row) when greedy on `dtype` log-probabilities provably equals greedy on the logits.

    `dtype` is the precision the log-probabilities are computed and stored in (default: the input's),
    as fl(z - c) with c the row's logsumexp computed into that dtype by any engine that fits
    `logsumexp_error`. The premises of `fp-greedy-exact-guard` are checked on the row itself: c >=
    max(z), c > 0, fl(2 max(z)) > c. Formats the theorem is not proved for (float64) get False.
    Returns a bool for one row, a bool array for a batch. A False is not a failure: it says only
    that the guarantee does not apply (rounding may, rarely, pick an earlier tied token).
    """
    rows, input_dtype, single = as_rows(logits)
    dtype = dtype or input_dtype
    out = [dtype in PROVED and premises(row, dtype)["hold"] for row in rows]
    return out[0] if single else np.array(out)

"""The sampler's randomness: a counter-based hash of (row key, counter) and what it feeds.

Why a module of its own: the Gumbel noise of token i is this hash at counter i, so it depends on
the token id alone (batch shape, candidate gathering and fast paths never change a token's
noise, and a batch equals row-by-row calls with the same keys); XTC's coins are the same hash at
counters no token id reaches; and the race's pruning bounds the noise from the hash bits by
exponent arithmetic, without a log. The keys (`row_keys`) are one per row.
"""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np

from spec.errors import InvalidParameter


def _fmix(h):
    """MurmurHash3's 32-bit finaliser: a bijection on uint32 with full avalanche."""
    h = h ^ (h >> 16)
    h = h * mx.array(0x85EBCA6B, dtype=mx.uint32)
    h = h ^ (h >> 13)
    h = h * mx.array(0xC2B2AE35, dtype=mx.uint32)
    return h ^ (h >> 16)


def uniform_from_bits(h: mx.array) -> mx.array:
    """23 random bits -> float32 in [2^-24, 1 - 2^-24], both ends exact, so the Gumbel noise is
    always finite: it lies in [G_LOW, G_HIGH]. (24 bits would round 1 - 2^-25 up to 1.0 and make
    an infinite Gumbel value, a token that wins whatever its logit.)"""
    return ((h >> 9).astype(mx.float32) + 0.5) * (2.0**-23)


G_LOW, G_HIGH = -math.log(-math.log(2.0**-24)), -math.log(2.0**-24)  # -2.81, 16.64


def _bits(keys: mx.array, counters: mx.array) -> mx.array:
    """32 hashed bits for each (row key, counter): keys (B, 2) uint32, counters (B, m) or (1, m)."""
    x = counters.astype(mx.uint32)
    return _fmix((x ^ keys[:, :1]) * mx.array(0x9E3779B9, dtype=mx.uint32) + keys[:, 1:])


def gumbel(keys: mx.array, counters: mx.array) -> mx.array:
    """Standard Gumbel noise for each (row key, counter): keys (B, 2) uint32, counters (B, m)."""
    return -mx.log(-mx.log(uniform_from_bits(_bits(keys, counters))))


COIN = 2**32 - 1  # XTC's coin at pipeline step i uses counter COIN - i: no token id reaches it


def coin(keys: mx.array, counter: int) -> mx.array:
    """(B, 1) uniform in (0, 1), one per row, from that row's key alone."""
    return uniform_from_bits(_bits(keys, mx.array([[counter]], dtype=mx.uint32)))


SEEDS = 2**64  # mx.random.key takes a seed in [0, 2**64) (a C++ uint64)


def row_keys(key, rows: int) -> mx.array:
    """One key per row: an explicit (2,) key (or an int seed, made into one) is split, (B, 2) keys
    are used as given, and with no key the global mlx random state supplies them. Only type,
    shape and dtype are checked (no evaluation); anything else raises InvalidParameter."""
    if key is None:
        return mx.random.randint(0, 2**31 - 1, (rows, 2)).astype(mx.uint32)
    if isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_):
        if not 0 <= int(key) < SEEDS:
            raise InvalidParameter("key", key, "an integer seed in [0, 2**64), or an mx.random.key")
        keys = mx.random.key(int(key))
    elif isinstance(key, mx.array) and mx.issubdtype(key.dtype, mx.integer):
        keys = key if key.dtype == mx.uint32 else key.astype(mx.uint32)
    else:
        got = f"an mx.array of dtype {key.dtype}" if isinstance(key, mx.array) else type(key).__name__
        raise InvalidParameter("key", key, f"None, an integer seed in [0, 2**64), or an mx.array key of an "
                               f"integer dtype, shape (2,) (an mx.random.key) or ({rows}, 2); got {got}")
    if keys.shape == (2,):
        return mx.random.split(keys, rows) if rows > 1 else keys[None]
    if keys.shape == (rows, 2):
        return keys
    raise InvalidParameter("key", key, f"an mx.random.key (shape (2,)) or {rows} keys, shape ({rows}, 2); "
                           f"got shape {tuple(key.shape)}")


LN2 = math.log(2.0)


def _exponent(y: mx.array) -> mx.array:
    """floor(log2 y) for positive normal float32 y, read from its exponent bits (no log)."""
    return ((y.view(mx.int32) >> 23) - 127).astype(mx.float32)


def noise_bounds(keys: mx.array, ids: mx.array) -> tuple[mx.array, mx.array]:
    """Bounds lo <= g <= hi on each token's Gumbel noise g = -log(-log u), from its hash bits and
    exponent arithmetic only (mlx's log costs about 7 ns per value on the CPU).

    -log u lies in [1 - u, (1 - u) / u], so g lies in [log u - log(1 - u), -log(1 - u)]; with
    2^e <= y < 2^(e+1) read from y's exponent bits, hi = -e(1 - u) ln 2 and
    lo = (e(u) - e(1 - u) - 1) ln 2. u and 1 - u are exact (multiples of 2^-24 in (0, 1)); 1e-3
    covers the rounding of g itself."""
    u = uniform_from_bits(_bits(keys, ids))
    tail = _exponent(1.0 - u)
    return (_exponent(u) - tail - 1.0) * LN2 - 1e-3, -tail * LN2 + 1e-3

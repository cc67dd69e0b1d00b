"""The draw: Gumbel-max, argmax(s + g), raced only among the tokens that can win.

Why a module of its own: the draw is exactly shift-invariant (`gumbel-coupling`: the same key
gives the same token for logits and log-probabilities) and needs no exp and no normalisation,
and its pruning is exact: on a confident row only tokens within the noise's range of the top
score can win, on a flat row only those whose noise bounds (`noise.noise_bounds`) reach the
best lower bound (about e^2 tokens). Since each token's noise depends on its id alone, racing
the survivors in index order picks the very token the full race picks.
"""

from __future__ import annotations

import mlx.core as mx

import impl.cpu as cpu
from impl.noise import G_HIGH, G_LOW, gumbel, noise_bounds

CANDIDATES = 8192


def _race(scores: mx.array, ids: mx.array, keys: mx.array) -> mx.array:
    """Position of argmax(scores + Gumbel noise of each token id)."""
    return mx.argmax(scores + gumbel(keys, ids), axis=-1)


def _near_top(scores: mx.array, top: mx.array) -> mx.array:
    """Tokens that can win on their score alone: the winner scores at least top + G_LOW and token
    i at most s_i + G_HIGH (1e-6 relative slack covers float32 rounding). Enough on a confident
    row, where few tokens lie within G_HIGH - G_LOW = 19.45 of the top."""
    return scores >= top - (G_HIGH - G_LOW) - 1e-6 * mx.abs(top) - 1e-3


def _can_win(scores: mx.array, top: mx.array, keys: mx.array, ids: mx.array) -> mx.array:
    """Tokens that can win given their noise bounds (`noise_bounds`): the winner scores at least
    L = max_i (s_i + lo_i) and token i at most s_i + hi_i; about e^2 tokens on any row, flat
    ones included, for a pass over the hash bits instead of two logs per token."""
    lo, hi = noise_bounds(keys, ids)
    return scores + hi >= mx.max(scores + lo, -1, keepdims=True) - 1e-6 * (mx.abs(top) + G_HIGH) - 1e-3


def _compact(alive: mx.array) -> tuple[mx.array, mx.array] | None:
    """The ids of each row's alive tokens in index order, padded to the longest row, and which
    slots are used; None when a row has more than CANDIDATES (the full race is cheaper then). On
    the CPU numpy's flatnonzero on a zero-copy view (`cpu.compact`); elsewhere a prefix sum into
    slots."""
    rows, vocab = alive.shape
    if mx.default_device() == mx.cpu:
        return cpu.compact(alive, CANDIDATES)
    count = mx.sum(alive, -1, keepdims=True)
    if mx.any(count > CANDIDATES).item():
        return None
    slot = mx.cumsum(alive.astype(mx.int32), -1) - 1
    slot = mx.where(alive, slot, CANDIDATES).astype(mx.uint32)  # CANDIDATES: a discard slot
    every = mx.broadcast_to(mx.arange(vocab, dtype=mx.uint32), alive.shape)
    table = mx.put_along_axis(mx.zeros((rows, CANDIDATES + 1), dtype=mx.uint32), slot, every, -1)
    return table[:, :CANDIDATES], mx.arange(CANDIDATES)[None] < count


_near = mx.compile(_near_top)
_bounded = mx.compile(lambda scores, top, keys: _can_win(
    scores, top, keys, mx.broadcast_to(mx.arange(scores.shape[-1], dtype=mx.uint32), scores.shape)))


def race_among(scores: mx.array, keys: mx.array, alive: mx.array) -> mx.array:
    """The full race's winner, raced among the `alive` tokens only, which must include every
    token that can win (`_near_top`, `_can_win`). Their noise depends on the token id alone and
    compaction keeps index order, so the winner is the very token (the first maximum) the full
    race picks; the full race runs only if a row keeps more than CANDIDATES."""
    found = _compact(alive)
    if found is None:
        return _race(scores, mx.arange(scores.shape[-1], dtype=mx.uint32)[None], keys)
    ids, used = found
    cand = mx.where(used, mx.take_along_axis(scores, ids, -1), -mx.inf)
    return mx.take_along_axis(ids, _race(cand, ids, keys)[:, None], -1)[:, 0]


def pruned_race(scores: mx.array, keys: mx.array) -> mx.array:
    """race_among the tokens `_near_top` keeps where few enough (confident rows), else among
    those `_can_win` keeps."""
    top = mx.max(scores, -1, keepdims=True)
    near = _near(scores, top)
    return race_among(scores, keys, _bounded(scores, top, keys) if mx.any(mx.sum(near, -1) > CANDIDATES).item()
                      else near)


def gumbel_max(scores: mx.array, keys: mx.array, ids: mx.array | None = None) -> mx.array:
    """Token drawn with probability softmax(scores) per row; `ids` maps columns to token ids."""
    if ids is not None:
        return mx.take_along_axis(ids, _race(scores, ids, keys)[:, None], -1)[:, 0]
    if scores.shape[-1] <= CANDIDATES:
        return _race(scores, mx.arange(scores.shape[-1], dtype=mx.uint32)[None], keys)
    return pruned_race(scores, keys)

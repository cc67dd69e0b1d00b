"""A fast mlx sampler for every spec pipeline.

    sampler = impl.make_sampler(spec.presets.mlx_lm(temp=0.7, top_p=0.9))
    token = sampler(logits)            # (B, V) -> (B,), (V,) -> (); logits or log-probabilities

Design, in one screen:
- Work in float32 (float16 / bfloat16 inputs are upcast, as engines do); never mutate the input.
- Validate with one row-max reduction the work needs anyway: mlx's max propagates NaN, so NaN,
  +inf and all -inf rows are caught and nothing is returned for them (greedy reads the value at
  the argmax instead, which NaN always wins).
- Filters keep the spec's rules (keep iff the mass strictly above is < p, z >= max + log m, the
  k largest) without full sorts where they can: top-k gathers its k candidates once and every
  later step works on those; top-p looks for its crossing among the 1024 largest values and sorts
  the whole row only when the crossing is not there.
- The draw is Gumbel-max, argmax(s + g): exactly shift-invariant (`gumbel-coupling`: the same key
  gives the same token for logits and log-probabilities) and it needs no exp and no
  normalisation. The noise of token i is a counter-based hash of (row key, i), so it depends on
  the token id alone: batch shape, candidate gathering and fast paths never change a token's
  noise, and a batch equals row-by-row calls with the same keys. The noise is bounded, so only
  tokens near the top score can win, and only those race (`_pruned_race`).
"""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.presets import PRESETS, canonical
from spec.transforms import MinP, Pipeline, Temperature, TopK, TopP, registered

HEAD = 1024  # top-p looks for its crossing among this many largest values first
_FLOATS = (mx.float16, mx.bfloat16, mx.float32)


# --- randomness --------------------------------------------------------------------------------

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


def gumbel(keys: mx.array, counters: mx.array) -> mx.array:
    """Standard Gumbel noise for each (row key, counter): keys (B, 2) uint32, counters (B, m)."""
    x = counters.astype(mx.uint32)
    h = _fmix((x ^ keys[:, :1]) * mx.array(0x9E3779B9, dtype=mx.uint32) + keys[:, 1:])
    return -mx.log(-mx.log(uniform_from_bits(h)))


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


def _race(scores: mx.array, ids: mx.array, keys: mx.array) -> mx.array:
    """Position of argmax(scores + Gumbel noise of each token id)."""
    return mx.argmax(scores + gumbel(keys, ids), axis=-1)


CANDIDATES = 8192


def _pruned_race(scores: mx.array, top: mx.array, keys: mx.array):
    """The same winner as the race over the whole row, computed on the tokens that can win.

    The winner scores at least top + G_LOW, and token i at most s_i + G_HIGH, so tokens with
    s_i < top - (G_HIGH - G_LOW) never win (1e-6 relative slack covers float32 rounding). They are
    compacted into CANDIDATES slots by a prefix sum; noise is per token id, so the winner is the
    very token the full race picks. Returns (token, overflow): overflow rows need the full race."""
    rows, vocab = scores.shape
    alive = scores >= top - (G_HIGH - G_LOW) - 1e-6 * mx.abs(top) - 1e-3
    slot = mx.cumsum(alive.astype(mx.int32), -1) - 1
    slot = mx.where(alive & (slot < CANDIDATES), slot, CANDIDATES)  # CANDIDATES: a discard slot
    ids = mx.broadcast_to(mx.arange(vocab, dtype=mx.uint32), scores.shape)
    table = mx.put_along_axis(mx.zeros((rows, CANDIDATES + 1), dtype=mx.uint32), slot.astype(mx.uint32), ids, -1)
    count = mx.sum(alive, -1, keepdims=True)
    ids = table[:, :CANDIDATES]
    used = mx.arange(CANDIDATES)[None] < count
    cand = mx.where(used, mx.take_along_axis(scores, ids, -1), -mx.inf)
    token = mx.take_along_axis(ids, _race(cand, ids, keys)[:, None], -1)[:, 0]
    return token, count[:, 0] > CANDIDATES


def gumbel_max(scores: mx.array, keys: mx.array, ids: mx.array | None = None) -> mx.array:
    """Token drawn with probability softmax(scores) per row; `ids` maps columns to token ids."""
    if ids is not None:
        return mx.take_along_axis(ids, _race(scores, ids, keys)[:, None], -1)[:, 0]
    all_ids = mx.arange(scores.shape[-1], dtype=mx.uint32)[None]
    if scores.shape[-1] <= CANDIDATES:
        return _race(scores, all_ids, keys)
    token, overflow = _pruned_race(scores, mx.max(scores, -1, keepdims=True), keys)
    return _race(scores, all_ids, keys) if mx.any(overflow).item() else token


# --- validation --------------------------------------------------------------------------------

def _as_batch(logits) -> tuple[mx.array, bool]:
    if not isinstance(logits, mx.array):
        raise InvalidLogits(f"expected an mx.array, got {type(logits).__name__}")
    if logits.dtype not in _FLOATS:
        raise InvalidLogits(f"unsupported dtype {logits.dtype}: use float16, bfloat16 or float32")
    if logits.ndim not in (1, 2):
        raise InvalidLogits(f"expected a (V,) row or a (B, V) batch, got shape {tuple(logits.shape)}")
    single = logits.ndim == 1
    x = logits[None] if single else logits
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise InvalidLogits(f"empty batch or vocabulary: shape {tuple(logits.shape)}")
    return (x if x.dtype == mx.float32 else x.astype(mx.float32)), single


def _check_pipeline(pipeline):
    if not isinstance(pipeline, Pipeline):
        raise InvalidParameter("pipeline", pipeline, "a spec.Pipeline (see spec.presets)")


def _check_rows(values):
    """values: each row's max, or its value at the drawn token (NaN wins both in mlx)."""
    for b, v in enumerate(values.tolist() if isinstance(values, mx.array) else values):
        if not math.isfinite(v):
            problem = "NaN in the logits" if math.isnan(v) else (
                "+inf in the logits" if v > 0 else "every entry is -inf: nothing can be sampled")
            raise InvalidLogits(f"row {b}: {problem}")


# --- filters: each maps (scores, ids) -> (scores, ids); ids None means the whole row ----------

def _top_k(x, ids, step: TopK, vocab: int):
    if step.rejects(vocab):
        most = vocab if step.over_vocab == "error_above" else vocab - 1
        raise InvalidParameter("top_k", step.k, f"an integer in [1, {most}] for this preset (V = {vocab})")
    if step.k >= x.shape[-1]:  # k covers every column left (the whole row, or gathered candidates)
        return x, ids
    order = mx.argpartition(-x, step.k, axis=-1)
    top = mx.sort(order[:, : step.k], axis=-1)  # canonical order: by column
    values = mx.take_along_axis(x, top, -1)
    if step.ties == "all":
        kth = mx.min(values, -1, keepdims=True)
        next_value = mx.take_along_axis(x, order[:, step.k :][:, :1], -1)
        if mx.any(next_value == kth).item():  # a tie straddles the cut: keep it whole, on the full row
            return mx.where(x >= kth, x, -mx.inf), ids
    return values, (top.astype(mx.uint32) if ids is None else mx.take_along_axis(ids, top, -1))


def _keep_top(x, count: int):
    """Mask that keeps the `count` largest entries of each row."""
    keep = mx.argpartition(-x, count - 1, axis=-1)[:, :count]
    return mx.put_along_axis(mx.zeros(x.shape, dtype=mx.bool_), keep, mx.array(True), axis=-1)


def _min_p(x, step: MinP):
    if step.p == 0:
        return x
    keep = x >= mx.max(x, -1, keepdims=True) + math.log(step.p)
    if step.min_tokens_to_keep > 1:
        keep = keep | _keep_top(x, min(step.min_tokens_to_keep, x.shape[-1]))
    return mx.where(keep, x, -mx.inf)


def _top_p(x, ids, lse, step: TopP):
    """Keep iff the mass strictly above is < p, as a threshold on values: tokens are ranked by
    value, the last one whose mass above is < p sets the threshold, every token >= it stays.
    `lse` normalises the masses (over the survivors, or over the original row). On a whole row,
    the 1024 largest values are gathered first; when they settle the crossing (their mass
    strictly above their smallest value reaches p, so no other token can be kept) the result
    lives on those 1024 columns, else the whole row is sorted."""
    n = x.shape[-1]
    m = min(HEAD, n)
    if ids is None and m < n:
        head = mx.sort(mx.argpartition(-x, m - 1, axis=-1)[:, :m], axis=-1)
        head_x = mx.take_along_axis(x, head, -1)
        values = mx.sort(head_x, axis=-1)[:, ::-1]
        probs = mx.exp(values - lse)
        if mx.all(mx.sum(mx.where(values > values[:, -1:], probs, 0), -1) >= step.p).item():
            x, ids = head_x, head.astype(mx.uint32)
        else:
            values = mx.sort(x, axis=-1)[:, ::-1]
    else:
        values = mx.sort(x, axis=-1)[:, ::-1]
    probs = mx.exp(values - lse)
    above = mx.cumsum(probs, -1) - probs
    count = mx.sum((above < step.p) & mx.isfinite(values), -1, keepdims=True)
    count = mx.clip(count, min(step.min_tokens_to_keep, n), values.shape[-1])
    threshold = mx.take_along_axis(values, count - 1, -1)
    return mx.where(x >= threshold, x, -mx.inf), ids


def temperature(x, ids, unfiltered, step: Temperature):
    if step.t > 0:
        x, unfiltered = x / step.t, unfiltered / step.t
    return x, ids, unfiltered


def top_k(x, ids, unfiltered, step: TopK):
    return (*_top_k(x, ids, step, unfiltered.shape[-1]), unfiltered)


def min_p(x, ids, unfiltered, step: MinP):
    return _min_p(x, step), ids, unfiltered


def top_p(x, ids, unfiltered, step: TopP):
    lse = mx.logsumexp(x if step.mass == "renormalized" else unfiltered, -1, keepdims=True)
    return (*_top_p(x, ids, lse, step), unfiltered)


def _apply(x, pipeline: Pipeline):
    """Run the pipeline's steps, each by the impl rule its registry entry names; returns (scaled
    masked scores, their token ids or None). (x, ids, unfiltered) flow through every rule."""
    ids, unfiltered = None, x
    for step in pipeline.steps:
        rule = globals().get(registered(step).impl)
        if rule is None:
            raise InvalidParameter("step", step, "a transform impl.sampler implements")
        x, ids, unfiltered = rule(x, ids, unfiltered, step)
    return x, ids


def filter(logits: mx.array, pipeline: Pipeline) -> mx.array:
    """The input logits with every token the pipeline removes set to -inf (float32)."""
    _check_pipeline(pipeline)
    x, single = _as_batch(logits)
    _check_rows(mx.max(x, -1))
    scores, ids = _apply(x, pipeline)
    if ids is None:
        kept = mx.isfinite(scores)
    else:
        kept = mx.put_along_axis(mx.zeros(x.shape, dtype=mx.bool_), ids, mx.isfinite(scores), axis=-1)
    out = mx.where(kept, x, -mx.inf)
    return out[0] if single else out


# --- samplers ----------------------------------------------------------------------------------

def _greedy(x: mx.array) -> mx.array:
    """First-index argmax, rejecting bad rows by the value at the argmax (NaN wins it). On the
    CPU device numpy's vectorised argmax over a zero-copy view is about 10x faster than
    mx.argmax (20 us against 220 us at V = 151,936); both take the first maximum."""
    if mx.default_device() == mx.cpu:
        rows = np.asarray(x)
        token = rows.argmax(axis=-1)
        _check_rows(rows[np.arange(rows.shape[0]), token].tolist())
        return mx.array(token.astype(np.uint32))
    token = mx.argmax(x, -1)
    _check_rows(mx.take_along_axis(x, token[:, None], -1)[:, 0])
    return token


def _fusable(pipeline: Pipeline) -> bool:
    """Temperatures and min-p need no data-dependent branching: one compiled graph does it all."""
    return all(isinstance(s, Temperature | MinP) for s in pipeline.steps)


def make_sampler(pipeline: Pipeline):
    """A sampler for `pipeline`: logits (B, V) or (V,) -> token ids (B,) or (), uint32.

    `key`: an mx.random.key for reproducible draws (split into one key per row), or (B, 2) keys,
    or None for the global mlx random state.
    """
    _check_pipeline(pipeline)

    @mx.compile
    def fused(x, keys):
        """Temperatures and min-p in one graph: the scores, the pruned race, and the row max of
        the input, which validates the row (mlx's max propagates NaN)."""
        scores = _apply(x, pipeline)[0]
        top = mx.max(scores, -1, keepdims=True)
        token, overflow = _pruned_race(scores, top, keys) if x.shape[-1] > CANDIDATES else (
            _race(scores, mx.arange(x.shape[-1], dtype=mx.uint32)[None], keys), mx.zeros(x.shape[:1], mx.bool_))
        return token, overflow, mx.max(x, -1)

    def sample(logits: mx.array, key=None) -> mx.array:
        x, single = _as_batch(logits)
        if pipeline.greedy:
            token = _greedy(x)
        elif _fusable(pipeline):
            keys = row_keys(key, x.shape[0])
            token, overflow, row_max = fused(x, keys)
            _check_rows(row_max)  # evaluated with the draw; nothing is returned for a bad row
            if mx.any(overflow).item():  # too many candidates (a flat row): race the whole row
                token = gumbel_max(_apply(x, pipeline)[0], keys)
        else:
            _check_rows(mx.max(x, -1))
            scores, ids = _apply(x, pipeline)
            token = gumbel_max(scores, row_keys(key, x.shape[0]), ids)
        return token[0] if single else token

    sample.pipeline = pipeline
    sample.filter = lambda logits: filter(logits, pipeline)  # white-box access for spec.validate
    return sample


def make_sampler_from(preset: str, **engine_params):
    """make_sampler(spec.presets.<preset>(**engine_params)), e.g. make_sampler_from("mlx-lm", temp=0.7);
    preset names are read as spec.presets.canonical reads them ("mlx-lm", "llama.cpp", "HF")."""
    if not isinstance(preset, str):
        raise InvalidParameter("preset", preset, f"one of {', '.join(sorted(PRESETS))}")
    return make_sampler(PRESETS[canonical(preset)](**engine_params))

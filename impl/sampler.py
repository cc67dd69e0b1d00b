"""A fast mlx sampler for every spec pipeline.

    sampler = impl.make_sampler(spec.presets.mlx_lm(temp=0.7, top_p=0.9))
    token = sampler(logits)            # (B, V) -> (B,), (V,) -> (); logits or log-probabilities
    token = sampler(logits, key=k, history=[spec.History(prompt, output), ...])  # one history per row

Design, in one screen:
- Work in float32 (float16 / bfloat16 inputs are upcast, as engines do); never mutate the input.
- Validate with one row-max reduction the work needs anyway: mlx's max propagates NaN, so NaN,
  +inf and all -inf rows are caught and nothing is returned for them (greedy reads the value at
  the argmax instead, which NaN always wins).
- Filters keep the spec's rules (keep iff the mass strictly above is < p, z >= max + log m, the
  k largest) without full sorts where they can: top-k gathers its k candidates once and every
  later step works on those; top-p looks for its crossing among the 1024 largest values (then,
  on the CPU, among 16,384 and 65,536) and sorts the whole row only when the crossing is not
  there. On the CPU, top-p and greedy work on zero-copy numpy views: numpy's sort, exp and
  argmax are vectorised there and mlx's are not.
- The draw is Gumbel-max, argmax(s + g): exactly shift-invariant (`gumbel-coupling`: the same key
  gives the same token for logits and log-probabilities) and it needs no exp and no
  normalisation. The noise of token i is a counter-based hash of (row key, i), so it depends on
  the token id alone: batch shape, candidate gathering and fast paths never change a token's
  noise, and a batch equals row-by-row calls with the same keys. Only tokens that can win race
  (`pruned_race`): on a confident row those within the noise's range of the top score, on a
  flat row those whose noise bounds, read from the hash bits without a log, reach the best
  lower bound (about e^2 tokens).
- Every transform is one small pure rule named by its registry entry's `impl`:
  rule(x, ids, unfiltered, step, call) -> (x, ids, unfiltered), where `call` carries what a rule
  may read besides the scores: the vocabulary size, one `spec.History` per row and one key per
  row. Penalties and logit bias touch only the tokens they name (a gather and a scatter into a
  new array); XTC's coin is drawn per row from that row's key (the Gumbel hash at a counter no
  token id uses), so rows are independent and `filter(..., key=k)` shows the branch the
  sampler with key k takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import mlx.core as mx
import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.presets import PRESETS, canonical
from spec.target import histories
from spec.transforms import (
    XTC,
    EpsilonCutoff,
    EtaCutoff,
    FrequencyPenalty,
    History,
    LogitBias,
    MinP,
    Pipeline,
    PresencePenalty,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopNSigma,
    TopP,
    TypicalP,
    registered,
)

HEAD = 1024  # top-p looks for its crossing among this many largest values first
WINDOWS = (16_384, 65_536)  # then (on the CPU) among this many, before it sorts the whole row
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


def _bits(keys: mx.array, counters: mx.array) -> mx.array:
    """32 hashed bits for each (row key, counter): keys (B, 2) uint32, counters (B, m) or (1, m)."""
    x = counters.astype(mx.uint32)
    return _fmix((x ^ keys[:, :1]) * mx.array(0x9E3779B9, dtype=mx.uint32) + keys[:, 1:])


def gumbel(keys: mx.array, counters: mx.array) -> mx.array:
    """Standard Gumbel noise for each (row key, counter): keys (B, 2) uint32, counters (B, m)."""
    return -mx.log(-mx.log(uniform_from_bits(_bits(keys, counters))))


LOG_TINY = math.log(5e-324)  # the least positive float64, where the spec's probabilities underflow
TINY_THRESHOLD = 1e-30  # XTC thresholds below this compare in log space (float32 probabilities underflow)
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


def _race(scores: mx.array, ids: mx.array, keys: mx.array) -> mx.array:
    """Position of argmax(scores + Gumbel noise of each token id)."""
    return mx.argmax(scores + gumbel(keys, ids), axis=-1)


CANDIDATES = 8192
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
    the CPU numpy's flatnonzero on a zero-copy view; elsewhere a prefix sum into slots."""
    rows, vocab = alive.shape
    if mx.default_device() == mx.cpu:
        mask = np.asarray(alive)
        counts = mask.sum(-1)
        if counts.max() > CANDIDATES:
            return None
        width = max(1, int(counts.max()))
        ids = np.zeros((rows, width), dtype=np.uint32)
        for r in range(rows):
            ids[r, : counts[r]] = np.flatnonzero(mask[r])
        return mx.array(ids), mx.array(np.arange(width)[None] < counts[:, None])
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


def _top_p(x, ids, basis, step: TopP):
    """Keep iff the mass strictly above is < p, as a threshold on values: tokens are ranked by
    value, the last one whose mass above is < p sets the threshold, every token >= it stays.
    The masses are normalised over `basis` (the survivors, or the original row). On a whole row,
    the 1024 largest values are gathered first; when they settle the crossing (their mass
    strictly above their smallest value reaches p, so no other token can be kept) the result
    lives on those 1024 columns, else the whole row is sorted. On the CPU the same steps run on
    numpy views (`_top_p_numpy`)."""
    return (_top_p_numpy if mx.default_device() == mx.cpu else _top_p_mlx)(x, ids, basis, step)


def _top_p_mlx(x, ids, basis, step: TopP):
    lse = mx.logsumexp(basis, -1, keepdims=True)
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


def _top_p_numpy(x, ids, basis, step: TopP):
    """_top_p's steps on zero-copy numpy views: on this CPU numpy's sort, exp and sum are
    vectorised (3.7 ms against mlx's 13.8 ms for a sort at V = 151,936; 0.07 ms against 1.9 ms
    for an exp), which is what keeps a flat row's nucleus of 50,000 tokens cheap. float32
    throughout, as on the device; the logsumexp sums pairwise (more accurate than a running sum)."""
    xv, bv = np.asarray(x), np.asarray(basis)
    top = bv.max(-1, keepdims=True)
    with np.errstate(divide="ignore"):  # masked entries: exp(-inf) = 0
        lse = top + np.log(np.exp(bv - top).sum(-1, keepdims=True))
    n = xv.shape[-1]

    def settled(values):  # the mass strictly above the window's smallest value reaches p
        return (np.where(values > values[:, -1:], np.exp(values - lse), 0).sum(-1) >= step.p).all()

    values = None
    if ids is None and HEAD < n:
        head = np.sort(np.argpartition(xv, n - HEAD, axis=-1)[:, n - HEAD:], axis=-1)
        head_x = np.take_along_axis(xv, head, -1)
        values = np.sort(head_x, axis=-1)[:, ::-1]
        if settled(values):
            xv, ids = head_x, mx.array(head.astype(np.uint32))
        else:  # larger windows of values only (the result stays on the whole row), then the sort
            values = next((w for w in (np.sort(np.partition(xv, n - k, axis=-1)[:, n - k:], axis=-1)[:, ::-1]
                                       for k in WINDOWS if k < n) if settled(w)), None)
    if values is None:
        values = np.sort(xv, axis=-1)[:, ::-1]
    probs = np.exp(values - lse)
    above = np.cumsum(probs, -1) - probs
    count = ((above < step.p) & np.isfinite(values)).sum(-1, keepdims=True)
    count = np.clip(count, min(step.min_tokens_to_keep, n), values.shape[-1])
    threshold = np.take_along_axis(values, count - 1, -1)
    return mx.array(np.where(xv >= threshold, xv, -np.inf).astype(np.float32)), ids


# --- the per-call context a rule may read ------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """What a rule may read besides the scores: the row's vocabulary size, one History per row,
    one key per row ((B, 2) uint32; None when no step is random and nothing is drawn), and the
    index of the running step in its pipeline (XTC's coin counter)."""

    vocab: int
    histories: tuple[History, ...]
    keys: mx.array | None = None
    index: int = 0
    counted: dict = field(default_factory=dict)  # (counts, window) -> _counted's arrays, for this call


def _call(x: mx.array, single: bool, history, keys) -> Call:
    return Call(x.shape[-1], tuple(histories(history, x.shape[0], single)), keys)


def _wide():
    """float64 where mlx has it (the CPU), for sums whose float32 error would exceed the spec's
    tolerance (the standard deviation of top-n-sigma, the entropy of eta)."""
    return mx.float64 if mx.default_device() == mx.cpu else mx.float32


def _full(x, ids, vocab: int):
    """Gathered candidates back on the whole row (dropped tokens -inf)."""
    if ids is None:
        return x
    return mx.put_along_axis(mx.full((x.shape[0], vocab), -mx.inf, dtype=x.dtype), ids.astype(mx.int32), x, -1)


def _on_tokens(x, ids, unfiltered, call: Call, change):
    """Apply a value change (a new array, never in place) to the scores and the unfiltered
    scores, as the spec's `_change` does; the scores come back on the whole row."""
    same = ids is None and unfiltered is x
    x = change(_full(x, ids, call.vocab))
    return x, None, (x if same else change(unfiltered))


def _counted(call: Call, counts: str, window):
    """(ids (B, m) int32, occurrences (B, m) float32) of the tokens a penalty counts in each row,
    each id once. Short rows are padded with a copy of their first entry (the same token written
    twice with the same value), empty rows with token 0 and 0 occurrences (left unchanged).
    None when no row has seen anything."""
    if (counts, window) in call.counted:  # several penalties of one engine count the same tokens
        return call.counted[counts, window]
    rows, done = [], {}
    for h in call.histories:
        if id(h) not in done:  # a batch often repeats one History object
            ids, occurrences = np.unique(np.asarray(h.seen(counts, window), dtype=np.int64), return_counts=True)
            if ids.size and ids[-1] >= call.vocab:
                raise InvalidParameter("history", int(ids[-1]),
                                       f"token ids in [0, {call.vocab}) (the row's vocabulary)")
            done[id(h)] = ids, occurrences
        rows.append(done[id(h)])
    width = max(ids.size for ids, _ in rows)
    if width == 0:
        call.counted[counts, window] = None
        return None
    idx = np.zeros((len(rows), width), dtype=np.int32)
    occ = np.zeros((len(rows), width), dtype=np.float32)
    for b, (ids, occurrences) in enumerate(rows):
        if ids.size:
            idx[b], occ[b] = ids[0], occurrences[0]
            idx[b, : ids.size], occ[b, : ids.size] = ids, occurrences
    call.counted[counts, window] = mx.array(idx), mx.array(occ)
    return call.counted[counts, window]


def _penalize(x, ids, unfiltered, call: Call, step, rule):
    """Replace the score g of each counted token by rule(g, occurrences)."""
    counted = _counted(call, step.counts, step.window)
    if counted is None:
        return x, ids, unfiltered
    idx, occ = counted

    def change(z):
        g = mx.take_along_axis(z, idx, -1)
        return mx.put_along_axis(z, idx, mx.where(occ > 0, rule(g, occ), g), -1)

    return _on_tokens(x, ids, unfiltered, call, change)


# --- the rules, one per registered transform (the registry's `impl` names them) -----------------

def temperature(x, ids, unfiltered, step: Temperature, call: Call | None = None):
    if step.t > 0:
        x, unfiltered = x / step.t, unfiltered / step.t
    return x, ids, unfiltered


def top_k(x, ids, unfiltered, step: TopK, call: Call | None = None):
    return (*_top_k(x, ids, step, unfiltered.shape[-1]), unfiltered)


def min_p(x, ids, unfiltered, step: MinP, call: Call | None = None):
    return _min_p(x, step), ids, unfiltered


def top_p(x, ids, unfiltered, step: TopP, call: Call | None = None):
    return (*_top_p(x, ids, x if step.mass == "renormalized" else unfiltered, step), unfiltered)


def logit_bias(x, ids, unfiltered, step: LogitBias, call: Call):
    """Add bias[token] to that token's score; a -inf bias bans it (a row left with nothing is an
    InvalidParameter, as in the spec)."""
    if not step.bias:
        return x, ids, unfiltered
    tokens = [t for t, _ in step.bias]
    if tokens[-1] >= call.vocab:
        raise InvalidParameter("logit_bias", tokens[-1], f"token ids in [0, {call.vocab}) (the row's vocabulary)")
    where = mx.array(tokens, dtype=mx.int32)
    values = mx.array([v for _, v in step.bias], dtype=mx.float32)
    x, ids, unfiltered = _on_tokens(x, ids, unfiltered, call, lambda z: z.at[:, where].add(values))
    if any(v == -math.inf for _, v in step.bias) and not mx.all(mx.any(mx.isfinite(x), -1)).item():
        raise InvalidParameter("logit_bias", dict(step.bias), "a bias that leaves at least one token allowed")
    return x, ids, unfiltered


def repetition_penalty(x, ids, unfiltered, step: RepetitionPenalty, call: Call):
    """Each distinct token seen: g / theta if g > 0, else g * theta."""
    if step.theta == 1:
        return x, ids, unfiltered
    theta = step.theta
    return _penalize(x, ids, unfiltered, call, step, lambda g, occ: mx.where(g > 0, g / theta, g * theta))


def presence_penalty(x, ids, unfiltered, step: PresencePenalty, call: Call):
    """Each distinct token seen: g - penalty."""
    if step.penalty == 0:
        return x, ids, unfiltered
    return _penalize(x, ids, unfiltered, call, step, lambda g, occ: g - step.penalty)


def frequency_penalty(x, ids, unfiltered, step: FrequencyPenalty, call: Call):
    """Each token seen: g - penalty * (times seen)."""
    if step.penalty == 0:
        return x, ids, unfiltered
    return _penalize(x, ids, unfiltered, call, step, lambda g, occ: g - step.penalty * occ)


def _logp(x):
    """Log-probabilities over the survivors (-inf for the dropped)."""
    return x - mx.logsumexp(x, -1, keepdims=True)


def _entropy(logp):
    """Entropy of each row's distribution (wide precision), (B, 1)."""
    lp = logp.astype(_wide())
    return -mx.sum(mx.where(mx.isfinite(lp), mx.exp(lp) * lp, 0), -1, keepdims=True)


def _keep_at_least(x, keep, count: int):
    """keep, or where fewer than `count` pass, also the `count` largest survivors (ties at that
    cut kept whole)."""
    finite = mx.isfinite(x)
    count = min(count, x.shape[-1])
    kth = mx.min(mx.topk(x, count, axis=-1), -1, keepdims=True)
    short = mx.sum(keep, -1, keepdims=True) < count
    return keep | (short & finite & (x >= kth))


def typical_p(x, ids, unfiltered, step: TypicalP, call: Call | None = None):
    """Rank survivors by |-log p - H| (ties by token: mlx's sort is stable), keep a token iff the
    mass of the strictly more typical ones is < mass (ties="all": a tie group counts from its
    first member, so it is kept or dropped whole), plus the min_tokens_to_keep most typical."""
    if step.mass == 1:
        return x, ids, unfiltered
    finite = mx.isfinite(x)
    logp = _logp(x)
    entropy = _entropy(logp).astype(mx.float32)
    score = mx.where(finite, mx.abs(-logp - entropy), mx.inf)
    order = mx.argsort(score, axis=-1)
    s = mx.take_along_axis(score, order, -1)
    p = mx.exp(mx.take_along_axis(logp, order, -1))
    before = mx.cumsum(p, -1) - p
    if step.ties == "all":
        first = mx.concatenate([mx.ones((s.shape[0], 1), dtype=mx.bool_), s[:, 1:] != s[:, :-1]], -1)
        before = mx.cummax(mx.where(first, before, 0), axis=-1)
    rank = mx.arange(s.shape[-1])[None]
    kept = ((before < step.mass) | (rank < step.min_tokens_to_keep)) & mx.isfinite(s)
    keep = mx.put_along_axis(mx.zeros(x.shape, dtype=mx.bool_), order, kept, -1)
    return mx.where(keep, x, -mx.inf), ids, unfiltered


def _cutoff(x, log_threshold, min_tokens_to_keep: int):
    keep = _keep_at_least(x, _logp(x) >= log_threshold, min_tokens_to_keep)
    return mx.where(keep, x, -mx.inf)


def epsilon_cutoff(x, ids, unfiltered, step: EpsilonCutoff, call: Call | None = None):
    """Keep p >= epsilon (compared in log space), plus the min_tokens_to_keep most likely."""
    if step.epsilon > 0:
        x = _cutoff(x, math.log(step.epsilon), step.min_tokens_to_keep)
    return x, ids, unfiltered


def eta_cutoff(x, ids, unfiltered, step: EtaCutoff, call: Call | None = None):
    """Keep p >= min(epsilon, sqrt(epsilon) exp(-H)), plus the min_tokens_to_keep most likely."""
    if step.epsilon > 0:
        log_eps = math.log(step.epsilon)
        threshold = mx.minimum(log_eps, 0.5 * log_eps - _entropy(_logp(x)))
        x = _cutoff(x, threshold.astype(mx.float32), step.min_tokens_to_keep)
    return x, ids, unfiltered


def top_n_sigma(x, ids, unfiltered, step: TopNSigma, call: Call | None = None):
    """Keep z >= max - n * sigma, sigma the population standard deviation of the survivors
    (wide precision: float32 squares overflow at |z| ~ 1e19)."""
    if step.n == math.inf:
        return x, ids, unfiltered
    finite = mx.isfinite(x)
    z = mx.where(finite, x, 0).astype(_wide())
    count = mx.sum(finite, -1, keepdims=True)
    mean = mx.sum(z, -1, keepdims=True) / count
    sigma = mx.sqrt(mx.sum(mx.where(finite, mx.square(z - mean), 0), -1, keepdims=True) / count)
    threshold = mx.max(x, -1, keepdims=True).astype(z.dtype) - step.n * sigma
    return mx.where(x.astype(z.dtype) >= threshold, x, -mx.inf), ids, unfiltered


def xtc(x, ids, unfiltered, step: XTC, call: Call):
    """Per row, with probability `probability` (a coin from the row's key): of the survivors
    with p above the threshold (> or >=), remove all but the least likely (ties="all": every
    token tied with it stays; "any": the first of them), never a special token; nothing when
    fewer than two are above, or when fewer than min_keep would remain.

    Probabilities come from mlx's softmax (its fused kernel is faster on the CPU than
    logsumexp); a threshold too small for float32 probabilities (0 included) is compared in log
    space instead, lse = max - log(p_max) (p_max = 1 / sum exp(x - max) is never small)."""
    if step.special_tokens and step.special_tokens[-1] >= call.vocab:
        raise InvalidParameter("xtc_special_tokens", step.special_tokens[-1],
                               f"token ids in [0, {call.vocab}) (the row's vocabulary)")
    if step.threshold >= TINY_THRESHOLD:
        values, cut = mx.softmax(x, -1), step.threshold
    else:  # threshold 0 with ">": p > 0 as the spec decides it, in float64, where p underflows to 0
        # below the least subnormal (a token 1e4 below the top is not "above 0")
        top = mx.max(x, -1, keepdims=True)
        log_t = math.log(step.threshold) if step.threshold > 0 else (LOG_TINY if step.above == ">" else -math.inf)
        values = x
        cut = top - mx.log(mx.max(mx.softmax(x, -1), -1, keepdims=True)) + log_t
    over = (values > cut) if step.above == ">" else (values >= cut)
    if step.threshold == 0 and step.above == ">=":
        over = over & mx.isfinite(x)
    least = mx.min(mx.where(over, values, mx.inf), -1, keepdims=True)
    removed = values > least
    if step.ties == "any":
        tied = values == least
        removed = removed | (tied & (mx.cumsum(tied.astype(mx.int32), -1) > 1))
    if step.special_tokens:
        table = np.zeros(call.vocab, dtype=bool)
        table[list(step.special_tokens)] = True
        table = mx.array(table)
        removed = removed & ~(table[None] if ids is None else table[ids])
    acts = coin(call.keys, COIN - call.index) < step.probability
    if step.ties == "any":  # (ties="all": with fewer than two above, nothing is above the least)
        acts = acts & (mx.sum(over, -1, keepdims=True) >= 2)
    if step.min_keep > 0:
        acts = acts & (mx.sum(mx.isfinite(x) & ~removed, -1, keepdims=True) >= step.min_keep)
    return mx.where(acts & removed, -mx.inf, x), ids, unfiltered


def _apply(x, steps, call: Call, start: int = 0, unfiltered=None):
    """Run `steps` (pipeline positions start, start + 1, ...), each by the impl rule its registry
    entry names; returns (scaled masked scores, their token ids or None). (x, ids, unfiltered)
    flow through every rule."""
    ids, unfiltered = None, (x if unfiltered is None else unfiltered)
    for i, step in enumerate(steps, start):
        rule = globals().get(registered(step).impl)
        if rule is None:
            raise InvalidParameter("step", step, "a transform impl.sampler implements")
        x, ids, unfiltered = rule(x, ids, unfiltered, step, replace(call, index=i))
    return x, ids


def _needs_keys(pipeline: Pipeline) -> bool:
    return any(0 < s.chance < 1 or isinstance(s, XTC) for s in pipeline.steps)


def filter(logits: mx.array, pipeline: Pipeline, history=None, key=None) -> mx.array:
    """The input logits with every token the pipeline removes set to -inf (float32).

    history: as spec.target takes it (for a batch, one per row). key: as the sampler takes it;
    with random steps (XTC) the keep-set is the branch the sampler with this key takes (None: the
    global mlx random state decides, as it does for the sampler)."""
    _check_pipeline(pipeline)
    x, single = _as_batch(logits)
    _check_rows(mx.max(x, -1))
    keys = row_keys(key, x.shape[0]) if _needs_keys(pipeline) else None
    scores, ids = _apply(x, pipeline.steps, _call(x, single, history, keys))
    kept = mx.isfinite(_full(scores, ids, x.shape[-1]))
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


_VALUES = LogitBias | RepetitionPenalty | PresencePenalty | FrequencyPenalty  # touch named tokens only
_FUSED = Temperature | MinP | XTC | TopNSigma | EpsilonCutoff | EtaCutoff | TypicalP  # no data-dependent branch


def _split(pipeline: Pipeline) -> int:
    """How many leading steps only change named tokens' values (bias, penalties): they run
    eagerly (their index arrays change shape every call), the rest may be one compiled graph."""
    n = 0
    while n < len(pipeline.steps) and isinstance(pipeline.steps[n], _VALUES):
        n += 1
    return n


def _fusable(steps) -> bool:
    """Rules with no data-dependent branching (no .item()): one compiled graph does them all."""
    return all(isinstance(s, _FUSED) for s in steps)


def make_sampler(pipeline: Pipeline):
    """A sampler for `pipeline`: logits (B, V) or (V,) -> token ids (B,) or (), uint32.

    `key`: an mx.random.key for reproducible draws (split into one key per row), or (B, 2) keys,
    or None for the global mlx random state. `history`: the tokens the penalties read, as
    spec.target takes it (for a (B, V) batch a list of B spec.History or token-id sequences).
    """
    _check_pipeline(pipeline)
    cut = _split(pipeline)
    prefix, rest = pipeline.steps[:cut], pipeline.steps[cut:]
    plain_greedy = pipeline.greedy and all(isinstance(s, Temperature) for s in pipeline.steps)
    random = _needs_keys(pipeline)

    def scored(x, keys, flat: bool):
        """The fusable steps in one graph, with what the race needs next: the scores, the tokens
        that can win (by score alone, or with flat=True by noise bounds), how many lie near the
        top, and the input's row max, which validates the row (mlx's max propagates NaN)."""
        scores = _apply(x, rest, Call(x.shape[-1], (), keys), cut)[0]
        top = mx.max(scores, -1, keepdims=True)
        near = _near_top(scores, top)
        alive = _can_win(scores, top, keys, mx.broadcast_to(mx.arange(x.shape[-1], dtype=mx.uint32), x.shape)) \
            if flat else near
        return scores, alive, mx.sum(near, -1), mx.max(x, -1)

    fused = {flat: mx.compile(lambda x, keys, flat=flat: scored(x, keys, flat)) for flat in (False, True)}
    # Which graph to run: consecutive steps of a generation are alike, so the last call's rows
    # decide (a wrong guess costs one more pass, never another token: both masks hold every
    # token that can win).
    last = {"flat": False}

    @mx.compile
    def small(x, keys):
        """Rows of at most CANDIDATES tokens: the whole race in the same graph."""
        scores = _apply(x, rest, Call(x.shape[-1], (), keys), cut)[0]
        return _race(scores, mx.arange(x.shape[-1], dtype=mx.uint32)[None], keys), mx.max(x, -1)

    coins = [i for i, s in enumerate(pipeline.steps) if 0 < s.chance < 1]  # XTC with probability < 1
    branches = {}

    def branch(fires: tuple) -> callable:
        """The sampler of one combination of coins: a step whose coin fires acts for sure
        (probability 1), one whose coin does not is left out."""
        if fires not in branches:
            on = dict(zip(coins, fires, strict=True))
            steps = tuple(replace(s, probability=1.0) if on.get(i) else s
                          for i, s in enumerate(pipeline.steps) if on.get(i, True))
            branches[fires] = make_sampler(Pipeline(steps, pipeline.name))
        return branches[fires]

    def by_coins(x, keys, call):
        """Random steps: each row's coins are a function of its key alone, so they are read
        first, and each group of rows whose coins agree runs the pipeline of that branch (rows
        where XTC does not fire skip it and keep the pruned race). The same tokens as running
        the coins inside the rules: the noise depends on (row key, token id) only."""
        fires = np.array(mx.concatenate([coin(keys, COIN - i) < pipeline.steps[i].probability for i in coins], -1))
        patterns = sorted({tuple(bool(f) for f in row) for row in fires})
        if len(patterns) == 1:
            return branch(patterns[0])(x, keys, list(call.histories))
        _check_rows(mx.max(x, -1))  # here, so that an error names the row of the caller's batch
        token = np.zeros(x.shape[0], dtype=np.uint32)
        for pattern in patterns:
            rows = np.flatnonzero((fires == np.array(pattern)).all(-1))
            where = mx.array(rows.astype(np.int32))
            token[rows] = np.array(branch(pattern)(x[where], keys[where], [call.histories[r] for r in rows]))
        return mx.array(token)

    def sample(logits: mx.array, key=None, history=None) -> mx.array:
        x, single = _as_batch(logits)
        if coins and not pipeline.greedy:
            keys = row_keys(key, x.shape[0])
            token = by_coins(x, keys, _call(x, single, history, keys))
            return token[0] if single else token
        if plain_greedy:
            _call(x, single, history, None)  # the history is still checked
            token = _greedy(x)
            return token[0] if single else token
        keys = row_keys(key, x.shape[0]) if random or not pipeline.greedy else None
        call = _call(x, single, history, keys)
        if prefix or pipeline.greedy or not _fusable(rest):
            _check_rows(mx.max(x, -1))
            x = _apply(x, prefix, call)[0]  # value steps only: the scores stay on the whole row
        if pipeline.greedy:
            scores, ids = _apply(x, rest, call, cut)
            token = _greedy(_full(scores, ids, x.shape[-1]))
        elif _fusable(rest) and x.shape[-1] <= CANDIDATES:
            token, row_max = small(x, keys)
            _check_rows(row_max)  # evaluated with the draw; nothing is returned for a bad row
        elif _fusable(rest):
            scores, alive, near, row_max = fused[last["flat"]](x, keys)
            mx.eval(scores, alive, near, row_max)
            _check_rows(row_max)
            flat = bool((np.asarray(near) > CANDIDATES).any()) if mx.default_device() == mx.cpu else \
                mx.any(near > CANDIDATES).item()
            if flat and not last["flat"]:
                alive = _bounded(scores, mx.max(scores, -1, keepdims=True), keys)
            last["flat"] = flat
            token = race_among(scores, keys, alive)
        else:
            scores, ids = _apply(x, rest, call, cut)
            token = gumbel_max(scores, keys, ids)
        return token[0] if single else token

    def white_box(logits: mx.array, history=None, key=None) -> mx.array:
        """filter(logits, pipeline, history, key): the keep-set the sampler with this key uses."""
        return filter(logits, pipeline, history, key)

    sample.pipeline = pipeline
    sample.filter = white_box  # white-box access for spec.validate
    return sample


def make_sampler_from(preset: str, **engine_params):
    """make_sampler(spec.presets.<preset>(**engine_params)), e.g. make_sampler_from("mlx-lm", temp=0.7);
    preset names are read as spec.presets.canonical reads them ("mlx-lm", "llama.cpp", "HF")."""
    if not isinstance(preset, str):
        raise InvalidParameter("preset", preset, f"one of {', '.join(sorted(PRESETS))}")
    return make_sampler(PRESETS[canonical(preset)](**engine_params))

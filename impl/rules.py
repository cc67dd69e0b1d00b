"""Every transform's rule on mlx arrays, one small pure function each, named by its registry
entry's `impl` (`spec.transforms`), and `_apply`, which runs a pipeline's steps by those names.

Why a module of its own: the rules are the spec's transforms made fast, and the registry reaches
them by name here. Each is rule(x, ids, unfiltered, step, call) -> (x, ids, unfiltered): the
scores (on the whole row, or on gathered candidates whose token ids are `ids`), the scores
before any filter (what mass="original" and the penalties read), the step and the `Call`.
Filters keep the spec's rules (keep iff the mass strictly above is < p, z >= max + log m, the k
largest) without full sorts where they can: top-k gathers its k candidates once and every later
step works on those; top-p looks for its crossing among the HEAD largest values (then, on the
CPU, among WINDOWS) and sorts the whole row only when the crossing is not there. XTC's coin is
drawn per row from that row's key, so `filter(..., key=k)` shows the branch the sampler with key
k takes.
"""

from __future__ import annotations

import math
from dataclasses import replace

import mlx.core as mx
import numpy as np

import impl.cpu as cpu
from impl.context import Call, _on_tokens, _penalize, _wide
from impl.noise import COIN, coin
from spec.errors import InvalidParameter
from spec.transforms import (
    XTC,
    EpsilonCutoff,
    EtaCutoff,
    FrequencyPenalty,
    LogitBias,
    MinP,
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
LOG_TINY = math.log(5e-324)  # the least positive float64, where the spec's probabilities underflow
TINY_THRESHOLD = 1e-30  # XTC thresholds below this compare in log space (float32 probabilities underflow)


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
    numpy views (`cpu.top_p`)."""
    if mx.default_device() == mx.cpu:
        return cpu.top_p(x, ids, basis, step, HEAD, WINDOWS)
    return _top_p_mlx(x, ids, basis, step)


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
            raise InvalidParameter("step", step, "a transform impl.rules implements")
        x, ids, unfiltered = rule(x, ids, unfiltered, step, replace(call, index=i))
    return x, ids

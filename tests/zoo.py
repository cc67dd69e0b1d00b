"""A zoo of broken samplers, each modelled on a kind of bug real engines shipped.

Each entry is white-box: given (B, V) float64 logits it returns the distribution the sampler
would draw from (or raises). `find_bug` compares it with the spec's exact target, so every
verdict is deterministic. `CORRECT` are plain numpy samplers that must pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import spec
from spec import presets
from spec.validator import adapters


def softmax_rows(z):
    with np.errstate(invalid="ignore", over="ignore"):
        w = np.exp(z - np.max(z, axis=-1, keepdims=True))
        return w / w.sum(axis=-1, keepdims=True)


def log_softmax_rows(z):
    return z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - z.max(-1, keepdims=True)


def masked(z, keep):
    return np.where(keep, z, -np.inf)


def top_p_keep(z, p, inclusive=False, strict=True, weights=None, dtype=np.float64):
    """Per-row top-p keep mask with switchable mistakes; correct: exclusive mass above < p."""
    probs = softmax_rows(z) if weights is None else weights
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(probs, order, -1).astype(dtype)
    cum = np.cumsum(sorted_p, axis=-1, dtype=dtype).astype(np.float64)
    above = cum if inclusive else cum - sorted_p
    keep_sorted = above < p if strict else above <= p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, -1)
    return keep


def top_k_keep(z, k):
    kth = -np.sort(-z, axis=-1)[:, k - 1:k]
    return z >= kth


def one_hot(tokens, vocab):
    out = np.zeros((len(tokens), vocab))
    out[np.arange(len(tokens)), tokens] = 1.0
    return out


def with_checks(fn):
    """The input validation every correct sampler does: NaN, +inf and all -inf rows raise."""
    def checked(z):
        spec.target(z, presets.reference())  # raises spec.InvalidLogits on bad rows
        return fn(z)
    return checked


def inverse_cdf(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row from (B, V) probabilities (B = 1 is broadcast to len(rng draws)):
    the first token whose cumulative mass exceeds u ~ U[0, total)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.array([min(np.searchsorted(c, v, side="right"), c.size - 1) for c, v in zip(cdf, u, strict=True)])


@dataclass(frozen=True)
class Sampler:
    name: str
    pipeline: spec.Pipeline
    probs: Callable  # (B, V) logits -> (B, V) probabilities, or raises
    draw: Callable | None = None  # (B, V) logits, rng -> B ids; default: gumbel_draw(probs(z))

    def black_box(self, white_box: bool = False):
        """This sampler as the validator sees it: numpy in, token ids out, randomness from a seed;
        with white_box, its filtered logits too (log of its probabilities)."""
        def sample(logits, seed: int):
            rng = np.random.default_rng(seed)
            if self.draw is not None:
                return self.draw(logits, rng)
            if (logits == logits[:1]).all():  # a tiled row (the validator's draws): work on it once
                probs = self.probs(logits[:1])
                return inverse_cdf(np.broadcast_to(probs, logits.shape), rng)
            return inverse_cdf(self.probs(logits), rng)

        def filtered(logits):
            with np.errstate(divide="ignore"):
                return np.log(self.probs(logits))

        return adapters.Sampler(sample, "numpy", "seed", filtered if white_box else None, name=f"zoo: {self.name}")


HF_TOP_P = presets.hf(top_k=0, top_p=0.8)
HF_TOP_P75 = presets.hf(top_k=0, top_p=0.75)  # 0.5 + 0.25 = 0.75 exactly on the dyadic probe
HF_TOP_K = presets.hf(top_k=3)
HF_CHAIN = presets.hf(temperature=0.5, top_k=3, top_p=0.8)
HF_TEMP = presets.hf(temperature=0.5, top_k=0)
GREEDY = presets.vllm(temperature=0)
MIN_P_KEEP2 = spec.Pipeline((spec.MinP(0.5, min_tokens_to_keep=2),))

CORRECT = [
    Sampler("numpy top-p", HF_TOP_P, with_checks(lambda z: softmax_rows(masked(z, top_p_keep(z, 0.8))))),
    Sampler("numpy top-p at an exact sum", HF_TOP_P75,
            with_checks(lambda z: softmax_rows(masked(z, top_p_keep(z, 0.75))))),
    Sampler("numpy top-k", HF_TOP_K, with_checks(lambda z: softmax_rows(masked(z, top_k_keep(z, 3))))),
    Sampler("numpy temperature", HF_TEMP, with_checks(lambda z: softmax_rows(z / 0.5))),
    Sampler("numpy chain", HF_CHAIN, with_checks(lambda z: softmax_rows(masked(
        z / 0.5, (lambda k: k & top_p_keep(masked(z / 0.5, k), 0.8))(top_k_keep(z / 0.5, 3)))))),
    Sampler("numpy greedy", GREEDY, with_checks(lambda z: one_hot(np.argmax(z, axis=1), z.shape[1]))),
]


def _last_argmax(z):
    return one_hot(z.shape[1] - 1 - np.argmax(z[:, ::-1], axis=1), z.shape[1])


def _sorted_mask_not_scattered(z):
    order = np.argsort(-z, axis=-1, kind="stable")
    keep_sorted = np.take_along_axis(top_p_keep(z, 0.8), order, -1)
    return softmax_rows(masked(z, keep_sorted))  # mask in sorted order applied to unsorted rows


GRID = 2**10  # a uniform with 10 random bits, as float16 random numbers have


def _inverse_cdf_hits_zero(z, grid: int = GRID):
    """Inverse CDF with searchsorted(cumsum, u, side='left') and u on a grid k / grid, k >= 0:
    u = 0 lands on the first token even when its probability is 0 (its exact distribution)."""
    p = softmax_rows(masked(z, top_p_keep(z, 0.8)))
    u = np.arange(grid) / grid
    out = np.zeros_like(p)
    for b in range(len(p)):
        np.add.at(out[b], np.searchsorted(np.cumsum(p[b]), u, side="left").clip(0, p.shape[1] - 1), 1 / grid)
    return out


def _inverse_cdf_draw(z, rng):
    p = softmax_rows(masked(z, top_p_keep(z, 0.8)))
    u = rng.integers(0, GRID, size=len(p)) / GRID
    return np.array([np.searchsorted(np.cumsum(row), v, side="left") for row, v in zip(p, u, strict=True)])


def _overflowing_softmax(z):
    """exp(z) / sum(exp(z)) without subtracting the max: logits near 1000 overflow to inf / inf =
    NaN, and the NaN distribution is turned into token 0 (as a multinomial on NaN can)."""
    with np.errstate(over="ignore", invalid="ignore"):
        p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    return np.where(np.isnan(p).any(-1, keepdims=True), one_hot([0], z.shape[1]), p)


BUGGY = [
    Sampler("top-p drops the crossing token", HF_TOP_P,
            lambda z: softmax_rows(masked(z, top_p_keep(z, 0.8, inclusive=True)))),
    Sampler("top-p keeps an extra token at an exact sum", HF_TOP_P75,
            lambda z: softmax_rows(masked(z, top_p_keep(z, 0.75, strict=False)))),
    Sampler("top-p cumulative sum over log-probs", HF_TOP_P,
            lambda z: softmax_rows(masked(z, top_p_keep(z, 0.8, weights=log_softmax_rows(z))))),
    Sampler("top_p = 1 turns into greedy", presets.hf(top_k=0, top_p=1.0),
            lambda z: one_hot(np.argmax(z, axis=1), z.shape[1])),
    Sampler("top-k keeps k + 1", HF_TOP_K, lambda z: softmax_rows(masked(z, top_k_keep(z, 4)))),
    Sampler("top_k = 0 treated as 1", presets.llama_cpp(temp=1.0, top_k=0, top_p=1.0, min_p=0.0),
            lambda z: softmax_rows(masked(z, top_k_keep(z, 1)))),
    Sampler("temperature applied twice", HF_TEMP, lambda z: softmax_rows(z / 0.5 / 0.5)),
    Sampler("temperature applied to probabilities", HF_TEMP,
            lambda z: (lambda p: p / p.sum(-1, keepdims=True))(softmax_rows(z) / 0.5)),
    Sampler("temperature 0 divides by zero", GREEDY, lambda z: softmax_rows(z / np.float64(0.0))),
    Sampler("top-k then top-p without renormalising", HF_CHAIN,
            lambda z: softmax_rows(masked(z / 0.5, (lambda k: k & top_p_keep(
                masked(z / 0.5, k), 0.8, weights=np.where(k, softmax_rows(z / 0.5), 0)))(top_k_keep(z / 0.5, 3))))),
    Sampler("masked entries set to 0 instead of -inf", HF_TOP_K,
            lambda z: softmax_rows(np.where(top_k_keep(z, 3), z, 0.0))),
    Sampler("min_tokens_to_keep ignored", MIN_P_KEEP2,
            lambda z: softmax_rows(masked(z, z >= z.max(-1, keepdims=True) + np.log(0.5)))),
    Sampler("batch rows mixed by a shared mask", HF_TOP_K,
            lambda z: softmax_rows(masked(z, np.broadcast_to(top_k_keep(z[:1], 3), z.shape)))),
    Sampler("mask computed in sorted order, not scattered back", HF_TOP_P, _sorted_mask_not_scattered),
    Sampler("argmax returns the last maximum", GREEDY, _last_argmax),
    Sampler("NaN (softmax overflow) turned into token 0", presets.hf(top_k=0), with_checks(_overflowing_softmax)),
    Sampler("inverse CDF lands on a zero-probability token", HF_TOP_P, _inverse_cdf_hits_zero, _inverse_cdf_draw),
    Sampler("top-p cumulative sum in float16", presets.hf(top_k=0, top_p=0.999),
            lambda z: softmax_rows(masked(z, top_p_keep(z, 0.999, dtype=np.float16)))),
]

# Probe rows: hand-made vectors that tell each bug from the spec, plus bad rows.
PROBES = [
    np.log(np.array([[0.5, 0.25, 0.125, 0.0625, 0.0625]])),  # dyadic: exact sums at 0.5, 0.75, ...
    np.log(np.array([[0.1, 0.45, 0.05, 0.4]])),  # the nucleus is not in index order
    np.array([[2.0, 2.0, 1.0, 0.5, -1.0], [0.0, 3.0, 1.0, 2.5, 0.2]]),  # ties; two different rows
    np.array([[1.0, 0.3, 0.2, 0.1]]),
    np.random.default_rng(0).normal(0, 2, (2, 4000)),  # many small masses: float16 cumsums drift
    np.array([[1000.0, 1003.0, 1001.0]]),  # large logits: exp overflows without the max subtracted
]
BAD = [np.array([[0.0, np.nan, 1.0]])]
# Probes whose masses are exact in binary: a float64 sampler computes them without rounding, so
# they are checked with an exact tolerance (no boundary excuse at the exact sum 0.5 + 0.25).
EXACT_PROBES = [np.log(np.array([[0.5, 0.25, 0.125, 0.125]]))]


def find_bug(sampler: Sampler, tv_tol: float = 1e-9) -> str | None:
    """The first disagreement with the spec, as a readable line; None if there is none.
    Structure first (crashes, tokens outside the support, missing tokens) on every probe, then
    the distance to the target, then the bad rows: each bug is reported by its own defect."""
    exact = spec.Tolerance(0.0, 0.0)
    cases = []
    for z, tol in [*((z, None) for z in PROBES), *((z, exact) for z in EXACT_PROBES)]:
        try:
            t = spec.target(z, sampler.pipeline, tol=tol)
        except spec.InvalidParameter:
            continue
        try:
            with np.errstate(all="ignore"):
                got = np.asarray(sampler.probs(z), dtype=np.float64)
        except Exception as e:  # noqa: BLE001 - any crash on a valid row is a finding
            return f"raised {type(e).__name__} on a valid row"
        if got.shape != z.shape or not np.isfinite(got).all() or not np.allclose(got.sum(-1), 1):
            return f"not a distribution on {z.round(3).tolist()[:1]}"
        outside = (got > 0) & ~t.allowed
        if outside.any():
            b, i = np.argwhere(outside)[0]
            return f"token {i} of row {b} has probability {got[b, i]:.3g} outside the spec's support"
        missing = t.support & ~t.boundary & (got == 0)
        if missing.any():
            b, i = np.argwhere(missing)[0]
            return f"token {i} of row {b} is missing (spec probability {t.probs[b, i]:.3g})"
        cases.append((t, got))
    for t, got in cases:
        clear = ~(t.boundary.any(axis=-1))
        tv = 0.5 * np.abs(got - t.probs).sum(-1)
        if (tv[clear] > tv_tol).any():
            return f"total variation {tv[clear].max():.3g} from the spec's target"
    for z in BAD:
        try:
            sampler.probs(z)
        except spec.InvalidLogits:
            continue
        except Exception as e:  # noqa: BLE001
            return f"crashed with {type(e).__name__} on a NaN row instead of rejecting it"
        return f"accepted a NaN row {z.tolist()} instead of rejecting it"
    return None

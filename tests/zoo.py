"""A zoo of broken samplers, each modelled on a kind of bug real engines shipped.

Each entry is white-box: given (B, V) float64 logits (and, when its pipeline has a penalty, one
`spec.History` per row) it returns the distribution the sampler would draw from (or raises).
`find_bug` compares it with the spec's exact target, so every verdict is deterministic. `CORRECT`
are plain numpy samplers that must pass. `BUGGY_TRANSFORMS` / `CORRECT_TRANSFORMS` do the same for
the transforms that read a token history or act at random (penalties, logit bias, typical-p,
epsilon, eta, top-n-sigma, XTC); their black boxes take `history` when the pipeline reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import spec
from spec import presets
from spec.validator.sampler import Sampler as Declared  # the validator's calling convention


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
    k = min(k, z.shape[-1])  # k >= V keeps everything
    kth = -np.sort(-z, axis=-1)[:, k - 1:k]
    return z >= kth


def one_hot(tokens, vocab):
    out = np.zeros((len(tokens), vocab))
    out[np.arange(len(tokens)), tokens] = 1.0
    return out


def with_checks(fn):
    """The input validation every correct sampler does: NaN, +inf and all -inf rows raise."""
    def checked(z, *histories):
        spec.target(z, presets.reference())  # raises spec.InvalidLogits on bad rows
        return fn(z, *histories)
    return checked


def pick(probs: np.ndarray, u) -> np.ndarray:
    """Inverse CDF: per row of (B, V) probabilities, the first token whose cumulative mass exceeds
    u * total, for one uniform u per row (from any generator)."""
    cdf = np.cumsum(probs, axis=-1)
    u = np.asarray(u, dtype=np.float64) * cdf[:, -1]
    return np.array([min(np.searchsorted(c, v, side="right"), c.size - 1) for c, v in zip(cdf, u, strict=True)])


def inverse_cdf(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row from (B, V) probabilities (B = 1 is broadcast to len(rng draws))."""
    return pick(probs, rng.random(len(probs)))


@dataclass(frozen=True)
class Sampler:
    name: str
    pipeline: spec.Pipeline
    probs: Callable  # (B, V) logits [, one spec.History per row] -> (B, V) probabilities, or raises
    draw: Callable | None = None  # (B, V) logits, rng -> B ids; default: gumbel_draw(probs(z))
    logits: Callable | None = None  # its filtered logits (-inf where dropped), same arguments as probs

    @property
    def reads_history(self) -> bool:
        """The pipeline has a penalty: probs then takes the histories, and so does the black box."""
        return any(type(s).history for s in self.pipeline.steps)

    def distribution(self, z, history=None) -> np.ndarray:
        """probs(z), with one History per row (None: nothing seen) when the pipeline reads them."""
        return self.probs(z, _as_histories(history, len(z))) if self.reads_history else self.probs(z)

    def filtered(self, z, history=None) -> np.ndarray:
        """Its filtered logits: `logits` when given (exact), else the log of its probabilities (a
        probability that underflows to 0 then reads as a dropped token)."""
        if self.logits is None:
            with np.errstate(divide="ignore"):
                return np.log(self.distribution(z, history))
        return self.logits(z, _as_histories(history, len(z))) if self.reads_history else self.logits(z)

    def black_box(self, white_box: bool = False, own_rng: bool = False):
        """This sampler as the validator sees it: numpy in, token ids out, randomness from a seed;
        with white_box, its filtered logits too (log of its probabilities). When the pipeline reads
        the token history the sampler takes `history` (one spec.History per row), as the validator's
        convention asks. With own_rng it takes no seed and draws from a Generator of its own, as
        most samplers people write do (no key reaches it: no same-key checks)."""
        own = np.random.default_rng(0) if own_rng else None

        def run(logits, seed: int | None, history=None):
            rng = own if own_rng else np.random.default_rng(seed)
            if self.draw is not None:
                return self.draw(logits, rng)
            histories = _as_histories(history, len(logits))
            if (logits == logits[:1]).all() and all(h == histories[0] for h in histories):
                probs = self.distribution(logits[:1], histories[:1])  # a tiled row (the validator's draws): once
                return inverse_cdf(np.broadcast_to(probs, logits.shape), rng)
            return inverse_cdf(self.distribution(logits, histories), rng)

        def run_filter(logits, history=None):
            return self.filtered(logits, history)

        if own_rng and self.reads_history:
            def sample(logits, history=None):
                return run(logits, None, history)
        elif own_rng:
            def sample(logits):
                return run(logits, None)
        elif self.reads_history:
            def sample(logits, seed: int, history=None):
                return run(logits, seed, history)
        else:
            def sample(logits, seed: int):
                return run(logits, seed)
        if self.reads_history:
            def filtered(logits, history=None):
                return run_filter(logits, history)
        else:
            def filtered(logits):
                return run_filter(logits)

        extra = {"history": True} if self.reads_history and "history" in _adapter_fields() else {}
        # A random step (XTC) has no single keep-set: its probabilities are a mixture, so it exposes
        # filtered logits only when it gives them (one branch per call).
        random = any(type(s).random for s in self.pipeline.steps)
        expose = white_box and not (random and self.logits is None)
        return Declared(sample, "numpy", "global" if own_rng else "seed", filtered if expose else None,
                                name=f"zoo: {self.name}" + (" (own generator)" if own_rng else ""), **extra)


def _adapter_fields() -> set:
    from dataclasses import fields
    return {f.name for f in fields(Declared)}


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
    Structure first (crashes, tokens outside the support, missing tokens) on every probe (the
    history probes too, each row with its own History), then the distance to the target, then the
    bad rows: each bug is reported by its own defect."""
    exact = spec.Tolerance(0.0, 0.0)
    probes = [*((z, None, None) for z in PROBES), *((z, None, exact) for z in EXACT_PROBES),
              *((z, h, None) for z, h in HISTORY_PROBES)]
    cases = []
    for z, history, tol in probes:
        try:
            t = spec.target(z, sampler.pipeline, tol=tol, history=history)
        except spec.InvalidParameter:
            continue
        try:
            with np.errstate(all="ignore"):
                got = np.asarray(sampler.distribution(z, history), dtype=np.float64)
        except Exception as e:  # noqa: BLE001 - any crash on a valid row is a finding
            return f"raised {type(e).__name__} on a valid row"
        seen = "" if history is None else f" (history {history})"
        if got.shape != z.shape or not np.isfinite(got).all() or not np.allclose(got.sum(-1), 1):
            return f"not a distribution on {z.round(3).tolist()[:1]}{seen}"
        outside = (got > 0) & ~t.allowed
        if outside.any():
            b, i = np.argwhere(outside)[0]
            return f"token {i} of row {b} has probability {got[b, i]:.3g} outside the spec's support{seen}"
        missing = t.support & ~t.boundary & (got == 0)
        if missing.any():
            b, i = np.argwhere(missing)[0]
            return f"token {i} of row {b} is missing (spec probability {t.probs[b, i]:.3g}){seen}"
        cases.append((t, got, seen))
    for t, got, seen in cases:
        clear = ~(t.boundary.any(axis=-1))
        tv = 0.5 * np.abs(got - t.probs).sum(-1)
        if (tv[clear] > tv_tol).any():
            return f"total variation {tv[clear].max():.3g} from the spec's target{seen}"
    for z in BAD:
        try:
            sampler.distribution(z)
        except spec.InvalidLogits:
            continue
        except Exception as e:  # noqa: BLE001
            return f"crashed with {type(e).__name__} on a NaN row instead of rejecting it"
        return f"accepted a NaN row {z.tolist()} instead of rejecting it"
    return None


# --- the transforms that read a token history, or act at random (penalties, typical-p, epsilon, eta,
# top-n-sigma, logit bias, XTC) ---------------------------------------------------------------------
#
# A sampler whose pipeline reads the token history has probs(z, histories): one spec.History per row.
# Each bug below is a few lines of numpy of our own, modelled on what an engine shipped (the source
# is cited at each entry); XTC samplers return the exact mixture (1 - p) * untouched + p * excluded.

def _as_histories(history, rows: int) -> list:
    """One spec.History per row (None: nothing seen)."""
    if history is None:
        return [spec.History()] * rows
    out = [h if isinstance(h, spec.History) else spec.History(output=tuple(h)) for h in history]
    if len(out) != rows:
        raise ValueError(f"{len(out)} histories for {rows} rows")
    return out


def seen_tokens(h: spec.History, counts: str = "all", window: int | None = None) -> np.ndarray:
    """The token ids a penalty counts, repeats included: prompt + output or the output only, then
    the last `window` of them."""
    tokens = (list(h.prompt) if counts == "all" else []) + list(h.output)
    if window is not None:
        tokens = tokens[max(len(tokens) - window, 0):]
    return np.asarray(tokens, dtype=np.int64)


def penalize(z, histories, rule, counts="all", window=None):
    """Apply rule(logits of the seen ids, their occurrence counts) -> new logits, row by row."""
    out = np.array(z, dtype=np.float64, copy=True)
    for b, h in enumerate(histories):
        ids, n = np.unique(seen_tokens(h, counts, window), return_counts=True)
        if ids.size:
            out[b, ids] = rule(out[b, ids], n)
    return out


def repetition(theta):
    """The sign-aware rule every engine ships: divide a positive logit, multiply a negative one."""
    return lambda z, n: np.where(z > 0, z / theta, z * theta)


def presence(alpha):
    return lambda z, n: z - alpha


def frequency(alpha):
    return lambda z, n: z - alpha * n


def typical_keep(z, mass, drop_crossing=False):
    """Hugging Face's TypicalLogitsWarper rule (min_tokens_to_keep = 1): sort by |surprise - entropy|,
    last_ind = #(cumulative mass < mass) (transformers #27165), keep every token at most as atypical
    as the one at last_ind (ties kept whole). drop_crossing: last_ind one smaller (transformers
    #26579), which drops the token whose mass crosses `mass`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = z - z.max(-1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
        p = np.exp(logp)
        entropy = -np.where(p > 0, p * logp, 0.0).sum(-1, keepdims=True)
        score = np.where(p > 0, np.abs(-logp - entropy), np.inf)
    order = np.argsort(score, axis=-1, kind="stable")
    sorted_score = np.take_along_axis(score, order, -1)
    cum = np.cumsum(np.take_along_axis(p, order, -1), axis=-1)
    last = (cum < mass).sum(-1) - (1 if drop_crossing else 0)
    last = np.clip(last, 0, z.shape[-1] - 1)
    cut = np.take_along_axis(sorted_score, last[:, None], -1)
    return score <= cut


def keep_at_least_one(z, keep):
    """Hugging Face's min_tokens_to_keep = 1: the most likely token (and its ties) always stay."""
    return keep | (z >= z.max(-1, keepdims=True))


def epsilon_keep(z, epsilon):
    return keep_at_least_one(z, softmax_rows(z) >= epsilon)


def eta_keep(z, epsilon):
    p = softmax_rows(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(-1, keepdims=True)
    eta = np.minimum(epsilon, np.sqrt(epsilon) * np.exp(-entropy))
    return keep_at_least_one(z, p >= eta)


def top_n_sigma_keep(z, n):
    """Keep z >= max - n * std, the population std of the finite logits (llama.cpp's rule)."""
    finite = np.isfinite(z)
    count = finite.sum(-1, keepdims=True)
    mean = np.where(finite, z, 0.0).sum(-1, keepdims=True) / count
    std = np.sqrt(np.where(finite, (z - mean) ** 2, 0.0).sum(-1, keepdims=True) / count)
    return z >= z.max(-1, keepdims=True) - n * std


def xtc_removed(z, threshold, per_row=True):
    """mlx-lm's apply_xtc mask: drop every token more likely than the least likely one above the
    threshold (nothing when none is above). per_row=False takes that minimum over the whole batch,
    as `.min()` without an axis did before ml-explore/mlx-lm #1575."""
    p = softmax_rows(z)
    above = np.where(p > threshold, p, np.inf)
    least = above.min(-1, keepdims=True) if per_row else above.min()
    return p > least


def xtc_mixture(z, probability, threshold, per_row=True):
    """The distribution a row is drawn from: untouched with probability 1 - p, excluded with p."""
    excluded = softmax_rows(masked(z, ~xtc_removed(z, threshold, per_row)))
    return (1 - probability) * softmax_rows(z) + probability * excluded


# The presets each entry is checked against (the engine conventions it follows or breaks).
HF_REPEAT = presets.hf(top_k=0, repetition_penalty=1.5)  # prompt + output, every token once
LLAMA_REPEAT = presets.llama_cpp(temp=1.0, top_k=0, top_p=1.0, min_p=0.0, penalty_repeat=2.0, penalty_last_n=64)
LLAMA_FREQ_WINDOW = presets.llama_cpp(temp=1.0, top_k=0, top_p=1.0, min_p=0.0, penalty_freq=0.7, penalty_last_n=4)
VLLM_PRESENCE = presets.vllm(presence_penalty=1.0)  # the output only (OpenAI's definition)
VLLM_FREQUENCY = presets.vllm(frequency_penalty=0.8)  # the output only, once per occurrence
VLLM_REPEAT = presets.vllm(repetition_penalty=1.5)  # prompt and output (`prompt_mask | output_mask`)
VLLM_BIAS_TOP_K = presets.vllm(top_k=2, logit_bias={0: 5.0})  # bias first, then the filters
HF_TYPICAL = presets.hf(top_k=0, typical_p=0.5)
HF_EPSILON = presets.hf(top_k=0, epsilon_cutoff=0.05)
HF_ETA = presets.hf(top_k=0, eta_cutoff=0.05)
LLAMA_SIGMA = presets.llama_cpp(temp=1.0, top_k=0, top_p=1.0, min_p=0.0, top_n_sigma=1.0)
LLAMA_SIGMA_BANNED = presets.llama_cpp(temp=1.0, top_k=0, top_p=1.0, min_p=0.0, top_n_sigma=1.0,
                                       logit_bias={3: -np.inf})  # a banned token leaves a -inf logit
MLX_XTC = presets.mlx_lm(temp=1.0, xtc_probability=0.5)  # threshold: mlx-lm 0.32.2's default, 0.1
MLX_XTC_ALWAYS = presets.mlx_lm(temp=1.0, xtc_probability=1.0, xtc_threshold=0.1)


def scored(name: str, pipeline: spec.Pipeline, fn: Callable) -> Sampler:
    """A sampler given by its filtered logits fn(z[, histories]) (-inf where dropped), with the
    input validation of a correct sampler: it draws from their softmax, and its white box is exact."""
    fn = with_checks(fn)
    return Sampler(name, pipeline, lambda *args: softmax_rows(fn(*args)), logits=fn)


def _penalized(name, pipeline, rule, counts="all", window=None):
    return scored(name, pipeline, lambda z, h: penalize(z, h, rule, counts, window))


def _banned(z):
    return np.where(np.arange(z.shape[1]) == 3, -np.inf, z)  # logit_bias {3: -inf}


def _sigma_over_every_candidate(z):
    """llama.cpp's top-n-sigma at ggml-org/llama.cpp@6f7f63ee: mean and standard deviation over
    every candidate, -inf ones included, so one banned token makes them NaN, `logit < max - n * NaN`
    is false for every token, and nothing is filtered (later masters skip -inf logits)."""
    z = _banned(z)
    with np.errstate(invalid="ignore"):
        std = np.sqrt(((z - z.mean(-1, keepdims=True)) ** 2).mean(-1, keepdims=True))
        return np.where(z < z.max(-1, keepdims=True) - 1.0 * std, -np.inf, z)


def _biased(z):
    return z + np.where(np.arange(z.shape[1]) == 0, 5.0, 0.0)  # logit_bias {0: +5}


CORRECT_TRANSFORMS = [
    _penalized("numpy repetition penalty (Hugging Face: prompt + output)", HF_REPEAT, repetition(1.5)),
    _penalized("numpy repetition penalty (vLLM: prompt + output)", VLLM_REPEAT, repetition(1.5)),
    _penalized("numpy presence penalty (vLLM: output only)", VLLM_PRESENCE, presence(1.0), "output"),
    _penalized("numpy frequency penalty (vLLM: output only)", VLLM_FREQUENCY, frequency(0.8), "output"),
    _penalized("numpy frequency penalty (llama.cpp: last 4 tokens)", LLAMA_FREQ_WINDOW, frequency(0.7), "all", 4),
    scored("numpy logit bias then top-k (vLLM)", VLLM_BIAS_TOP_K,
           lambda z: masked(_biased(z), top_k_keep(_biased(z), 2))),
    scored("numpy typical-p", HF_TYPICAL, lambda z: masked(z, typical_keep(z, 0.5))),
    scored("numpy epsilon cutoff", HF_EPSILON, lambda z: masked(z, epsilon_keep(z, 0.05))),
    scored("numpy eta cutoff", HF_ETA, lambda z: masked(z, eta_keep(z, 0.05))),
    scored("numpy top-n-sigma", LLAMA_SIGMA, lambda z: masked(z, top_n_sigma_keep(z, 1.0))),
    scored("numpy top-n-sigma after a banned token", LLAMA_SIGMA_BANNED,
           lambda z: masked(_banned(z), top_n_sigma_keep(_banned(z), 1.0))),
    Sampler("numpy XTC (exact mixture)", MLX_XTC, with_checks(lambda z: xtc_mixture(z, 0.5, 0.1))),
]

BUGGY_TRANSFORMS = [
    # ml-explore/mlx-lm #1036: make_sampler's xtc_threshold defaulted to 0.0, so setting only
    # xtc_probability made apply_xtc drop every token above probability 0, i.e. all but the least
    # likely one (fixed by #1372: the default became 0.1, as mlx-lm 0.32.2 and the preset have it).
    Sampler("XTC threshold defaults to 0: all tokens but the least likely removed", MLX_XTC,
            with_checks(lambda z: xtc_mixture(z, 0.5, 0.0))),
    # ml-explore/mlx-lm #1575 (commit 7661de1f): `.min()` over the whole batch, not per row, so
    # the smallest above-threshold probability of any row became every row's cut.
    Sampler("XTC threshold reduced over the whole batch", MLX_XTC_ALWAYS,
            with_checks(lambda z: xtc_mixture(z, 1.0, 0.1, per_row=False))),
    # CTRL (arXiv:1909.05858) divides every seen logit by theta; llama.cpp's llama-sampler.cpp
    # (llama_sampler_penalties_apply) notes that dividing a negative logit makes the token more
    # likely, "which is obviously wrong", and multiplies those instead.
    _penalized("repetition penalty divides negative logits too (CTRL's rule)", LLAMA_REPEAT,
               lambda z, n: z / 2.0, "all", 64),
    # vLLM's apply_penalties: presence and frequency use output_mask / output_bin_counts only.
    _penalized("presence penalty counts the prompt (vLLM counts the output only)", VLLM_PRESENCE, presence(1.0), "all"),
    # vLLM's repetition penalty acts on `prompt_mask | output_mask`: prompt tokens count.
    _penalized("repetition penalty ignores the prompt (vLLM counts it)", VLLM_REPEAT, repetition(1.5), "output"),
    # huggingface/transformers #26579 made last_ind = #(cumsum < mass) - 1, dropping the token
    # whose mass crosses typical_p; #27165 restored #(cumsum < mass) ("the smallest set of tokens
    # that add up to P or higher").
    scored("typical-p drops its crossing token", HF_TYPICAL,
           lambda z: masked(z, typical_keep(z, 0.5, drop_crossing=True))),
    # vLLM applies logit_bias before the filters; applied after top-k, a boosted token the filter
    # already dropped stays dropped, and the token it should have displaced survives.
    scored("logit bias applied after the filters", VLLM_BIAS_TOP_K, lambda z: _biased(masked(z, top_k_keep(z, 2)))),
    # llama.cpp's top-n-sigma before it skipped -inf logits: a banned token turns off the filter.
    scored("top-n-sigma statistics over -inf logits (a banned token disables it)", LLAMA_SIGMA_BANNED,
           _sigma_over_every_candidate),
    # A frequency penalty subtracted once per distinct token (presence) instead of once per occurrence.
    _penalized("frequency penalty applied once per distinct token", VLLM_FREQUENCY, presence(0.8), "output"),
]

# History probes: (logits, one History per row). MIXED-like rows (positive and negative logits,
# the top tokens out of index order); histories with repeats, prompt-only and output-only tokens,
# tokens beyond a 4-token window, and two rows with different histories.
_MIXED = np.array([2.0, -0.5, 1.5, 0.0, -1.0, 1.0, -2.0, 0.5])
HISTORY_PROBES = [
    (_MIXED[None], [spec.History(output=(0, 2, 0, 0))]),  # repeats: frequency vs presence
    (_MIXED[None], [spec.History(output=(0, 1, 4, 3))]),  # seen logits 2, -0.5, -1, 0
    (_MIXED[None], [spec.History(prompt=(0, 0, 2), output=(5,))]),  # prompt vs output
    (_MIXED[None], [spec.History(prompt=(1, 1, 6), output=(6, 6, 6, 6))]),  # 1 and 6 beyond a 4-token window
    (np.stack([_MIXED, _MIXED[::-1]]), [spec.History(prompt=(4,), output=(0, 0)), spec.History(output=(7, 1))]),
]

"""The transforms a sampling pipeline is made of, and the registry that declares each one once.

A transform is a small immutable value: its parameters, checked on construction, and its spec
rule (`apply`), which acts on one row in float64. Its class also declares what everything else
reads: the common parameter name (also the command-line flag: top_p -> --top-p), the no-op
value, the value that makes every target deterministic, the theorem ids behind its invariants
and the name of its counterpart in `impl.sampler`. `REGISTRY` lists them; presets, the
validator, the CLI and impl all read it, and an unregistered transform is refused everywhere.
Every convention the engines disagree on is a field, so a preset is just a choice of fields.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from spec.errors import InvalidParameter
from spec.numerics import Tolerance, logsumexp, rank_cut, softmax

HEAD = 1024  # top-p ranks this many most likely tokens first, and the whole row only when they do not settle the cut
VOCAB_SIZE = "V"  # a parameter value meaning "the row's vocabulary size" (top_k = V keeps everything)


def _number(name, value, allowed):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise InvalidParameter(name, value, allowed)
    return float(value)


def _count(name, value, minimum, allowed):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidParameter(name, value, allowed)
    return int(value)


def _unit(name, value):
    if not 0 <= _number(name, value, "a number in [0, 1]") <= 1:
        raise InvalidParameter(name, value, "a number in [0, 1]")


def _choice(name, value, options):
    if value not in options:
        raise InvalidParameter(name, value, f"one of {options}")


@dataclass
class Row:
    """One row while a pipeline runs over it: the scaled scores, the scaled unfiltered scores
    (top-p over original masses reads them), the keep-set so far, the boundary tokens found so
    far and the tolerance (scaled with the scores)."""

    z: np.ndarray
    unfiltered: np.ndarray
    keep: np.ndarray
    boundary: np.ndarray
    tol: Tolerance
    shift_ok: bool = True  # every step still to come is shift-invariant, so a step may shift the scores


class Transform:
    """What every registered transform declares (class attributes) and does (`apply`)."""

    name: ClassVar[str]  # the common parameter name; the CLI flag is --name-with-dashes
    param: ClassVar[str]  # the field that holds that parameter
    kind: ClassVar[type]  # int or float: how the CLI parses it
    noop: ClassVar[object]  # the value that changes nothing (VOCAB_SIZE: the row's V)
    greedy_at: ClassVar[object] = None  # the value that makes every target deterministic, if any
    filters: ClassVar[bool] = True  # changes the keep-set (False: only rescales)
    history: ClassVar[bool] = False  # reads the token history (penalties)
    random: ClassVar[bool] = False  # fires only with probability `chance` (XTC): the target is a mixture
    shift_invariant: ClassVar[bool] = True  # its theorems prove it may see log-probabilities (False: refuted)
    theorems: ClassVar[tuple[str, ...]]  # why it may see log-probabilities (proofs.catalogue ids)
    impl: ClassVar[str]  # its rule in impl.sampler

    @property
    def value(self):
        return getattr(self, self.param)

    @property
    def chance(self) -> float:
        """The probability that the step acts (1 for every deterministic transform)."""
        return 1.0

    def apply(self, row: Row, history=None) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


@dataclass(frozen=True)
class Temperature(Transform):
    """Divide the logits by t. t = 0 means greedy: the first-index argmax.

    ties="any" (greedy only): the engine takes the first maximum in an order of its own (llama.cpp
    after a sorting filter), so every token tied with the maximum is a correct answer."""

    t: float
    ties: str = "first"

    name: ClassVar[str] = "temperature"
    param: ClassVar[str] = "t"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = 1.0
    greedy_at: ClassVar[object] = 0.0
    filters: ClassVar[bool] = False
    theorems: ClassVar[tuple[str, ...]] = ("temperature-shift",)
    impl: ClassVar[str] = "temperature"

    def __post_init__(self):
        allowed = "a finite number >= 0 (0 means greedy)"
        t = _number("temperature", self.t, allowed)
        if not (math.isfinite(t) and t >= 0):
            raise InvalidParameter("temperature", self.t, allowed)
        _choice("ties", self.ties, ("first", "any"))

    def apply(self, row: Row, history=None) -> None:
        """Scaled after subtracting the row's maximum (a shift: the target is unchanged), so a tiny
        t sends the other scores to -inf, their exact limit, and never makes inf - inf. Not when a
        later step reads the scores themselves (a repetition penalty: `commute-repetition-temperature`
        holds for z / t, not for (z - max) / t); then z / t must stay finite."""
        if self.t in (0, 1):
            return
        if not row.shift_ok:
            with np.errstate(over="ignore"):
                z = row.z / self.t
            if np.isinf(z[np.isfinite(row.z)]).any():
                raise InvalidParameter("temperature", self.t, "a t for which logits / t stays finite, since a "
                                       "step after it (a repetition penalty) reads the scaled logits themselves")
            row.z, row.unfiltered = z, row.unfiltered / self.t
            row.tol = Tolerance(row.tol.logit / self.t, row.tol.mass)
            return
        with np.errstate(over="ignore"):
            row.z = (row.z - row.z[np.isfinite(row.z)].max()) / self.t
            row.unfiltered = (row.unfiltered - row.unfiltered[np.isfinite(row.unfiltered)].max()) / self.t
        row.tol = Tolerance(min(row.tol.logit / self.t, np.finfo(float).max), row.tol.mass)


@dataclass(frozen=True)
class TopK(Transform):
    """Keep the k largest logits.

    ties="all": keep every token tied with the k-th largest (Hugging Face, vLLM's PyTorch path).
    ties="any": keep exactly k; which of the tokens tied at the cut survive is the engine's
    choice (argpartition, a partial sort), so those tokens are boundary tokens.
    over_vocab: k >= V keeps everything ("clamp") or is an error ("error": mlx-lm); "error_above":
    k > V is an error and k = V keeps everything (tiny-llm: argpartition with kth = k - 1).
    """

    k: int
    ties: str = "all"
    over_vocab: str = "clamp"

    name: ClassVar[str] = "top_k"
    param: ClassVar[str] = "k"
    kind: ClassVar[type] = int
    noop: ClassVar[object] = VOCAB_SIZE
    greedy_at: ClassVar[object] = 1
    theorems: ClassVar[tuple[str, ...]] = ("filters-shift",)
    impl: ClassVar[str] = "top_k"

    def __post_init__(self):
        _count("top_k", self.k, 1, "an integer >= 1")
        _choice("ties", self.ties, ("all", "any"))
        _choice("over_vocab", self.over_vocab, ("clamp", "error", "error_above"))

    def rejects(self, vocab: int) -> bool:
        """The engine raises for this k on a row of this size (the spec then has no target)."""
        return self.k >= vocab if self.over_vocab == "error" else self.over_vocab == "error_above" and self.k > vocab

    def apply(self, row: Row, history=None) -> None:
        if self.rejects(row.z.size):
            top = row.z.size - (self.over_vocab == "error")
            raise InvalidParameter("top_k", self.k, f"an integer in [1, {top}] for this preset "
                                                    f"(V = {row.z.size}): the engine raises otherwise")
        if self.k >= int(row.keep.sum()):
            return
        kept, cut = rank_cut(row.z, self.k, row.keep, row.boundary, self.ties)
        row.boundary |= row.keep & (np.abs(row.z - cut) < row.tol.logit) & (row.z != cut)
        row.keep = kept


@dataclass(frozen=True)
class TopP(Transform):
    """Keep a token iff the probability mass strictly above it is < p (every engine's rule).

    mass="renormalized": probabilities over the tokens that survived earlier filters;
    "original": over the row before any filter (tiny-llm).
    ties="any": tokens are ranked one by one (a sort), so a tie group straddling the cut is
    boundary; ties="all": the mass above a token counts only strictly larger tokens, so a tie
    group is kept or dropped whole (mlx-lm's threshold form).
    min_tokens_to_keep: the top tokens always kept (Hugging Face, llama.cpp's min_keep).
    p = 0 keeps only min_tokens_to_keep tokens.
    """

    p: float
    mass: str = "renormalized"
    ties: str = "any"
    min_tokens_to_keep: int = 1

    name: ClassVar[str] = "top_p"
    param: ClassVar[str] = "p"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = 1.0
    theorems: ClassVar[tuple[str, ...]] = ("filters-shift",)
    impl: ClassVar[str] = "top_p"

    def __post_init__(self):
        _unit("top_p", self.p)
        _choice("mass", self.mass, ("renormalized", "original"))
        _choice("ties", self.ties, ("all", "any"))
        _count("min_tokens_to_keep", self.min_tokens_to_keep, 1, "an integer >= 1")

    def apply(self, row: Row, history=None) -> None:
        keep = row.keep
        probs = softmax(np.where(keep, row.z, -np.inf)) if self.mass == "renormalized" else softmax(row.unfiltered)
        alive = np.flatnonzero(keep)
        head = min(alive.size, max(HEAD, 2 * self.min_tokens_to_keep))
        # Rank only the `head` most likely tokens when that settles the cut: their last one is
        # dropped, not near the cut and less likely than every kept one, so no token outside the
        # head can be kept or boundary. Else rank them all.
        for size in (head, alive.size):
            ranked = alive if size == alive.size else alive[np.argpartition(-probs[alive], size - 1)[:size]]
            order = ranked[np.lexsort((ranked, -probs[ranked]))]  # descending probability, ties by index
            kept_sorted, near = self._cut(probs[order], row.tol.mass)
            sorted_probs = probs[order]
            if size == alive.size or (not kept_sorted[-1] and not near[-1]
                                      and sorted_probs[-1] < sorted_probs[kept_sorted].min()):
                break
        row.boundary[order[near]] = True
        row.keep = np.zeros_like(keep)
        row.keep[order[kept_sorted]] = True

    def _cut(self, sorted_probs: np.ndarray, tol_mass: float) -> tuple[np.ndarray, np.ndarray]:
        """(kept, near the cut) for tokens ranked by descending probability."""
        above = np.concatenate(([0.0], np.cumsum(sorted_probs)[:-1]))
        if self.ties == "all":  # mass strictly above = mass above the first member of the tie group
            first = np.concatenate(([True], sorted_probs[1:] != sorted_probs[:-1]))
            above = above[np.maximum.accumulate(np.where(first, np.arange(sorted_probs.size), 0))]
        kept_sorted = above < self.p
        kept_sorted[: self.min_tokens_to_keep] = True
        near = np.abs(above - self.p) < tol_mass
        near[: self.min_tokens_to_keep] = False
        if self.ties == "any":  # a tie group straddling the cut
            last = int(kept_sorted.sum()) - 1
            if 0 <= last < sorted_probs.size - 1 and sorted_probs[last] == sorted_probs[last + 1]:
                near |= sorted_probs == sorted_probs[last]
        return kept_sorted, near


@dataclass(frozen=True)
class MinP(Transform):
    """Keep a token iff its probability is >= p times the largest one, i.e. iff
    z_i >= max(z) + log(p): the probability-space and log-space rules are the same test
    (`filters-shift`). p = 0 keeps everything."""

    p: float
    min_tokens_to_keep: int = 1

    name: ClassVar[str] = "min_p"
    param: ClassVar[str] = "p"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = 0.0
    theorems: ClassVar[tuple[str, ...]] = ("filters-shift",)
    impl: ClassVar[str] = "min_p"

    def __post_init__(self):
        _unit("min_p", self.p)
        _count("min_tokens_to_keep", self.min_tokens_to_keep, 1, "an integer >= 1")

    def apply(self, row: Row, history=None) -> None:
        if self.p == 0:
            return
        threshold = row.z[row.keep].max() + math.log(self.p)
        kept = row.keep & (row.z >= threshold)
        row.boundary |= row.keep & (np.abs(row.z - threshold) < row.tol.logit)
        if kept.sum() < self.min_tokens_to_keep:
            count = min(self.min_tokens_to_keep, int(row.keep.sum()))
            kept |= rank_cut(row.z, count, row.keep, row.boundary, "any")[0]
        row.keep = kept


# --- token history: what the penalties see --------------------------------------------------------

@dataclass(frozen=True)
class History:
    """The tokens of one row's sequence so far: the prompt, then the generated output. Engines
    disagree on which of them a penalty counts (vLLM's presence and frequency penalties count the
    output only; mlx-lm, Hugging Face and llama.cpp count everything they were shown), so a
    penalty declares `counts` and `window` and asks for its tokens with `seen`."""

    prompt: tuple[int, ...] = ()
    output: tuple[int, ...] = ()

    def __post_init__(self):
        for part in ("prompt", "output"):
            ids = getattr(self, part)
            try:
                ids = tuple(ids)
            except TypeError:
                raise InvalidParameter(f"history.{part}", ids, "a sequence of token ids") from None
            for t in ids:
                if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
                    raise InvalidParameter(f"history.{part}", t, "token ids: integers >= 0")
            object.__setattr__(self, part, tuple(int(t) for t in ids))

    def seen(self, counts: str, window: int | None) -> tuple[int, ...]:
        """The tokens a penalty counts: prompt + output (counts="all") or the output alone, and of
        those the last `window` (None: all of them)."""
        tokens = self.prompt + self.output if counts == "all" else self.output
        return tokens[len(tokens) - window:] if window is not None and window < len(tokens) else tokens


def as_history(history) -> History:
    """None (nothing seen), a History, or a plain sequence of token ids (taken as the output)."""
    if history is None:
        return History()
    if isinstance(history, History):
        return history
    if isinstance(history, str | bytes) or not hasattr(history, "__iter__"):
        raise InvalidParameter("history", history, "a spec.History, a sequence of token ids, or None")
    return History(output=tuple(np.asarray(history).ravel().tolist()) if hasattr(history, "shape") else history)


def _window(name, value):
    if value is not None:
        _count(name, value, 1, "an integer >= 1, or None for the whole history")


def _counted(row: Row, history, counts, window) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, occurrences) a penalty counts, each id once; ids must be inside the row."""
    ids, occurrences = np.unique(np.asarray(as_history(history).seen(counts, window), dtype=np.int64),
                                 return_counts=True)
    if ids.size and ids[-1] >= row.z.size:
        raise InvalidParameter("history", int(ids[-1]), f"token ids in [0, {row.z.size}) (the row's vocabulary)")
    return ids, occurrences


def _change(row: Row, ids: np.ndarray, new_values) -> None:
    """Set the scores of `ids` (in both the scores and the unfiltered scores) by a value rule, and
    widen the logit tolerance by the float32 rounding of the result (engines compute in float32)."""
    for attr in ("z", "unfiltered"):
        values = getattr(row, attr)
        values = values.copy()
        values[ids] = new_values(values[ids])
        setattr(row, attr, values)
    finite = row.z[ids][np.isfinite(row.z[ids])]
    if finite.size:
        row.tol = Tolerance(row.tol.logit + 8 * 2.0**-23 * float(np.abs(finite).max()), row.tol.mass)


@dataclass(frozen=True)
class LogitBias(Transform):
    """Add bias[token] to that token's logit; -inf bans the token. Token ids must exist in the row.
    Given as a mapping {token: bias} (stored as sorted (token, bias) pairs, so it stays hashable)."""

    bias: tuple[tuple[int, float], ...] = ()

    name: ClassVar[str] = "logit_bias"
    param: ClassVar[str] = "bias"
    kind: ClassVar[type] = dict
    noop: ClassVar[object] = ()
    theorems: ClassVar[tuple[str, ...]] = ("commute-bias-shift",)
    impl: ClassVar[str] = "logit_bias"

    def __post_init__(self):
        allowed = "a mapping {token id (integer >= 0): bias (a finite number or -inf)}"
        items = self.bias.items() if isinstance(self.bias, dict) else self.bias
        try:
            pairs = [(k, v) for k, v in items]
        except (TypeError, ValueError):
            raise InvalidParameter("logit_bias", self.bias, allowed) from None
        out = {}
        for k, v in pairs:
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
                raise InvalidParameter("logit_bias", self.bias, allowed + f"; token {k!r} is not")
            v = _number("logit_bias", v, allowed)
            if v == math.inf:
                raise InvalidParameter("logit_bias", self.bias, allowed + f"; token {k} has +inf")
            out[int(k)] = v
        object.__setattr__(self, "bias", tuple(sorted(out.items())))

    def apply(self, row: Row, history=None) -> None:
        if not self.bias:
            return
        ids = np.array([k for k, _ in self.bias])
        if ids.max() >= row.z.size:
            raise InvalidParameter("logit_bias", int(ids.max()),
                                   f"token ids in [0, {row.z.size}) (the row's vocabulary)")
        values = np.array([v for _, v in self.bias])
        _change(row, ids, lambda z: z + values)
        banned = ids[values == -math.inf]
        row.keep[banned] = False
        if not row.keep.any():
            raise InvalidParameter("logit_bias", dict(self.bias), "a bias that leaves at least one token allowed")


def _penalty_fields(self, name):
    _choice("counts", self.counts, ("all", "output"))
    _window(f"{name} window", self.window)


@dataclass(frozen=True)
class RepetitionPenalty(Transform):
    """The sign-aware repetition penalty (CTRL, arXiv:1909.05858, as every engine fixes it): each
    distinct token seen gets z / theta if z > 0, else z * theta. Not a shift-invariant rule
    (`penalty-shift`): it must see the same logits the engine's does.
    counts: "all" (prompt and output) or "output"; window: the last n counted tokens (None: all)."""

    theta: float
    counts: str = "all"
    window: int | None = None

    name: ClassVar[str] = "repetition_penalty"
    param: ClassVar[str] = "theta"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = 1.0
    filters: ClassVar[bool] = False
    history: ClassVar[bool] = True
    shift_invariant: ClassVar[bool] = False
    theorems: ClassVar[tuple[str, ...]] = ("penalty-shift",)
    impl: ClassVar[str] = "repetition_penalty"

    def __post_init__(self):
        allowed = "a finite number > 0 (1 changes nothing)"
        theta = _number("repetition_penalty", self.theta, allowed)
        if not (math.isfinite(theta) and theta > 0):
            raise InvalidParameter("repetition_penalty", self.theta, allowed)
        _penalty_fields(self, "repetition_penalty")

    def apply(self, row: Row, history=None) -> None:
        if self.theta != 1:
            ids, _ = _counted(row, history, self.counts, self.window)
            _change(row, ids, lambda z: np.where(z > 0, z / self.theta, z * self.theta))


@dataclass(frozen=True)
class _AdditivePenalty(Transform):
    """What the presence and frequency penalties share: a finite `penalty` subtracted from the
    tokens seen, so it commutes with a shift (`commute-bias-shift`); counts / window as
    RepetitionPenalty."""

    penalty: float
    counts: str = "all"
    window: int | None = None

    param: ClassVar[str] = "penalty"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = 0.0
    filters: ClassVar[bool] = False
    history: ClassVar[bool] = True
    theorems: ClassVar[tuple[str, ...]] = ("commute-bias-shift",)

    def __post_init__(self):
        if not math.isfinite(_number(self.name, self.penalty, "a finite number")):
            raise InvalidParameter(self.name, self.penalty, "a finite number")
        _penalty_fields(self, self.name)


@dataclass(frozen=True)
class PresencePenalty(_AdditivePenalty):
    """Subtract `penalty` once from each distinct token seen (OpenAI's presence penalty)."""

    name: ClassVar[str] = "presence_penalty"
    impl: ClassVar[str] = "presence_penalty"

    def apply(self, row: Row, history=None) -> None:
        if self.penalty != 0:
            ids, _ = _counted(row, history, self.counts, self.window)
            _change(row, ids, lambda z: z - self.penalty)


@dataclass(frozen=True)
class FrequencyPenalty(_AdditivePenalty):
    """Subtract `penalty` times the number of times each token was seen (OpenAI's frequency penalty)."""

    name: ClassVar[str] = "frequency_penalty"
    impl: ClassVar[str] = "frequency_penalty"

    def apply(self, row: Row, history=None) -> None:
        if self.penalty != 0:
            ids, occurrences = _counted(row, history, self.counts, self.window)
            _change(row, ids, lambda z: z - self.penalty * occurrences)


def _keep_at_least(row: Row, kept: np.ndarray, count: int) -> np.ndarray:
    """kept, plus the `count` most likely survivors when fewer pass (min_tokens_to_keep; ties at
    that cut are kept whole, as `scores < topk(scores)[-1]` does)."""
    if kept.sum() >= count:
        return kept
    return kept | rank_cut(row.z, min(count, int(row.keep.sum())), row.keep, row.boundary, "all")[0]


def _entropy(probs: np.ndarray) -> float:
    p = probs[probs > 0]
    return float(-(p * np.log(p)).sum())


@dataclass(frozen=True)
class TypicalP(Transform):
    """Locally typical sampling (Meister et al., arXiv:2202.00666): rank the survivors by how far
    their surprise -log p_i is from the entropy H, |-log p_i - H|, and keep a token iff the mass of
    the strictly more typical tokens is < mass; min_tokens_to_keep most typical always stay.
    ties="all": a tie in typicality is kept or dropped whole (Hugging Face: the cut is
    `sorted_scores > sorted_scores[last_ind]`); "any": ranked one by one by a sort, so a tie group
    straddling the cut is boundary (llama.cpp). mass = 1 changes nothing."""

    mass: float
    min_tokens_to_keep: int = 1
    ties: str = "all"

    name: ClassVar[str] = "typical_p"
    param: ClassVar[str] = "mass"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = 1.0
    theorems: ClassVar[tuple[str, ...]] = ("typical-shift",)
    impl: ClassVar[str] = "typical_p"

    def __post_init__(self):
        _unit("typical_p", self.mass)
        _count("min_tokens_to_keep", self.min_tokens_to_keep, 1, "an integer >= 1")
        _choice("ties", self.ties, ("all", "any"))

    def apply(self, row: Row, history=None) -> None:
        if self.mass == 1:
            return
        probs = softmax(np.where(row.keep, row.z, -np.inf))
        alive = np.flatnonzero(row.keep)
        # Surprise from the exact log-softmax, not log(p): a token 745 below the top has p = 0 in
        # float64 but a finite surprise, and min_tokens_to_keep ranks such tokens by it (as
        # Hugging Face's TypicalLogitsWarper does with log_softmax).
        surprise = logsumexp(row.z[alive][None])[0, 0] - row.z[alive]
        score = np.abs(surprise - _entropy(probs))
        order = np.lexsort((alive, score))  # most typical first, ties by index
        s, p = score[order], probs[alive][order]
        before = np.concatenate(([0.0], np.cumsum(p)[:-1]))
        if self.ties == "all":
            first = np.concatenate(([True], s[1:] != s[:-1]))
            before = before[np.maximum.accumulate(np.where(first, np.arange(s.size), 0))]
        kept_sorted = before < self.mass
        kept_sorted[: self.min_tokens_to_keep] = True
        # Boundary: the mass before a token within the mass tolerance of the cut, or a typicality
        # score within the logit tolerance of the last kept one (rounding may reorder those).
        near = np.abs(before - self.mass) < row.tol.mass
        last = s[kept_sorted].max()
        with np.errstate(invalid="ignore"):  # inf - inf when a kept score is inf (a zero probability)
            near |= (s != last) & (np.abs(s - last) < _slack(row))
        near[: self.min_tokens_to_keep] = False
        if self.ties == "any":  # a tie group straddling the cut: which of it stays is the sort's choice
            cut = int(kept_sorted.sum()) - 1  # ties within rounding count (equal scores of different p)
            with np.errstate(invalid="ignore"):
                if cut + 1 < s.size and (s[cut] == s[cut + 1] or abs(s[cut] - s[cut + 1]) < _slack(row)):
                    near |= (s == s[cut]) | (np.abs(s - s[cut]) < _slack(row))
        row.boundary[alive[order][near]] = True
        row.keep = np.zeros_like(row.keep)
        row.keep[alive[order][kept_sorted]] = True


def _log_gap(probs: np.ndarray, value: float) -> np.ndarray:
    """|log p_i - log value| (inf where p_i = 0): probabilities are compared in log space, because
    an engine's p_i = exp(z_i - logsumexp) carries the logsumexp's error as a relative error."""
    with np.errstate(divide="ignore"):
        return np.abs(np.log(probs) - math.log(value))


def _slack(row: Row) -> float:
    """How far apart, in log space, two probabilities an engine computed may be misordered."""
    return 2 * (row.tol.logit + row.tol.mass)


def _cutoff(row: Row, threshold: float, min_tokens_to_keep: int) -> None:
    """Keep the survivors whose renormalised probability is >= threshold (plus min_tokens_to_keep)."""
    probs = softmax(np.where(row.keep, row.z, -np.inf))
    row.boundary |= row.keep & (_log_gap(probs, threshold) < _slack(row))
    row.keep = _keep_at_least(row, row.keep & (probs >= threshold), min_tokens_to_keep)


@dataclass(frozen=True)
class EpsilonCutoff(Transform):
    """Truncation sampling (Hewitt et al., arXiv:2210.15191): keep a token iff its probability,
    renormalised over the survivors, is >= epsilon; min_tokens_to_keep most likely always stay.
    epsilon = 0 changes nothing."""

    epsilon: float
    min_tokens_to_keep: int = 1

    name: ClassVar[str] = "epsilon_cutoff"
    param: ClassVar[str] = "epsilon"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = 0.0
    theorems: ClassVar[tuple[str, ...]] = ("epsilon-shift",)
    impl: ClassVar[str] = "epsilon_cutoff"

    def __post_init__(self):
        _unit("epsilon_cutoff", self.epsilon)
        _count("min_tokens_to_keep", self.min_tokens_to_keep, 1, "an integer >= 1")

    def apply(self, row: Row, history=None) -> None:
        if self.epsilon > 0:
            _cutoff(row, self.epsilon, self.min_tokens_to_keep)


@dataclass(frozen=True)
class EtaCutoff(Transform):
    """Eta sampling (Hewitt et al., arXiv:2210.15191): as EpsilonCutoff with the threshold
    eta = min(epsilon, sqrt(epsilon) * exp(-H)), H the entropy of the survivors' distribution."""

    epsilon: float
    min_tokens_to_keep: int = 1

    name: ClassVar[str] = "eta_cutoff"
    param: ClassVar[str] = "epsilon"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = 0.0
    theorems: ClassVar[tuple[str, ...]] = ("eta-shift",)
    impl: ClassVar[str] = "eta_cutoff"

    def __post_init__(self):
        _unit("eta_cutoff", self.epsilon)
        _count("min_tokens_to_keep", self.min_tokens_to_keep, 1, "an integer >= 1")

    def apply(self, row: Row, history=None) -> None:
        if self.epsilon > 0:
            entropy = _entropy(softmax(np.where(row.keep, row.z, -np.inf)))
            _cutoff(row, min(self.epsilon, math.sqrt(self.epsilon) * math.exp(-entropy)), self.min_tokens_to_keep)


@dataclass(frozen=True)
class TopNSigma(Transform):
    """Top-n-sigma (Tang et al., arXiv:2411.07641): keep a token iff its logit is >= max - n * sigma,
    sigma the population standard deviation of the survivors' logits. Shift-invariant (max and
    sigma move together) and scale-equivariant, so it also commutes with temperature."""

    n: float

    name: ClassVar[str] = "top_n_sigma"
    param: ClassVar[str] = "n"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = math.inf
    theorems: ClassVar[tuple[str, ...]] = ("top-n-sigma-shift", "top-n-sigma-temperature")
    impl: ClassVar[str] = "top_n_sigma"

    def __post_init__(self):
        n = _number("top_n_sigma", self.n, "a number > 0 (inf keeps everything)")
        if not n > 0:
            raise InvalidParameter("top_n_sigma", self.n, "a number > 0 (inf keeps everything)")

    def apply(self, row: Row, history=None) -> None:
        if self.n == math.inf:
            return
        alive = row.z[row.keep]
        threshold = alive.max() - self.n * alive.std()
        row.boundary |= row.keep & (np.abs(row.z - threshold) < row.tol.logit * (2 + self.n))
        row.keep = row.keep & (row.z >= threshold)


@dataclass(frozen=True)
class XTC(Transform):
    """Exclude Top Choices (oobabooga/text-generation-webui, PR #6335): with probability
    `probability`, of the survivors whose renormalised probability is above `threshold`, remove all
    but the least likely (nothing when fewer than two are above). The target is the exact mixture
    (1 - probability) * without + probability * with.
    above: ">" (mlx-lm) or ">=" (llama.cpp) against the threshold. ties="all": every token tied
    with the least likely one above stays (mlx-lm removes p > that minimum); "any": exactly one
    stays, chosen by a sort (llama.cpp), so the tie group is boundary. special_tokens are never
    removed (mlx-lm's xtc_special_tokens). min_keep: skip when fewer than min_keep would remain
    (llama.cpp)."""

    probability: float
    threshold: float = 0.1
    above: str = ">"
    ties: str = "all"
    special_tokens: tuple[int, ...] = ()
    min_keep: int = 0

    name: ClassVar[str] = "xtc_probability"
    param: ClassVar[str] = "probability"
    kind: ClassVar[type] = float
    noop: ClassVar[object] = 0.0
    random: ClassVar[bool] = True
    theorems: ClassVar[tuple[str, ...]] = ("xtc-shift",)
    impl: ClassVar[str] = "xtc"

    def __post_init__(self):
        _unit("xtc_probability", self.probability)
        _unit("xtc_threshold", self.threshold)
        _choice("above", self.above, (">", ">="))
        _choice("ties", self.ties, ("all", "any"))
        try:
            special = tuple(self.special_tokens)
        except TypeError:
            raise InvalidParameter("xtc_special_tokens", self.special_tokens, "a sequence of token ids") from None
        for t in special:
            _count("xtc_special_tokens", t, 0, "token ids: integers >= 0")
        object.__setattr__(self, "special_tokens", tuple(sorted({int(t) for t in special})))
        _count("min_keep", self.min_keep, 0, "an integer >= 0")

    @property
    def chance(self) -> float:
        return float(self.probability)

    def apply(self, row: Row, history=None) -> None:
        """The branch where XTC fires (the mixture is spec.target's business)."""
        if self.special_tokens and self.special_tokens[-1] >= row.z.size:
            raise InvalidParameter("xtc_special_tokens", self.special_tokens[-1],
                                   f"token ids in [0, {row.z.size}) (the row's vocabulary)")
        probs = softmax(np.where(row.keep, row.z, -np.inf))
        over = row.keep & ((probs > self.threshold) if self.above == ">" else (probs >= self.threshold))
        # Near the threshold: rounding may put them on either side. At threshold 0, the tokens whose
        # probability underflows in float32 (an engine's p = 0, not above 0) are the near ones.
        near = row.keep & (_log_gap(probs, self.threshold) < _slack(row)) if self.threshold > 0 \
            else row.keep & (probs < np.finfo(np.float32).tiny)
        if over.sum() < 2:  # does not act, unless rounding moves a near token over the threshold
            if (over | near).sum() >= 2:
                row.boundary |= over | near
            return
        kept = self._kept(row, probs, over)
        # Boundary: tokens near the threshold may join or leave the group above it, and then the least
        # likely one above changes, or the group falls below two and nothing is removed: every token
        # whose fate differs with the near ones all out or all in; and tokens near the least likely value.
        least = probs[over].min()
        for moved in (over & ~near, over | near):
            row.boundary |= kept ^ self._kept(row, probs, moved)
        row.boundary |= near | (over & (probs != least) & (_log_gap(probs, least) < _slack(row)))
        row.keep = kept

    def _kept(self, row: Row, probs: np.ndarray, over: np.ndarray) -> np.ndarray:
        """The survivors when the tokens `over` are above the threshold (the branch that fires)."""
        if over.sum() < 2:
            return row.keep.copy()
        least = probs[over].min()
        removed = over & (probs > least)
        if self.ties == "any":  # exactly one of the tokens tied at the minimum stays, chosen by a sort
            tied = np.flatnonzero(over & (probs == least))
            removed[tied[1:]] = True
            if tied.size > 1:
                row.boundary[tied] = True
        removed[list(self.special_tokens)] = False
        if int((row.keep & ~removed).sum()) < self.min_keep:
            return row.keep.copy()
        return row.keep & ~removed


REGISTRY: dict[str, type[Transform]] = {cls.name: cls for cls in (
    Temperature, TopK, TopP, MinP, LogitBias, RepetitionPenalty, PresencePenalty, FrequencyPenalty,
    TypicalP, EpsilonCutoff, EtaCutoff, TopNSigma, XTC)}
COMMON = tuple(REGISTRY)  # the common parameter names, in one vocabulary for every preset


def registered(step) -> type[Transform]:
    """The registry entry of a pipeline step; anything unregistered is an InvalidParameter."""
    cls = type(step)
    if REGISTRY.get(getattr(cls, "name", None)) is not cls:
        names = ", ".join(c.__name__ for c in REGISTRY.values())
        raise InvalidParameter("step", step, f"a registered transform: {names}")
    return cls


def field_names(cls: type[Transform]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Pipeline:
    """An ordered tuple of transforms, applied left to right, then a categorical draw."""

    steps: tuple[Transform, ...] = ()
    name: str = "custom"

    def __post_init__(self):
        if not isinstance(self.steps, tuple | list):
            raise InvalidParameter("steps", self.steps, "a tuple of transforms (Temperature, TopK, TopP, MinP, ...)")
        object.__setattr__(self, "steps", tuple(self.steps))
        for step in self.steps:
            registered(step)

    @property
    def greedy(self) -> bool:
        return any(isinstance(s, Temperature) and s.t == 0 for s in self.steps)

    @property
    def order(self) -> str:
        return " -> ".join(s.name for s in self.steps) or "plain softmax"

    def __str__(self):
        return f"{self.name}: " + (" -> ".join(map(repr, self.steps)) or "plain softmax")

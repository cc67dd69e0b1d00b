"""The four transforms every engine has: temperature, top-k, top-p and min-p."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spec.errors import InvalidParameter
from spec.numerics import Tolerance, rank_cut, softmax
from spec.transforms.base import VOCAB_SIZE, Row, Transform, _choice, _count, _number, _unit

HEAD = 1024  # top-p ranks this many most likely tokens first, and the whole row only when they do not settle the cut


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

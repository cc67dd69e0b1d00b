"""The probability cuts of the literature: typical-p, epsilon and eta cutoffs, top-n-sigma."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spec.errors import InvalidParameter
from spec.numerics import logsumexp, rank_cut, softmax
from spec.transforms.base import Row, Transform, _choice, _count, _log_gap, _number, _slack, _unit


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

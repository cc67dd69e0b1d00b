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
from spec.numerics import Tolerance, rank_cut, softmax

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


class Transform:
    """What every registered transform declares (class attributes) and does (`apply`)."""

    name: ClassVar[str]  # the common parameter name; the CLI flag is --name-with-dashes
    param: ClassVar[str]  # the field that holds that parameter
    kind: ClassVar[type]  # int or float: how the CLI parses it
    noop: ClassVar[object]  # the value that changes nothing (VOCAB_SIZE: the row's V)
    greedy_at: ClassVar[object] = None  # the value that makes every target deterministic, if any
    filters: ClassVar[bool] = True  # changes the keep-set (False: only rescales)
    history: ClassVar[bool] = False  # reads the token history (penalties)
    theorems: ClassVar[tuple[str, ...]]  # why it may see log-probabilities (proofs.catalogue ids)
    impl: ClassVar[str]  # its rule in impl.sampler

    @property
    def value(self):
        return getattr(self, self.param)

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
        t sends the other scores to -inf, their exact limit, and never makes inf - inf."""
        if self.t in (0, 1):
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
        order = alive[np.lexsort((alive, -probs[alive]))]  # descending probability, ties by index
        sorted_probs = probs[order]
        above = np.concatenate(([0.0], np.cumsum(sorted_probs)[:-1]))
        if self.ties == "all":  # mass strictly above = mass above the first member of the tie group
            first = np.concatenate(([True], sorted_probs[1:] != sorted_probs[:-1]))
            above = above[np.maximum.accumulate(np.where(first, np.arange(order.size), 0))]
        kept_sorted = above < self.p
        kept_sorted[: self.min_tokens_to_keep] = True
        near = np.abs(above - self.p) < row.tol.mass
        near[: self.min_tokens_to_keep] = False
        if self.ties == "any":  # a tie group straddling the cut
            last = int(kept_sorted.sum()) - 1
            if 0 <= last < order.size - 1 and sorted_probs[last] == sorted_probs[last + 1]:
                near |= sorted_probs == sorted_probs[last]
        row.boundary[order[near]] = True
        row.keep = np.zeros_like(keep)
        row.keep[order[kept_sorted]] = True


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


REGISTRY: dict[str, type[Transform]] = {cls.name: cls for cls in (Temperature, TopK, TopP, MinP)}
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

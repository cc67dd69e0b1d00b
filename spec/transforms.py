"""The transforms a sampling pipeline is made of, each a small immutable value.

A transform only records its parameters and validates them; `spec.target` gives them meaning.
Every engine convention the engines disagree on is a field here, so a preset is just a choice
of fields (see `spec.presets`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from spec.errors import InvalidParameter


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


@dataclass(frozen=True)
class Temperature:
    """Divide the logits by t. t = 0 means greedy: the first-index argmax."""

    t: float

    def __post_init__(self):
        allowed = "a finite number >= 0 (0 means greedy)"
        t = _number("temperature", self.t, allowed)
        if not (math.isfinite(t) and t >= 0):
            raise InvalidParameter("temperature", self.t, allowed)


@dataclass(frozen=True)
class TopK:
    """Keep the k largest logits.

    ties="all": keep every token tied with the k-th largest (Hugging Face, vLLM's PyTorch path).
    ties="any": keep exactly k; which of the tokens tied at the cut survive is the engine's
    choice (argpartition, a partial sort), so those tokens are boundary tokens.
    over_vocab: k >= V keeps everything ("clamp") or is an error ("error", mlx-lm).
    """

    k: int
    ties: str = "all"
    over_vocab: str = "clamp"

    def __post_init__(self):
        _count("top_k", self.k, 1, "an integer >= 1")
        _choice("ties", self.ties, ("all", "any"))
        _choice("over_vocab", self.over_vocab, ("clamp", "error"))


@dataclass(frozen=True)
class TopP:
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

    def __post_init__(self):
        _unit("top_p", self.p)
        _choice("mass", self.mass, ("renormalized", "original"))
        _choice("ties", self.ties, ("all", "any"))
        _count("min_tokens_to_keep", self.min_tokens_to_keep, 1, "an integer >= 1")


@dataclass(frozen=True)
class MinP:
    """Keep a token iff its probability is >= p times the largest one, i.e. iff
    z_i >= max(z) + log(p): the probability-space and log-space rules are the same test
    (`filters-shift`). p = 0 keeps everything."""

    p: float
    min_tokens_to_keep: int = 1

    def __post_init__(self):
        _unit("min_p", self.p)
        _count("min_tokens_to_keep", self.min_tokens_to_keep, 1, "an integer >= 1")


Transform = Temperature | TopK | TopP | MinP


@dataclass(frozen=True)
class Pipeline:
    """An ordered tuple of transforms, applied left to right, then a categorical draw."""

    steps: tuple[Transform, ...] = ()
    name: str = "custom"

    def __post_init__(self):
        for step in self.steps:
            if not isinstance(step, Transform):
                raise InvalidParameter("step", step, "Temperature, TopK, TopP or MinP")

    @property
    def greedy(self) -> bool:
        return any(isinstance(s, Temperature) and s.t == 0 for s in self.steps)

    def __str__(self):
        return f"{self.name}: " + (" -> ".join(map(repr, self.steps)) or "plain softmax")

"""The transforms that read the token history: the logit bias and the repetition, presence and
frequency penalties, with the History they count."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spec.errors import InvalidParameter
from spec.numerics import Tolerance
from spec.transforms.base import Row, Transform, _choice, _count, _number


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

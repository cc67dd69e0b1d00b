"""Exclude Top Choices, the one random transform: its target is a mixture of two branches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spec.errors import InvalidParameter
from spec.numerics import softmax
from spec.transforms.base import Row, Transform, _choice, _count, _log_gap, _slack, _unit


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

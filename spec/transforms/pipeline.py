"""The registry that declares each transform once, and the Pipeline that accepts only registered
ones (kept apart from the transforms, which it lists)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from spec.errors import InvalidParameter
from spec.transforms.base import Transform
from spec.transforms.classic import MinP, Temperature, TopK, TopP
from spec.transforms.cutoffs import EpsilonCutoff, EtaCutoff, TopNSigma, TypicalP
from spec.transforms.penalties import FrequencyPenalty, LogitBias, PresencePenalty, RepetitionPenalty
from spec.transforms.xtc import XTC

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

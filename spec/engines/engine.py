"""What an engine module declares: `Engine` (how to call it, its version, how to install it) and its
grid of `Config`s. Kept apart from `spec.engines.__init__`, which finds the engine modules, so that
an engine module imports this and nothing imports back."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

from spec.validator.sampler import Sampler


@dataclass(frozen=True)
class Config:
    label: str  # what people call it
    params: dict = field(default_factory=dict)  # the engine's parameter names and values
    known: str = ""  # a documented engine deviation this configuration shows (the row is expected to fail)
    loop: str = ""  # "": the engine's sampler; else one of its generation loops (Engine.generation), end to end
    unseeded: bool = False  # no seed at all: draws must differ across calls and new processes (validator.unseeded)
    yields: str = "processed"  # what a loop's log-probabilities are (validate_generation's `yields`; "none": none)

    def shown(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params.items()) or "(defaults)"


@dataclass(frozen=True)
class Engine:
    name: str  # as people write it: "mlx-lm"
    preset: str  # the spec.presets entry that says what it must sample
    distributions: tuple[str, ...]  # the packages whose versions every report records
    needs: tuple[str, ...]  # importable modules it needs
    install: str  # how to get it
    sampler: Callable[..., Sampler]  # params -> the engine's own sampler
    configs: tuple[Config, ...]
    generation: Callable | None = None  # (loop name, params) -> (loop, next_logits), for spec.validate_generation
    factories: dict = field(default_factory=dict)  # "module:function" of the engine's own factory -> `sampler`
    rank: int = 100  # where it is listed (the four engines first, in the order the README has always used)

    def missing(self) -> list[str]:
        """What is not installed of what it needs (empty: ready to run)."""
        return [m for m in self.needs if importlib.util.find_spec(m) is None]

    def installed(self) -> bool:
        return not self.missing()

    def version(self) -> str:
        return ", ".join(map(version, self.distributions))


def version(distribution: str) -> str:
    """'name version' of an installed package: every engine's report names what it ran."""
    try:
        return f"{distribution} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{distribution} (not installed)"

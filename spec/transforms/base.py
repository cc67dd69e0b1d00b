"""What every transform shares: the Row a pipeline runs over, the Transform declaration, the
parameter checks, and the rounding slack that probability cuts compare with."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spec.errors import InvalidParameter
from spec.numerics import Tolerance

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
    impl: ClassVar[str]  # its rule in impl.rules

    @property
    def value(self):
        return getattr(self, self.param)

    @property
    def chance(self) -> float:
        """The probability that the step acts (1 for every deterministic transform)."""
        return 1.0

    def apply(self, row: Row, history=None) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


def _log_gap(probs: np.ndarray, value: float) -> np.ndarray:
    """|log p_i - log value| (inf where p_i = 0): probabilities are compared in log space, because
    an engine's p_i = exp(z_i - logsumexp) carries the logsumexp's error as a relative error."""
    with np.errstate(divide="ignore"):
        return np.abs(np.log(probs) - math.log(value))


def _slack(row: Row) -> float:
    """How far apart, in log space, two probabilities an engine computed may be misordered."""
    return 2 * (row.tol.logit + row.tol.mass)

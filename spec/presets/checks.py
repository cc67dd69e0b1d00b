"""What every preset builder shares: the parameter check that names the engine's parameter, and
the steps built from a checked value (a bias, a penalty, the greedy pipeline)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

from spec.errors import InvalidParameter
from spec.transforms import (
    EpsilonCutoff,
    EtaCutoff,
    LogitBias,
    MinP,
    Pipeline,
    Temperature,
    TopK,
    TopNSigma,
    TopP,
)


def _check(name, value, kind: type, ok: Callable[[float], bool], allowed: str) -> int | float:
    """`value` as a plain Python int (kind=int: any integer, numpy's included) or float (kind=float:
    any real number); bool, NaN, non-numbers and values failing `ok` raise InvalidParameter
    naming the parameter. `ok` only ever sees a real number, so it never raises TypeError."""
    abstract = numbers.Integral if kind is int else numbers.Real
    if isinstance(value, bool) or not isinstance(value, abstract):
        raise InvalidParameter(name, value, allowed)
    try:
        x = kind(value)
    except (OverflowError, ValueError):  # an int too large for a float
        raise InvalidParameter(name, value, allowed) from None
    if (kind is float and math.isnan(x)) or not ok(x):
        raise InvalidParameter(name, value, allowed)
    return x


def _finite(x: float) -> bool:
    return math.isfinite(x)


def _bias(name: str, value) -> LogitBias | None:
    """A {token: bias} mapping (None or empty: no bias) as a LogitBias step."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParameter(name, value, "a mapping {token id: bias}, or None")
    return LogitBias(value) if value else None


def _penalty(cls, name: str, value, noop: float, counts: str, window, ok, allowed: str, optional: bool = True):
    """A penalty step, or None when the value is the engine's no-op (or None, where the engine
    accepts None)."""
    if value is None and optional:
        return None
    value = _check(name, value, float, ok, allowed)
    return None if value == noop else cls(value, counts=counts, window=window)


def _keeps_argmax(step) -> bool:
    """Filters that always keep the most likely token: greedy may ignore them. Value transforms,
    typical-p (it may drop the most likely token) and XTC (it drops it when it acts) may not."""
    return isinstance(step, TopK | TopP | MinP | TopNSigma | EpsilonCutoff | EtaCutoff | Temperature)


def _greedy(steps, name: str, ties: str = "first") -> Pipeline:
    """The greedy pipeline: the steps that can change the argmax, then Temperature(0)."""
    return Pipeline(tuple(s for s in steps if not _keeps_argmax(s)) + (Temperature(0, ties=ties),), name)


def _request_bias(logit_bias) -> dict | None:
    """A server request's {"token id": bias} (JSON keys are strings) as {int: float}, or None."""
    if logit_bias is None:
        return None
    if not isinstance(logit_bias, dict):
        raise InvalidParameter("logit_bias", logit_bias, 'a mapping {"token id": bias}, or None')
    try:
        return {int(k): float(v) for k, v in logit_bias.items()}
    except (TypeError, ValueError):
        raise InvalidParameter("logit_bias", logit_bias, 'a mapping {"token id": bias}') from None

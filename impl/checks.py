"""What the sampler and `filter` accept: the input checks, raised as the spec's errors.

Why a module of its own: the sampler validates with one row-max reduction the work needs anyway
(mlx's max propagates NaN, so NaN, +inf and all -inf rows are caught and nothing is returned for
them; greedy reads the value at the argmax instead, which NaN always wins); every entry point
shares these checks and their messages.
"""

from __future__ import annotations

import math

import mlx.core as mx

from spec.errors import InvalidLogits, InvalidParameter
from spec.transforms import Pipeline

_FLOATS = (mx.float16, mx.bfloat16, mx.float32)


def _as_batch(logits) -> tuple[mx.array, bool]:
    if not isinstance(logits, mx.array):
        raise InvalidLogits(f"expected an mx.array, got {type(logits).__name__}")
    if logits.dtype not in _FLOATS:
        raise InvalidLogits(f"unsupported dtype {logits.dtype}: use float16, bfloat16 or float32")
    if logits.ndim not in (1, 2):
        raise InvalidLogits(f"expected a (V,) row or a (B, V) batch, got shape {tuple(logits.shape)}")
    single = logits.ndim == 1
    x = logits[None] if single else logits
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise InvalidLogits(f"empty batch or vocabulary: shape {tuple(logits.shape)}")
    return (x if x.dtype == mx.float32 else x.astype(mx.float32)), single


def _check_pipeline(pipeline):
    if not isinstance(pipeline, Pipeline):
        raise InvalidParameter("pipeline", pipeline, "a spec.Pipeline (see spec.presets)")


def _check_rows(values):
    """values: each row's max, or its value at the drawn token (NaN wins both in mlx)."""
    for b, v in enumerate(values.tolist() if isinstance(values, mx.array) else values):
        if not math.isfinite(v):
            problem = "NaN in the logits" if math.isnan(v) else (
                "+inf in the logits" if v > 0 else "every entry is -inf: nothing can be sampled")
            raise InvalidLogits(f"row {b}: {problem}")

"""Shrinking a failing row to a minimal one, with a deterministic oracle (white-box or fixed-key,
never a statistical test: a statistical oracle would shrink towards noise)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def shrink(rows: np.ndarray, fails: Callable, ids: list | None = None, with_ids: bool = False):
    """Delta debugging (ddmin) of (B, V) rows: remove chunks of token columns (the same from every
    row) while `fails` still holds, then simplify the values left (integers, one decimal, three).
    `fails` is deterministic: a white-box or fixed-key oracle. With with_ids, fails(rows, ids)
    also gets the original token ids of the columns left, and (rows, ids) is returned."""
    rows = np.array(rows, dtype=np.float64)
    ids = list(range(rows.shape[1])) if ids is None else list(ids)

    def check(r, i):
        return fails(r, i) if with_ids else fails(r)

    chunks = 2
    while rows.shape[1] >= 2:
        width = rows.shape[1]
        size = math.ceil(width / chunks)
        for start in range(0, width, size):
            keep = np.r_[0:start, min(width, start + size):width]
            valid = keep.size and np.isfinite(rows[:, keep]).any(axis=1).all()  # a finite entry per row
            if valid and check(rows[:, keep], [ids[k] for k in keep]):
                rows, ids = rows[:, keep], [ids[k] for k in keep]
                chunks = max(chunks - 1, 2)
                break
        else:
            if chunks >= width:
                break
            chunks = min(width, chunks * 2)
    for digits in (0, 1, 3):
        for b, k in np.ndindex(*rows.shape):
            if np.isfinite(rows[b, k]):
                trial = rows.copy()
                trial[b, k] = round(float(rows[b, k]), digits) + 0.0  # no -0.0
                if trial[b, k] != rows[b, k] and check(trial, ids):
                    rows = trial
    return (rows, ids) if with_ids else rows

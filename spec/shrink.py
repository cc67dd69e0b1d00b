"""Shrinking a failing row to a minimal one, with a deterministic oracle (white-box or fixed-key,
never a statistical test: a statistical oracle would shrink towards noise)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def shrink(rows: np.ndarray, fails: Callable, ids: list | None = None, with_ids: bool = False):
    """Delta debugging (ddmin) of one row: remove chunks of tokens while `fails` still holds,
    then simplify the values left (integers, then one decimal). `fails` is deterministic: a
    white-box or fixed-key oracle. With with_ids, fails(row, ids) also gets the original token
    ids of the entries left, and (row, ids) is returned."""
    row = rows[0].copy()
    ids = list(range(row.size)) if ids is None else list(ids)

    def check(r, i):
        return fails(r[None], i) if with_ids else fails(r[None])

    chunks = 2
    while row.size >= 2:
        size = math.ceil(row.size / chunks)
        for start in range(0, row.size, size):
            keep = np.r_[0:start, min(row.size, start + size):row.size]
            if keep.size and np.isfinite(row[keep]).any() and check(row[keep], [ids[k] for k in keep]):
                row, ids = row[keep], [ids[k] for k in keep]
                chunks = max(chunks - 1, 2)
                break
        else:
            if chunks >= row.size:
                break
            chunks = min(row.size, chunks * 2)
    for digits in (0, 1, 3):
        for k in range(row.size):
            if np.isfinite(row[k]):
                trial = row.copy()
                trial[k] = round(float(row[k]), digits) + 0.0  # no -0.0
                if trial[k] != row[k] and check(trial, ids):
                    row = trial
    return (row[None], ids) if with_ids else row[None]

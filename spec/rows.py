"""LLM-like logit rows, the one generator that benchmarks, experiments and property tests share."""

from __future__ import annotations

import math

import numpy as np

VOCAB = 151_936  # Qwen-family vocabulary, the size engines are measured at


def llm_logits(rng: np.random.Generator, rows: int, vocab: int = VOCAB) -> np.ndarray:
    """(rows, vocab) float64: a normal body (sd 3), one leading token 18-26 above it and up to 20
    runners-up 8-18 above it, the shape of a language model's row (top-1 holds most of the mass)."""
    z = rng.normal(0, 3, (rows, vocab))
    for r in range(rows):
        peaks = rng.choice(vocab, min(vocab, 21), replace=False)
        z[r, peaks[0]] += rng.uniform(18, 26)
        z[r, peaks[1:]] += rng.uniform(8, 18, peaks.size - 1)
    return z


NUCLEI = (1, 10, 100, 1_000, 10_000, 50_000)  # top-p 0.9 nucleus sizes of the entropy sweep


def nucleus(z: np.ndarray, p: float = 0.9) -> int:
    """How many tokens top-p keeps on one row (keep iff the mass strictly above is < p)."""
    probs = np.exp(np.sort(z)[::-1] - z.max())
    probs /= probs.sum()
    return int(np.sum(np.cumsum(probs) - probs < p))


def entropy_logits(rng: np.random.Generator, rows: int, size: int, vocab: int = VOCAB) -> np.ndarray:
    """(rows, vocab) float64 rows whose top-p 0.9 nucleus holds exactly `size` tokens: a standard
    normal row scaled by an sd found by bisection on log sd (the nucleus shrinks as the sd grows,
    since sharpening moves mass to the top tokens). The sd lies midway (in log) between where the
    nucleus drops to `size` and where it drops below, so no token sits on the top-p boundary.
    Small nuclei are confident steps, large ones uncertain steps (temperature 1, early tokens)."""
    if not 1 <= size < 0.9 * vocab:
        raise ValueError(f"size must be in [1, {int(0.9 * vocab)}), got {size}")
    out = np.empty((rows, vocab))
    for r in range(rows):
        n = rng.standard_normal(vocab)
        ranked = np.sort(n)[::-1] - n.max()

        def log_sd(target: int, ranked=ranked) -> float:  # the least log sd (to 2^-40) with nucleus <= target
            lo, hi = math.log(1e-3), math.log(1e3)
            for _ in range(40):
                mid = (lo + hi) / 2
                probs = np.exp(math.exp(mid) * ranked)
                lo, hi = (mid, hi) if np.sum(np.cumsum(probs) - probs < 0.9 * probs.sum()) > target else (lo, mid)
            return hi

        first = log_sd(size)
        out[r] = math.exp((first + (log_sd(size - 1) if size > 1 else first + 1.0)) / 2) * n
    return out

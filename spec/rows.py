"""LLM-like logit rows, the one generator that benchmarks, experiments and property tests share."""

from __future__ import annotations

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

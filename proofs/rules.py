"""The sampling rules, written once for exact numbers (Fraction) and mpmath floats alike.

Used to re-check solver witnesses exactly and by the high-precision sanity checks; nothing here
is a proof.
"""

from __future__ import annotations


def first_argmax(row) -> int:
    """Index of the first maximum: the tie rule of numpy, mlx and torch."""
    best = max(row)
    return next(i for i, v in enumerate(row) if v == best)


def keep_top_k(row, k: int, ties: str) -> set[int]:
    """ties="all": keep i iff fewer than k entries are strictly larger (all ties at the cut stay).
    ties="index": keep exactly k, ties broken by the lower index."""
    def beats(j, i):
        return row[j] > row[i] or (ties == "index" and row[j] == row[i] and j < i)
    return {i for i in range(len(row)) if sum(beats(j, i) for j in range(len(row))) < k}


def keep_top_p(probs, p) -> set[int]:
    """Keep a token iff the mass strictly above it (descending, ties by index) is < p."""
    kept, above = set(), 0
    for i in sorted(range(len(probs)), key=lambda i: (-probs[i], i)):
        if above < p:
            kept.add(i)
        above += probs[i]
    return kept


def keep_min_p(probs, m) -> set[int]:
    """Keep a token iff its probability is at least m times the largest."""
    return {i for i, x in enumerate(probs) if x >= m * max(probs)}


def penalize(v, theta):
    """Sign-aware repetition penalty (CTRL; Hugging Face's RepetitionPenaltyLogitsProcessor)."""
    return v * theta if v < 0 else v / theta

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


def _ranked(values, i, j, ascending=False) -> bool:
    """values[j] is ranked before values[i]: larger (smaller if ascending), ties to the lower index."""
    better = values[j] < values[i] if ascending else values[j] > values[i]
    return j != i and (better or (values[j] == values[i] and j < i))


def keep_typical(probs, log, mass, min_keep: int, ties: str) -> set[int]:
    """Typical-p: score |-log p_i - H|, keep iff the mass of the tokens ranked before (ties="any") or
    strictly more typical (ties="all") is < mass, or fewer than min_keep are ranked before."""
    h = -sum(p * log(p) for p in probs)
    s = [abs(-log(p) - h) for p in probs]
    kept = set()
    for i in range(len(s)):
        before = [j for j in range(len(s)) if _ranked(s, i, j, ascending=True)]
        strictly = [j for j in before if s[j] < s[i]] if ties == "all" else before
        if sum(probs[j] for j in strictly) < mass or len(before) < min_keep:
            kept.add(i)
    return kept


def keep_cutoff(probs, threshold, min_keep: int) -> set[int]:
    """Epsilon / eta: keep iff p_i >= threshold; when fewer pass, the min_keep most likely, ties kept."""
    kept = {i for i, p in enumerate(probs) if p >= threshold}
    if len(kept) < min_keep:
        kept |= {i for i, p in enumerate(probs) if sum(q > p for q in probs) < min_keep}
    return kept


def eta_threshold(probs, epsilon, log, exp, sqrt):
    return min(epsilon, sqrt(epsilon) * exp(sum(p * log(p) for p in probs)))


def keep_top_n_sigma(row, n, sqrt) -> set[int]:
    """Keep iff z_i >= max(z) - n sigma(z), sigma the population standard deviation. A row with no
    entries left (an earlier filter removed all) keeps none, as spec.target's rows never reach it."""
    if not row:
        return set()
    mean = sum(row) / len(row)
    sigma = sqrt(sum((v - mean) ** 2 for v in row) / len(row))
    return {i for i, v in enumerate(row) if v >= max(row) - n * sigma}


def xtc_kept(probs, threshold, above: str, ties: str, special=(), min_keep: int = 0) -> set[int]:
    """The XTC branch that fires: of the tokens above the threshold, all but the least likely are
    removed (ties="any": one of those tied at the least, the first index, stays), never a special
    token, and nothing when fewer than min_keep would remain."""
    over = [i for i, p in enumerate(probs) if (p > threshold if above == ">" else p >= threshold)]
    removed = {i for i in over if i not in special and any(
        probs[j] < probs[i] or (ties == "any" and probs[j] == probs[i] and j < i) for j in over if j != i)}
    kept = set(range(len(probs))) - removed
    return kept if len(kept) >= min_keep else set(range(len(probs)))


def xtc_mixture(probs, kept, chance) -> list:
    """(1 - chance) probs + chance (probs renormalised over the kept tokens)."""
    total = sum(probs[i] for i in kept)
    return [(1 - chance) * p + chance * (p / total if i in kept else 0) for i, p in enumerate(probs)]


# The repetition penalty as each engine writes it (the comparison that picks multiply or divide):
# Hugging Face transformers generation/logits_process.py RepetitionPenaltyLogitsProcessor (score < 0
# multiplies), vLLM apply_penalties (logits > 0 divides), mlx-lm sample_utils.make_repetition_penalty
# (< 0 multiplies), llama.cpp src/llama-sampler.cpp llama_sampler_penalties_apply (logit <= 0 multiplies).
PENALTY_ENGINES = {
    "Hugging Face": lambda v, theta: v * theta if v < 0 else v / theta,
    "vLLM": lambda v, theta: v / theta if v > 0 else v * theta,
    "mlx-lm": lambda v, theta: v * theta if v < 0 else v / theta,
    "llama.cpp": lambda v, theta: v * theta if v <= 0 else v / theta,
}
PENALTY_SMT = {  # the same rules in SMT-LIB, v and theta free
    "Hugging Face": "(ite (< v 0.0) (* v theta) (/ v theta))",
    "vLLM": "(ite (> v 0.0) (/ v theta) (* v theta))",
    "mlx-lm": "(ite (< v 0.0) (* v theta) (/ v theta))",
    "llama.cpp": "(ite (<= v 0.0) (* v theta) (/ v theta))",
}

"""Small numpy samplers to try the validator on (and to copy as a template for your own).

    python -m spec.validate spec.examples:top_p_sampler --preset hf --top-k 0 --top-p 0.9
    python -m spec.validate spec.examples:top_p_sampler_dropping_the_crossing_token --preset hf --top-k 0 --top-p 0.9
    python -m spec.validate spec.examples:top_p_075_sampler_keeping_the_token_at_p --preset hf --top-k 0 --top-p 0.75

The second has a bug engines have shipped: it keeps a token only if the mass up to and
INCLUDING it is below p, so the token that crosses p is dropped. The third compares with `<=`
where every engine has `<`: it differs only when the mass above a token is exactly p, which a
row shows only at some settings (p = 0.75 puts one on the validator's exact-sum case).
"""

from __future__ import annotations

import numpy as np

TOP_P = 0.9


def _top_p_sample(logits: np.ndarray, seed: int, top_p: float, inclusive: bool, at_p: bool = False) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    if not np.isfinite(logits.max(axis=-1)).all() or np.isnan(logits).any():
        raise ValueError("logits must have no NaN or +inf, and at least one finite entry per row")
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, -1)
    mass = np.cumsum(sorted_probs, axis=-1)
    mass_above = mass if inclusive else mass - sorted_probs  # the bug: counting the token itself
    keep = np.zeros_like(probs, dtype=bool)
    np.put_along_axis(keep, order, (mass_above <= top_p) if at_p else (mass_above < top_p), -1)
    kept = np.where(keep, probs, 0.0)
    cdf = np.cumsum(kept, axis=-1)
    u = np.random.default_rng(seed).random(len(probs)) * cdf[:, -1]
    return np.array([min(np.searchsorted(c, v, side="right"), c.size - 1) for c, v in zip(cdf, u, strict=True)])


def top_p_sampler(logits: np.ndarray, seed: int = 0) -> np.ndarray:
    """Nucleus sampling as every engine specifies it: keep a token iff the mass above it is < p."""
    return _top_p_sample(logits, seed, TOP_P, inclusive=False)


def top_p_sampler_dropping_the_crossing_token(logits: np.ndarray, seed: int = 0) -> np.ndarray:
    return _top_p_sample(logits, seed, TOP_P, inclusive=True)


def top_p_075_sampler_keeping_the_token_at_p(logits: np.ndarray, seed: int = 0) -> np.ndarray:
    """Top-p 0.75 with `<=` at the cut: it also keeps a token whose mass above is exactly p."""
    return _top_p_sample(logits, seed, 0.75, inclusive=False, at_p=True)

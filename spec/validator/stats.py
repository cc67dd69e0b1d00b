"""Goodness-of-fit tests of sampled counts against the spec's target, and what a pass rules out.

Three tests, each the best at one kind of bug (measured by simulation; tests/test_stats.py checks
their calibration and the power the report states):
- `binomial_scan`: an exact two-sided binomial test per token, Bonferroni over the tokens
  scanned. Best for a missing or an extra token.
- `merged_pearson`: Pearson's chi-square after merging tokens (in descending spec probability)
  into cells with expected counts >= 20, where the chi-square reference is accurate. (The G-test
  is not used: on large tables its chi-square reference is badly miscalibrated.)
- `rank_ks`: the Kolmogorov-Smirnov distance between the sampled and the target distribution
  of a token's rank in descending spec probability. Best for temperature-like bugs, which move
  mass monotonically along that order. The continuous KS reference is conservative for discrete
  distributions, so its false-alarm rate is at most the nominal one.
Each returns a p-value valid on its own; `spec.validator` splits the run's alpha across them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_EXPECTED = 20  # Pearson cells are merged up to this expected count
# Cells merged from many tiny tokens have a heavier right tail than chi-square: simulated false
# alarm rates were 1.18x, 1.35x, 1.65x and 2.0x nominal at alpha 1e-3 ... 1e-6 (4e7 simulated
# draws of 2,500 from a 1,000-token row of tiny masses), growing about 1.2x per decade. The validator tests at
# alpha of about 1e-8, so Pearson reports PEARSON_SAFETY times the chi-square tail: a bound on its
# real false-alarm rate while the excess stays below 10x (measured, not proved).
PEARSON_SAFETY = 10.0


@dataclass(frozen=True)
class Test:
    name: str
    pvalue: float
    statistic: float
    detail: str  # the most deviating token or cell, in words


def _rank_order(probs: np.ndarray) -> np.ndarray:
    """Token ids by descending probability, ties by index: the order the tests walk."""
    return np.lexsort((np.arange(probs.size), -probs))


def binomial_scan(counts: np.ndarray, probs: np.ndarray) -> Test:
    """Exact two-sided binomial test of each token with probability > 0, Bonferroni-adjusted."""
    n = int(counts.sum())
    cells = np.flatnonzero(probs > 0)
    c, q = counts[cells], probs[cells]
    two_sided = np.minimum(1.0, 2 * np.minimum(stats.binom.cdf(c, n, q), stats.binom.sf(c - 1, n, q)))
    worst = int(np.argmin(two_sided))
    token = int(cells[worst])
    p = min(1.0, float(two_sided[worst]) * cells.size)
    return Test("binomial scan", p, float(two_sided[worst]),
                f"token {token}: observed {int(c[worst])}, expected {n * q[worst]:.1f} (spec p = {q[worst]:.4g})")


def merged_pearson(counts: np.ndarray, probs: np.ndarray) -> Test:
    n = int(counts.sum())
    order = _rank_order(probs)
    order = order[probs[order] > 0]
    exp_cells, obs_cells, e, o = [], [], 0.0, 0
    for expected, observed in zip(n * probs[order], counts[order], strict=True):
        e, o = e + expected, o + observed
        if e >= MIN_EXPECTED:
            exp_cells.append(e), obs_cells.append(o)
            e, o = 0.0, 0
    if e > 0 and exp_cells:  # the tail short of 20 expected: merged into the last cell
        exp_cells[-1] += e
        obs_cells[-1] += o
    exp_cells, obs_cells = np.array(exp_cells), np.array(obs_cells)
    if exp_cells.size < 2:
        return Test("merged Pearson", 1.0, 0.0, "a single cell: nothing to test")
    terms = (obs_cells - exp_cells) ** 2 / exp_cells
    stat = float(terms.sum())
    worst = int(np.argmax(terms))
    p = min(1.0, PEARSON_SAFETY * float(stats.chi2.sf(stat, exp_cells.size - 1)))
    return Test("merged Pearson", p, stat,
                f"{exp_cells.size} cells; worst cell {worst}: observed {int(obs_cells[worst])}, "
                f"expected {exp_cells[worst]:.1f}")


def rank_ks(counts: np.ndarray, probs: np.ndarray) -> Test:
    n = int(counts.sum())
    order = _rank_order(probs)
    spec_cdf = np.cumsum(probs[order])
    gap = np.cumsum(counts[order]) / n - spec_cdf
    rank = int(np.argmax(np.abs(gap)))
    d = float(abs(gap[rank]))
    return Test("rank KS", float(stats.kstwo.sf(d, n)), d,
                f"sampled mass of the {rank + 1} most likely tokens is {gap[rank] + spec_cdf[rank]:.4f}, "
                f"spec {spec_cdf[rank]:.4f}")


TESTS = (binomial_scan, merged_pearson, rank_ks)


# --- power: what a pass at (n draws, per-test alpha) rules out --------------------------------

def out_of_support_mass(n: int, miss: float = 0.01) -> float:
    """Smallest probability of returning tokens outside the support that n draws reveal (one
    such token is a definitive failure) with probability >= 1 - miss."""
    return -math.log(miss) / n


def missing_token(n: int, alpha_test: float, cells: int) -> float:
    """Smallest spec probability q of a token the sampler never returns that the binomial scan
    flags: a count of 0 has two-sided p-value 2 (1 - q)^n, Bonferroni by `cells`."""
    return 1 - (alpha_test / (2 * cells)) ** (1 / n)


def ks_detectable(n: int, alpha_test: float, miss: float = 0.01) -> float:
    """Smallest rank-order KS distance detected with probability >= 1 - miss: the critical value
    plus the Dvoretzky-Kiefer-Wolfowitz bound on the empirical CDF's own error. For a
    temperature-like deviation (the probability ratio crosses 1 once along the rank order) this
    distance equals the total variation."""
    return float(stats.kstwo.isf(alpha_test, n)) + math.sqrt(math.log(2 / miss) / (2 * n))


def binomial_upper(n: int, rate: float, alpha_test: float) -> int:
    """The count k with P(Binomial(n, rate) > k) <= alpha_test: more than k events is a finding
    at a false-alarm rate of at most alpha_test."""
    return int(stats.binom.isf(alpha_test, n, min(rate, 1.0)))

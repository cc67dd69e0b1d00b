"""Meta-tests of the validator's statistics (`spec.validator.stats`): the goodness-of-fit tests keep
their false-alarm rate on a correct sampler, and each power helper rules out what it says a pass
rules out.

Every simulation is seeded (numpy generators with fixed seeds), so the verdicts are fixed: these
tests are exact in the sense of conftest.py and take nothing from the suite's false-alarm budget.
The simulated rates are compared with exact binomial bounds at 1e-9, so that a seed change would
also pass except with negligible probability.
"""

import functools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

from spec.rows import llm_logits
from spec.validator.stats import (
    TESTS,
    binomial_scan,
    binomial_upper,
    ks_detectable,
    missing_token,
    out_of_support_mass,
    rank_ks,
)

SLACK = 1e-9  # a simulated rate may exceed its bound only by what Binomial(reps, rate) does w.p. 1e-9
REPS = 2_000  # replicates per (target, draws) in the calibration
DRAWS = (2_500, 10_000)  # the default profile's first two looks
ALPHAS = (0.01, 0.05)  # large enough that the false-alarm rate is measurable in REPS replicates


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z[np.isfinite(z)].max())
    return e / e.sum()


def _tiny() -> np.ndarray:
    """10 tokens with 0.09 each, 990 sharing 0.1 (1e-4 each) and 24 outside the support."""
    p = np.r_[np.full(10, 0.09), np.full(990, 0.1 / 990), np.zeros(24)]
    return np.random.default_rng(11).permutation(p / p.sum())


TARGETS = {
    "uniform 10": np.full(10, 0.1),
    "LLM row / 3, 50 tokens": softmax(llm_logits(np.random.default_rng(2), 1, 50)[0] / 3),  # top-1 holds 0.75
    "1,000 tiny tokens": _tiny(),
}


def slack(reps: int, rate: float) -> int:
    """Exact binomial allowance: Binomial(reps, rate) exceeds it with probability <= SLACK."""
    return int(sps.binom.isf(SLACK, reps, rate))


@functools.cache
def calibration_pvalues(target: str, n: int) -> np.ndarray:
    """(REPS, len(TESTS)) p-values of a correct sampler (numpy's multinomial, fixed seed)."""
    probs = TARGETS[target]
    seed = [n, list(TARGETS).index(target)]
    counts = np.random.default_rng(seed).multinomial(n, probs, size=REPS)
    return np.array([[test(c, probs).pvalue for test in TESTS] for c in counts])


# --- calibration -------------------------------------------------------------------------------

@pytest.mark.parametrize("test", TESTS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("n", DRAWS)
@pytest.mark.parametrize("target", list(TARGETS))
def test_false_alarm_rate_of_a_correct_sampler_is_at_most_alpha(target, n, test):
    """Validity: on draws of a correct sampler, P(p-value <= alpha) <= alpha for every test, on a
    uniform row, a skewed LLM-like row and a row with many tiny-probability tokens. (Resolution:
    with 2,000 replicates the allowed rate is 0.026 at alpha 0.01 and 0.082 at 0.05, so this
    catches gross miscalibration, not a relative excess of a few tens of percent.)"""
    pvalues = calibration_pvalues(target, n)[:, TESTS.index(test)]
    assert ((pvalues >= 0) & (pvalues <= 1)).all()
    for alpha in ALPHAS:
        alarms = int((pvalues <= alpha).sum())
        assert alarms <= slack(REPS, alpha), f"{alarms} of {REPS} p-values <= {alpha}"


def test_pvalues_of_a_correct_sampler_are_not_degenerate():
    """Sanity of the calibration itself (a test returning 1.0 always would pass it vacuously): on
    every target, each test's p-values fall below 0.9 in at least 5% of the replicates (merged
    Pearson reports 10 times the chi-square tail, so its p < 0.9 in about 9% of them)."""
    for target in TARGETS:
        for n in DRAWS:
            below = (calibration_pvalues(target, n) < 0.9).mean(axis=0)
            assert (below >= 0.05).all(), (target, n, below)


def test_pvalues_are_one_on_counts_equal_to_expectation():
    """Each test returns p = 1 (or nearly) when the counts are exactly the expected counts."""
    probs = np.array([0.5, 0.25, 0.125, 0.0625, 0.0625, 0.0])
    counts = (probs * 1_600).astype(np.int64)
    for test in TESTS:
        assert test(counts, probs).pvalue > 0.99, test.__name__


# --- power: what a pass rules out --------------------------------------------------------------

def _llm_row(size: int, seed: int) -> np.ndarray:
    return softmax(llm_logits(np.random.default_rng(seed), 1, size)[0] / 3)


@pytest.mark.parametrize("alpha_test", [1e-3, 1e-9])
@pytest.mark.parametrize("n", [2_500, 10_000, 40_000])
def test_missing_token_is_flagged_by_the_binomial_scan(n, alpha_test):
    """missing_token(n, alpha, cells) states the spec probability above which a token the sampler
    never returns is flagged: at 1.05 times it, binomial_scan's p-value is < alpha in every
    simulated replicate (the missing token's count is 0, so this is deterministic)."""
    rest = _llm_row(49, seed=n)
    cells = rest.size + 1
    q = missing_token(n, alpha_test, cells) * 1.05
    probs = np.r_[q, (1 - q) * rest]  # the spec: token 0 has probability q
    draws = np.random.default_rng([n, 1]).multinomial(n, rest, size=200)  # the sampler: never token 0
    counts = np.hstack([np.zeros((200, 1), np.int64), draws])
    pvalues = np.array([binomial_scan(c, probs).pvalue for c in counts])
    assert (pvalues < alpha_test).all(), pvalues.max()


def _expected_counts(n: int, probs: np.ndarray) -> np.ndarray:
    """Counts summing to n as close as possible to n * probs (largest remainders)."""
    exact = n * probs
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact)[: n - counts.sum()]] += 1
    return counts


@pytest.mark.parametrize("alpha_test", [1e-3, 1e-9])
@pytest.mark.parametrize("n", [2_500, 10_000, 40_000])
def test_missing_token_is_the_threshold(n, alpha_test):
    """missing_token is the threshold, not just a bound: with the other tokens at their expected
    counts, a never-returned token is flagged at 1.05 times it and not flagged at 0.95 times it."""
    rest = _llm_row(49, seed=n)
    cells = rest.size + 1
    for factor, flagged in ((1.05, True), (0.95, False)):
        q = missing_token(n, alpha_test, cells) * factor
        probs = np.r_[q, (1 - q) * rest]
        counts = np.r_[0, _expected_counts(n, rest)]
        result = binomial_scan(counts, probs)
        assert (result.pvalue < alpha_test) == flagged, (factor, result)
        assert result.detail.startswith("token 0:")


def _temperature_for(z: np.ndarray, tv: float, colder: bool) -> float:
    """T' with total variation exactly tv between softmax(z / T') and softmax(z)."""
    p = softmax(z)

    def excess(t):
        return 0.5 * np.abs(softmax(z / t) - p).sum() - tv

    return optimize.brentq(excess, 0.2, 1.0) if colder else optimize.brentq(excess, 1.0, 20.0)


KS_POWER_CASES = [(2_500, 1e-3, True), (2_500, 1e-3, False), (2_500, 1e-7, True), (2_500, 1e-7, False),
                  (10_000, 1e-7, False)]  # one at 10,000 draws: kstwo.sf takes ~15 ms there


@pytest.mark.parametrize("n, alpha_test, colder", KS_POWER_CASES)
def test_temperature_deviation_of_ks_detectable_size_is_detected(n, alpha_test, colder):
    """ks_detectable(n, alpha) states that a temperature-like deviation with that total variation
    is detected by rank_ks with probability >= 0.99: sampling softmax(z / T') for softmax(z), with
    TV = 1.0001 ks_detectable, is flagged in >= 99% of 300 seeded replicates (binomial slack).
    Also checks the docstring's premise: for such a deviation the rank-order KS distance is the TV."""
    z = np.random.default_rng(3).normal(0, 2, 50)
    probs = softmax(z)
    tv = ks_detectable(n, alpha_test) * 1.0001
    sampled = softmax(z / _temperature_for(z, tv, colder))
    order = np.lexsort((np.arange(z.size), -probs))
    ks_distance = np.abs(np.cumsum(sampled[order] - probs[order])).max()
    assert ks_distance == pytest.approx(tv, rel=1e-9)
    reps = 300
    counts = np.random.default_rng([n, 2, int(colder)]).multinomial(n, sampled, size=reps)
    misses = sum(rank_ks(c, probs).pvalue >= alpha_test for c in counts)
    assert misses <= slack(reps, 0.01), f"{misses} of {reps} replicates missed"


@pytest.mark.parametrize("miss", [0.01, 0.001])
@pytest.mark.parametrize("n", [2_500, 10_000, 40_000])
def test_out_of_support_mass_is_seen(n, miss):
    """out_of_support_mass(n, miss) states that a sampler returning tokens outside the support with
    that total probability returns at least one of them in n draws with probability >= 1 - miss:
    exactly (1 - (1 - m)^n), within 1% of the exact threshold, and in 4,000 seeded replicates."""
    m = out_of_support_mass(n, miss)
    assert -math.expm1(n * math.log1p(-m)) >= 1 - miss  # P(at least one) = 1 - (1 - m)^n
    exact = -math.expm1(math.log(miss) / n)  # the smallest such mass: 1 - miss^(1/n)
    assert exact <= m <= 1.01 * exact
    reps = 4_000
    spec_probs = TARGETS["LLM row / 3, 50 tokens"]
    sampler = np.r_[(1 - m) * spec_probs, m]  # one extra token, outside the spec's support
    counts = np.random.default_rng([n, 3]).multinomial(n, sampler, size=reps)
    misses = int((counts[:, -1] == 0).sum())
    assert misses <= slack(reps, miss), f"{misses} of {reps} replicates saw no out-of-support token"


# --- binomial_upper ----------------------------------------------------------------------------

def _exact_sf(k: int, n: int, rate: float) -> Fraction:
    """P(Binomial(n, rate) > k) in exact rational arithmetic (rate taken as its float value)."""
    r = Fraction(rate)
    return sum((math.comb(n, j) * r**j * (1 - r) ** (n - j) for j in range(k + 1, n + 1)), Fraction(0))


GRID = [(n, rate, alpha)
        for n in (1, 2, 7, 40, 1_000, 100_000, 10**7)
        for rate in (0.0, 1e-12, 1e-6, 1e-3, 0.01, 0.2, 0.5, 0.97, 1.0, 1.5)
        for alpha in (1e-12, 1e-9, 1e-6, 1e-3, 0.05, 0.5)]


def test_binomial_upper_is_the_smallest_count_with_tail_at_most_alpha():
    """binomial_upper(n, rate, alpha) is the smallest k with P(Binomial(n, rate) > k) <= alpha
    (scipy's sf), over a grid of n, rate (including 0, 1 and a rate > 1, clipped) and alpha."""
    for n, rate, alpha in GRID:
        k = binomial_upper(n, rate, alpha)
        r = min(rate, 1.0)
        assert isinstance(k, int) and 0 <= k <= n, (n, rate, alpha, k)
        assert sps.binom.sf(k, n, r) <= alpha, (n, rate, alpha, k)
        assert k == 0 or sps.binom.sf(k - 1, n, r) > alpha, (n, rate, alpha, k)


def test_binomial_upper_is_exact_in_rational_arithmetic():
    """The same, with the binomial tail computed exactly (fractions) for small n: the false-alarm
    rate of 'more than k events' is at most alpha exactly, and k - 1 would exceed alpha."""
    rng = np.random.default_rng(4)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        rate = float(10 ** rng.uniform(-4, 0))
        alpha = float(10 ** rng.uniform(-9, -0.5))
        k = binomial_upper(n, rate, alpha)
        assert _exact_sf(k, n, rate) <= Fraction(alpha), (n, rate, alpha, k)
        assert k == 0 or _exact_sf(k - 1, n, rate) > Fraction(alpha), (n, rate, alpha, k)


def test_binomial_upper_false_alarm_rate_by_simulation():
    """Simulated: Binomial(n, rate) exceeds binomial_upper(n, rate, alpha) at a rate <= alpha."""
    rng = np.random.default_rng(5)
    for n, rate, alpha in ((10_000, 1e-3, 0.01), (1_024, 0.3, 0.05), (500, 0.02, 0.01)):
        k = binomial_upper(n, rate, alpha)
        events = rng.binomial(n, rate, size=100_000)
        assert int((events > k).sum()) <= slack(100_000, alpha)

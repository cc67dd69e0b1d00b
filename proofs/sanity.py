"""High-precision numeric sanity checks (mpmath, 50 digits, seeded): evidence, not proof.

Each check evaluates the theorem's claim at random points; a failure would mean a proof step or
its encoding is wrong, so it makes the verdict `not proved`.
"""

from __future__ import annotations

import random
import time
from fractions import Fraction

import mpmath as mp

from proofs.core import HOLDS, INCONCLUSIVE, Context
from proofs.rules import (
    eta_threshold,
    first_argmax,
    keep_cutoff,
    keep_min_p,
    keep_top_k,
    keep_top_n_sigma,
    keep_top_p,
    keep_typical,
    penalize,
    xtc_kept,
    xtc_mixture,
)

mp.mp.dps = 50
POINTS = 200
TOL = mp.mpf("1e-40")


def softmax(row):
    top = max(row)
    weights = [mp.exp(v - top) for v in row]
    total = mp.fsum(weights)
    return [w / total for w in weights]


def logsumexp(row):
    top = max(row)
    return top + mp.log(mp.fsum(mp.exp(v - top) for v in row))


def random_row(rng: random.Random, ties: bool = False):
    n = rng.randint(1, 12)
    if ties:  # few distinct values, so ties (also at the top) are common
        return [mp.mpf(rng.randint(-3, 3)) for _ in range(n)]
    return [mp.mpf(rng.uniform(-40, 40)) for _ in range(n)]


def record(ctx: Context, what: str, worst, failures: int, t0: float, unit="max deviation"):
    status = HOLDS if failures == 0 else INCONCLUSIVE
    ctx.step(f"sanity check: {what}", "sanity", status,
             f"{POINTS} seeded random points at {mp.mp.dps} significant digits: {failures} failures"
             + (f", {unit} {mp.nstr(worst, 3)}" if worst is not None else "") + ". A sanity check, not the proof.",
             time.perf_counter() - t0)


def compare_vectors(ctx, what, seed, make_pair):
    """make_pair(rng) -> (a, b) vectors that the theorem says are equal."""
    rng, t0, worst, bad = random.Random(seed), time.perf_counter(), mp.mpf(0), 0
    for _ in range(POINTS):
        a, b = make_pair(rng)
        dev = max(abs(x - y) for x, y in zip(a, b, strict=True))
        worst, bad = max(worst, dev), bad + (dev > TOL)
    record(ctx, what, worst, bad, t0)


def compare_choices(ctx, what, seed, make_pair):
    """make_pair(rng) -> (a, b) discrete results (indices, sets) that must be identical."""
    rng, t0 = random.Random(seed), time.perf_counter()
    bad = sum(a != b for a, b in (make_pair(rng) for _ in range(POINTS)))
    record(ctx, what, None, bad, t0)


def shift(rng):
    return mp.mpf(rng.uniform(-100, 100))


def softmax_shift(ctx):
    def pair(rng):
        z, c = random_row(rng), shift(rng)
        return softmax([v - c for v in z]), softmax(z)
    compare_vectors(ctx, "softmax(z - c) = softmax(z)", 1, pair)


def log_softmax(ctx):
    def pair(rng):
        z = random_row(rng)
        return [mp.log(p) for p in softmax(z)], [v - logsumexp(z) for v in z]
    compare_vectors(ctx, "log softmax(z) = z - logsumexp(z)", 2, pair)


def softmax_of_logprobs(ctx):
    def pair(rng):
        z = random_row(rng)
        return softmax([v - logsumexp(z) for v in z]), softmax(z)
    compare_vectors(ctx, "softmax(z - logsumexp(z)) = softmax(z)", 3, pair)


def temperature_shift(ctx):
    def pair(rng):
        z, c, t = random_row(rng), shift(rng), mp.mpf(rng.uniform(0.05, 3))
        return softmax([(v - c) / t for v in z]), softmax([v / t for v in z])
    compare_vectors(ctx, "softmax((z - c)/T) = softmax(z/T)", 4, pair)

    def argmaxes(rng):
        z, t = random_row(rng, ties=True), mp.mpf(rng.uniform(0.05, 3))
        return first_argmax([v / t for v in z]), first_argmax(z)
    compare_choices(ctx, "argmax(z/T) = argmax(z), rows with ties", 5, argmaxes)


def argmax_shift(ctx):
    def pair(rng):
        z, c = random_row(rng, ties=True), shift(rng)
        return first_argmax([v - c for v in z]), first_argmax(z)
    compare_choices(ctx, "argmax(z - c) = argmax(z), rows with ties", 6, pair)


def greedy_logprobs(ctx):
    def pair(rng):
        z = random_row(rng, ties=True)
        return first_argmax([v - logsumexp(z) for v in z]), first_argmax(z)
    compare_choices(ctx, "argmax(z - logsumexp(z)) = argmax(z), rows with ties", 7, pair)


def gumbel_coupling(ctx):
    def gumbel(rng):
        z, c = random_row(rng), shift(rng)
        g = [-mp.log(-mp.log(mp.mpf(rng.random()) or mp.mpf("1e-30"))) for _ in z]
        noisy = [v + e for v, e in zip(z, g, strict=True)]
        return first_argmax([v - c for v in noisy]), first_argmax(noisy)
    compare_choices(ctx, "Gumbel-max: same noise, same token from z and z - c", 8, gumbel)

    def inverse_cdf(rng):
        z, c, u = random_row(rng), shift(rng), mp.mpf(rng.random())
        def draw(row):
            acc = 0
            for k, p in enumerate(softmax(row)):
                acc += p
                if acc > u:
                    return k
            return len(row) - 1
        return draw([v - c for v in z]), draw(z)
    compare_choices(ctx, "inverse CDF: same uniform, same token from z and z - c", 9, inverse_cdf)


def filters_shift(ctx):
    def keep_sets(rng):
        z, c = random_row(rng, ties=rng.random() < 0.5), shift(rng)
        k, p, m = rng.randint(1, 12), mp.mpf(rng.uniform(0.05, 1)), mp.mpf(rng.uniform(0, 1))
        def sets(row):
            probs = softmax(row)
            return (keep_top_k(row, k, "all"), keep_top_k(row, k, "index"), keep_top_p(probs, p),
                    keep_min_p(probs, m))
        return sets([v - c for v in z]), sets(z)
    compare_choices(ctx, "top-k (both tie rules), top-p, min-p keep the same tokens for z and z - c",
                    10, keep_sets)


def mpf(x: Fraction):
    return mp.mpf(x.numerator) / x.denominator


def penalty_shift(ctx):
    """The exact witness again, now with c = logsumexp(z) evaluated at 50 digits."""
    t0 = time.perf_counter()
    z = [mpf(v) for v in ctx.witness.get("z", [])]
    ok, text = False, "no witness to evaluate"
    if z:
        theta, lse = mpf(Fraction(13, 10)), logsumexp(z)
        on_logits = first_argmax([penalize(z[0], theta), z[1]])
        on_logprobs = first_argmax([penalize(z[0] - lse, theta), z[1] - lse])
        ok = on_logits != on_logprobs
        text = (f"logsumexp(z) = {mp.nstr(lse, 12)}; greedy token on penalized logits {on_logits}, "
                f"on penalized log-probabilities {on_logprobs}.")
    ctx.step("sanity check: the witness with c = logsumexp(z)", "sanity", HOLDS if ok else INCONCLUSIVE,
             text + " A sanity check, not the proof.", time.perf_counter() - t0)


def temperature_order(ctx):
    """Both witnesses again, with logits log q computed numerically at 50 digits."""
    t0 = time.perf_counter()
    verdicts = []
    for rule, keep in (("top-p", keep_top_p), ("min-p", keep_min_p)):
        if rule in ctx.witness:
            q, param = ctx.witness[rule]
            z = [mp.log(mpf(x)) for x in q]
            verdicts.append(keep(softmax([2 * v for v in z]), mpf(param)) != keep(softmax(z), mpf(param)))
    ok = len(verdicts) == 2 and all(verdicts)
    ctx.step("sanity check: the witnesses with logits computed numerically", "sanity",
             HOLDS if ok else INCONCLUSIVE,
             f"{sum(verdicts)} of {len(verdicts)} witnesses reproduce with z = log q at {mp.mp.dps} digits "
             "and T = 1/2. A sanity check, not the proof.", time.perf_counter() - t0)


def argmax_vector_shift(ctx):
    t0 = time.perf_counter()
    z, c = ctx.witness.get("z"), ctx.witness.get("c")
    ok = bool(z) and first_argmax([mpf(a) - mpf(b) for a, b in zip(z, c, strict=True)]) != first_argmax(z)
    ctx.step("sanity check: the witness in mpmath", "sanity", HOLDS if ok else INCONCLUSIVE,
             "argmax(z - c) and argmax(z) differ when evaluated in mpmath too. A sanity check, not the proof."
             if ok else "no witness, or it does not reproduce", time.perf_counter() - t0)


def _shifted_rows(rng):
    """A row (ties half the time) and a shift: a random c, or c = logsumexp(z) (log-probabilities)."""
    z = random_row(rng, ties=rng.random() < 0.5)
    c = logsumexp(z) if rng.random() < 0.5 else shift(rng)
    return z, [v - c for v in z]


def typical_shift(ctx):
    def pair(rng):
        z, y = _shifted_rows(rng)
        mass, keep, ties = mp.mpf(rng.uniform(0.05, 1)), rng.randint(1, 3), rng.choice(["all", "any"])
        return keep_typical(softmax(y), mp.log, mass, keep, ties), keep_typical(softmax(z), mp.log, mass, keep, ties)
    compare_choices(ctx, "typical-p keeps the same tokens for z and z - c (c random or logsumexp(z))", 11, pair)


def epsilon_shift(ctx):
    def pair(rng):
        z, y = _shifted_rows(rng)
        eps, keep = mp.mpf(rng.uniform(0, 0.5)), rng.randint(1, 3)
        return keep_cutoff(softmax(y), eps, keep), keep_cutoff(softmax(z), eps, keep)
    compare_choices(ctx, "epsilon keeps the same tokens for z and z - c (c random or logsumexp(z))", 12, pair)


def eta_shift(ctx):
    def pair(rng):
        z, y = _shifted_rows(rng)
        eps, keep = mp.mpf(rng.uniform(0, 0.5)), rng.randint(1, 3)
        return tuple(keep_cutoff(p, eta_threshold(p, eps, mp.log, mp.exp, mp.sqrt), keep)
                     for p in (softmax(y), softmax(z)))
    compare_choices(ctx, "eta keeps the same tokens for z and z - c (c random or logsumexp(z))", 13, pair)


def top_n_sigma_shift(ctx):
    def pair(rng):
        z, y = _shifted_rows(rng)
        k = mp.mpf(rng.uniform(0.1, 3))
        return keep_top_n_sigma(y, k, mp.sqrt), keep_top_n_sigma(z, k, mp.sqrt)
    compare_choices(ctx, "top-n-sigma keeps the same tokens for z and z - c (c random or logsumexp(z))", 14, pair)


def xtc_shift(ctx):
    def pair(rng):
        z, y = _shifted_rows(rng)
        thr, chance = mp.mpf(rng.uniform(0, 0.5)), mp.mpf(rng.random())
        args = (rng.choice([">", ">="]), rng.choice(["all", "any"]), {rng.randrange(len(z))}, rng.randint(0, 3))
        out = []
        for row in (y, z):
            p = softmax(row)
            kept = xtc_kept(p, thr, *args)
            out.append((kept, [mp.nstr(x, 30) for x in xtc_mixture(p, kept, chance)]))
        return out
    compare_choices(ctx, "XTC removes the same tokens and gives the same mixture for z and z - c "
                    "(c random or logsumexp(z); mixture compared to 30 digits)", 15, pair)


def top_n_sigma_temperature(ctx):
    def pair(rng):
        z, t, k = random_row(rng, ties=rng.random() < 0.5), mp.mpf(rng.uniform(0.05, 3)), mp.mpf(rng.uniform(0.1, 3))
        return keep_top_n_sigma([v / t for v in z], k, mp.sqrt), keep_top_n_sigma(z, k, mp.sqrt)
    compare_choices(ctx, "top-n-sigma keeps the same tokens for z and z / T", 16, pair)

"""typical-shift, epsilon-shift, eta-shift, xtc-shift, top-n-sigma-shift and the per-engine
penalty-shift: each reaches its verdict with no step on paper, and each proof can fail: the same
rule reading the logits or the unnormalised weights where the engines read probabilities is not
proved (z3 finds a model of its negated claim)."""

import math
import random
from fractions import Fraction

import numpy as np
import pytest

from proofs import samplers
from proofs.catalogue import BY_ID
from proofs.check import run
from proofs.core import COUNTEREXAMPLE, Context, paper_steps, verdict
from proofs.rules import (
    PENALTY_ENGINES,
    eta_threshold,
    first_argmax,
    keep_cutoff,
    keep_top_n_sigma,
    keep_typical,
    xtc_kept,
)
from proofs.smt import solve

NEW = ["typical-shift", "epsilon-shift", "eta-shift", "xtc-shift", "top-n-sigma-shift"]  # proved, every n to MAX_N


@pytest.mark.parametrize("theorem_id", NEW)
def test_new_shift_theorems_are_proved_with_no_paper_step(theorem_id):
    r = run(BY_ID[theorem_id], max_n=16, timeout=120)
    assert r.verdict == f"proved for n <= {samplers.MAX_N}" and r.ok, [(s.title, s.status) for s in r.steps]
    assert paper_steps(r.steps) == 0
    names = {s.query.name for s in r.steps if s.query}
    assert {"keep.negation", "keep.premises"} <= names
    lemma = "max-sigma" if theorem_id == "top-n-sigma-shift" else "probabilities"
    assert {f"n{n}.{lemma}.negation" for n in range(1, samplers.MAX_N + 1)} <= names
    keep = next(s for s in r.steps if s.query and s.query.name == "keep.negation")
    for n in range(1, samplers.MAX_N + 1):  # one copy of the row per n in the keep query
        assert f"(declare-const n{n}_z0 Real)" in keep.query.body


def _negated(decls, premises, claim):
    (neg, _), _ = samplers.jobs("mutant", "mutant", decls, premises, claim)
    return solve(neg, timeout=60, rlimit=50_000_000).status


@pytest.mark.parametrize("rule, reads", [("typical", "logits"), ("epsilon", "weights"), ("eta", "weights"),
                                         ("xtc", "weights")])
def test_a_rule_reading_logits_or_weights_is_not_proved(rule, reads):
    """The same keep query, the rule reading |-z_i - H| (typical) or exp(z_i) (the cutoffs, XTC): sat,
    while the real rule on the same rows is unsat."""
    for n in (2, 3):
        r, claim = samplers.rule_query(rule, n, reads)
        assert _negated(r.decls, r.premises, claim) == "sat"
        r, claim = samplers.rule_query(rule, n)
        assert _negated(r.decls, r.premises, claim) == "unsat"


@pytest.mark.parametrize("scale", [False, True])
def test_top_n_sigma_of_exp_z_is_not_proved(scale):
    """sigma of exp(z) neither stays under a shift nor scales with temperature."""
    r, _, claim = samplers.sigma_rows(3, scale, reads="weights")
    assert _negated(r.decls, r.premises, claim) == "sat"
    r, lemmas, claim = samplers.sigma_rows(3, scale)
    assert _negated(r.decls, [*r.premises, *lemmas], claim) == "unsat"


def test_top_n_sigma_temperature_is_proved_and_full_covers_every_n():
    theorem = BY_ID["top-n-sigma-temperature"]
    for full, top in ((False, samplers.TEMPERATURE_N), (True, samplers.MAX_N)):
        r = run(theorem, max_n=16, timeout=120, full=full)
        assert r.verdict == f"proved for n <= {top}" and r.ok, [(s.title, s.status) for s in r.steps]
        keep = next(s for s in r.steps if s.query and s.query.name == "keep.negation")
        assert f"(declare-const n{top}_z0 Real)" in keep.query.body
        assert f"(declare-const n{top + 1}_z0 Real)" not in keep.query.body
        assert any(s.method == "not run" for s in r.steps) != full


def test_mutants_fail_on_exact_rows_too():
    """Concrete rows: reading exp(z) or z instead of p changes the kept set under a shift."""
    z = [Fraction(0), Fraction(-1), Fraction(-3)]
    weights = [Fraction(1), Fraction(1, 2), Fraction(1, 8)]  # stand-ins for exp(z), exp(z - c) = t exp(z)
    shifted = [w * 4 for w in weights]
    assert keep_cutoff(weights, Fraction(1, 3), 1) != keep_cutoff(shifted, Fraction(1, 3), 1)
    assert xtc_kept(weights, Fraction(1, 3), ">", "all") != xtc_kept(shifted, Fraction(1, 3), ">", "all")
    y = [v - 10 for v in z]
    probs = [float(w / sum(weights)) for w in weights]
    h = -sum(p * math.log(p) for p in probs)
    # typical-p's order, scored with the logits instead of log p: |-z_i - H| moves under the shift
    assert sorted(range(3), key=lambda i: abs(-z[i] - h)) != sorted(range(3), key=lambda i: abs(-y[i] - h))
    assert keep_top_n_sigma(z, 1, math.sqrt) == keep_top_n_sigma(y, 1, math.sqrt)


def test_penalty_shift_is_refuted_for_every_engine_formula():
    ctx = Context()
    BY_ID["penalty-shift"].run(ctx)
    assert verdict(ctx.steps) == "refuted"
    engines = next(s for s in ctx.steps if s.query and s.query.name == "engines.negation")
    assert engines.answer.status == "unsat"  # the four formulas are one function
    interval = next(s for s in ctx.steps if s.query and s.query.name == "interval.negation")
    assert interval.answer.status == "unsat"
    assert any(s.method == "exact" and s.status == COUNTEREXAMPLE for s in ctx.steps)
    z, theta = ctx.witness["z"], Fraction(13, 10)
    for name, rule in PENALTY_ENGINES.items():
        assert name in ctx.counterexample
        on_logits = first_argmax([rule(z[0], theta), z[1]])
        for c in (max(z), max(z) + Fraction(1, 2), max(z) + 1):
            assert first_argmax([rule(z[0] - c, theta), z[1] - c]) != on_logits, (name, c)


def test_a_penalty_formula_that_differs_is_caught():
    """The engines-agree query is not vacuous: a formula that divides negative logits differs."""
    from proofs.rules import PENALTY_SMT
    body = "(declare-const v Real)\n(declare-const theta Real)\n(assert (> theta 0.0))\n"
    wrong = "(ite (< v 0.0) (/ v theta) (* v theta))"
    from proofs.smt import Query
    q = Query("x", "x", body + f"(assert (not (= {PENALTY_SMT['llama.cpp']} {wrong})))", "sat", "search")
    assert solve(q, 30).status == "sat"


def test_commute_bias_shift_covers_every_additive_history_bias():
    t = BY_ID["commute-bias-shift"]
    text = " ".join([t.meaning, *t.assumptions])
    for word in ("LogitBias", "PresencePenalty", "FrequencyPenalty", "does not depend on z", "token history"):
        assert word in text


def test_exact_rules_agree_with_the_spec():
    """The rules the sanity checks use are the spec's, on float rows without ties near a cut."""
    spec_t = pytest.importorskip("spec.transforms")
    from spec.numerics import Tolerance
    rng = random.Random(0)
    checked = 0
    for _ in range(200):
        n = rng.randint(1, 8)
        z = np.array([rng.uniform(-5, 5) for _ in range(n)])
        p = np.exp(z - z.max())
        p /= p.sum()
        for step, mine in [
                (spec_t.TypicalP(0.6, 1, "all"), keep_typical(list(p), math.log, 0.6, 1, "all")),
                (spec_t.EpsilonCutoff(0.1, 2), keep_cutoff(list(p), 0.1, 2)),
                (spec_t.EtaCutoff(0.2, 1), keep_cutoff(list(p), eta_threshold(list(p), 0.2, math.log, math.exp,
                                                                               math.sqrt), 1)),
                (spec_t.TopNSigma(1.0), keep_top_n_sigma(list(z), 1.0, math.sqrt)),
                (spec_t.XTC(1.0, 0.1), xtc_kept(list(p), 0.1, ">", "all"))]:
            row = spec_t.Row(z.copy(), z.copy(), np.ones(n, bool), np.zeros(n, bool), Tolerance(1e-12, 1e-12))
            step.apply(row)
            if not row.boundary.any():
                checked += 1
                assert set(np.flatnonzero(row.keep)) == mine, (step, z)
    assert checked > 500

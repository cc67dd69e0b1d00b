"""The distribution steps: the theorems that claim "the same distribution" check it by machine, not
in prose, and each new step can fail.

- `commute-temperature-repetition` / `commute-repetition-temperature`: z3 over arrays with a symbolic
  row length, each engine's penalty form (the two orders give equal rows), then equal rows give the
  same softmax over a shared keep mask (prefix sums, an induction-rule instance);
- `top-n-sigma-temperature`: given the keep-sets agree, the two orders' distributions agree (z3);
- the five shift theorems: the softmax over one keep-set of z - c is that of z (SymPy, symbolic n).
"""

import pytest
import sympy as sp

from proofs import commute_interval, samplers, symbolic
from proofs.catalogue import BY_ID
from proofs.check import run
from proofs.core import COUNTEREXAMPLE, HOLDS, Context, paper_steps
from proofs.rules import PENALTY_SMT
from proofs.smt import solve

SHIFT = ["typical-shift", "epsilon-shift", "eta-shift", "xtc-shift", "top-n-sigma-shift"]
REPETITION = ["commute-temperature-repetition", "commute-repetition-temperature"]
AFFECTED = [*REPETITION, "top-n-sigma-temperature", *SHIFT]
ENGINES = list(dict.fromkeys(PENALTY_SMT.values()))  # the distinct penalty forms (Hugging Face = mlx-lm)


def _proved(theorem_id):
    theorem = BY_ID[theorem_id]
    r = run(theorem, max_n=4, timeout=60)
    assert r.ok and r.verdict.startswith("proved"), [(s.title, s.status) for s in r.steps]
    assert "modulo" not in r.verdict and paper_steps(r.steps) == 0
    return r


def _names(result):
    return {s.query.name: s for s in result.steps if s.query}


@pytest.mark.parametrize("theorem_id", AFFECTED)
def test_affected_theorems_are_still_proved(theorem_id):
    _proved(theorem_id)


@pytest.mark.parametrize("theorem_id", REPETITION)
def test_repetition_temperature_checks_rows_of_any_length_and_the_softmax(theorem_id):
    steps = _names(_proved(theorem_id))
    for form in ENGINES:
        engine = next(e for e, f in PENALTY_SMT.items() if f == form)
        stem = f"repetition-temperature.rows.{engine.replace(' ', '-').replace('.', '')}"
        for part in ("negation", "premises"):
            s = steps[f"{stem}.{part}"]
            assert s.method == "z3" and s.status == HOLDS
        body = steps[f"{stem}.negation"].query.body
        assert "(Array Int Real)" in body and "(declare-const n Int)" in body  # arrays, symbolic n
        assert form.replace("v", "(/ (select x m) T)") in body  # the engine's own form, on x / T
    for part in ("negation", "premises"):
        s = steps[f"repetition-temperature.softmax.{part}"]
        assert s.method == "z3" and s.status == HOLDS
    softmax = steps["repetition-temperature.softmax.negation"].query.body
    assert commute_interval.SAME_ROWS in softmax  # the rows query's conclusion, word for word
    assert "(declare-fun E (Real) Real)" in softmax and "same-prefix" in softmax


def test_top_n_sigma_temperature_checks_the_distribution():
    steps = _names(_proved("top-n-sigma-temperature"))
    for part in ("negation", "premises"):
        s = steps[f"distribution.{part}"]
        assert s.method == "z3" and s.status == HOLDS
    body = steps["distribution.negation"].query.body
    keep = steps["keep.negation"].query.body
    # the distribution query assumes exactly what the keep query proves, for the same row lengths
    claims = [samplers.sigma_rows(n, scale=True)[2] for n in range(1, samplers.TEMPERATURE_N + 1)]
    assert f"(assert (not {samplers.conj(claims)}))" in keep
    for n, claim in enumerate(claims, 1):
        assert f"(assert {claim})" in body and f"(declare-const n{n}_Q0 Real)" in body
    assert f"(declare-const n{samplers.TEMPERATURE_N + 1}_Q0 Real)" not in body


@pytest.mark.parametrize("theorem_id", SHIFT)
def test_shift_theorems_check_the_masked_softmax(theorem_id):
    r = _proved(theorem_id)
    masked = [s for s in r.steps if s.title == samplers.MASKED_SHIFT_TITLE]
    assert len(masked) == 1
    assert masked[0].method == "sympy" and masked[0].status == HOLDS
    assert r.steps.index(masked[0]) > max(
        i for i, s in enumerate(r.steps) if s.query and s.query.name == "keep.negation")  # after the keep-sets


# --- mutants: each new step can fail -------------------------------------------------------------------

def _negation_status(query, rlimit=50_000_000):
    return solve(query, timeout=60, rlimit=rlimit).status


@pytest.mark.parametrize("engine", ["Hugging Face", "vLLM", "llama.cpp"])
def test_rows_mutant_a_penalty_switching_at_1_does_not_commute(engine):
    """The penalty switching from multiply to divide at 1 instead of 0: temperature moves entries
    across 1, so the orders differ; z3 finds the row."""
    ctx = Context(timeout=60, rlimit=50_000_000)
    *query, witness = commute_interval.repetition_rows(engine, PENALTY_SMT[engine].replace("0.0", "1.0"))
    neg, pre = ctx.proof("mutant", "mutant", *query, witness=witness)
    assert neg.status == COUNTEREXAMPLE and pre.status == HOLDS
    *query, witness = commute_interval.repetition_rows(engine)
    neg, _ = ctx.proof("real", "real", *query, witness=witness)
    assert neg.status == HOLDS


def test_softmax_mutant_with_another_mask_is_not_proved():
    """Equal rows over different keep masks: not the same softmax (z3 finds the masks)."""
    decls, premises, claim, witness = commute_interval.softmax_rows(mask_v="other")
    ctx = Context(timeout=60, rlimit=50_000_000)
    neg, pre = ctx.proof("mutant", "mutant", decls, premises, claim, witness=witness)
    assert neg.status == COUNTEREXAMPLE and pre.status == HOLDS


@pytest.mark.parametrize("mutant", ["no-keep", "no-mask", "no-temperature"])
def test_distribution_mutants_are_not_proved(mutant):
    """Without the keep-set lemma, with top-n-sigma's mask forgotten, or with the temperature not
    applied after top-n-sigma, the two orders' distributions differ: z3 finds a row."""
    (neg, _), (pre, _) = samplers.distribution_jobs(range(1, 4), mutant)
    assert _negation_status(neg) == "sat"
    assert _negation_status(pre) == "sat"
    (neg, _), _ = samplers.distribution_jobs(range(1, 4))
    assert _negation_status(neg) == "unsat"


def _masked_step(monkeypatch, softmax):
    monkeypatch.setattr(samplers, "masked_softmax", softmax)
    ctx = Context()
    samplers.masked_softmax_shift(ctx)
    (step,) = ctx.steps
    assert step.method == "sympy"
    return step


def test_masked_shift_mutant_without_exp_minus_c_in_the_denominator_is_not_proved(monkeypatch):
    """The shifted softmax with exp(-c) dropped from its denominator: the chain does not close."""
    real = samplers.masked_softmax
    c, i, j = symbolic.c, symbolic.i, symbolic.j

    def wrong(logit_of, mask=samplers.MASK):
        return mask[i] * sp.exp(logit_of(i)) / symbolic.sum_j(mask[j] * sp.exp(logit_of(j).subs(c, 0)))
    assert _masked_step(monkeypatch, wrong).status != HOLDS
    assert _masked_step(monkeypatch, real).status == HOLDS


def test_masked_shift_mutant_with_different_masks_is_not_proved(monkeypatch):
    """The shifted softmax over another keep mask than the unshifted one: not proved."""
    real = samplers.masked_softmax
    other = sp.IndexedBase("k", nonnegative=True)

    def wrong(logit_of, mask=samplers.MASK):
        shifted = logit_of(symbolic.i).has(symbolic.c)
        return real(logit_of, other if shifted else mask)
    assert _masked_step(monkeypatch, wrong).status != HOLDS


def test_masked_shift_is_checked_once_and_recorded_in_each_theorem():
    """Five theorems record the same SymPy chain: it is computed once per process, each theorem gets
    its own copy of the step."""
    a, b = Context(), Context()
    samplers.masked_softmax_shift(a)
    samplers.masked_softmax_shift(b)
    assert a.steps[0] is not b.steps[0] and a.steps[0] == b.steps[0]
    assert a.steps[0].status == HOLDS

"""proofs.fidelity: every encoded rule agrees with spec.target on concrete rows, and a wrong rule
(which a shift theorem proves just as well, since it applies the same rule to z and to z - c) does
not. Each mutant replaces a builder the proofs call, so the check must read the builders at check
time."""

import re
from fractions import Fraction as F

import pytest
from encoding_mutants import MUTANTS

from proofs import fidelity as fd
from proofs import samplers
from proofs.core import HOLDS, Context
from proofs.encodings import FIRST_MAX, add

# --- the evaluator on hand cases ---------------------------------------------------------------------

def test_logs_and_exps_are_exact():
    assert fd.lg(F(1, 4)) == 2 * fd.lg(F(1, 2)) and fd.lg(F(1)) == 0
    assert fd.exp(fd.lg(F(3))) == 3 and fd.exp(fd.lg(F(9)) / 2) == 3
    assert fd.exp(fd.lg(F(2)) / 2) * fd.exp(fd.lg(F(2)) / 2) == 2  # sqrt(2)^2, through Exp
    # p = (1/2, 1/4, 1/4): the typicality scores |-log p_i - H| are all (1/2) log 2, exactly
    p = [F(1, 2), F(1, 4), F(1, 4)]
    h = -sum(x * fd.lg(x) for x in p)
    scores = [abs(-fd.lg(x) - h) for x in p]
    assert scores[0] == scores[1] == scores[2] and scores[0] > 0
    assert fd.lg(F(3)) > fd.lg(F(2)) and not fd.lg(F(3)) < fd.lg(F(2))
    assert fd.exp(F(1)) > F(271, 100) and fd.exp(F(1)) < F(272, 100)


def test_surds():
    s = fd.sqrt(F(2))
    assert F(141, 100) < s < F(142, 100) and s * s == 2
    assert fd.sqrt(F(9, 4)) == F(3, 2) and fd.sqrt(F(0)) == 0
    assert 3 - 2 * s > 0 and 1 - s < 0  # 3 - 2 sqrt 2 > 0, 1 - sqrt 2 < 0


def test_first_max_on_ties_is_the_first_index_only():
    a = fd.Arr({0: F(1), 1: F(3), 2: F(3)}, default=F(0))
    got = [fd.evaluate(FIRST_MAX, f"(first-max a 3 {k})", {"a": a, "__n": 3}) for k in ("(- 1)", 0, 1, 2, 3)]
    assert got == [False, False, True, False, False]


def test_terms_macros_and_quantifiers():
    decls = "(declare-const K Int)\n(define-fun twice ((x Real)) Real (* 2.0 x))"
    assert fd.evaluate(decls, "(<= 1 K 9)", {"K": 9}) is True
    assert fd.evaluate(decls, "(<= 1 K 9)", {"K": 10}) is False
    assert fd.evaluate(decls, "(ite (> (twice 1.5) 2.0) (/ 1.0 3.0) 0.0)", {}) == F(1, 3)
    assert fd.evaluate(decls, "(forall ((j Int)) (=> (and (<= 0 j) (< j 3)) (< j K)))", {"K": 3, "__n": 3})
    assert not fd.evaluate(decls, "(forall ((j Int)) (=> (and (<= 0 j) (< j 3)) (< j K)))", {"K": 2, "__n": 3})
    assert fd.evaluate(decls, "(exists ((j Int)) (= (* j j) 4))", {}) is True  # j = -2 or 2, in the window
    assert fd.evaluate(decls, add(["1", "2", "3"]), {}) == 6


def test_premises_are_solved_then_checked():
    e = fd.Encoded("(declare-const a Real)\n(declare-const b Real)", ["(= b (* 2.0 a))", "(> b 3.0)"],
                   "(and (= b (* 2.0 a)) (= a a))")
    left, right = e.run({"a": F(2)})
    assert left == [4, 2] and right == [4, 2]
    with pytest.raises(fd.PremiseFalse):
        e.run({"a": F(1)})  # b = 2 is what the premise defines, and then b > 3 is false


def test_arrays_defined_by_quantified_premises():
    from proofs.encodings import accumulate
    decls = "(declare-const e (Array Int Real))\n(declare-const E (Array Int Real))\n(declare-const n Int)"
    e = fd.Encoded(decls, ["(>= n 1)", *accumulate("E", lambda j: f"(select e {j})")], "(= (select E (- n 1)) 6.0)")
    left, right = e.run({"e": fd.Arr({0: F(1), 1: F(2), 2: F(3)}), "n": 3, "__n": 3})
    assert left == [6] and right == [6]


# --- every rule agrees unmutated -----------------------------------------------------------------------

@pytest.mark.parametrize("rule", fd.RULES)
def test_every_rule_agrees_with_the_spec(rule):
    ctx = Context()
    step = fd.check(ctx, rule)
    assert ctx.steps == [step] and step.method == "fidelity"
    assert step.status == HOLDS, step.detail
    rows = int(re.search(r"on (\d+) rows", step.detail).group(1))
    assert rows >= 200, step.detail


# --- mutants: each must be reported as a mismatch -------------------------------------------------------

@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_is_a_mismatch(name, monkeypatch):
    rule, mutate = MUTANTS[name]
    mutate(monkeypatch)
    ctx = Context()
    step = fd.check(ctx, rule)
    assert step.status == fd.MISMATCH, step.detail
    assert "keeps" in step.detail or "distribution" in step.detail, step.detail


def test_a_false_premise_is_a_mismatch(monkeypatch):
    """The binding must be what the premises define: a premise no row satisfies is reported."""
    original = samplers.shifted

    def shifted(n):
        r, before, after = original(n)
        r.premises.append(f"(> {r.pre}c {r.pre}c)")
        return r, before, after
    monkeypatch.setattr(samplers, "shifted", shifted)
    step = fd.check(Context(), "epsilon", rows=5)
    assert step.status == fd.MISMATCH and "premise" in step.detail, step.detail

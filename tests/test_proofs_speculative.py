"""The speculative-decoding theorems (proofs/speculative.py): each reaches its verdict, the proofs
can fail (mutated verifiers are not proved: z3 finds a counterexample), and the witnesses are
exact."""

from fractions import Fraction as F

import pytest

from proofs import speculative as sp
from proofs.core import COUNTEREXAMPLE, HOLDS, Context
from proofs.smt import Query, solve

IDS = {"speculative-rejection": "proved", "speculative-logits": "refuted", "speculative-token-match": "proved",
       "speculative-shared-coin": "refuted"}


@pytest.mark.parametrize("theorem", IDS)
def test_each_reaches_its_verdict(theorem, theorem_run):
    r = theorem_run(theorem)  # run(BY_ID[theorem], max_n=64, timeout=120), shared with test_proofs.py (conftest.py)
    assert r.ok and r.verdict.startswith(IDS[theorem]) and IDS[theorem] == r.theorem.expected, [
        (s.title, s.status) for s in r.steps]
    if IDS[theorem] == "proved":  # bounded: the verdict names the rows
        assert r.verdict == f"proved for n <= {r.scope.removeprefix('n <= ')}" and r.scope.startswith("n <= ")
    assert not any(s.method == "paper" for s in r.steps)
    if IDS[theorem] == "proved":
        premises = [s for s in r.steps if s.query is not None and s.query.role == "premises"]
        assert premises and all(s.status == HOLDS for s in premises)  # not vacuous


@pytest.mark.parametrize("mutant", ["resample-p", "inverted"])
def test_a_wrong_verifier_is_not_proved(mutant):
    decls, premises, claim = sp._rejection_query(3, mutant)
    body = decls + "\n" + "\n".join(f"(assert {p})" for p in premises) + f"\n(assert (not {claim}))"
    assert solve(Query("mutant", "", body, "unsat", "negation"), 60).status == "sat"
    ctx = Context()
    ctx.proof("m", "mutant", decls, premises, claim)
    assert ctx.steps[0].status == COUNTEREXAMPLE


def test_the_witnesses_are_exact():
    p, q, _, _, out = sp.logits_witness()
    assert p == [F(3, 4), F(1, 4)] and out == q != p
    p, joint, product = sp.shared_coin_witness()
    assert p == [F(1, 2)] * 2 and sum(joint.values()) == 1
    assert joint[0, 0] == F(1, 2) and product[0, 0] == F(1, 4)

"""The commutation table (proofs.commutation, with proofs.commute_smt, commute_proof and
commute_exact): every ordered pair of transforms has a theorem, each reaches its verdict, every
witness re-checks in exact arithmetic, and the table is symmetric."""

import itertools
import re
from fractions import Fraction

import numpy as np
import pytest

from proofs import commutation as cm
from proofs.catalogue import BY_ID, THEOREMS
from proofs.check import run
from proofs.commute_exact import exact_chain, np_chain, recheck
from proofs.commute_proof import MAX_N, plan, rows_queries
from proofs.core import COUNTEREXAMPLE, HOLDS, Context
from proofs.smt import solve

# The table, written out independently of proofs.commutation: which unordered pairs commute.
COMMUTING = {
    ("temperature", "top-k"), ("temperature", "top-k-exact"), ("temperature", "shift"),
    ("top-k", "top-k-exact"), ("top-k", "min-p"), ("top-k-exact", "min-p"),
    ("top-k", "shift"), ("top-k-exact", "shift"), ("top-p", "shift"), ("min-p", "shift"),
    ("bias", "shift"),
}
ORDERED = list(itertools.permutations(cm.TRANSFORMS, 2))
IDS = [cm.theorem_id(a, b) for a, b in ORDERED]


def expected(a, b):
    return "proved" if (a, b) in COMMUTING or (b, a) in COMMUTING else "refuted"


@pytest.fixture(scope="module")
def results():
    return {i: run(BY_ID[i], max_n=64, timeout=120) for i in IDS}


def test_every_ordered_pair_has_a_theorem_in_the_catalogue():
    assert len(cm.TRANSFORMS) == 7 and len(ORDERED) == 42
    assert set(IDS) <= set(BY_ID)
    assert [t.id for t in THEOREMS if t.id.startswith("commute-")] == IDS  # appended, once each


@pytest.mark.parametrize("a, b", ORDERED)
def test_theorem_reaches_its_expected_verdict(results, a, b):
    r = results[cm.theorem_id(a, b)]
    assert r.theorem.expected == expected(a, b) == r.verdict, [(s.title, s.status) for s in r.steps]


@pytest.mark.parametrize("a, b", ORDERED)
def test_every_step_holds_and_has_a_sanity_check(results, a, b):
    steps = results[cm.theorem_id(a, b)].steps
    assert any(s.method == "sanity" and s.status == HOLDS for s in steps)
    bad = COUNTEREXAMPLE if expected(a, b) == "proved" else None
    assert all(s.status in (HOLDS, COUNTEREXAMPLE) and s.status != bad for s in steps)
    assert not any(s.method == "paper" for s in steps)


@pytest.mark.parametrize("a, b", [p for p in ORDERED if expected(*p) == "proved"])
def test_proofs_cover_every_row_length_and_prove_each_lemma_they_use(results, a, b):
    steps = results[cm.theorem_id(a, b)].steps
    queries = {s.query.name: s for s in steps if s.query}
    rows = [q for name, q in queries.items() if not name.startswith("lemma.") and name.endswith(".negation")]
    covered = set()
    for step in rows:
        covered |= {int(n) for n in re.findall(r"\(declare-const n(\d+)_z0 Real\)", step.query.body)}
        assert step.answer.status == "unsat"
        assert queries[step.query.name.replace(".negation", ".premises")].answer.status == "sat"
        for used in re.findall(r"\(define-fun (\S+) ", step.query.body):
            lemma = queries[f"lemma.{used}.negation"]
            assert lemma.answer.status == "unsat"
            # the lemma query proves the very define-fun text that the rows query instantiates
            definition = re.search(rf"\(define-fun {re.escape(used)} .*?\n.*?\n.*?\n", step.query.body).group(0)
            assert definition in lemma.query.body
    assert covered == set(range(1, MAX_N + 1))


@pytest.mark.parametrize("a, b", [p for p in ORDERED if expected(*p) == "refuted"])
def test_every_witness_rechecks_in_exact_arithmetic(a, b):
    ctx = Context()
    BY_ID[cm.theorem_id(a, b)].run(ctx)
    witness = ctx.witness[cm.canonical(a, b)]
    assert all(isinstance(q, int) or q.denominator == 1 for q in witness["q"])
    ok, text = recheck(*cm.canonical(a, b), witness)  # both ids report the canonical order
    assert ok and text in ctx.counterexample
    first, second = exact_chain((a, b), witness), exact_chain((b, a), witness)
    assert first != second
    for keep, dist in (first, second):  # a distribution over the kept entries, exactly
        assert keep and set(dist) == keep and sum(dist.values()) == 1


def test_witness_rechecked_by_hand():
    """One witness computed by hand: z = (log 1, log 2, log 3), T = 1/2, top-p with p = 3/5."""
    w = {"q": [Fraction(x) for x in (1, 2, 3)], "T": Fraction(1, 2), "p": Fraction(3, 5)}
    # temperature first: weights 1, 4, 9 (sum 14); 9/14 > 3/5 is reached by token 2 alone
    assert exact_chain(("temperature", "top-p"), w) == (frozenset({2}), {2: 1})
    # top-p first: 3/6 < 3/5, so token 1 stays; then temperature over {1, 2}: 4/13, 9/13
    assert exact_chain(("top-p", "temperature"), w) == (
        frozenset({1, 2}), {1: Fraction(4, 13), 2: Fraction(9, 13)})


@pytest.mark.parametrize("a, b", [("temperature", "bias"), ("top-k", "top-p"), ("min-p", "bias")])
def test_the_proof_encoding_can_fail(a, b):
    """The proof encoding of a pair that does not commute is not unsat: z3 finds a model of the
    negated claim (with E free, so not itself a witness), so the proofs are not vacuous."""
    neg = next(q for q, _ in rows_queries(a, b, [plan(a, b, 2)]) if q.name.endswith("negation"))
    assert solve(neg, 60).status == "sat"


def test_matrix_is_symmetric_and_matches_the_verdicts(results):
    table = cm.matrix_markdown(results)
    assert table == cm.matrix_markdown() == cm.matrix_markdown(list(results.values()))
    rows = [line.split("|")[2:-1] for line in table.splitlines()[2:]]
    cells = [[c.strip() for c in row] for row in rows]
    n = len(cm.TRANSFORMS)
    assert len(cells) == n and all(len(r) == n for r in cells)
    for i, j in itertools.product(range(n), repeat=2):
        a, b = cm.TRANSFORMS[i], cm.TRANSFORMS[j]
        assert cells[i][j] == cells[j][i]
        assert cells[i][j] == ("—" if i == j else "=" if expected(a, b) == "proved" else "≠")


def test_sanity_implementation_agrees_with_the_exact_rules():
    """numpy float64 and the exact Fractions rules give the same keep-sets on rows without ties."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        q = [Fraction(int(x)) for x in rng.choice(np.arange(1, 10), 3, replace=False)]
        prm = {"q": q, "T": Fraction(1, 2), "K": int(rng.integers(1, 4)), "t": Fraction(1),
               "p": Fraction(int(rng.integers(1, 10)), 10), "m": Fraction(int(rng.integers(1, 10)), 10),
               "beta": [Fraction(1)] * 3}
        fprm = {"T": 0.5, "K": prm["K"], "p": float(prm["p"]), "m": float(prm["m"]), "c": 0.0, "b": np.zeros(3)}
        z = np.log(np.array([float(x) for x in q]))
        for a, b in ORDERED:
            robust: list = []
            keep, _ = exact_chain((a, b), prm, robust)
            if all(robust):
                kept, _ = np_chain((a, b), z, fprm)
                assert set(np.flatnonzero(kept)) == set(keep), (a, b, prm)

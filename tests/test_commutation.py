"""The commutation table (proofs.commutation, with proofs.commute_smt, commute_proof, commute_exact
and commute_interval): every ordered pair of transforms has a theorem (its own, or the one another
theorem already states), each reaches its verdict, every witness re-checks exactly (Fractions or
decided intervals) and in spec.target, and the table is symmetric."""

import itertools
import re
from fractions import Fraction

import numpy as np
import pytest

from proofs import commutation as cm
from proofs import commute_interval as ci
from proofs.catalogue import BY_ID, THEOREMS
from proofs.commute_exact import exact_chain, np_chain, recheck
from proofs.commute_proof import MAX_N, plan, rows_queries
from proofs.core import COUNTEREXAMPLE, HOLDS, Context
from proofs.smt import solve

# The table, written out independently of proofs.commutation: which unordered pairs commute.
COMMUTING = {
    ("temperature", "top-k"), ("temperature", "top-k-exact"), ("temperature", "shift"),
    ("top-k", "top-k-exact"), ("top-k", "min-p"), ("top-k-exact", "min-p"),
    ("top-k", "shift"), ("top-k-exact", "shift"), ("top-p", "shift"), ("min-p", "shift"),
    ("bias", "shift"), ("repetition", "temperature"), ("typical", "shift"), ("epsilon", "shift"),
    ("eta", "shift"), ("xtc", "shift"), ("top-n-sigma", "shift"), ("top-n-sigma", "temperature"),
}
ALL = list(itertools.permutations(cm.TRANSFORMS, 2))
ORDERED = [(a, b) for a, b in ALL if cm.theorem_id(a, b).startswith("commute-")]  # pairs with their own theorem
EXACT = [(a, b) for a, b in ORDERED if cm.exact(a, b)]
IDS = [cm.theorem_id(a, b) for a, b in ALL]


def expected(a, b):
    return "proved" if (a, b) in COMMUTING or (b, a) in COMMUTING else "refuted"


@pytest.fixture(scope="module")
def results(theorem_run):
    return {i: theorem_run(i) for i in dict.fromkeys(IDS)}  # run(BY_ID[i], max_n=64, timeout=120), shared (conftest.py)


def test_every_ordered_pair_has_a_theorem_in_the_catalogue():
    assert len(cm.TRANSFORMS) == 13 and len(ALL) == 156 and len(ORDERED) == 142
    assert set(IDS) <= set(BY_ID)
    own = [cm.theorem_id(a, b) for a, b in ORDERED]
    assert [t.id for t in THEOREMS if t.id.startswith("commute-")] == own  # appended, once each
    # the rest are decided by the theorem that states the same claim, which exists once
    assert {cm.theorem_id(a, b) for a, b in ALL if (a, b) not in ORDERED} == set(cm.DECIDED_BY.values())


@pytest.mark.parametrize("a, b", ALL)
def test_theorem_reaches_its_expected_verdict(results, a, b):
    r = results[cm.theorem_id(a, b)]
    assert r.theorem.expected == expected(a, b) and r.ok, [(s.title, s.status) for s in r.steps]
    if cm.exact(a, b) and expected(a, b) == "proved":  # the z3 proofs check rows of n <= 5
        assert r.verdict == f"proved for n <= {cm.MAX_N}"


@pytest.mark.parametrize("a, b", ORDERED)
def test_every_step_holds_and_has_a_sanity_check(results, a, b):
    steps = results[cm.theorem_id(a, b)].steps
    assert any(s.method == "sanity" and s.status == HOLDS for s in steps)
    bad = COUNTEREXAMPLE if expected(a, b) == "proved" else None
    assert all(s.status in (HOLDS, COUNTEREXAMPLE) and s.status != bad for s in steps)
    assert not any(s.method == "paper" for s in steps)


@pytest.mark.parametrize("a, b", [p for p in EXACT if expected(*p) == "proved"])
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


@pytest.mark.parametrize("a, b", [p for p in EXACT if expected(*p) == "refuted"])
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
    ids = {cm.theorem_id(a, b) for a, b in itertools.permutations(cm.TRANSFORMS, 2)}
    catalogue = {i: BY_ID[i].expected_verdict(BY_ID[i].scope_of(Context())) for i in ids}  # what a run should reach
    assert table == cm.matrix_markdown(catalogue) == cm.matrix_markdown(list(results.values()))
    rows = [line.split("|")[2:-1] for line in table.splitlines()[2:]]
    cells = [[c.strip() for c in row] for row in rows]
    n = len(cm.TRANSFORMS)
    assert len(cells) == n and all(len(r) == n for r in cells)
    assert "?" not in table
    for i, j in itertools.product(range(n), repeat=2):
        a, b = cm.TRANSFORMS[i], cm.TRANSFORMS[j]
        assert cells[i][j] == cells[j][i]
        scope = "" if i == j else results[cm.theorem_id(a, b)].scope  # "n <= 5", or "" for every n
        proved = f"= (n ≤ {scope.removeprefix('n <= ')})" if scope else "="
        assert cells[i][j] == ("—" if i == j else proved if expected(a, b) == "proved" else "≠")


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
        for a, b in EXACT:
            robust: list = []
            keep, _ = exact_chain((a, b), prm, robust)
            if all(robust):
                kept, _ = np_chain((a, b), z, fprm)
                assert set(np.flatnonzero(kept)) == set(keep), (a, b, prm)


# --- the pairs decided in interval arithmetic (proofs.commute_interval) ----------------------------

@pytest.mark.parametrize("a, b", [p for p in ORDERED if not cm.exact(*p) and expected(*p) == "refuted"])
def test_every_interval_witness_is_decided_and_the_spec_reproduces_it(results, a, b):
    r = results[cm.theorem_id(a, b)]
    assert [s.method for s in r.steps] == ["exact", "sanity"]
    witness = ci.find_witness(*cm.canonical(a, b))
    assert ci.differ(a, b, witness) and ci.differ(b, a, witness)  # decided, in either order
    assert ci.explain(*cm.canonical(a, b), witness) in r.counterexample
    assert ci.spec_reproduces(a, b, witness)


def test_the_commuting_pairs_have_no_interval_witness():
    """The search cannot report a witness where the orders agree: every candidate of a commuting
    pair either agrees or is undecided."""
    assert ci.find_witness("top-n-sigma", "temperature") is None
    assert ci.find_witness.__wrapped__("repetition", "temperature") is None


def test_interval_comparisons_are_decided_or_refused():
    one, two = ci.Num(1), ci.log(ci.Num(Fraction(7, 2)))  # log 3.5 = 1.2528
    assert one < two and two > one and one != two and not one == two
    third = ci.Num(1) / 3
    with pytest.raises(ci.Undecided):  # 1/3 * 3 and 1 overlap: never decided as equal or unequal
        third * 3 == one  # noqa: B015
    with pytest.raises(ci.Undecided):
        abs(third * 3 - 1)
    tie = {"q": [Fraction(2), Fraction(2), Fraction(1)], "K": 1}  # a tie at the top-k cut: not a witness
    with pytest.raises(ci.Undecided):
        ci.chain(("top-k-exact", "temperature"), {**tie, "T": Fraction(1, 2)})


def test_the_repetition_temperature_proof_fails_for_a_shifted_temperature():
    """Mutant: a temperature that subtracts the row max first, (x - M) / T, does not commute with the
    penalty: z3 finds the counterexample, so the proof is not vacuous."""
    from proofs.core import Context
    ctx = Context()
    rep = lambda v: ci._repeat(v, "Hugging Face")  # noqa: E731
    decls = ("(declare-const x Real)\n(declare-const theta Real)\n(declare-const T Real)\n(declare-const seen Bool)\n"
             "(declare-const M Real)")
    steps = ctx.proof("mutant", "shifted temperature", decls, ["(> theta 0.0)", "(> T 0.0)"],
                      f"(= {rep('(/ (- x M) T)')} (/ (- {rep('x')} M) T))")
    assert steps[0].status == COUNTEREXAMPLE

"""Every theorem reaches its expected verdict, every proof is non-vacuous, and the checking
machinery can fail: a false claim is refuted, a timeout or contradictory premises are not proved."""

import itertools
import re
from fractions import Fraction
from pathlib import Path

import pytest

from proofs import symbolic
from proofs.catalogue import BY_ID, THEOREMS
from proofs.check import run
from proofs.core import (
    COUNTEREXAMPLE,
    HOLDS,
    INCONCLUSIVE,
    MISMATCH,
    NOT_CONFIRMED,
    NOT_FAITHFUL,
    NOT_RUN,
    Context,
    Step,
    verdict,
)
from proofs.encodings import ENCODINGS, FIRST_MAX, arrays, consts
from proofs.smt import Query, parse_values, real, solve


@pytest.fixture(scope="module")
def results(theorem_run):
    return {t.id: theorem_run(t.id) for t in THEOREMS}  # run(t, max_n=64, timeout=1800), shared (conftest.py)


@pytest.mark.parametrize("theorem_id", [t.id for t in THEOREMS])
def test_theorem_reaches_expected_verdict(results, theorem_id):
    r = results[theorem_id]
    assert r.ok and r.verdict == BY_ID[theorem_id].expected_verdict(r.scope), [(s.title, s.status) for s in r.steps]
    assert r.verdict.startswith(BY_ID[theorem_id].expected)


@pytest.mark.parametrize("theorem_id", [t.id for t in THEOREMS if t.expected.startswith("proved")])
def test_every_z3_proof_checks_its_premises_are_satisfiable(results, theorem_id):
    steps = results[theorem_id].steps
    negations = [s.query.name.removesuffix(".negation") for s in steps
                 if s.query and s.query.role == "negation"]
    premises = {s.query.name.removesuffix(".premises"): s for s in steps
                if s.query and s.query.role == "premises"}
    for name in negations:
        assert premises[name].answer.status == "sat", name


@pytest.mark.parametrize("theorem_id", [t.id for t in THEOREMS])
def test_every_theorem_has_a_sanity_check(results, theorem_id):
    sanity = [s for s in results[theorem_id].steps if s.method == "sanity"]
    assert sanity and all(s.status == HOLDS for s in sanity)


def test_refutations_are_confirmed_in_exact_arithmetic(results):
    for theorem in THEOREMS:
        if theorem.expected == "refuted":
            r = results[theorem.id]
            exact = [s for s in r.steps if s.method == "exact"]
            assert exact and all(s.status == COUNTEREXAMPLE for s in exact)
            assert r.counterexample


def test_false_variant_vector_shift_is_refuted_by_the_proof_machinery(results):
    r = results["argmax-vector-shift"]
    negation = next(s for s in r.steps if s.query and s.query.role == "negation")
    assert negation.answer.status == "sat" and negation.status == COUNTEREXAMPLE
    assert r.verdict == "refuted"


def test_argmax_shift_bounded_sizes_cover_1_to_16_and_powers_of_two(results):
    names = {s.query.name for s in results["argmax-shift"].steps if s.query}
    for n in [*range(1, 17), 32, 64]:
        assert f"bounded.n{n}.negation" in names
    assert "bounded.n128.negation" not in names  # max_n = 64 in this run


def test_timeout_is_never_proved():
    decls, premises, claim = ENCODINGS["ite-chain"](256)  # takes z3 far longer than 0.5 s
    ctx = Context(timeout=0.5)
    neg, _ = ctx.proof("slow", "slow", decls, premises, claim)
    assert neg.answer.status in ("timeout", "unknown")
    assert neg.status == INCONCLUSIVE and verdict(ctx.steps) == "not proved"


def _rlimit_count(query) -> int:
    """The resource units z3 spends on a query (its `-st` statistics)."""
    import re
    import subprocess

    from proofs.smt import z3_binary
    out = subprocess.run([z3_binary(), "-in", "-st"], input=query.script(), capture_output=True, text=True,
                         timeout=600).stdout
    return int(re.search(r":rlimit-count\s+(\d+)", out).group(1))


def test_the_resource_limit_decides_not_the_wall_clock():
    """The verdict of a query depends on z3's resource count, which is the same on a busy or an
    idle machine: half the units it needs is `resource limit` (not proved), twice is `unsat`, and
    both hold with a wall-clock limit far above the time either takes."""
    decls, premises, claim = ENCODINGS["one-hot"](32)
    ctx = Context()
    neg, _ = ctx.proof("count", "count", decls, premises, claim)
    assert neg.status == HOLDS
    need = _rlimit_count(neg.query)
    assert _rlimit_count(neg.query) == need  # deterministic
    assert solve(neg.query, timeout=600, rlimit=need // 2).status == "resource limit"
    assert solve(neg.query, timeout=600, rlimit=2 * need).status == "unsat"
    ctx = Context(rlimit=need // 2)
    ctx.proof("count", "count", decls, premises, claim)
    assert verdict(ctx.steps) == "not proved"


def test_contradictory_premises_make_a_proof_vacuous_not_proved():
    ctx = Context()
    neg, pre = ctx.proof("vacuous", "x > 1 and x < 0 imply anything", "(declare-const x Real)",
                         ["(> x 1.0)", "(< x 0.0)"], "(= x 42.0)")
    assert neg.answer.status == "unsat"  # the negation alone would look like a proof
    assert pre.answer.status == "unsat" and pre.status == INCONCLUSIVE
    assert verdict(ctx.steps) == "not proved"


def test_a_false_claim_gives_a_counterexample():
    ctx = Context()
    decls = f"{FIRST_MAX}\n{arrays('z', 'y')}\n{consts('Int', 'n', 'k')}"
    # y = z shifted by one position is NOT a per-row shift: argmax moves
    ctx.proof("moved", "argmax of a rotated row", decls,
              ["(>= n 2)", "(forall ((i Int)) (= (select y i) (select z (+ i 1))))"],
              "(= (first-max z n k) (first-max y n k))")
    assert ctx.steps[0].status == COUNTEREXAMPLE  # z3 found a model of the negated claim ...
    assert verdict(ctx.steps) == NOT_CONFIRMED  # ... which no exact step re-checked: not a refutation
    ctx.step("the model, re-checked", "exact", COUNTEREXAMPLE)
    assert verdict(ctx.steps) == "refuted"


def test_sympy_difference_that_is_not_zero_is_not_proved():
    ctx = Context()
    x = symbolic.z[symbolic.i]
    symbolic.finish(ctx, "wrong", x, x + 1, [("nothing", x)], 0.0)
    assert ctx.steps[-1].status == INCONCLUSIVE and verdict(ctx.steps) == "not proved"


def test_verdict_rules():
    def step(status):
        return Step("s", "z3", status)
    assert verdict([]) == "not proved"
    assert verdict([step(HOLDS), step(HOLDS)]) == "proved"
    assert verdict([step(HOLDS), step(COUNTEREXAMPLE)]) == NOT_CONFIRMED  # a z3 model alone
    assert verdict([step(COUNTEREXAMPLE), Step("s", "exact", COUNTEREXAMPLE)]) == "refuted"
    assert verdict([step(HOLDS), Step("f", "fidelity", MISMATCH)]) == NOT_FAITHFUL
    assert verdict([step(HOLDS)], "n <= 6") == "proved for n <= 6"
    assert verdict([step(INCONCLUSIVE)], "n <= 6") == "not proved"
    assert verdict([step(COUNTEREXAMPLE), step(INCONCLUSIVE)]) == "not proved"
    paper = Step("induction", "paper", HOLDS)
    assert verdict([step(HOLDS), paper]) == "proved (modulo 1 paper step)"  # never plain "proved"
    assert verdict([step(HOLDS), paper, paper]) == "proved (modulo 2 paper steps)"
    assert verdict([step(HOLDS), Step("float32", "not run", NOT_RUN)]) == "proved"  # supports nothing


def test_no_paper_step_counts_as_proved(results):
    """summary.json's paper_steps and the verdict agree: a theorem with a step argued on paper is
    never reported as plain "proved"."""
    from proofs.core import paper_steps
    for r in results.values():
        if paper_steps(r.steps):
            assert r.verdict == f"proved (modulo {paper_steps(r.steps)} paper step)", r.theorem.id


def test_model_values_are_read_exactly():
    q = Query("t", "t", "(declare-const x Real)(declare-const b Bool)(assert (= x (/ (- 7.0) 3.0)))"
              "(assert b)", "sat", "search", ("x", "b"))
    answer = solve(q, 10)
    assert answer.status == "sat" and answer.values == {"x": Fraction(-7, 3), "b": True}
    assert parse_values("((k (- 3)) (y (/ 1.0 4.0)))") == {"k": -3, "y": Fraction(1, 4)}
    assert real(Fraction(-3, 2)) == "(- (/ 3.0 2.0))" and real(2) == "2.0"


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_bench_encoding_proves_small_n_and_refutes_nothing(encoding):
    decls, premises, claim = ENCODINGS[encoding](8)
    ctx = Context()
    ctx.proof("enc", encoding, decls, premises, claim)
    assert verdict(ctx.steps) == "proved"


# --- no step on paper: induction-rule instances, top-p in probability space, and their mutants -------

def _negation(decls, premises, claim, pins=()):
    """The query Context.proof builds from premises and the negated claim, plus optional pins
    (a model of the pinned query is a model of the query)."""
    body = "\n".join([decls, *(f"(assert {p})" for p in [*premises, f"(not {claim})", *pins])])
    return Query("mutant", "mutant", body, "unsat", "negation")


@pytest.mark.parametrize("part", ["first_max_function", "inverse_cdf", "top_k_rank", "top_p_unbounded",
                                  "min_p_prob_space"])
def test_induction_instance_proofs_are_machine_checked(part):
    from proofs import order
    ctx = Context()
    getattr(order, part)(ctx)
    assert all(s.method == "z3" for s in ctx.steps)
    assert verdict(ctx.steps) == "proved", [(s.title, s.answer.status) for s in ctx.steps]


@pytest.mark.parametrize("theorem_id, queries", [
    ("argmax-shift", ["first-max.exists"]), ("gumbel-coupling", ["inverse-cdf.scale"]),
    ("filters-shift", ["top-k.rank", "top-p.n6", "top-p.keep", "min-p.prob-space"])])
def test_shift_theorems_are_proved_with_no_paper_step(theorem_id, queries):
    from proofs.core import paper_steps
    r = run(BY_ID[theorem_id], max_n=16, timeout=120)
    names = {s.query.name for s in r.steps if s.query}
    for query in queries:
        assert {f"{query}.negation", f"{query}.premises"} <= names
    assert paper_steps(r.steps) == 0 and r.verdict == "proved" and r.ok  # every n: no scope


@pytest.mark.parametrize("size", [1, 3, 6])
def test_top_p_bounded_in_probability_space_is_proved(size):
    from proofs.order import top_p_bounded
    decls, premises, lemma, claim = top_p_bounded(size)
    ctx = Context()
    ctx.proof("lemma", "q = p", decls, premises, lemma)
    ctx.proof("keep", "keep-sets agree", decls, [*premises, lemma], claim)
    assert verdict(ctx.steps) == "proved"


def test_running_argmax_picking_the_last_maximum_does_not_prove_first_max():
    """With >= the running argmax picks the LAST maximum: the same induction query must not prove
    first-max. z3 cannot build a model of the quantified premises itself (resource limit, not
    unsat); pinned to a row of zeros and K[n] = n - 1 it is sat, a genuine counterexample."""
    from proofs.order import running_argmax
    decls, premises, claim, _ = running_argmax(">=")
    assert solve(_negation(decls, premises, claim), timeout=60, rlimit=5_000_000).status != "unsat"
    pins = ("(= a ((as const (Array Int Real)) 0.0))", "(= K (lambda ((n Int)) (ite (<= n 1) 0 (- n 1))))")
    assert solve(_negation(decls, premises, claim, pins), timeout=60).status == "sat"
    decls, premises, claim, _ = running_argmax(">")  # the same budget proves the real one
    assert solve(_negation(decls, premises, claim), timeout=60, rlimit=5_000_000).status == "unsat"
    assert solve(_negation(decls, premises, claim, pins), timeout=60).status == "unsat"


def _top_p_keep(row, top_p, min_keep):
    """TOP_P_RULE in exact arithmetic: rank by value (ties to the lower index), keep iff the value
    mass ranked before is < top_p or fewer than min_keep entries are ranked before."""
    keep = []
    for i, v in enumerate(row):
        before = [u for j, u in enumerate(row) if u > v or (u == v and j < i)]
        keep.append(sum(before, Fraction(0)) < top_p or len(before) < min_keep)
    return keep


@pytest.mark.parametrize("reads", ["logits", "weights"])
def test_top_p_reading_logits_or_weights_is_not_shift_invariant(reads):
    """Top-p is shift-invariant only because it reads normalised probabilities: the same rule on the
    raw logits (z vs z - c) or the unnormalised weights (e vs e * t) is refuted, and the
    counterexample re-checked exactly."""
    from proofs.order import top_p_bounded
    decls, premises, lemma, claim = top_p_bounded(3, reads)
    assert lemma is None
    u, v = {"logits": "zy", "weights": "ef"}[reads]
    rows = tuple(f"{r}{i}" for r in (u, v) for i in range(3))
    q = _negation(decls, premises, claim)
    answer = solve(Query(q.name, q.purpose, q.body, "sat", "search", (*rows, "top_p", "min_keep")), timeout=60)
    assert answer.status == "sat"
    x = answer.values
    row = [x[f"{u}{i}"] for i in range(3)]
    shifted = [x[f"{v}{i}"] for i in range(3)]
    if reads == "logits":
        c = row[0] - shifted[0]
        assert all(a - b == c for a, b in zip(row, shifted, strict=True))
    else:
        t = shifted[0] / row[0]
        assert t > 0 and all(a > 0 and b == a * t for a, b in zip(row, shifted, strict=True))
    assert _top_p_keep(row, x["top_p"], x["min_keep"]) != _top_p_keep(shifted, x["top_p"], x["min_keep"])


def test_readme_verdicts_name_their_scope():
    """Nothing bounded reads as unbounded: the README's theorem tables and commutation matrix say what
    a run with coqc reaches (CI installs it), scope and evidence included ("proved for every n (Coq
    kernel)"), and what z3 and SymPy alone reach ("without coqc: `proved for n <= 6`"), as the
    catalogue and the Coq files' annotations state them."""
    from proofs import commutation
    from proofs.check import coq_statements, kernel_for

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    coq = coq_statements(BY_ID)

    def run_with_coqc(t):
        return t.expected_verdict(t.scope_of(Context()), kernel_for(t.id, coq.get(t.id, [])))

    rows = re.findall(r"^\| `([a-z0-9-]+)` \| ((?:proved|refuted)[^|]*?) \| ([^|]*?) \|", readme, re.M)
    assert len(rows) >= 20
    for theorem_id, said, every_n in rows:
        t = BY_ID[theorem_id]
        assert said == run_with_coqc(t), theorem_id
        if t.expected == "proved":
            assert every_n.endswith(f"(without coqc: `{t.expected_verdict(t.scope_of(Context()))}`)"), theorem_id
        assert ("Coq kernel" in every_n) == (t.id in coq), theorem_id
    ids = {commutation.theorem_id(a, b) for a, b in itertools.permutations(commutation.TRANSFORMS, 2)}
    assert commutation.matrix_markdown({i: run_with_coqc(BY_ID[i]) for i in ids}) in readme


@pytest.mark.parametrize("theorem_id", [t.id for t in THEOREMS if t.expected == "proved"])
def test_every_proof_has_a_fidelity_line(results, theorem_id):
    """Each proved theorem ties what the solver saw to the spec: encoded rules evaluated against
    spec.target (`fidelity`), or the declared float formats against numpy / mlx (`format`); a
    theorem with no spec counterpart says so in a `not run` fidelity step, which supports nothing."""
    lines = [s for s in results[theorem_id].steps if s.method in ("fidelity", "format")]
    assert lines and all(s.status in (HOLDS, NOT_RUN) for s in lines), theorem_id
    assert any(s.status == HOLDS for s in lines) or theorem_id == "speculative-token-match"

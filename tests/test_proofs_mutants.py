"""The checker checked: mutated statements and encodings must not be proved.

Each mutant runs a catalogue theorem (proofs.catalogue, the same `run` as `python -m proofs.check`,
bounded n, a small z3 resource limit) twice: unmutated, it reaches its expected verdict; mutated,
it does not (a theorem expected `proved` is `refuted` or `not proved`, a refutation is `not proved`:
never a false refutation). Where a genuine countermodel exists, the mutated query must also be
answered `sat`, not merely run out of resources.

Two mechanisms, as in the older scattered mutants (tests/test_floating.py, tests/test_proofs.py):
monkeypatching what a query builder reads (a rule function, a format table, a lemma's comparison),
or rewriting one query's SMT-LIB text on its way to z3 (`proofs.core.solve`, and the `solve` of the
commutation modules, which proofs.samplers also uses), for claims and premises the builders write
inline. Every rewrite must hit its query, so a mutant cannot silently be the original.

Why the filter mutants change the rule only where it reads the shifted row: the theorems say the
rule keeps the same tokens for z and z - c, and that stays true for any rule read on both rows
(`<=` is as shift-invariant as `<`). The mutant is the engine that departs from the spec on the
log-probabilities: spec rule on z, mutated rule on z - c.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from encoding_mutants import MUTANTS as ENCODING_MUTANTS

from proofs import core, floating, order, rules, symbolic
from proofs.catalogue import BY_ID
from proofs.check import run
from proofs.core import INCONCLUSIVE, NOT_CONFIRMED, NOT_FAITHFUL
from proofs.encodings import induction
from proofs.smt import RLIMIT

MAX_N = 4  # argmax-shift's bounded proofs: n = 1..4
RLIMIT_SMALL = 10_000_000  # z3 resource units per query: every unmutated proof here needs < 2e6


@dataclass(frozen=True)
class Mutant:
    id: str
    theorem: str
    how: str
    mutate: Callable = lambda mp: {}  # applies monkeypatches; returns {query-name regex: (old, new)}
    sat: tuple[str, ...] = ()  # queries z3 must answer `sat` under the mutant (a genuine countermodel)
    check: Callable | None = None  # further assertions on the mutant's Result
    prepare: Callable = lambda mp: None  # applied to BOTH runs (what is not at issue)
    timeout: float = 60.0
    rlimit: int = RLIMIT_SMALL
    verdict: str | tuple[str, ...] = ()  # the verdict(s) the mutant must reach, when it is known
    true_claim: bool = False  # the mutated claim is still true: it must not be refuted (it may be proved)


# --- the mutations --------------------------------------------------------------------------------

def _lhs_times_two(mp):
    """The statement's left-hand side doubled: the chain's first link no longer starts from it."""
    finish = symbolic.finish
    mp.setattr(symbolic, "finish", lambda ctx, title, lhs, rhs, steps, t0: finish(ctx, title, 2 * lhs, rhs, steps, t0))
    return {}


def _encoding(name):
    """One of tests/encoding_mutants.py's wrong rules, applied to both rows (what the fidelity step catches)."""
    def mutate(mp):
        ENCODING_MUTANTS[name][1](mp)
        return {}
    return mutate


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _top_n_sigma_raises(mp):
    def broken(row, n, sqrt):
        raise ZeroDivisionError("float division by zero")
    mp.setattr(rules, "keep_top_n_sigma", broken)
    return {}


def _xtc_removes_everything(mp):
    mp.setattr(rules, "xtc_kept", lambda *args, **kwargs: set())
    return {}


def _checker_error_is_a_step(result):
    errors = [s for s in result.steps if s.method == "error"]
    assert errors and "ZeroDivisionError" in errors[0].detail and errors[0].status == INCONCLUSIVE


def _softmax_times_two(mp):
    finish = symbolic.finish
    mp.setattr(symbolic, "finish", lambda ctx, title, lhs, rhs, steps, t0: finish(ctx, title, lhs, 2 * rhs, steps, t0))
    return {}


def _top_p_on_shifted_row(mutated: Callable[[str], str]):
    """order.top_p_keep, the builder of filters-shift's bounded top-p claims, mutated for the
    shifted probabilities q only (the spec's rule stays on p)."""
    def mutate(mp):
        keep = order.top_p_keep
        mp.setattr(order, "top_p_keep", lambda row, i, size: mutated(keep(row, i, size)) if row == "q"
                   else keep(row, i, size))
        return {}
    return mutate


def _leq(test: str) -> str:
    assert test.startswith("(or (< ")
    return test.replace("(or (< ", "(or (<= ", 1)


def _last_maximum(mp):
    running_argmax = order.running_argmax
    mp.setattr(order, "running_argmax", lambda better=">": running_argmax(">="))
    return {}


def _drop(text: str) -> tuple[str, str]:
    return (text, "")


def _wrong_bfloat16(split):
    def mutate(mp):
        mp.setitem(floating.FORMATS, "bfloat16", split)
        return {}
    return mutate


def _bfloat16_witness_rejected(result):
    exact = [s for s in result.steps if s.method == "exact" and s.title.startswith("bfloat16")]
    assert exact and all(s.status == INCONCLUSIVE for s in exact)
    assert "are not all bfloat16 numbers" in exact[0].detail  # rejected by the round trip through mlx
    assert "bfloat16" not in result.counterexample


def _bfloat16_not_refuted(result):
    confirm = [s for s in result.steps if s.method == "z3" and s.query.name == "logprobs.bfloat16"]
    assert confirm and confirm[0].status == INCONCLUSIVE  # z3 cannot confirm the certified row in (8, 9)


def _premises_contradict_the_pinned_row(result):
    """z3 cannot build a model of the quantified premises, and the row of zeros with K = 0 that
    pins the non-vacuity check is no model of the `>=` recurrence (K[2] = 1)."""
    by_name = {s.query.name: s.answer.status for s in result.steps if s.query}
    assert by_name["first-max.exists.negation"] != "unsat" and by_name["first-max.exists.premises"] == "unsat"


def _guard_in_bfloat16(mp):
    """fp-sub-monotone's queries (minutes of z3) are not at issue (as in tests/test_floating.py), and
    bfloat16 alone keeps the file fast: each format's strict-at-max query takes z3 about 5 s."""
    mp.setattr(floating, "_monotone_steps", lambda ctx: None)
    mp.setattr(floating, "formats", lambda ctx: ["bfloat16"])


def _weaken_guard(mp):
    mp.setattr(floating, "STRICT", "fp.leq")
    return {}


def _guard_composition_fails(result):
    by_name = {s.query.name: s for s in result.steps if s.query}
    assert by_name["strict-at-max.bfloat16.negation"].answer.status == "unsat"  # a weaker lemma, still valid
    assert by_name["guard.bfloat16.negation"].answer.status in ("resource limit", "unknown")


MIN_P_PROB_SPACE = "(= (>= (select z i) (+ (select z kz) logm)) (>= (select p i) (* m (select p kp))))"
TOP_P_QUERIES = tuple(f"top-p.n{n}.negation" for n in order.TOP_P_SIZES)  # filters-shift's bounded top-p
FIRST_MAX_RULE, _ = induction("Q", 1)  # the instance order.running_argmax asserts
SCALE_RULE, _ = induction("P", 0, "m")  # the instance order.inverse_cdf asserts

MUTANTS = [
    Mutant("argmax-plus-one", "argmax-shift", "claim argmax(z - c) = argmax(z) + 1: unbounded.invariance's claim "
           "(first-max y n k) -> (first-max y n (+ k 1))",
           lambda mp: {r"unbounded\.invariance\.negation": ("(first-max y n k))", "(first-max y n (+ k 1)))")},
           sat=("unbounded.invariance.negation",)),
    Mutant("softmax-times-two", "softmax-shift", "claim softmax(z - c) = 2 softmax(z): the right-hand side of "
           "every SymPy proof doubled (symbolic.finish)", _softmax_times_two),
    Mutant("top-p-leq", "filters-shift", "top-p's `mass before < p` changed to `<=` on the shifted row "
           "(order.top_p_keep)", _top_p_on_shifted_row(_leq), sat=TOP_P_QUERIES),
    Mutant("top-p-keeps-all", "filters-shift", "top-p keeps every token of the shifted row (order.top_p_keep "
           "-> true)", _top_p_on_shifted_row(lambda test: "true"),
           sat=TOP_P_QUERIES),
    Mutant("min-p-gt", "filters-shift", "min-p's `>=` changed to `>` on the shifted row (min-p.keep's claim)",
           lambda mp: {r"min-p\.keep\.negation": ("(>= (select y i) (+ (select y ky) logm))",
                                                   "(> (select y i) (+ (select y ky) logm))")},
           sat=("min-p.keep.negation",)),
    Mutant("dropped-premise", "temperature-shift", "premise T > 0 dropped from the argmax query (negation and "
           "premises)", lambda mp: {r"argmax\.(negation|premises)": _drop("(assert (> T 0.0))")},
           sat=("argmax.negation",)),
    Mutant("argmax-no-induction", "argmax-shift", "the induction-rule instance for the running argmax deleted "
           "from first-max.exists", lambda mp: {r"first-max\.exists\.negation": _drop(f"(assert {FIRST_MAX_RULE})")},
           timeout=10.0),
    Mutant("argmax-last-maximum", "argmax-shift", "the running argmax's recurrence picks on `>=` (the LAST "
           "maximum) instead of `>` (order.running_argmax): it is no first maximum",
           _last_maximum, check=_premises_contradict_the_pinned_row),
    # z3 does not honour rlimit on this query (it ran to a 60 s timeout under 2e6 units): a short
    # wall-clock limit; timeout and resource limit are both `not proved`
    Mutant("gumbel-no-induction", "gumbel-coupling", "the induction-rule instance for the scaled prefix sums "
           "deleted from inverse-cdf.scale",
           lambda mp: {r"inverse-cdf\.scale\.negation": _drop(f"(assert {SCALE_RULE})")}, timeout=4.0),
    Mutant("bfloat16-wrong-split", "fp-sub-strict", "bfloat16 declared to z3 as (7, 9) exponent/significand bits "
           "instead of (8, 8) (floating.FORMATS): the witness fails the round trip through mlx's bfloat16",
           _wrong_bfloat16((7, 9)), check=_bfloat16_witness_rejected, rlimit=RLIMIT),
    Mutant("bfloat16-wrong-width", "fp-sub-strict", "bfloat16 declared to z3 as (8, 9) (floating.FORMATS): the "
           "witness fails the round trip through mlx's bfloat16", _wrong_bfloat16((8, 9)),
           check=_bfloat16_witness_rejected, rlimit=RLIMIT),
    Mutant("bfloat16-wrong-width-logprobs", "fp-argmax-shift-exact", "bfloat16 declared to z3 as (8, 9) "
           "(floating.FORMATS): z3's model of the certified log-probability row is not that row",
           _wrong_bfloat16((8, 9)), check=_bfloat16_not_refuted, rlimit=RLIMIT),
    Mutant("guard-lemma-weakened", "fp-greedy-exact-guard", "strict-at-max's conclusion weakened from fp.lt to "
           "fp.leq (floating.STRICT), bfloat16: the lemma still holds, the composition no longer follows",
           _weaken_guard, check=_guard_composition_fails, prepare=_guard_in_bfloat16, rlimit=RLIMIT),
    # --- issue 23: verdicts that earn their word --------------------------------------------------------
    Mutant("softmax-lhs-times-two", "softmax-shift", "statement lhs = 2 softmax(z - c): the SymPy chain is "
           "checked link by link from the stated left-hand side", _lhs_times_two, verdict="not proved"),
    Mutant("logprobs-lhs-times-two", "softmax-of-logprobs", "statement lhs = 2 softmax(z - logsumexp z)",
           _lhs_times_two, verdict="not proved"),
    Mutant("temperature-lhs-times-two", "temperature-shift", "statement lhs = 2 softmax((z - c) / T)",
           _lhs_times_two, verdict="not proved"),
    Mutant("min-p-prob-space-gt", "filters-shift", "min-p's `>=` changed to `>` on both sides of the "
           "probability-space rule: still true for the real exp (strictly increasing), so it must not be refuted; "
           "exp's monotonicity at the threshold is stated in both directions, so z3 proves it",
           lambda mp: {r"min-p\.prob-space\.negation": (MIN_P_PROB_SPACE, MIN_P_PROB_SPACE.replace(">=", ">"))},
           true_claim=True, verdict="proved"),
    *(Mutant(f"encoding-{_slug(name)}-{theorem}", theorem, f"{name} (both rows: tests/encoding_mutants.py)",
             _encoding(name), verdict=NOT_FAITHFUL)
      for name, (rule, _) in ENCODING_MUTANTS.items()
      for theorem in {"softmax": ["softmax-shift"],
                      "top-p": ["filters-shift"], "typical": ["typical-shift"], "xtc": ["xtc-shift"],
                      "argmax-one-hot": ["argmax-shift"], "first-max": ["greedy-logprobs", "temperature-shift"],
                      "speculative": ["speculative-rejection"]}[rule]),
    Mutant("bfloat16-declared-float16", "fp-greedy-exact-guard", "bfloat16 declared to z3 as (5, 11), float16's "
           "layout (floating.FORMATS): the default run's format check rejects it", _wrong_bfloat16((5, 11)),
           prepare=_guard_in_bfloat16, verdict=NOT_FAITHFUL, rlimit=RLIMIT),
    Mutant("top-n-sigma-raises", "commute-xtc-top-n-sigma", "the top-n-sigma rule raises inside the witness "
           "search: the checker records a `not proved` step, no traceback", _top_n_sigma_raises,
           verdict="not proved", check=_checker_error_is_a_step),
    Mutant("xtc-empties-the-row", "commute-xtc-top-n-sigma", "XTC removes every token, so top-n-sigma sees an "
           "empty row: a defined rule (keeps none), no crash", _xtc_removes_everything, verdict="not proved"),
]


# --- the harness ----------------------------------------------------------------------------------

@dataclass
class Rewriter:
    """z3's `solve`, with the query text rewritten first for queries whose name matches."""
    rewrites: dict
    solve: Callable
    hits: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, query, *args, **kwargs):
        for pattern, (old, new) in self.rewrites.items():
            if re.fullmatch(pattern, query.name):
                with self.lock:
                    self.hits[pattern] = self.hits.get(pattern, 0) + (old in query.body)
                query = dataclasses.replace(query, body=query.body.replace(old, new))
        return self.solve(query, *args, **kwargs)


# Modules that call proofs.smt.solve themselves (Context's z3 batches go through proofs.core).
SOLVERS = ("proofs.core", "proofs.commutation", "proofs.commute_smt")
# Results kept for the rest of a run, keyed by what the mutant does not change: emptied for each run.
CACHES = {"proofs.commute_smt": "_ANSWERS", "proofs.fidelity": "_CHECKED", "proofs.floating": "_MONOTONE",
          "proofs.samplers": "_MASKED_SHIFT"}


def _run(mutant: Mutant, mp, mutated: bool):
    mutant.prepare(mp)
    modules = [importlib.import_module(m) for m in SOLVERS if importlib.util.find_spec(m)]
    for module, cache in CACHES.items():
        mp.setattr(importlib.import_module(module), cache, {})
    rewriter = None
    if mutated:
        rewriter = Rewriter(mutant.mutate(mp), core.solve)
        for module in modules:
            if hasattr(module, "solve"):
                mp.setattr(module, "solve", dataclasses.replace(rewriter, solve=module.solve))
    result = run(BY_ID[mutant.theorem], max_n=MAX_N, timeout=mutant.timeout, rlimit=mutant.rlimit)
    if rewriter:
        missed = [p for p in rewriter.rewrites if not rewriter.hits.get(p)]
        assert not missed, f"rewrite matched no query text: {missed}"
    return result


_ORIGINALS: dict = {}  # the unmutated run, once per theorem and budget (filters-shift has three mutants)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_is_not_proved_and_the_original_is(mutant, monkeypatch):
    expected = BY_ID[mutant.theorem].expected
    key = (mutant.theorem, mutant.timeout, mutant.rlimit, mutant.prepare)
    if key not in _ORIGINALS:
        with monkeypatch.context() as mp:
            _ORIGINALS[key] = _run(mutant, mp, mutated=False)
    original = _ORIGINALS[key]
    assert original.ok, [(s.title, s.status) for s in original.steps]
    with monkeypatch.context() as mp:
        result = _run(mutant, mp, mutated=True)
    steps = [(s.title, s.status) for s in result.steps]
    if mutant.verdict:
        wanted = (mutant.verdict,) if isinstance(mutant.verdict, str) else mutant.verdict
        assert result.verdict.removesuffix(f" for {result.scope}") in wanted or result.verdict in wanted, (
            result.verdict, steps)
    if mutant.true_claim:
        assert result.verdict != "refuted", steps
    else:
        assert not result.verdict.startswith("proved") and result.verdict != result.expected, steps
    if expected == "refuted":
        assert result.verdict.startswith("not proved")  # a broken encoding must not refute either
    if result.verdict == "refuted":  # only with a witness re-checked outside z3, printed
        assert result.counterexample and any(s.method == "exact" and s.status == "counterexample" for s in result.steps)
    answers = {s.query.name: s.answer.status for s in result.steps if s.query}
    for name in mutant.sat:
        assert answers[name] == "sat", (name, answers.get(name))
    if mutant.sat and expected != "refuted":  # z3's model is no re-checked witness: never `refuted`
        assert result.verdict in (NOT_CONFIRMED, NOT_FAITHFUL), result.verdict
    if mutant.check:
        mutant.check(result)


def test_every_mutant_the_issue_lists_is_here():
    ids = {m.id for m in MUTANTS}
    assert {"softmax-lhs-times-two", "min-p-prob-space-gt", "bfloat16-declared-float16", "top-n-sigma-raises",
            "encoding-top-p-le-instead-of-lt-filters-shift", "encoding-greedy-first-max-any-maximum-temperature-shift",
            "encoding-typical-p-by-descending-distance-typical-shift",
            "encoding-xtc-removes-the-least-likely-too-xtc-shift",
            "encoding-one-hot-argmax-without-first-index-argmax-shift"} <= ids
    assert {"argmax-plus-one", "softmax-times-two", "top-p-leq", "top-p-keeps-all", "min-p-gt", "dropped-premise",
            "argmax-no-induction", "gumbel-no-induction", "bfloat16-wrong-split", "guard-lemma-weakened"} <= ids
    assert len(ids) == len(MUTANTS)


# --- the trusted base in every transcript ---------------------------------------------------------

def test_transcripts_name_their_trusted_base_with_real_versions(tmp_path):
    from proofs.smt import z3_version
    from proofs.transcript import write
    write(tmp_path, [run(BY_ID["greedy-logprobs"], max_n=4, timeout=60)])
    z3 = z3_version()
    assert re.search(r"\d+\.\d+\.\d+", z3)
    for page in ("greedy-logprobs.md", "index.md"):
        text = (tmp_path / page).read_text()
        assert "## Trusted base" in text, page
        section = text.split("## Trusted base", 1)[1].split("\n## ", 1)[0]
        assert z3 in section
        for package in ("sympy", "numpy", "mlx", "mpmath"):
            assert importlib.metadata.version(package) in section, (page, package)
        assert "Fraction" in section and "IEEE" in section and "round" in section
        assert not re.search(r"\b(None|unknown)\b", section), section

"""The commutation table of the sampler transforms: does applying a then b give the same keep-set
and the same distribution as b then a, for every row and every parameter?

Transforms act on a row of logits z in which some entries may already be masked (-inf):

- `temperature` T > 0: z -> z / T (the current scores divided by T);
- `top-k` K >= 1, ties kept: keep i iff fewer than K kept entries are strictly larger;
- `top-k-exact` K >= 1: keep exactly K (all if fewer are kept), ties broken by the lower index;
- `top-p` 0 < p <= 1, renormalised: softmax over the kept entries, sorted by probability (ties by
  index); keep i iff the probability mass strictly above it is < p;
- `min-p` 0 < m <= 1: keep i iff p_i >= m * max_j p_j (softmax over the kept entries);
- `bias` b in R^n: z -> z + b, b not depending on z (a logit bias; presence and frequency penalties,
  whose b is a function of the token history only, are of this kind);
- `shift` c in R: z -> z - c (one number per row, e.g. logsumexp: logits vs log-probabilities).

A chain ends in its keep-set and the softmax over the kept entries; two chains agree when both do.

Pairs that commute: Z3, bounded: every row length n = 1..MAX_N, every parameter symbolic, exp an
uninterpreted function with true facts about it and proved lemmas (proofs.commute_proof, on the
SMT encoding of proofs.commute_smt).

Pairs that do not commute: the smallest witness found by evaluating both chains in exact rational
arithmetic with the rules of proofs.rules (proofs.commute_exact), then confirmed by z3 on the SMT
encoding of both chains (the same encoder as the proofs, with the inputs pinned).

Commuting is symmetric (a then b = b then a is the same equation as b then a = a then b), so each
unordered pair is decided once: both ordered theorem ids run the same queries (z3's answers are
cached by query text within a process, so the second id costs nothing).

This module holds the table: which pairs commute, the theorem of each ordered pair, the steps each
runs, and the table in markdown.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from proofs import commute_interval, fidelity
from proofs.commute_exact import find_witness, np_disagree, random_case, recheck, witness_params
from proofs.commute_proof import MAX_N, proof_queries
from proofs.commute_smt import SEARCH_N, run_batch, search_query
from proofs.core import COUNTEREXAMPLE, HOLDS, INCONCLUSIVE, Context, Theorem

TRANSFORMS = ("temperature", "top-k", "top-k-exact", "top-p", "min-p", "bias", "repetition", "typical", "epsilon",
              "eta", "top-n-sigma", "xtc", "shift")
# Pairs of these are decided in Fractions and z3 (proofs.commute_exact, commute_proof); a pair with any
# other transform (its rule needs log, exp or sqrt) in interval arithmetic (proofs.commute_interval).
EXACT = ("temperature", "top-k", "top-k-exact", "top-p", "min-p", "bias", "shift")

# Pairs another theorem already decides (one theorem per claim): a transform commutes with a shift
# iff it may see log-probabilities. The shift theorem proves K(z - c) = K(z) (z3) and, as its own
# step, softmax_K(z - c) = softmax_K(z) (SymPy, samplers.masked_softmax_shift), so both orders give the
# same distribution; top-n-sigma-temperature checks its distributions in its own z3 step.
DECIDED_BY = {frozenset(pair): theorem for pair, theorem in [
    (("repetition", "shift"), "penalty-shift"), (("typical", "shift"), "typical-shift"),
    (("epsilon", "shift"), "epsilon-shift"), (("eta", "shift"), "eta-shift"), (("xtc", "shift"), "xtc-shift"),
    (("top-n-sigma", "shift"), "top-n-sigma-shift"), (("top-n-sigma", "temperature"), "top-n-sigma-temperature"),
]}

# The verdicts the theorems reach (the tests check that they do).
COMMUTE = frozenset(map(frozenset, [
    ("temperature", "top-k"), ("temperature", "top-k-exact"), ("temperature", "shift"),
    ("top-k", "top-k-exact"), ("top-k", "min-p"), ("top-k-exact", "min-p"),
    ("top-k", "shift"), ("top-k-exact", "shift"), ("top-p", "shift"), ("min-p", "shift"),
    ("bias", "shift"), ("repetition", "temperature"),
    ("typical", "shift"), ("epsilon", "shift"), ("eta", "shift"), ("xtc", "shift"), ("top-n-sigma", "shift"),
    ("top-n-sigma", "temperature"),
]))

PARAMETERS = {
    "temperature": "T > 0", "top-k": "any integer K >= 1 (ties at the cut all kept)",
    "top-k-exact": "any integer K >= 1 (exactly K kept, ties broken by the lower index)",
    "top-p": "any p in (0, 1], renormalised over the kept entries",
    "min-p": "any m in (0, 1], p_max over the kept entries",
    "bias": "any real vector b that does not depend on z: a logit bias, or the presence and frequency penalties "
            "(b_i = -presence [token i seen] - frequency count_i, functions of the token history only)",
    "shift": "any real c",
    **commute_interval.PARAMETERS,
}


def commutes(a: str, b: str) -> bool:
    return frozenset((a, b)) in COMMUTE


def theorem_id(a: str, b: str) -> str:
    """The theorem that decides the pair: its own `commute-a-b`, or the one in DECIDED_BY."""
    return DECIDED_BY.get(frozenset((a, b)), f"commute-{a}-{b}")


def exact(a: str, b: str) -> bool:
    return a in EXACT and b in EXACT


def pairs() -> list[tuple[str, str]]:
    """Every unordered pair once, in table order, that has its own `commute-` theorem."""
    return [p for p in itertools.combinations(TRANSFORMS, 2) if frozenset(p) not in DECIDED_BY]


def canonical(a: str, b: str) -> tuple[str, str]:
    return (a, b) if TRANSFORMS.index(a) < TRANSFORMS.index(b) else (b, a)


# --- the steps: a proof, or a witness; then a sanity check ----------------------------------------

def prove(ctx: Context, a: str, b: str):
    a, b = canonical(a, b)
    run_batch(ctx, proof_queries(a, b))


def refute(ctx: Context, a: str, b: str):
    a, b = canonical(a, b)
    t0 = time.perf_counter()
    values = find_witness(a, b)
    if values is None:
        ctx.step("exact search for a witness", "exact", INCONCLUSIVE, "no witness among the candidates.",
                 time.perf_counter() - t0)
        return
    prm = witness_params(values)
    ok, text = recheck(a, b, prm)
    ctx.witness[(a, b)] = prm
    ctx.step("exact search for a witness, smallest integers first", "exact", COUNTEREXAMPLE if ok else INCONCLUSIVE,
             f"Rows of {SEARCH_N} weights q_i in 1..9 (logits log q_i), parameters on small grids, smallest "
             "first, both chains evaluated in Python Fractions with the rules of proofs.rules; the first "
             "candidate where they differ, with no ties and no comparison exactly on its threshold, is the "
             "witness: see Counterexample below.", time.perf_counter() - t0)
    if ok:
        ctx.counterexample += text + "\n\n"
    run_batch(ctx, [(search_query(a, b, values), "z3 confirms the witness on the SMT encoding of both chains")])


SANITY_TRIALS = 200


def sanity(ctx: Context, a: str, b: str):
    t0 = time.perf_counter()
    rng = np.random.default_rng(TRANSFORMS.index(a) * 10 + TRANSFORMS.index(b))
    differ = sum(np_disagree(a, b, *random_case(rng)) for _ in range(SANITY_TRIALS))
    if commutes(a, b):
        status = HOLDS if differ == 0 else INCONCLUSIVE
        detail = (f"{SANITY_TRIALS} seeded random rows (n = 1..8, half with ties, half with masked entries) "
                  f"and parameters in numpy float64: {differ} where {a} then {b} and {b} then {a} differ "
                  "(keep-sets compared exactly, probabilities to 1e-9).")
    else:
        prm = ctx.witness.get(canonical(a, b))
        reproduced = False
        if prm:
            z = np.log(np.array([float(q) for q in prm["q"]]))
            fprm = {"T": float(prm["T"]), "K": prm.get("K"), "p": float(prm.get("p", 0)),
                    "m": float(prm.get("m", 0)), "c": -math.log(prm["t"]) if "t" in prm else 0.0,
                    "b": np.log(np.array([float(x) for x in prm["beta"]])) if "beta" in prm else np.zeros(SEARCH_N)}
            reproduced = np_disagree(a, b, z, fprm)
        status = HOLDS if reproduced else INCONCLUSIVE
        detail = (f"the exact witness evaluated in numpy float64 from its logits: "
                  f"{'reproduces' if reproduced else 'does NOT reproduce'}; for scale, {SANITY_TRIALS} seeded "
                  f"random rows and parameters: {differ} where the two orders differ.")
    ctx.step(f"sanity check: {a} then {b} vs {b} then {a}", "sanity", status,
             detail + " A sanity check, not the proof.", time.perf_counter() - t0)


# --- the theorems: one per ordered pair -----------------------------------------------------------

LEMMA_NOTE = ("exp is an uninterpreted function E; the only facts about it are ground instances of E(u) > 0, "
              "u < v => E(u) < E(v) and E(u + v) = E(u) E(v), each true whatever its terms; log m enters as "
              "a fresh lam with E(lam) = m")


def decide(a: str, b: str):
    def run(ctx: Context):
        if exact(a, b):
            fidelity.shared(ctx, "commute-chains")  # the encoder of both chains, against spec.target
            (prove if commutes(a, b) else refute)(ctx, a, b)
            sanity(ctx, a, b)
        elif commutes(a, b):  # the one commuting pair not decided elsewhere: repetition and temperature
            fidelity.shared(ctx, "penalty")
            commute_interval.repetition_temperature(ctx)
        else:
            commute_interval.refute(ctx, *canonical(a, b))
    return run


def _tex(name: str) -> str:
    return rf"\text{{{name}}}"


MEANING = {  # what a commuting pair means beyond "either order", where a transform stands for several
    frozenset(("bias", "shift")): "Every additive per-token bias that does not depend on z (LogitBias, "
    "PresencePenalty, FrequencyPenalty: their bias is a function of the token history only) may be applied to "
    "logits or to log-probabilities: the same tokens stay and the target distribution is the same.",
}


def theorem(a: str, b: str) -> Theorem:
    shared = (f"The steps are those of `{theorem_id(b, a)}` too: {a} then {b} = {b} then {a} is the same "
              f"equation as {b} then {a} = {a} then {b}, so each unordered pair is decided once, in the order "
              f"{' then '.join(canonical(a, b))} (z3's answers are reused within a run).")
    equation = rf"{_tex(b)} \circ {_tex(a)} = {_tex(a)} \circ {_tex(b)}"
    row = ("z is a real row of length n; entries may already be masked (-inf) by earlier steps, at least one "
           "is kept")
    meaning = (f"A sampler may apply {a} and {b} in either order: the same tokens stay and the target "
               "distribution is the same." + (" " + MEANING[frozenset((a, b))] if frozenset((a, b)) in MEANING else ""))
    differs = (f"The order of {a} and {b} matters: a spec has to fix it (or make it a parameter), and two engines "
               "that order them differently sample from different distributions.")
    if commutes(a, b) and not exact(a, b):  # the repetition penalty and temperature
        return Theorem(
            theorem_id(a, b), f"{a} then {b} = {b} then {a} (they commute)",
            f"Applying {a} then {b} gives the same row entry by entry, for rows of any length, hence the same kept "
            f"entries and the same softmax over them, as {b} then {a}, for every set of seen tokens and every "
            "parameter, in each engine's form of the penalty.",
            rf"\forall z, \theta, T, S:\quad ({equation})(z)",
            (row, f"repetition: {PARAMETERS['repetition']}", f"temperature: {PARAMETERS['temperature']}"),
            "Z3 over the reals, arrays and a symbolic row length n (quantifiers), one query per engine's form of the "
            "penalty (Hugging Face and mlx-lm share one): for every n >= 1, any seen tokens, theta > 0 and T > 0, "
            "the row temperature then the penalty gives, rep(x_m / T), equals the row the penalty then temperature "
            "gives, rep(x_m) / T, at every m < n. Then one query for every n >= 1 and any keep mask (neither "
            "transform masks or unmasks an entry): rows equal entry by entry have equal prefix sums of E over the "
            "kept entries (an induction-rule instance as a premise), hence the same softmax, exp an uninterpreted "
            "function E. The penalty's SMT-LIB forms are evaluated against spec's RepetitionPenalty (fidelity). "
            "spec.target replays random rows in both orders as a sanity check. " + shared,
            "proved", decide(a, b), meaning)
    if commutes(a, b):
        return Theorem(
            theorem_id(a, b), f"{a} then {b} = {b} then {a} (they commute)",
            f"Applying {a} then {b} keeps the same entries and gives the same distribution (softmax over the "
            f"kept entries) as {b} then {a}, for every row and every parameter.",
            rf"\forall z, \theta:\quad ({equation})(z)\ \text{{(same keep-set, same softmax over it)}}",
            (row, f"{a}: {PARAMETERS[a]}", f"{b}: {PARAMETERS[b]}",
             f"bounded: every n = 1..{MAX_N} (a copy of the row per n: one query for n < {MAX_N}, one for "
             f"n = {MAX_N}), every parameter symbolic", LEMMA_NOTE),
            f"Z3 over the reals, two queries (n = 1..{MAX_N - 1} with a copy of the row per n, and n = {MAX_N}): "
            "the literal definitions of both chains (probabilities p_i = E(z_i) / sum over the kept entries), "
            "true facts about exp, and instances of small lemmas over free variables (SMT-LIB define-fun macros, "
            "each proved in its own query first: an instance of a valid formula is valid). " + shared,
            "proved", decide(a, b), meaning, scope=f"n <= {MAX_N}")
    claim = (f"Claim: applying {a} then {b} keeps the same entries and gives the same distribution as {b} then {a}, "
             "for every row and every parameter. False: a witness where the keep-sets or the distributions differ.")
    latex = rf"\text{{claim: }} \forall z, \theta:\ ({equation})(z)"
    if not exact(a, b):
        xtc = ("xtc" in (a, b)) * (" XTC is taken in the branch where it acts (probability 1); the branch where it "
                                   "does not is the other transform alone in both orders, so the two mixtures differ "
                                   "for every probability q > 0 too.")
        return Theorem(
            theorem_id(a, b), f"claim: {a} then {b} = {b} then {a} (false)", claim, latex,
            (f"n = {commute_interval.N}, logits z_i = log q_i with integers 1 <= q_i <= 9",
             f"{a}: {PARAMETERS[a]}", f"{b}: {PARAMETERS[b]}",
             "parameters on the small grids of proofs.commute_interval.GRID (T = 1/2, bias factors 1..3)",
             "every comparison the rules make decided by disjoint intervals, so the witness holds whatever an "
             "engine's tie rule or its > versus >=" + xtc),
            "Search: candidates with the smallest integers first, both orders evaluated with the rules of "
            f"proofs.rules in mpmath interval arithmetic ({commute_interval.DIGITS} digits); the first whose orders "
            "differ with every comparison decided is the witness (interval bounds are rigorous, so it is exact). "
            "spec.target reproduces it in float64. " + shared, "refuted", decide(a, b), differs)
    return Theorem(
        theorem_id(a, b), f"claim: {a} then {b} = {b} then {a} (false)", claim, latex,
        (f"n = {SEARCH_N}, logits z_i = log q_i with integers 1 <= q_i <= 9", "T = 1/2 (softmax(z / T) is "
         "proportional to q_i^2), bias b_i = log beta_i with integers 1..9, shift c = -log t, t in 1..9",
         f"K in 1..{SEARCH_N}; p and m in {{1/5, 2/5, 3/5, 4/5, 1}}",
         "no ties within a row and no comparison exactly on its threshold (so floating point reproduces it)"),
        "Exact search: candidates with the smallest integers first, both chains evaluated in Python Fractions "
        "with the rules of proofs.rules; the first that differs is the witness. Z3 confirms it on the SMT "
        "encoding of both chains (the proofs' encoder, inputs pinned), and numpy float64 reproduces it from "
        "the logits. " + shared, "refuted", decide(a, b), differs)


THEOREMS: tuple[Theorem, ...] = tuple(theorem(a, b) for a, b in itertools.permutations(TRANSFORMS, 2)
                                      if frozenset((a, b)) not in DECIDED_BY)


# --- the table -----------------------------------------------------------------------------------

def matrix_markdown(results) -> str:
    """The commutation table: rows = applied first, columns = applied second; "=" commutes (proved for
    every n, by z3 or by the Coq kernel), "= (n ≤ 5)" commutes on the rows checked, "≠" does not
    (refuted), "?" any other verdict, "—" the diagonal. `results` maps theorem ids to verdicts (or
    Results), or is a list of proofs.transcript.Result."""
    if isinstance(results, dict):
        verdicts = {k: getattr(v, "verdict", v) for k, v in results.items()}
    else:
        verdicts = {r.theorem.id: r.verdict for r in results}

    def cell(a, b):
        if a == b:
            return "—"
        v = verdicts.get(theorem_id(a, b), "")
        if v.startswith("proved for n <= "):  # bounded: the cell says for which rows
            return f"= (n ≤ {v.removeprefix('proved for n <= ')})"
        every_n = v == "proved" or v.startswith("proved for every n")  # plain, or kernel-checked: any row length
        return "=" if every_n else "≠" if v == "refuted" else "?"
    lines = ["| first \\ then | " + " | ".join(TRANSFORMS) + " |", "|---" * (len(TRANSFORMS) + 1) + "|"]
    lines += [f"| **{a}** | " + " | ".join(cell(a, b) for b in TRANSFORMS) + " |" for a in TRANSFORMS]
    return "\n".join(lines)


def ids_markdown() -> str:
    """Every theorem id of the table, for a README that names each theorem."""
    return ", ".join(f"`{t.id}`" for t in THEOREMS)


def decided_by_markdown() -> str:
    """The cells another theorem decides, for the README."""
    return ", ".join(f"{' and '.join(sorted(pair))}: `{t}`" for pair, t in DECIDED_BY.items())

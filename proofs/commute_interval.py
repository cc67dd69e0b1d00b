"""The commutation table's pairs with the transforms whose rules need log, exp or sqrt (the
repetition penalty, typical-p, epsilon, eta, top-n-sigma, XTC): their witnesses cannot be
evaluated in Fractions, so they are evaluated in rigorous interval arithmetic (mpmath.iv at 50
digits). Every comparison a rule makes must be decided by disjoint intervals; one that is not
raises `Undecided` and the candidate is not a witness. A decided comparison is the true one, so
a witness found here is exact, not a floating-point observation.

Also here: the one commuting pair of these transforms that no other theorem decides, the
repetition penalty and temperature (z3, rows of any length as arrays: the two orders give the same
row entry by entry, and equal rows the same softmax), and the sanity checks,
which replay every witness through `spec.target` itself (the definitions people validate with).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import time
from fractions import Fraction

import numpy as np
from mpmath import iv

from proofs import rules
from proofs.core import COUNTEREXAMPLE, HOLDS, INCONCLUSIVE, Context
from proofs.encodings import accumulate, arrays, below, const_array, consts, induction
from proofs.refutations import fmt
from proofs.rules import PENALTY_SMT

N = 3  # witness rows: logits log q_i, q_i integers 1..9
DIGITS = 50
INTERVAL = type(iv.mpf(0))


@contextlib.contextmanager
def _digits():
    """mpmath's interval context has one global precision: set it for a computation, then restore it."""
    saved = iv.dps
    iv.dps = DIGITS
    try:
        yield
    finally:
        iv.dps = saved


class Undecided(Exception):
    """A comparison whose intervals overlap: the candidate is not a robust witness."""


class Num:
    """A real number known to lie in an interval; comparing two of them must be decided."""

    __slots__ = ("x",)

    def __init__(self, x):
        if isinstance(x, Num):
            x = x.x
        elif isinstance(x, Fraction):
            x = iv.mpf(x.numerator) / x.denominator
        elif not isinstance(x, INTERVAL):
            x = iv.mpf(x)
        self.x = x

    def _op(self, other, f):
        return Num(f(self.x, Num(other).x))

    def __add__(self, o): return self._op(o, lambda a, b: a + b)
    def __radd__(self, o): return self._op(o, lambda a, b: b + a)
    def __sub__(self, o): return self._op(o, lambda a, b: a - b)
    def __rsub__(self, o): return self._op(o, lambda a, b: b - a)
    def __mul__(self, o): return self._op(o, lambda a, b: a * b)
    def __rmul__(self, o): return self._op(o, lambda a, b: b * a)
    def __truediv__(self, o): return self._op(o, lambda a, b: a / b)
    def __rtruediv__(self, o): return self._op(o, lambda a, b: b / a)
    def __neg__(self): return Num(-self.x)
    def __pow__(self, k: int): return Num(self.x ** k)

    def __abs__(self):
        if self.x.a >= 0:
            return self
        if self.x.b <= 0:
            return -self
        raise Undecided("the sign of an interval containing 0")

    def _cmp(self, other) -> int:
        """-1, 0 or 1; 0 only for the very same number (a token compared with itself)."""
        if other is self:
            return 0
        o = Num(other).x
        if self.x.b < o.a:
            return -1
        if self.x.a > o.b:
            return 1
        raise Undecided(f"{self.x} vs {o}")

    def __lt__(self, o): return self._cmp(o) < 0
    def __le__(self, o): return self._cmp(o) <= 0
    def __gt__(self, o): return self._cmp(o) > 0
    def __ge__(self, o): return self._cmp(o) >= 0
    def __eq__(self, o): return self._cmp(o) == 0
    __hash__ = object.__hash__

    def mid(self) -> float:
        return float(self.x.mid)


def log(v):
    return Num(iv.log(Num(v).x))


def exp(v):
    return Num(iv.exp(Num(v).x))


def sqrt(v):
    return Num(iv.sqrt(Num(v).x))


# --- the transforms, each on the kept logits {token: z_i} ----------------------------------------

F = Fraction
GRID = {  # each transform's parameters on small grids (tried smallest first)
    "temperature": {"T": (F(1, 2),)},
    "top-k": {"K": (1, 2, 3)}, "top-k-exact": {"K": (1, 2, 3)},
    "top-p": {"p": (F(1, 5), F(2, 5), F(3, 5), F(4, 5))}, "min-p": {"m": (F(1, 5), F(2, 5), F(3, 5), F(4, 5))},
    "bias": {"beta": tuple(itertools.product(range(1, 4), repeat=N))},
    "repetition": {"theta": (F(2), F(3, 2)), "seen": tuple(s for s in itertools.product((0, 1), repeat=N) if any(s))},
    "typical": {"mass": (F(1, 5), F(2, 5), F(3, 5), F(4, 5))},
    "epsilon": {"eps": (F(1, 10), F(1, 5), F(3, 10), F(2, 5))},
    "eta": {"eta": (F(1, 10), F(1, 5), F(3, 10), F(2, 5))},
    "top-n-sigma": {"n": (F(1, 2), F(1), F(3, 2))},
    "xtc": {"threshold": (F(1, 10), F(1, 5), F(3, 10), F(2, 5))},
}
PARAMETERS = {
    "repetition": "any theta > 0 and any set of seen tokens: a seen token's logit v becomes v / theta if v > 0, "
                  "v * theta if v < 0 (0 either way); each engine's comparison (Hugging Face and mlx-lm < 0, "
                  "vLLM > 0, llama.cpp <= 0)",
    "typical": "any mass in (0, 1], min_tokens_to_keep = 1, renormalised over the kept entries",
    "epsilon": "any epsilon in (0, 1), min_tokens_to_keep = 1, renormalised over the kept entries",
    "eta": "any epsilon in (0, 1): threshold min(epsilon, sqrt(epsilon) exp(-H)), min_tokens_to_keep = 1",
    "top-n-sigma": "any n > 0: keep z_i >= max - n sigma over the kept entries",
    "xtc": "any probability q in (0, 1] and threshold in (0, 1): the target is (1 - q) (without) + q (with)",
}


def _probs(z: dict) -> list:
    weights = [exp(v) for v in z.values()]
    total = sum(weights)
    return [w / total for w in weights]


def step(name: str, z: dict, prm: dict) -> dict:
    """One transform on the kept logits, by the rules of proofs.rules, in intervals."""
    idx, v = list(z), list(z.values())
    if name == "temperature":
        return {i: x / prm["T"] for i, x in z.items()}
    if name == "bias":
        return {i: x + log(prm["beta"][i]) for i, x in z.items()}
    if name == "repetition":
        return {i: rules.penalize(x, prm["theta"]) if prm["seen"][i] else x for i, x in z.items()}
    p = _probs(z)
    keep = {
        "top-k": lambda: rules.keep_top_k(v, prm["K"], "all"),
        "top-k-exact": lambda: rules.keep_top_k(v, prm["K"], "index"),
        "top-p": lambda: rules.keep_top_p(p, prm["p"]),
        "min-p": lambda: rules.keep_min_p(p, prm["m"]),
        "typical": lambda: rules.keep_typical(p, log, prm["mass"], 1, "all"),
        "epsilon": lambda: rules.keep_cutoff(p, prm["eps"], 1),
        "eta": lambda: rules.keep_cutoff(p, rules.eta_threshold(p, prm["eta"], log, exp, sqrt), 1),
        "top-n-sigma": lambda: rules.keep_top_n_sigma(v, prm["n"], sqrt),
        "xtc": lambda: rules.xtc_kept(p, prm["threshold"], ">", "all"),
    }[name]()
    return {idx[j]: v[j] for j in sorted(keep)}


def chain(names, prm: dict) -> tuple[frozenset, dict]:
    """Both transforms in order on the witness row: the keep-set and the softmax over it."""
    with _digits():
        z = {i: log(q) for i, q in enumerate(prm["q"])}
        for name in names:
            z = step(name, z, prm)
        return frozenset(z), dict(zip(z, _probs(z), strict=True))


def differ(a: str, b: str, prm: dict) -> bool:
    """Decided: the two orders keep different tokens or give some token disjoint probabilities.
    Raises Undecided when that cannot be decided (a tie or a comparison on its threshold)."""
    (ka, pa), (kb, pb) = chain((a, b), prm), chain((b, a), prm)
    if ka != kb:
        return True
    with _digits():
        return any(pa[i] != pb[i] for i in ka)


def candidates(a: str, b: str):
    """Witness candidates, smallest weights first, then each parameter grid in order."""
    grid = {**GRID[a], **GRID[b]}
    names = list(grid)
    for top in range(2, 10):
        for q in itertools.product(range(1, top + 1), repeat=N):
            if max(q) == top:
                for values in itertools.product(*(grid[n] for n in names)):
                    yield {"q": [F(x) for x in q], **dict(zip(names, values, strict=True))}


@functools.cache
def find_witness(a: str, b: str) -> dict | None:
    for prm in candidates(a, b):
        try:
            if differ(a, b, prm):
                return prm
        except Undecided:
            continue
    return None


def describe(a: str, b: str, prm: dict) -> str:
    show = {"temperature": lambda: f"T = {fmt(prm['T'])}", "top-k": lambda: f"K = {prm['K']}",
            "top-k-exact": lambda: f"K = {prm['K']}", "top-p": lambda: f"p = {fmt(prm['p'])}",
            "min-p": lambda: f"m = {fmt(prm['m'])}",
            "bias": lambda: f"b = ({', '.join(f'log {x}' for x in prm['beta'])})",
            "repetition": lambda: f"theta = {fmt(prm['theta'])}, seen tokens "
                                  f"{{{', '.join(str(i) for i, s in enumerate(prm['seen']) if s)}}}",
            "typical": lambda: f"typical mass = {fmt(prm['mass'])}", "epsilon": lambda: f"epsilon = {fmt(prm['eps'])}",
            "eta": lambda: f"eta's epsilon = {fmt(prm['eta'])}", "top-n-sigma": lambda: f"n = {fmt(prm['n'])}",
            "xtc": lambda: f"XTC threshold = {fmt(prm['threshold'])} (the branch where it acts)"}
    parts = [f"logits z = ({', '.join(f'log {fmt(q)}' for q in prm['q'])})"] + [show[t]() for t in (a, b)]
    return ", ".join(dict.fromkeys(parts))


def explain(a: str, b: str, prm: dict) -> str:
    def show(result):
        keep, dist = result
        return (f"keeps {{{', '.join(map(str, sorted(keep)))}}} with probabilities "
                f"({', '.join(f'{dist[i].mid():.6g}' for i in sorted(keep))})")
    return (f"{describe(a, b, prm)}: {a} then {b} {show(chain((a, b), prm))}; {b} then {a} "
            f"{show(chain((b, a), prm))} (probabilities are interval midpoints; every comparison decided).")


# --- the same witness through spec.target (the sanity step) ---------------------------------------

def spec_pipeline(names, prm: dict):
    """The spec's transforms for the table's names, and the history the repetition penalty reads."""
    from spec.transforms import (
        XTC,
        EpsilonCutoff,
        EtaCutoff,
        History,
        LogitBias,
        MinP,
        Pipeline,
        RepetitionPenalty,
        Temperature,
        TopK,
        TopNSigma,
        TopP,
        TypicalP,
    )
    build = {
        "temperature": lambda: Temperature(float(prm["T"])),
        "top-k": lambda: TopK(prm["K"], ties="all"), "top-k-exact": lambda: TopK(prm["K"], ties="any"),
        "top-p": lambda: TopP(float(prm["p"])), "min-p": lambda: MinP(float(prm["m"])),
        "bias": lambda: LogitBias({i: math.log(x) for i, x in enumerate(prm["beta"])}),
        "repetition": lambda: RepetitionPenalty(float(prm["theta"])),
        "typical": lambda: TypicalP(float(prm["mass"])), "epsilon": lambda: EpsilonCutoff(float(prm["eps"])),
        "eta": lambda: EtaCutoff(float(prm["eta"])), "top-n-sigma": lambda: TopNSigma(float(prm["n"])),
        "xtc": lambda: XTC(1.0, threshold=float(prm["threshold"])),
    }
    seen = tuple(i for i, s in enumerate(prm.get("seen", ())) if s)
    return Pipeline(tuple(build[n]() for n in names)), History(prompt=seen)


def spec_chain(names, z: np.ndarray, prm: dict):
    import spec
    pipeline, history = spec_pipeline(names, prm)
    t = spec.target(z, pipeline, history=history)
    return frozenset(np.flatnonzero(t.support).tolist()), t.probs, bool(t.boundary.any())


def spec_reproduces(a: str, b: str, prm: dict) -> bool:
    """spec.target, in float64 from the logits, keeps the same tokens as the interval evaluation in
    both orders, with no boundary token, and its two distributions differ."""
    z = np.log(np.array([float(q) for q in prm["q"]]))
    (ka, pa, ba), (kb, pb, bb) = spec_chain((a, b), z, prm), spec_chain((b, a), z, prm)
    exact_a, exact_b = chain((a, b), prm)[0], chain((b, a), prm)[0]
    return ka == exact_a and kb == exact_b and not (ba or bb) and np.abs(pa - pb).max() > 1e-9


def random_prm(rng: np.random.Generator, n: int) -> dict:
    """Random parameters for every transform (floats), for the commuting pairs' sanity checks."""
    return {"q": list(np.exp(rng.normal(0, 2, n))), "T": rng.uniform(0.1, 3), "K": int(rng.integers(1, n + 1)),
            "p": rng.uniform(0.05, 1), "m": rng.uniform(0.01, 1), "beta": list(np.exp(rng.normal(0, 1, n))),
            "theta": rng.uniform(0.2, 3), "seen": list(rng.random(n) < 0.5), "mass": rng.uniform(0.05, 1),
            "eps": rng.uniform(0.001, 0.3), "eta": rng.uniform(0.001, 0.3), "n": rng.uniform(0.2, 3),
            "threshold": rng.uniform(0.01, 0.5)}


# --- the steps ------------------------------------------------------------------------------------

def refute(ctx: Context, a: str, b: str):
    t0 = time.perf_counter()
    prm = find_witness(a, b)
    if prm is None:
        ctx.step("interval search for a witness", "exact", INCONCLUSIVE, "no decided witness among the candidates.",
                 time.perf_counter() - t0)
        return
    text = explain(a, b, prm)
    ctx.witness[(a, b)] = prm
    ctx.step("search for a witness in interval arithmetic, smallest integers first", "exact", COUNTEREXAMPLE,
             f"Rows of {N} logits log q_i with q_i in 1..9, parameters on small grids, smallest first; both orders "
             f"evaluated with the rules of proofs.rules in mpmath interval arithmetic ({DIGITS} digits). The first "
             "candidate whose two orders differ, with every comparison (every tie test, every threshold) decided by "
             "disjoint intervals, is the witness: see Counterexample below.", time.perf_counter() - t0)
    ctx.counterexample += text + "\n\n"
    t0 = time.perf_counter()
    ok = spec_reproduces(a, b, prm)
    ctx.step(f"sanity check: spec.target on the witness, {a} then {b} vs {b} then {a}", "sanity",
             HOLDS if ok else INCONCLUSIVE,
             f"spec.target in float64 from the witness's logits {'keeps' if ok else 'does NOT keep'} the same tokens "
             "as the interval evaluation in both orders, with no boundary token, and its two distributions differ. "
             "A sanity check of the spec against the proof's rules, not the proof.", time.perf_counter() - t0)


def _repeat(v: str, engine: str, seen: str = "seen", form: str | None = None) -> str:
    """The repetition penalty of one entry v, applied iff the token was seen (`seen` a Bool term).
    form: another penalty formula in v and theta (a mutant), instead of the engine's."""
    return f"(ite {seen} {(form or PENALTY_SMT[engine]).replace('v', v)} {v})"


ROWS_DECLS = "\n".join([arrays("x", "u", "v"), "(declare-const seen (Array Int Bool))", consts("Real", "theta", "T"),
                        consts("Int", "n")])
SAME_ROWS = below("(= (select u m) (select v m))")  # the two orders' rows agree on 0..n-1


def repetition_rows(engine: str, form: str | None = None) -> tuple[str, list[str], str, tuple[str, ...]]:
    """Rows of any length n >= 1 (arrays, symbolic n): logits x, seen flags, u = temperature then the
    penalty (u_m = rep(x_m / T)), v = the penalty then temperature (v_m = rep(x_m) / T). Claim: u_m = v_m
    for every m in 0..n-1. form: a mutant penalty formula. Returns (decls, premises, claim, witness)."""
    def rep(value):
        return _repeat(value, engine, "(select seen m)", form)
    premises = ["(>= n 1)", "(> theta 0.0)", "(> T 0.0)", below(f"(= (select u m) {rep('(/ (select x m) T)')})"),
                below(f"(= (select v m) (/ {rep('(select x m)')} T))")]
    # n = 1, a row of zeros, nothing seen, theta = T = 1: a model of the premises (pinned: quantifiers)
    witness = ("(= n 1)", "(= theta 1.0)", "(= T 1.0)", *(const_array(a, "0.0") for a in "xuv"),
               const_array("seen", "false", "Bool"))
    return ROWS_DECLS, premises, SAME_ROWS, witness


def softmax_rows(mask_v: str = "kept", same: str = SAME_ROWS, rule: bool = True):
    """Two rows u, v of any length n >= 1, equal entry by entry (`same`: the conclusion of
    `repetition_rows`, for every engine), a keep mask shared by both orders (neither transform masks or
    unmasks: -inf / T = -inf and rep(-inf) = -inf), exp an uninterpreted function E. A[j], B[j]: the
    prefix sums of E over the kept entries 0..j of u, v; P_m = E(u_m) / A[n-1] if kept else 0, Q the same
    for v. Claim: P = Q on 0..n-1. The premises hold the instance of the induction rule for
    same-prefix(j) = (j < n => A[j] = B[j]). Mutants: mask_v = "other" (v's softmax over another mask),
    rule = False (no induction instance). Returns (decls, premises, claim, witness)."""
    decls = "\n".join([arrays("u", "v", "A", "B", "P", "Q"), "(declare-const kept (Array Int Bool))",
                       "(declare-const other (Array Int Bool))", "(declare-fun E (Real) Real)", consts("Int", "n"),
                       "(define-fun same-prefix ((j Int)) Bool (=> (< j n) (= (select A j) (select B j))))"])
    induction_rule, _ = induction("same-prefix", 0, "j")
    premises = ["(>= n 1)", same,
                *accumulate("A", lambda j: f"(ite (select kept {j}) (E (select u {j})) 0.0)"),
                *accumulate("B", lambda j: f"(ite (select {mask_v} {j}) (E (select v {j})) 0.0)"),
                below("(= (select P m) (ite (select kept m) (/ (E (select u m)) (select A (- n 1))) 0.0))"),
                below(f"(= (select Q m) (ite (select {mask_v} m) (/ (E (select v m)) (select B (- n 1))) 0.0))"),
                *([induction_rule] if rule else [])]
    # n = 1, a row of zeros, kept, E(0) = 1: a model of the premises (the true exp is one)
    witness = ("(= n 1)", "(= (E 0.0) 1.0)", *(const_array(a, "0.0") for a in "uv"),
               *(const_array(a, "1.0") for a in "ABPQ"), *(const_array(a, "true", "Bool") for a in ("kept", "other")))
    return decls, premises, below("(= (select P m) (select Q m))"), witness


def repetition_temperature(ctx: Context):
    """For rows of any length (arrays, symbolic n): the two orders give the same row entry by entry,
    one query per engine's form of the penalty; then, for any two rows equal entry by entry over a
    shared keep mask, the same softmax (prefix sums by an induction-rule instance)."""
    for engine in dict.fromkeys(PENALTY_SMT.values()):
        name = next(e for e, f in PENALTY_SMT.items() if f == engine)
        decls, premises, claim, witness = repetition_rows(name)
        ctx.proof(f"repetition-temperature.rows.{name.replace(' ', '-').replace('.', '')}",
                  f"every n >= 1, any seen tokens, theta > 0, T > 0: {name}'s repetition penalty then temperature "
                  f"gives the row temperature then the penalty gives, entry by entry (penalty {PENALTY_SMT[name]}; "
                  "rows are arrays, n symbolic)", decls, premises, claim, witness=witness)
    decls, premises, claim, witness = softmax_rows()
    ctx.proof("repetition-temperature.softmax",
              "every n >= 1, any keep mask: two rows equal entry by entry (each engine's conclusion above) have "
              "equal prefix sums of E over the kept entries, hence the same softmax E(u_m) / sum over the kept "
              "(E an uninterpreted exp). Premise: the instance of the induction rule for same-prefix(j) = "
              "(j < n => A[j] = B[j]), true by the principle of induction over the integers", decls, premises,
              claim, witness=witness)
    t0 = time.perf_counter()
    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(200):
        n = int(rng.integers(1, 9))
        prm = random_prm(rng, n)
        z = rng.normal(0, 5, n)
        first = spec_chain(("repetition", "temperature"), z, prm)[1]
        second = spec_chain(("temperature", "repetition"), z, prm)[1]
        worst = max(worst, float(np.abs(first - second).max()))
    ctx.step("sanity check: spec.target, repetition then temperature vs temperature then repetition", "sanity",
             HOLDS if worst < 1e-9 else INCONCLUSIVE,
             f"200 seeded random rows (n = 1..8, logits N(0, 5^2), random theta, T and seen tokens) through "
             f"spec.target in both orders: largest probability difference {worst:.1e}. A sanity check, not the proof.",
             time.perf_counter() - t0)

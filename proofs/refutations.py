"""Claims that are false, each refuted by a witness that z3 finds and that is then re-checked in
exact rational arithmetic (Python Fractions), independently of the solver."""

from __future__ import annotations

import time
from fractions import Fraction

from proofs.core import COUNTEREXAMPLE, INCONCLUSIVE, Context
from proofs.encodings import add, one_hot
from proofs.rules import PENALTY_ENGINES, PENALTY_SMT, first_argmax, keep_min_p, keep_top_p
from proofs.smt import Query, real


def fmt(x: Fraction) -> str:
    return str(x) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def confirm(ctx: Context, title: str, found, check):
    """Re-check a z3 model exactly: `check(values)` returns (is_counterexample, explanation)."""
    t0 = time.perf_counter()
    if found.answer.status != "sat":
        ctx.step(title, "exact", INCONCLUSIVE, "z3 found no witness, so there is nothing to check.")
        return None
    ok, text = check(found.answer.values)
    summary = ("z3's witness is a counterexample, re-checked with Python Fractions: see "
               "Counterexample below." if ok else f"z3's witness does NOT check out exactly:\n\n{text}")
    ctx.step(title, "exact", COUNTEREXAMPLE if ok else INCONCLUSIVE, summary, time.perf_counter() - t0)
    if ok:
        ctx.counterexample += text + "\n\n"
    return found.answer.values


def argmax_vector_shift(ctx: Context):
    """Control: argmax(z - c) with c a VECTOR is not argmax(z). The same machinery that proves
    `argmax-shift` must find the counterexample here."""
    decls, premises, claim = one_hot(2, per_entry=True)
    found, _ = ctx.proof("n2", "n = 2, per-entry shift c_i: argmax(z - c) = argmax(z)", decls,
                         premises, claim, show=("z0", "z1", "c0", "c1"), false_claim=True)

    def check(v):
        z, c = [v["z0"], v["z1"]], [v["c0"], v["c1"]]
        y = [a - b for a, b in zip(z, c, strict=True)]
        ok = first_argmax(z) != first_argmax(y)
        ctx.witness.update(z=z, c=c)
        return ok, (f"z = ({', '.join(map(fmt, z))}), c = ({', '.join(map(fmt, c))}): "
                    f"argmax(z) = {first_argmax(z)}, argmax(z - c) = {first_argmax(y)} "
                    f"(z - c = ({', '.join(map(fmt, y))}))")
    confirm(ctx, "the witness, re-checked", found, check)


THETA = Fraction(13, 10)


def penalty_engines_agree(ctx: Context):
    """The four engines' formulas differ only at v = 0, where both branches give 0: one function."""
    decls = "(declare-const v Real)\n(declare-const theta Real)"
    names = list(PENALTY_SMT)
    claim = conj_all(f"(= {PENALTY_SMT[names[0]]} {PENALTY_SMT[e]})" for e in names[1:])
    ctx.proof("engines", f"for every v and theta > 0, the repetition penalty of {', '.join(names)} (each as "
              "its source writes the comparison) gives the same value", decls, ["(> theta 0.0)"], claim)


def conj_all(terms) -> str:
    terms = list(terms)
    return terms[0] if len(terms) == 1 else f"(and {' '.join(terms)})"


def penalty_shift(ctx: Context):
    penalty_engines_agree(ctx)
    body = f"""\
; logits z_i = a_i / 10 with small integers a_i; token 0 was generated before, so it is penalized
(declare-const a0 Int)
(declare-const a1 Int)
(define-fun z0 () Real (/ (to_real a0) 10.0))
(define-fun z1 () Real (/ (to_real a1) 10.0))
(define-fun pen ((v Real)) Real (ite (< v 0.0) (* v {real(THETA)}) (/ v {real(THETA)})))
(define-fun zmax () Real (ite (>= z0 z1) z0 z1))
(assert (and (< 0 a0 50) (<= (- 50) a1 50)))
; greedy on penalized logits (c = 0) picks token 1 strictly; on penalized log-probabilities it
; picks token 0 strictly, for both c = max(z) and c = max(z) + 1, hence for every c between
; (the query `interval`), and logsumexp(z) lies in [max(z), max(z) + log 2] for n = 2
(define-fun margin ((c Real)) Real (- (pen (- z0 c)) (- z1 c)))
(assert (< (margin 0.0) 0.0))
(assert (> (margin zmax) 0.0))
(assert (> (margin (+ zmax 1.0)) 0.0))"""
    found = ctx.z3(Query("search", "Search for logits where the repetition penalty (theta = 13/10) "
                         "picks a different greedy token from logits than from log-probabilities.",
                         body, "sat", "search", show=("a0", "a1")), "z3 searches for a witness, n = 2")
    values = confirm(ctx, "the witness, re-checked for each engine's formula", found, _penalty_check(ctx))
    if values:
        z = ctx.witness["z"]
        decls = "\n".join(["(declare-const c Real)", f"(define-fun pen ((v Real)) Real "
                           f"(ite (< v 0.0) (* v {real(THETA)}) (/ v {real(THETA)})))"])
        top = max(z)
        ctx.proof("interval", f"on the witness z = ({fmt(z[0])}, {fmt(z[1])}): for every c in [max(z), max(z) + 1] "
                  "(so for c = logsumexp(z), in [max(z), max(z) + log 2] for n = 2), greedy on the penalized "
                  "log-probabilities picks token 0", decls, [f"(<= {real(top)} c)", f"(<= c {real(top + 1)})"],
                  f"(> (pen (- {real(z[0])} c)) (- {real(z[1])} c))")


def _penalty_check(ctx: Context):
    def check(v):
        z = [v["a0"] / 10, v["a1"] / 10]
        ctx.witness["z"] = z
        shifts = [("logits (c = 0)", Fraction(0)), ("c = max(z)", max(z)), ("c = max(z) + 1", max(z) + 1)]
        rows, ok = [], True
        for label, c in shifts:
            penalized = {e: [rule(z[0] - c, THETA), z[1] - c] for e, rule in PENALTY_ENGINES.items()}
            pen = penalized["Hugging Face"]
            ok &= all(p == pen for p in penalized.values())  # every engine's formula, evaluated separately
            ok &= (pen[0] < pen[1]) if c == 0 else (pen[0] > pen[1])
            rows.append(f"| {label} | ({fmt(z[0] - c)}, {fmt(z[1] - c)}) | ({fmt(pen[0])}, {fmt(pen[1])}) "
                        f"| {first_argmax(pen)} |")
        return ok, (f"Logits z = ({fmt(z[0])}, {fmt(z[1])}), theta = {fmt(THETA)}, token 0 penalized. Each "
                    f"engine's formula ({', '.join(PENALTY_ENGINES)}) evaluated separately in Fractions gives "
                    "the same penalized rows:\n\n"
                    "| input | row | penalized row | greedy token |\n|---|---|---|---|\n" + "\n".join(rows) +
                    "\n\nGreedy on the penalized logits picks token 1; on the penalized log-probabilities "
                    "(c = logsumexp(z) lies in [max(z), max(z) + log 2] for n = 2, where the query `interval` "
                    "proves token 0 wins for every c), token 0. So top-k with k = 1 keeps {1} on logits and "
                    "{0} on log-probabilities, and the most likely token of the target distribution moves.")
    return check


def temperature_order(ctx: Context):
    """Weights q_i > 0 are exp(z_i); with T = 1/2, softmax(z / T) is proportional to q_i^2, so both
    keep-sets are rational and the witness is checked exactly (z_i = log q_i)."""
    decls = "\n".join(f"(declare-const q{i} Int)" for i in range(3)) + "\n(declare-const P Int)"
    common = f"""{decls}
(assert (and (> q0 q1) (> q1 q2) (> q2 0) (<= q0 9) (< 0 P) (< P 10)))
(define-fun p () Real (/ (to_real P) 10.0))"""

    def mass_above(i, power):
        return f"(to_real {add([f'(* q{j} q{j})' if power == 2 else f'q{j}' for j in range(i)])})"

    def total(power):
        return mass_above(3, power)

    top_p = common + "\n(assert (or " + " ".join(
        f"(distinct (< {mass_above(i, 1)} (* p {total(1)})) (< {mass_above(i, 2)} (* p {total(2)})))"
        for i in range(3)) + "))"
    found = ctx.z3(Query("top-p.search", "Search for weights q (logits log q) and p where top-p keeps "
                         "different tokens before and after temperature T = 1/2.", top_p, "sat", "search",
                         show=("q0", "q1", "q2", "P")), "z3 searches for a top-p witness, n = 3")
    confirm(ctx, "top-p witness, re-checked", found, lambda v: _check(ctx, v, "top-p"))
    min_p = common + "\n(assert (or " + " ".join(
        f"(distinct (>= (* 10 q{i}) (* P q0)) (>= (* 10 q{i} q{i}) (* P q0 q0)))" for i in range(3)) + "))"
    found = ctx.z3(Query("min-p.search", "Search for weights q (logits log q) and m where min-p keeps "
                         "different tokens before and after temperature T = 1/2.", min_p, "sat", "search",
                         show=("q0", "q1", "q2", "P")), "z3 searches for a min-p witness, n = 3")
    confirm(ctx, "min-p witness, re-checked", found, lambda v: _check(ctx, v, "min-p"))


def _check(ctx, v, rule):
    q = [v[f"q{i}"] for i in range(3)]
    param = v["P"] / 10
    ctx.witness[rule] = (q, param)
    keep = keep_top_p if rule == "top-p" else keep_min_p
    plain = [x / sum(q) for x in q]
    tempered = [x * x / sum(y * y for y in q) for x in q]
    before, after = keep(tempered, param), keep(plain, param)
    name = "p" if rule == "top-p" else "m"
    return before != after, (
        f"{rule}, {name} = {fmt(param)}: logits z = (log {fmt(q[0])}, log {fmt(q[1])}, log {fmt(q[2])}), "
        f"T = 1/2. softmax(z) = ({', '.join(map(fmt, plain))}) -> {rule} keeps {sorted(after)} "
        f"(filter first, temperature after); softmax(z/T) = ({', '.join(map(fmt, tempered))}) -> "
        f"keeps {sorted(before)} (temperature first).")

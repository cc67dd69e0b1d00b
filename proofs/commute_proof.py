"""The proofs of the commuting pairs of the commutation table (proofs.commutation).

Z3, bounded: every row length n = 1..MAX_N (one copy of the row per n in one query), any initial
mask with at least one entry kept, every parameter symbolic. Logits are reals; exp is an
uninterpreted function E, and the only facts about it are ground instances of E(u) > 0,
u < v => E(u) < E(v) and E(u + v) = E(u) E(v), each true whatever its terms (log m enters as a
fresh lam with E(lam) = m, a number that exists). Probabilities are written literally,
p_i = [i kept] E(z_i) / sum_j [j kept] E(z_j) (the encoder of proofs.commute_smt). Z3 is slow on
such nonlinear definitions, so the query also holds instances of small lemmas over free variables
(SMT-LIB `define-fun` macros, each proved in its own query first: an instance of a valid formula
is valid). Which instances to offer is chosen by this module (partly by evaluating the score
vectors at random exact points); a badly chosen instance can only fail to help, never make a proof
unsound.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from fractions import Fraction

from proofs.commute_smt import Encoder, chain_max, conj
from proofs.encodings import add
from proofs.smt import Query

MAX_N = 5  # the proofs: every row length 1..MAX_N

# --- lemmas over free variables (define-fun macros): proved once, used as instances --------------

@dataclass(frozen=True)
class Macro:
    name: str
    title: str
    params: tuple[tuple[str, str], ...]
    hyps: tuple[str, ...]
    concl: str

    def define(self) -> str:
        args = " ".join(f"({p} {s})" for p, s in self.params)
        return f"(define-fun {self.name} ({args}) Bool\n  (=> {conj(self.hyps)}\n      {self.concl}))"


def _real(*names):
    return tuple((x, "Real") for x in names)


SCALE = Macro(
    "scale", "scaling a kept weight and the kept total by the same e > 0 leaves the probability unchanged",
    _real("m", "mh", "s", "sh", "e"),
    ("(> s 0.0)", "(> e 0.0)", "(= mh (* e m))", "(= sh (* e s))"),
    "(= (/ mh sh) (/ m s))")
TEMP_SHIFT = Macro(
    "temp-shift", "(u - c)/T = (u/T - c) + (c - c/T): temperature after a shift is a shift after temperature",
    _real("u", "c", "T"), ("(> T 0.0)",), "(= (/ (- u c) T) (+ (- (/ u T) c) (- c (/ c T))))")
MINP_PAIR = Macro(
    "minp-pair", "for kept i: p_i >= m p_j iff (j kept => z_i >= z_j + log m) (exp facts as hypotheses)",
    (("ki", "Bool"), ("kj", "Bool"), *_real("zi", "zj", "s", "m", "lam", "pi", "pj")),
    ("(> s 0.0)", "(= pi (/ (ite ki (E zi) 0.0) s))", "(= pj (/ (ite kj (E zj) 0.0) s))",
     "(> (E zi) 0.0)", "(> (E zj) 0.0)", "(= (E lam) m)", "(= (E (+ zj lam)) (* (E zj) (E lam)))",
     "(=> (< zi (+ zj lam)) (< (E zi) (E (+ zj lam))))", "(=> (< (+ zj lam) zi) (< (E (+ zj lam)) (E zi)))"),
    "(=> ki (= (>= pi (* m pj)) (=> kj (>= zi (+ zj lam)))))")


TEMP_ORDER = Macro(
    "temp-order", "T > 0 keeps every comparison: u < v iff u/T < v/T, u = v iff u/T = v/T",
    _real("u", "v", "T"), ("(> T 0.0)",),
    "(and (= (< u v) (< (/ u T) (/ v T))) (= (= u v) (= (/ u T) (/ v T))))")
SCALE_ITE = Macro(
    "scale-ite", "a masked weight scales with the weight: wh = e w implies [k] wh = e [k] w",
    (("k", "Bool"), *_real("w", "wh", "e")), ("(= wh (* e w))",), "(= (ite k wh 0.0) (* e (ite k w 0.0)))")


MAX_STEP = Macro(
    "max-step", "for m > 0: p >= m max(x, t) iff p >= m x and p >= m t (one step of the running maximum)",
    _real("p", "x", "t", "m"), ("(> m 0.0)",),
    "(= (>= p (* m (ite (>= x t) x t))) (and (>= p (* m x)) (>= p (* m t))))")


def same_mask(n: int) -> Macro:
    """Softmax of the same weights over equal masks is the same: congruence, for one row length."""
    ka, kb, w = [f"ka{i}" for i in range(n)], [f"kb{i}" for i in range(n)], [f"w{i}" for i in range(n)]
    sa = add([f"(ite {k} {x} 0.0)" for k, x in zip(ka, w, strict=True)])
    sb = add([f"(ite {k} {x} 0.0)" for k, x in zip(kb, w, strict=True)])
    return Macro(f"same-mask-{n}", f"n = {n}: the same weights over equal masks give the same probabilities",
                 (*((k, "Bool") for k in ka + kb), *_real(*w)),
                 (conj(f"(= {x} {y})" for x, y in zip(ka, kb, strict=True)),),
                 conj(f"(= (/ (ite {x} {v} 0.0) {sa}) (/ (ite {y} {v} 0.0) {sb}))"
                      for x, y, v in zip(ka, kb, w, strict=True)))


def minp_same(n: int) -> Macro:
    """min-p's test reads only the probabilities: equal probabilities, equal tests (congruence)."""
    p, q = [f"p{i}" for i in range(n)], [f"q{i}" for i in range(n)]
    return Macro(f"minp-same-{n}", f"n = {n}: equal probabilities give equal min-p tests",
                 _real(*p, *q, "m"), (conj(f"(= {x} {y})" for x, y in zip(p, q, strict=True)),),
                 conj(f"(= (>= {x} (* m {chain_max(p)})) (>= {y} (* m {chain_max(q)})))"
                      for x, y in zip(p, q, strict=True)))


def sum_scale(n: int) -> Macro:
    m, mh = [f"m{i}" for i in range(n)], [f"mh{i}" for i in range(n)]
    return Macro(f"sum-scale-{n}", f"n = {n}: scaling every term by e scales the sum by e",
                 _real(*m, *mh, "e"), tuple(f"(= {y} (* e {x}))" for x, y in zip(m, mh, strict=True)),
                 f"(= {add(mh)} (* e {add(m)}))")


# --- proofs: one query per row length, every fact an instance of a lemma or a fact about exp -----

def random_env(n: int, rng: random.Random) -> dict:
    def num():
        return Fraction(rng.randint(-99, 99), rng.randint(1, 9))
    return {"z": [num() for _ in range(n)], "c": num(), "T": Fraction(rng.randint(1, 99), rng.randint(1, 9)),
            "b": [num() for _ in range(n)]}


def offset_related(enc: Encoder, g: int, h: int) -> bool:
    """Whether score vectors g and h differ by one constant per row, judged at random exact points on
    rows of length 3. It only chooses which facts to offer z3: a wrong choice can make a proof fail,
    never hold falsely (each fact offered is true whatever the terms)."""
    rng = random.Random(f"{g}-{h}")
    for _ in range(3):
        env = random_env(3, rng)
        a, b = enc.groups[g][1](env), enc.groups[h][1](env)
        if len({y - x for x, y in zip(a, b, strict=True)}) != 1:
            return False
    return True


@dataclass
class Plan:
    enc: Encoder
    claim: str
    facts: list  # true facts about exp and instances of the lemmas (macros)
    macros: list


def plan(a: str, b: str, n: int) -> Plan:
    """a then b vs b then a on one row of length n: definitions, facts, claim."""
    enc = Encoder(n, "proof", pre=f"n{n}_")
    pre = enc.pre
    enc.parameters()
    row = enc.start()
    first, second, claim = enc.both_orders(a, b, row)
    macros, facts = [], []
    for score, _ in enc.groups:
        facts += [f"(> (E {s}) 0.0)" for s in score]

    # temperature read by top-k: every comparison is kept
    read_by_top_k = {r.group for r in enc.top_k_rows}
    for src, out in {(s.group, o.group): (s, o) for s, o in enc.tempered}.values():
        if out.group in read_by_top_k:
            macros.append(TEMP_ORDER)
            facts += [f"(temp-order {src.score[i]} {src.score[j]} {pre}T)"
                      for i, j in itertools.permutations(range(n), 2)]

    # min-p next to top-k (different masks): min-p in logits, z_i >= z_j + log m for every kept j
    if "min-p" in (a, b) and {"top-k", "top-k-exact"} & {a, b}:
        lam = enc.declare("lam", "Real")
        facts.append(f"(= (E {lam}) {pre}M)")  # lam = log m: a fresh name for a number that exists
        macros += [MINP_PAIR, MAX_STEP]
        for probs, _pmax, _out in enc.min_p_apps:
            p, k, z = probs.p, probs.row.keep, probs.row.score
            for j in range(1, n):  # pmax = chain_max(p): top_j = ite(p_j >= top_{j-1}, p_j, top_{j-1})
                facts += [f"(max-step {p[i]} {p[j]} {chain_max(p[:j])} {pre}M)" for i in range(n)]
            facts += [f"(minp-pair {k[i]} {k[j]} {z[i]} {z[j]} {probs.total} {pre}M {lam} {p[i]} {p[j]})"
                      for i, j in itertools.product(range(n), repeat=2)]
        for zi, zj in itertools.product(row.score, repeat=2):
            up = f"(+ {zj} {lam})"
            facts += [f"(= (E {up}) (* (E {zj}) (E {lam})))", f"(=> (< {zi} {up}) (< (E {zi}) (E {up})))",
                      f"(=> (< {up} {zi}) (< (E {up}) (E {zi})))"]

    # softmax over the same mask of two score vectors that differ by one constant d
    related = [(p1, p2) for p1, p2 in itertools.combinations(list(enc.probs_of.values()), 2)
               if p1.row.keep == p2.row.keep and p1.row.group != p2.row.group
               and offset_related(enc, p1.row.group, p2.row.group)]
    for p1, p2 in related:
        g, h = p1.row.score, p2.row.score
        d = enc.fresh("d", "Real", f"(- {h[0]} {g[0]})")
        e = f"(E {d})"
        facts.append(f"(> {e} 0.0)")
        facts += [f"(=> (= {v} (+ {u} {d})) (= (E {v}) (* (E {u}) {e})))" for u, v in zip(g, h, strict=True)]
        facts += [f"(scale-ite {k} (E {u}) (E {v}) {e})" for k, u, v in zip(p1.row.keep, g, h, strict=True)]
        facts.append(f"(sum-scale-{n} {' '.join(p1.masked())} {' '.join(p2.masked())} {e})")
        facts += [f"(scale {m} {mh} {p1.total} {p2.total} {e})" for m, mh in zip(p1.masked(), p2.masked(), strict=True)]
        macros += [SCALE_ITE, sum_scale(n), SCALE]
        if "min-p" in (a, b):
            macros.append(minp_same(n))
            facts.append(f"(minp-same-{n} {' '.join(p1.p)} {' '.join(p2.p)} {pre}M)")
    if related and "temperature" in (a, b):
        macros.append(TEMP_SHIFT)
        facts += [f"(temp-shift {z} {pre}c {pre}T)" for z in row.score]

    # the same scores over equal masks: the same distribution
    if first.group == second.group and first.keep != second.keep:
        macros.append(same_mask(n))
        facts.append(f"(same-mask-{n} {' '.join(first.keep)} {' '.join(second.keep)} {' '.join(first.weight)})")
    return Plan(enc, claim, list(dict.fromkeys(facts)), list(dict.fromkeys(macros)))


def pins(enc: Encoder) -> list[str]:
    """Values for the non-vacuity check (a model of premises + pins is a model of the premises):
    every logit 0, every entry kept, T = 1, c = 0, b = 0, K = 1, p = m = 1, so exp is only needed
    at 0, where E(0) = 1."""
    values = {"T": "1.0", "c": "0.0", "P": "1.0", "M": "1.0", "K": "1", "lam": "0.0"}
    out = []
    for name in enc.decls:
        bare = name.removeprefix(enc.pre)
        if bare in values:
            out.append(f"(= {name} {values[bare]})")
        elif re.fullmatch(r"[zb]\d+", bare):
            out.append(f"(= {name} 0.0)")
        elif re.fullmatch(r"k\d+", bare):
            out.append(name)
    return [*out, "(= (E 0.0) 1.0)"]


def proof_queries(a: str, b: str) -> list[tuple[Query, str]]:
    """The lemmas over free variables (define-fun macros), then the rows."""
    plans = [plan(a, b, n) for n in range(1, MAX_N + 1)]
    macros = list(dict.fromkeys(m for p in plans for m in p.macros))
    jobs = []
    for m in macros:
        neg, pre = lemma_queries(m)
        jobs += [(neg, f"lemma `{m.name}`: {m.title}"), (pre, f"hypotheses of lemma `{m.name}` are satisfiable")]
    # two queries, run in parallel: the small rows n = 1..MAX_N-1 (a copy of the row per n, with its
    # own names n1_..., n2_...) and the largest row
    for group in (plans[:-1], plans[-1:]):
        jobs += rows_queries(a, b, group)
    return jobs


def rows_queries(a: str, b: str, plans: list[Plan]) -> list[tuple[Query, str]]:
    ns = [p.enc.n for p in plans]
    name = f"n{ns[0]}" if len(ns) == 1 else f"n{ns[0]}-{ns[-1]}"
    sizes = f"n = {ns[0]}" if len(ns) == 1 else f"every n = {ns[0]}..{ns[-1]}"
    macros = list(dict.fromkeys(m for p in plans for m in p.macros))
    header = ["(declare-fun E (Real) Real)", *(m.define() for m in macros)]
    decls = [d for p in plans for d in p.enc.decls.values()]
    premises = [x for p in plans for x in [*p.enc.defs.values(), *p.enc.constraints, *p.facts]]
    body = "\n".join([*header, *decls, *(f"(assert {x})" for x in premises)])
    what = (f"{sizes}{' (a copy of the row per n)' if len(ns) > 1 else ''}: {a} then {b} keeps the same entries "
            f"and gives the same distribution as {b} then {a}, for every row (any initial mask) and every parameter")
    lemmas = ", ".join(f"`{m.name}`" for m in macros)
    neg = Query(f"{name}.negation", f"{what}\nDefinitions, true facts about exp, and instances of the lemmas {lemmas} "
                "(each proved in its own query). With the NEGATED claim: unsat means the claim follows.",
                f"{body}\n(assert (not {conj(p.claim for p in plans)}))", "unsat", "negation")
    pinned = "\n".join(f"(assert {x})" for x in dict.fromkeys(x for p in plans for x in pins(p.enc)))
    pre = Query(f"{name}.premises", f"Non-vacuity check for: {what}\nThe premises alone, with the inputs pinned to "
                "one point (a model with the pins is a model without): sat means they are consistent, so the "
                "proof is not vacuous.", f"{body}\n{pinned}", "sat", "premises")
    return [(neg, f"{sizes}: {a} then {b} = {b} then {a}, keep-set and distribution"),
            (pre, f"{sizes}: premises are satisfiable")]


def lemma_queries(m: Macro) -> tuple[Query, Query]:
    """The lemma's define-fun (the text the other queries use) at fresh constants: its hypotheses,
    and the negated lemma. unsat means it holds for every value of its variables (and every function
    E): where the hypotheses fail it holds trivially."""
    header = ["(declare-fun E (Real) Real)"] if "(E " in m.define() else []
    decls = [f"(declare-const {p} {s})" for p, s in m.params]
    hyps = [f"(assert {h})" for h in m.hyps]
    what = f"lemma `{m.name}`: {m.title}"
    neg = Query(f"lemma.{m.name}.negation", f"{what}\nThe lemma at fresh constants, NEGATED: unsat means it holds "
                "for every value; other queries use it only through instances.",
                "\n".join([*header, m.define(), *decls, *hyps,
                           f"(assert (not ({m.name} {' '.join(p for p, _ in m.params)})))"]), "unsat", "negation")
    pre = Query(f"lemma.{m.name}.premises", f"Non-vacuity check for: {what}\nIts hypotheses alone: sat means they "
                "are consistent (the lemma is not vacuously true).", "\n".join([*header, *decls, *hyps]),
                "sat", "premises")
    return neg, pre

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

Pairs that commute: Z3, bounded: every row length n = 1..MAX_N (one copy of the row per n in one
query), any initial mask with at least one entry kept, every parameter symbolic. Logits are reals;
exp is an uninterpreted function E, and the only facts about it are ground instances of E(u) > 0,
u < v => E(u) < E(v) and E(u + v) = E(u) E(v), each true whatever its terms (log m enters as a
fresh lam with E(lam) = m, a number that exists). Probabilities are written literally,
p_i = [i kept] E(z_i) / sum_j [j kept] E(z_j). Z3 is slow on such nonlinear definitions, so the
query also holds instances of small lemmas over free variables (SMT-LIB `define-fun` macros, each
proved in its own query first: an instance of a valid formula is valid). Which instances to offer
is chosen by this module (partly by evaluating the score vectors at random exact points); a badly
chosen instance can only fail to help, never make a proof unsound.

Pairs that do not commute: the smallest witness (weights q_i, so logits z_i = log q_i; bias
b_i = log beta_i; T = 1/2, so softmax(z / T) is proportional to q_i^2) found by evaluating both
chains in exact rational arithmetic with the rules of proofs.rules, then confirmed by z3 on the SMT
encoding of both chains (the same encoder as the proofs, with the inputs pinned).

Commuting is symmetric (a then b = b then a is the same equation as b then a = a then b), so each
unordered pair is decided once: both ordered theorem ids run the same queries (z3's answers are
cached by query text within a process, so the second id costs nothing).
"""

from __future__ import annotations

import itertools
import math
import os
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from proofs.core import COUNTEREXAMPLE, HOLDS, INCONCLUSIVE, Context, Theorem
from proofs.encodings import add
from proofs.refutations import fmt
from proofs.rules import keep_min_p, keep_top_k, keep_top_p
from proofs.smt import Query, solve

TRANSFORMS = ("temperature", "top-k", "top-k-exact", "top-p", "min-p", "bias", "shift")
MAX_N = 5  # the proofs: every row length 1..MAX_N
SEARCH_N = 3  # the witness searches: rows of this length

# The verdicts the theorems reach (the tests check that they do).
COMMUTE = frozenset(map(frozenset, [
    ("temperature", "top-k"), ("temperature", "top-k-exact"), ("temperature", "shift"),
    ("top-k", "top-k-exact"), ("top-k", "min-p"), ("top-k-exact", "min-p"),
    ("top-k", "shift"), ("top-k-exact", "shift"), ("top-p", "shift"), ("min-p", "shift"),
    ("bias", "shift"),
]))

PARAMETERS = {
    "temperature": "T > 0", "top-k": "any integer K >= 1 (ties at the cut all kept)",
    "top-k-exact": "any integer K >= 1 (exactly K kept, ties broken by the lower index)",
    "top-p": "any p in (0, 1], renormalised over the kept entries",
    "min-p": "any m in (0, 1], p_max over the kept entries",
    "bias": "any real vector b that does not depend on z: a logit bias, or the presence and frequency penalties "
            "(b_i = -presence [token i seen] - frequency count_i, functions of the token history only)",
    "shift": "any real c",
}


def commutes(a: str, b: str) -> bool:
    return frozenset((a, b)) in COMMUTE


def theorem_id(a: str, b: str) -> str:
    return f"commute-{a}-{b}"


def pairs() -> list[tuple[str, str]]:
    """Every unordered pair once, in table order."""
    return list(itertools.combinations(TRANSFORMS, 2))


def canonical(a: str, b: str) -> tuple[str, str]:
    return (a, b) if TRANSFORMS.index(a) < TRANSFORMS.index(b) else (b, a)


# --- the SMT encoding --------------------------------------------------------------------------

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Row:
    """One state of a chain: per entry a score (a logit in proof mode, a weight in search mode),
    its weight exp(score) (E(score) in proof mode; the score itself in search mode) and whether it
    is still kept. `group` numbers the score vector (value maps make new ones, filters do not)."""
    group: int
    score: tuple[str, ...]
    weight: tuple[str, ...]
    keep: tuple[str, ...]


@dataclass(frozen=True)
class Probs:
    row: Row
    total: str
    p: tuple[str, ...]

    def masked(self) -> list[str]:
        return [f"(ite {k} {w} 0.0)" for k, w in zip(self.row.keep, self.row.weight, strict=True)]


@dataclass
class Encoder:
    """Declarations, definitions and constraints of one row of length n. mode "proof": symbolic
    reals and the uninterpreted exp E; mode "search": small integers, exact in rationals."""
    n: int
    mode: str
    pre: str = ""  # name prefix, so that several copies can share one query
    decls: dict = field(default_factory=dict)  # name -> declaration
    defs: dict = field(default_factory=dict)  # name -> its defining premise
    constraints: list = field(default_factory=list)  # every other premise
    margins: list = field(default_factory=list)  # search: no comparison sits on its threshold
    groups: list = field(default_factory=list)  # (score vector, exact evaluator)
    probs_of: dict = field(default_factory=dict)
    value_maps: dict = field(default_factory=dict)
    tempered: list = field(default_factory=list)  # (source row, tempered row)
    min_p_apps: list = field(default_factory=list)  # (probs, pmax, kept after)
    top_k_rows: list = field(default_factory=list)  # rows that top-k reads
    count: int = 0

    @property
    def proof(self) -> bool:
        return self.mode == "proof"

    def declare(self, name: str, sort: str, definition: str | None = None) -> str:
        name = self.pre + name
        self.decls[name] = f"(declare-const {name} {sort})"
        if definition is not None:
            self.defs[name] = f"(= {name} {definition})"
        return name

    def fresh_vector(self, stem: str, sort: str, definitions) -> tuple[str, ...]:
        self.count += 1
        return tuple(self.declare(f"{stem}{self.count}_{i}", sort, d) for i, d in enumerate(definitions))

    def fresh(self, stem: str, sort: str, definition: str | None) -> str:
        self.count += 1
        return self.declare(f"{stem}{self.count}", sort, definition)

    def parameters(self):
        pre, n = self.pre, self.n
        if self.proof:
            for name in ("T", "c", "P", "M", *(f"b{i}" for i in range(n))):
                self.declare(name, "Real")
            self.declare("K", "Int")
            self.constraints += [f"(> {pre}T 0.0)", f"(>= {pre}K 1)", f"(and (< 0.0 {pre}P) (<= {pre}P 1.0))",
                                 f"(and (< 0.0 {pre}M) (<= {pre}M 1.0))"]
            self.P, self.M = f"{pre}P", f"{pre}M"
        else:
            for name in ("K", "Pi", "Mi", "t", *(f"beta{i}" for i in range(n))):
                self.declare(name, "Int")
            self.constraints += [f"(<= 1 K {n})", "(<= 1 Pi 10)", "(<= 1 Mi 10)", "(<= 1 t 9)",
                                 *(f"(<= 1 beta{i} 9)" for i in range(n))]
            self.P, self.M = "(/ (to_real Pi) 10.0)", "(/ (to_real Mi) 10.0)"

    def start(self) -> Row:
        n = self.n
        if self.proof:
            score = tuple(self.declare(f"z{i}", "Real") for i in range(n))
            keep = tuple(self.declare(f"k{i}", "Bool") for i in range(n))
            self.constraints.append(f"(or {' '.join(keep)})" if n > 1 else keep[0])
            return self._row(score, keep, lambda env: env["z"])
        score = tuple(self.declare(f"q{i}", "Int") for i in range(n))
        self.constraints += [f"(<= 1 {q} 9)" for q in score]
        return self._row(tuple(f"(to_real {q})" for q in score), ("true",) * n, None)

    def _row(self, score, keep, evaluate) -> Row:
        self.groups.append((score, evaluate))
        if not self.proof:
            self.margins += [f"(distinct {a} {b})" for a, b in itertools.combinations(score, 2)]
            return Row(len(self.groups) - 1, score, score, keep)
        return Row(len(self.groups) - 1, score, tuple(f"(E {s})" for s in score), keep)

    # value maps: a new score vector (the same one for the same map of the same vector), same mask
    def _map(self, name: str, row: Row, proof_terms, search_terms, evaluate) -> Row:
        key = (name, row.group)
        if key not in self.value_maps:
            terms = proof_terms if self.proof else search_terms
            score = self.fresh_vector({"temperature": "y", "shift": "h", "bias": "g"}[name], "Real", terms)
            parent = self.groups[row.group][1] if self.proof else None
            self.value_maps[key] = self._row(score, row.keep, parent and (lambda env: evaluate(env, parent(env))))
        return replace(self.value_maps[key], keep=row.keep)

    def temperature(self, row: Row) -> Row:
        out = self._map("temperature", row, (f"(/ {s} {self.pre}T)" for s in row.score),
                        (f"(* {s} {s})" for s in row.score), lambda env, v: [x / env["T"] for x in v])
        self.tempered.append((row, out))
        return out

    def shift(self, row: Row) -> Row:
        return self._map("shift", row, (f"(- {s} {self.pre}c)" for s in row.score),
                         (f"(* {s} (to_real t))" for s in row.score), lambda env, v: [x - env["c"] for x in v])

    def bias(self, row: Row) -> Row:
        return self._map("bias", row, (f"(+ {s} {self.pre}b{i})" for i, s in enumerate(row.score)),
                         (f"(* {s} (to_real beta{i}))" for i, s in enumerate(row.score)),
                         lambda env, v: [x + b for x, b in zip(v, env["b"], strict=True)])

    # filters: the same scores, a new mask
    def probs(self, row: Row) -> Probs:
        """softmax over the kept entries, literally: p_i = [i kept] E(z_i) / sum_j [j kept] E(z_j)."""
        key = (row.group, row.keep)
        if key not in self.probs_of:
            masked = [f"(ite {k} {w} 0.0)" for k, w in zip(row.keep, row.weight, strict=True)]
            total = self.fresh("S", "Real", add(masked))
            self.probs_of[key] = Probs(row, total, self.fresh_vector("p", "Real", (f"(/ {m} {total})" for m in masked)))
        return self.probs_of[key]

    def _filter(self, row: Row, keep) -> Row:
        return replace(row, keep=self.fresh_vector("keep", "Bool", keep))

    def _top_k(self, row: Row, exact: bool) -> Row:
        s, k, n = row.score, row.keep, self.n
        self.top_k_rows.append(row)

        def beats(j, i):  # j counts against i: larger, or (exactly K) equal and earlier
            return f"(or (> {s[j]} {s[i]}) (= {s[j]} {s[i]}))" if exact and j < i else f"(> {s[j]} {s[i]})"
        rank = [add([f"(ite (and {k[j]} {beats(j, i)}) 1 0)" for j in range(n) if j != i]) for i in range(n)]
        return self._filter(row, (f"(and {k[i]} (< {rank[i]} {self.pre}K))" for i in range(n)))

    def top_k(self, row: Row) -> Row:
        return self._top_k(row, exact=False)

    def top_k_exact(self, row: Row) -> Row:
        return self._top_k(row, exact=True)

    def top_p(self, row: Row) -> Row:
        p, k, n = self.probs(row).p, row.keep, self.n

        def before(j, i):  # j precedes i: larger probability, ties by the lower index
            return f"(or (> {p[j]} {p[i]}) (= {p[j]} {p[i]}))" if j < i else f"(> {p[j]} {p[i]})"
        above = [add([f"(ite (and {k[j]} {before(j, i)}) {p[j]} 0.0)" for j in range(n) if j != i])
                 for i in range(n)]
        above = ["0.0" if a == "0" else a for a in above]
        self.margins += [f"(distinct {a} {self.P})" for a in above]
        return self._filter(row, (f"(and {k[i]} (< {above[i]} {self.P}))" for i in range(n)))

    def min_p(self, row: Row) -> Row:
        probs = self.probs(row)
        p, k, n = probs.p, row.keep, self.n
        pmax = self.fresh("pmax", "Real", chain_max(p))  # max over all = max over the kept (masked are 0)
        self.margins += [f"(distinct {p[i]} (* {self.M} {pmax}))" for i in range(n)]
        out = self._filter(row, (f"(and {k[i]} (>= {p[i]} (* {self.M} {pmax})))" for i in range(n)))
        self.min_p_apps.append((probs, pmax, out))
        return out

    def apply(self, name: str, row: Row) -> Row:
        return getattr(self, name.replace("-", "_"))(row)


def chain_max(terms) -> str:
    top = terms[0]
    for t in terms[1:]:
        top = f"(ite (>= {t} {top}) {t} {top})"
    return top


def conj(terms) -> str:
    terms = list(terms)
    return "true" if not terms else terms[0] if len(terms) == 1 else f"(and {' '.join(terms)})"


def symbols(text: str, known) -> set[str]:
    return {t for t in NAME.findall(text) if t in known}


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
    first = enc.apply(b, enc.apply(a, row))  # a then b
    second = enc.apply(a, enc.apply(b, row))  # b then a
    final_a, final_b = enc.probs(first), enc.probs(second)
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
    claim = conj([*(f"(= {x} {y})" for x, y in zip(first.keep, second.keep, strict=True)),
                  *(f"(= {x} {y})" for x, y in zip(final_a.p, final_b.p, strict=True))])
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


_ANSWERS: dict = {}  # (query text, timeout, rlimit) -> z3's answer: the two ordered ids share them


def run_batch(ctx: Context, jobs: list[tuple[Query, str]]):
    """Context.z3_batch with z3's answers cached by query text within the process."""
    keys = [(q.script(), ctx.timeout, ctx.rlimit) for q, _ in jobs]
    todo = {k: q for k, (q, _) in zip(keys, jobs, strict=True) if k not in _ANSWERS}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        answers = pool.map(lambda q: solve(q, ctx.timeout, ctx.rlimit), todo.values())
        _ANSWERS.update(zip(todo, answers, strict=True))
    return [ctx._record(q, title, _ANSWERS[k]) for k, (q, title) in zip(keys, jobs, strict=True)]


def prove(ctx: Context, a: str, b: str):
    a, b = canonical(a, b)
    run_batch(ctx, proof_queries(a, b))


# --- refutations: a z3 search over small integers, re-checked in exact rational arithmetic -----

def search_query(a: str, b: str, witness: dict) -> Query:
    """Both chains on a row of SEARCH_N weights q_i (logits log q_i) in search mode: T = 1/2 (weights
    squared), bias factors beta_i = exp(b_i), shift factor t = exp(-c), K, p = Pi/10, m = Mi/10; rows
    without ties, no comparison on its threshold; the inputs pinned to the witness."""
    enc = Encoder(SEARCH_N, "search")
    enc.parameters()
    row = enc.start()
    first = enc.apply(b, enc.apply(a, row))
    second = enc.apply(a, enc.apply(b, row))
    pa, pb = enc.probs(first), enc.probs(second)
    claim = conj([*(f"(= {x} {y})" for x, y in zip(first.keep, second.keep, strict=True)),
                  *(f"(= {x} {y})" for x, y in zip(pa.p, pb.p, strict=True))])
    used = inputs(a, b)
    decls = [d for name, d in enc.decls.items() if name in used or name in enc.defs]
    premises = [*enc.defs.values(), *(c for c in enc.constraints if symbols(c, enc.decls) <= set(used) | set(enc.defs)),
                *enc.margins, *(f"(= {name} {witness[name]})" for name in used)]
    body = "\n".join([*decls, *(f"(assert {p})" for p in premises), f"(assert (not {claim}))"])
    return Query("witness", f"The witness on the SMT encoding of both chains: {a} then {b} and {b} then {a} keep "
                 "different entries or give different distributions (weights q_i, logits log q_i; inputs "
                 "pinned to the witness found in exact arithmetic). sat confirms it.", body, "sat", "search",
                 show=tuple(used))


def inputs(a: str, b: str) -> list[str]:
    names = [f"q{i}" for i in range(SEARCH_N)]
    for t in (a, b):
        names += {"top-k": ["K"], "top-k-exact": ["K"], "top-p": ["Pi"], "min-p": ["Mi"], "shift": ["t"],
                  "bias": [f"beta{i}" for i in range(SEARCH_N)]}.get(t, [])
    return list(dict.fromkeys(names))


def witness_params(values: dict) -> dict:
    """The exact parameters of a witness: weights, T = 1/2, and whatever the pair uses."""
    w = {"q": [Fraction(values[f"q{i}"]) for i in range(SEARCH_N)], "T": Fraction(1, 2)}
    if "K" in values:
        w["K"] = int(values["K"])
    if "Pi" in values:
        w["p"] = Fraction(values["Pi"]) / 10
    if "Mi" in values:
        w["m"] = Fraction(values["Mi"]) / 10
    if "t" in values:
        w["t"] = Fraction(values["t"])
    if "beta0" in values:
        w["beta"] = [Fraction(values[f"beta{i}"]) for i in range(SEARCH_N)]
    return w


def _exact_step(name: str, w: dict, prm: dict, robust: list) -> dict:
    """One transform on the kept weights {index: exp(z_i)} (Fractions), by the rules of proofs.rules.
    `robust` collects whether no two kept weights tie and no comparison sits on its threshold."""
    idx = sorted(w)
    sub = [w[i] for i in idx]
    total = sum(sub)
    probs = [x / total for x in sub]
    if name == "temperature":  # exp(z / T) = exp(z)^(1/T); witnesses use T = 1/r
        r = 1 / prm["T"]
        assert r.denominator == 1, "exact temperature needs T = 1/r"
        return {i: x ** int(r) for i, x in w.items()}
    if name == "shift":  # exp(z - c) = exp(z) t with t = exp(-c)
        return {i: x * prm["t"] for i, x in w.items()}
    if name == "bias":  # exp(z + b) = exp(z) beta with beta = exp(b)
        return {i: x * prm["beta"][i] for i, x in w.items()}
    robust.append(len(set(sub)) == len(sub))
    if name == "top-p":
        order = sorted(range(len(sub)), key=lambda i: (-probs[i], i))
        robust.append(all(sum(probs[j] for j in order[:r]) != prm["p"] for r in range(len(order))))
    if name == "min-p":
        robust.append(all(x != prm["m"] * max(probs) for x in probs))
    kept = {"top-k": lambda: keep_top_k(sub, prm["K"], "all"),  # exp is increasing: the order of z
            "top-k-exact": lambda: keep_top_k(sub, prm["K"], "index"),
            "top-p": lambda: keep_top_p(probs, prm["p"]), "min-p": lambda: keep_min_p(probs, prm["m"])}[name]()
    return {idx[j]: sub[j] for j in kept}


def exact_chain(names, prm: dict, robust: list | None = None) -> tuple[frozenset, dict]:
    """Apply the transforms in order to the witness row; the keep-set and the distribution over it."""
    robust = [] if robust is None else robust
    w = dict(enumerate(prm["q"]))
    for name in names:
        w = _exact_step(name, w, prm, robust)
        robust.append(len(set(w.values())) == len(w))
    total = sum(w.values())
    return frozenset(w), {i: x / total for i, x in w.items()}


def describe(a: str, b: str, prm: dict) -> str:
    parts = [f"logits z = ({', '.join('log ' + fmt(q) for q in prm['q'])})"]
    for t in (a, b):
        parts.append({"temperature": lambda: f"T = {fmt(prm['T'])}", "top-k": lambda: f"K = {prm['K']}",
                      "top-k-exact": lambda: f"K = {prm['K']}", "top-p": lambda: f"p = {fmt(prm['p'])}",
                      "min-p": lambda: f"m = {fmt(prm['m'])}", "shift": lambda: f"c = -log {fmt(prm['t'])}",
                      "bias": lambda: f"b = ({', '.join('log ' + fmt(x) for x in prm['beta'])})"}[t]())
    return ", ".join(dict.fromkeys(parts))


def recheck(a: str, b: str, prm: dict) -> tuple[bool, str]:
    """Whether the witness is a counterexample, in exact rational arithmetic, and the explanation."""
    def show(result):
        keep, dist = result
        return (f"keeps {{{', '.join(map(str, sorted(keep)))}}} with probabilities "
                f"({', '.join(fmt(dist[i]) for i in sorted(keep))})")
    ab, ba = exact_chain((a, b), prm), exact_chain((b, a), prm)
    return ab != ba, f"{describe(a, b, prm)}: {a} then {b} {show(ab)}; {b} then {a} {show(ba)}."


def candidates(a: str, b: str):
    """Witness candidates as z3 input values, smallest integers first (a deterministic order)."""
    used = inputs(a, b)
    vectors = [n for n in used if n[-1].isdigit()]  # q0.., beta0..
    scalars = {"K": range(1, SEARCH_N + 1), "Pi": range(2, 11, 2), "Mi": range(2, 11, 2), "t": range(1, 10)}
    rest = [n for n in used if n in scalars]
    for top in range(2, 10):
        for ints in itertools.product(range(1, top + 1), repeat=len(vectors)):
            if max(ints) == top:
                for extra in itertools.product(*(scalars[n] for n in rest)):
                    yield dict(zip(vectors + rest, (*ints, *extra), strict=True))


def find_witness(a: str, b: str) -> dict | None:
    for values in candidates(a, b):
        prm = witness_params(values)
        robust: list = []
        if exact_chain((a, b), prm, robust) != exact_chain((b, a), prm, robust) and all(robust):
            return values
    return None


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


# --- numeric sanity checks (numpy float64, seeded): evidence, not proof ---------------------------

SANITY_TRIALS = 200


def np_step(name: str, z: np.ndarray, prm: dict) -> np.ndarray:
    """One transform on logits in float64; masked entries are -inf."""
    kept = np.isfinite(z)
    idx = np.flatnonzero(kept)
    if name == "temperature":
        return np.where(kept, z / prm["T"], -np.inf)
    if name == "shift":
        return np.where(kept, z - prm["c"], -np.inf)
    if name == "bias":
        return np.where(kept, z + prm["b"], -np.inf)
    out = np.full_like(z, -np.inf)
    v = z[idx]
    if name == "top-k":
        keep = [i for i, x in enumerate(v) if np.sum(v > x) < prm["K"]]
    elif name == "top-k-exact":
        keep = sorted(range(len(v)), key=lambda i: (-v[i], i))[:prm["K"]]
    else:
        p = np.exp(v - v.max())
        p /= p.sum()
        if name == "min-p":
            keep = [i for i, x in enumerate(p) if x >= prm["m"] * p.max()]
        else:
            keep, above = [], 0.0
            for i in sorted(range(len(p)), key=lambda i: (-p[i], i)):
                if above < prm["p"]:
                    keep.append(i)
                above += p[i]
    out[idx[keep]] = v[keep]
    return out


def np_chain(names, z: np.ndarray, prm: dict) -> tuple[np.ndarray, np.ndarray]:
    for name in names:
        z = np_step(name, z, prm)
    kept = np.isfinite(z)
    p = np.zeros_like(z)
    p[kept] = np.exp(z[kept] - z[kept].max())
    return kept, p / p.sum()


def np_disagree(a: str, b: str, z: np.ndarray, prm: dict) -> bool:
    (ka, pa), (kb, pb) = np_chain((a, b), z, prm), np_chain((b, a), z, prm)
    return bool((ka != kb).any() or np.abs(pa - pb).max() > 1e-9)


def random_case(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    n = int(rng.integers(1, 9))
    ties = rng.random() < 0.5
    z = rng.integers(-3, 4, n).astype(float) if ties else rng.normal(0, 5, n)
    if rng.random() < 0.5:  # some entries already masked, at least one kept
        z[rng.random(n) < 0.3] = -np.inf
        if not np.isfinite(z).any():
            z[0] = 0.0
    prm = {"T": rng.uniform(0.1, 3), "c": rng.uniform(-50, 50), "K": int(rng.integers(1, n + 2)),
           "b": rng.integers(-2, 3, n).astype(float) if ties else rng.normal(0, 2, n),
           "p": rng.uniform(0.05, 1.0), "m": rng.uniform(0.01, 1.0)}
    return z, prm


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
        (prove if commutes(a, b) else refute)(ctx, a, b)
        sanity(ctx, a, b)
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
    if commutes(a, b):
        return Theorem(
            theorem_id(a, b), f"{a} then {b} = {b} then {a} (they commute)",
            f"Applying {a} then {b} keeps the same entries and gives the same distribution (softmax over the "
            f"kept entries) as {b} then {a}, for every row and every parameter.",
            rf"\forall z, \theta:\quad ({equation})(z)\ \text{{(same keep-set, same softmax over it)}}",
            ("z is a real row of length n; entries may already be masked (-inf) by earlier steps, at least one "
             "is kept", f"{a}: {PARAMETERS[a]}", f"{b}: {PARAMETERS[b]}",
             f"bounded: every n = 1..{MAX_N} (a copy of the row per n: one query for n < {MAX_N}, one for "
             f"n = {MAX_N}), every parameter symbolic", LEMMA_NOTE),
            f"Z3 over the reals, two queries (n = 1..{MAX_N - 1} with a copy of the row per n, and n = {MAX_N}): "
            "the literal definitions of both chains (probabilities p_i = E(z_i) / sum over the kept entries), "
            "true facts about exp, and instances of small lemmas over free variables (SMT-LIB define-fun macros, "
            "each proved in its own query first: an instance of a valid formula is valid). " + shared,
            "proved", decide(a, b),
            f"A sampler may apply {a} and {b} in either order: the same tokens stay and the target "
            "distribution is the same." + (" " + MEANING[frozenset((a, b))] if frozenset((a, b)) in MEANING else ""))
    return Theorem(
        theorem_id(a, b), f"claim: {a} then {b} = {b} then {a} (false)",
        f"Claim: applying {a} then {b} keeps the same entries and gives the same distribution as {b} then {a}, "
        "for every row and every parameter. False: a witness where the keep-sets or the distributions differ.",
        rf"\text{{claim: }} \forall z, \theta:\ ({equation})(z)",
        (f"n = {SEARCH_N}, logits z_i = log q_i with integers 1 <= q_i <= 9", "T = 1/2 (softmax(z / T) is "
         "proportional to q_i^2), bias b_i = log beta_i with integers 1..9, shift c = -log t, t in 1..9",
         f"K in 1..{SEARCH_N}; p and m in {{1/5, 2/5, 3/5, 4/5, 1}}",
         "no ties within a row and no comparison exactly on its threshold (so floating point reproduces it)"),
        "Exact search: candidates with the smallest integers first, both chains evaluated in Python Fractions "
        "with the rules of proofs.rules; the first that differs is the witness. Z3 confirms it on the SMT "
        "encoding of both chains (the proofs' encoder, inputs pinned), and numpy float64 reproduces it from "
        "the logits. " + shared, "refuted", decide(a, b),
        f"The order of {a} and {b} matters: a spec has to fix it (or make it a parameter), and two engines "
        "that order them differently sample from different distributions.")


THEOREMS: tuple[Theorem, ...] = tuple(theorem(a, b) for a, b in itertools.permutations(TRANSFORMS, 2))


# --- the table -----------------------------------------------------------------------------------

def matrix_markdown(results=None) -> str:
    """The commutation table: rows = applied first, columns = applied second; "=" commutes (proved),
    "≠" does not (refuted), "?" any other verdict, "—" the diagonal. `results` maps theorem ids to
    verdicts (or is a list of proofs.transcript.Result); without it, the catalogue's expected verdicts."""
    if results is None:
        verdicts = {t.id: t.expected for t in THEOREMS}
    elif isinstance(results, dict):
        verdicts = {k: getattr(v, "verdict", v) for k, v in results.items()}
    else:
        verdicts = {r.theorem.id: r.verdict for r in results}

    def cell(a, b):
        if a == b:
            return "—"
        v = verdicts.get(theorem_id(a, b), "")
        return "=" if v == "proved" else "≠" if v == "refuted" else "?"
    lines = ["| first \\ then | " + " | ".join(TRANSFORMS) + " |", "|---" * (len(TRANSFORMS) + 1) + "|"]
    lines += [f"| **{a}** | " + " | ".join(cell(a, b) for b in TRANSFORMS) + " |" for a in TRANSFORMS]
    return "\n".join(lines)


def ids_markdown() -> str:
    """Every theorem id of the table, for a README that names each theorem."""
    return ", ".join(f"`{t.id}`" for t in THEOREMS)

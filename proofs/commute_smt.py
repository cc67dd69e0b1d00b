"""The SMT encoding of the sampler transforms for the commutation table (proofs.commutation): one
row of logits, each transform a new score vector (temperature, bias, shift) or a new mask (top-k,
top-k-exact, top-p, min-p), written as SMT-LIB definitions.

Two modes share the encoder. "proof": logits are symbolic reals and exp is an uninterpreted
function E; probabilities are written literally, p_i = [i kept] E(z_i) / sum_j [j kept] E(z_j)
(proofs.commute_proof adds the facts and lemmas the proofs need). "search": the row is SEARCH_N
small integer weights q_i (logits log q_i), T = 1/2 (weights squared), bias factors beta_i = exp(b_i),
shift factor t = exp(-c), p = Pi/10, m = Mi/10, exact in rationals: `search_query` pins a witness
found in exact arithmetic (proofs.commute_exact) and z3 confirms it on the same encoding.

`run_batch` runs queries with z3's answers cached by query text within a process, so the two ordered
theorem ids of one unordered pair cost one set of queries.
"""

from __future__ import annotations

import itertools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from proofs.core import Context
from proofs.encodings import add
from proofs.smt import Query, solve

SEARCH_N = 3  # the witness searches: rows of this length


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
        return masked(self.row)


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
            terms = masked(row)
            total = self.fresh("S", "Real", add(terms))
            self.probs_of[key] = Probs(row, total, self.fresh_vector("p", "Real", (f"(/ {m} {total})" for m in terms)))
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

    def both_orders(self, a: str, b: str, row: Row) -> tuple[Row, Row, str]:
        """a then b and b then a from `row`, and the claim that they keep the same entries and give
        the same distribution (softmax over the kept entries)."""
        first = self.apply(b, self.apply(a, row))  # a then b
        second = self.apply(a, self.apply(b, row))  # b then a
        pa, pb = self.probs(first), self.probs(second)
        return first, second, conj([*(f"(= {x} {y})" for x, y in zip(first.keep, second.keep, strict=True)),
                                    *(f"(= {x} {y})" for x, y in zip(pa.p, pb.p, strict=True))])


def masked(row: Row) -> list[str]:
    """Each entry's weight where it is kept, 0 where it is masked."""
    return [f"(ite {k} {w} 0.0)" for k, w in zip(row.keep, row.weight, strict=True)]


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


# --- the witness query: both chains in search mode, the inputs pinned -----------------------------

def search_query(a: str, b: str, witness: dict) -> Query:
    """Both chains on a row of SEARCH_N weights q_i (logits log q_i) in search mode: T = 1/2 (weights
    squared), bias factors beta_i = exp(b_i), shift factor t = exp(-c), K, p = Pi/10, m = Mi/10; rows
    without ties, no comparison on its threshold; the inputs pinned to the witness."""
    enc = Encoder(SEARCH_N, "search")
    enc.parameters()
    row = enc.start()
    _, _, claim = enc.both_orders(a, b, row)
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


# --- running the queries --------------------------------------------------------------------------

_ANSWERS: dict = {}  # (query text, timeout, rlimit) -> z3's answer: the two ordered ids share them


def run_batch(ctx: Context, jobs: list[tuple[Query, str]]):
    """Context.z3_batch with z3's answers cached by query text within the process."""
    keys = [(q.script(), ctx.timeout, ctx.rlimit) for q, _ in jobs]
    todo = {k: q for k, (q, _) in zip(keys, jobs, strict=True) if k not in _ANSWERS}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        answers = pool.map(lambda q: solve(q, ctx.timeout, ctx.rlimit), todo.values())
        _ANSWERS.update(zip(todo, answers, strict=True))
    return [ctx._record(q, title, _ANSWERS[k]) for k, (q, title) in zip(keys, jobs, strict=True)]

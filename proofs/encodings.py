"""SMT-LIB encodings of "first-index argmax(z - c) = first-index argmax(z)".

Bounded (n explicit reals, quantifier-free linear real arithmetic, so z3 decides them completely):
each encoding returns (declarations, premises, claim). The shifted row y_i is a fresh variable tied
by the premise y_i = z_i - c, so the solver has to reason about c; z3's preprocessing may still
substitute and cancel it. Unbounded: `FIRST_MAX` over an array and a symbolic length n.
"""

from __future__ import annotations

from dataclasses import dataclass


def _rows(n: int, per_entry: bool = False) -> tuple[str, list[str]]:
    """z, y = z - c. per_entry: c is a vector (c_i per entry), which makes the claim false."""
    shift = [f"c{i}" for i in range(n)] if per_entry else ["c"] * n
    decls = [f"(declare-const {name} Real)" for name in dict.fromkeys(shift)]
    decls += [f"(declare-const z{i} Real)" for i in range(n)]
    decls += [f"(declare-const y{i} Real)" for i in range(n)]
    return "\n".join(decls), [f"(= y{i} (- z{i} {shift[i]}))" for i in range(n)]


def _and(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else f"(and {' '.join(terms)})"


def add(terms: list[str]) -> str:
    """SMT-LIB sum; (+ x) with one argument is not valid SMT-LIB (cvc5 rejects it)."""
    return "0" if not terms else terms[0] if len(terms) == 1 else f"(+ {' '.join(terms)})"


def _or(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else f"(or {' '.join(terms)})"


def ite_chain(n: int):
    """argmax as a running (best value, best index) pair updated left to right by ite."""
    decls, premises = _rows(n)
    lines = [decls]
    for v in "zy":
        lines.append(f"(define-fun {v}best0 () Real {v}0)\n(define-fun {v}arg0 () Int 0)")
        for i in range(1, n):
            better = f"(> {v}{i} {v}best{i - 1})"
            lines.append(f"(define-fun {v}best{i} () Real (ite {better} {v}{i} {v}best{i - 1}))")
            lines.append(f"(define-fun {v}arg{i} () Int (ite {better} {i} {v}arg{i - 1}))")
    return "\n".join(lines), premises, f"(= zarg{n - 1} yarg{n - 1})"


def declarative(n: int):
    """argmax as an index k with value v: every entry <= v, every earlier entry < v."""
    decls, premises = _rows(n)
    lines = [decls]
    for v in "zy":
        lines.append(f"(declare-const {v}k Int)\n(declare-const {v}v Real)")
        premises.append(f"(and (<= 0 {v}k) (< {v}k {n}))")
        premises += [f"(=> (= {v}k {i}) (= {v}v {v}{i}))" for i in range(n)]
        premises += [f"(<= {v}{i} {v}v)" for i in range(n)]
        premises += [f"(=> (< {i} {v}k) (< {v}{i} {v}v))" for i in range(n)]
    return "\n".join(lines), premises, "(= zk yk)"


def one_hot(n: int, per_entry: bool = False):
    """argmax as indicators f_k = (v_k = max) and no earlier entry equals max, via prefix flags."""
    decls, premises = _rows(n, per_entry)
    lines = [decls]
    for v in "zy":
        lines.append(f"(declare-const {v}max Real)")
        premises += [f"(<= {v}{i} {v}max)" for i in range(n)]
        premises.append(_or([f"(= {v}{i} {v}max)" for i in range(n)]))
        lines.append(f"(define-fun {v}seen0 () Bool false)")
        for i in range(n):
            at_max = f"(= {v}{i} {v}max)"
            lines.append(f"(define-fun {v}first{i} () Bool (and {at_max} (not {v}seen{i})))")
            lines.append(f"(define-fun {v}seen{i + 1} () Bool (or {v}seen{i} {at_max}))")
    return "\n".join(lines), premises, _and([f"(= zfirst{i} yfirst{i})" for i in range(n)])


# The one-hot proof splits in two: this lemma first (fast), then the indicator equality given it.
# Together they reach n = 1024 in seconds; the one-hot query alone times out there.
MAX_LEMMA = "(= ymax (- zmax c))"

ENCODINGS = {"ite-chain": ite_chain, "declarative": declarative, "one-hot": one_hot}

FIRST_MAX = """\
; first-max a n k: k is the first index of a maximum of a[0..n-1]
(define-fun first-max ((a (Array Int Real)) (n Int) (k Int)) Bool
  (and (<= 0 k) (< k n)
       (forall ((j Int)) (=> (and (<= 0 j) (< j n)) (<= (select a j) (select a k))))
       (forall ((j Int)) (=> (and (<= 0 j) (< j k)) (< (select a j) (select a k))))))"""


def arrays(*names: str) -> str:
    return "\n".join(f"(declare-const {a} (Array Int Real))" for a in names)


def consts(sort: str, *names: str) -> str:
    return "\n".join(f"(declare-const {a} {sort})" for a in names)


# --- induction, ordered prefix sums (the unbounded proofs with no step on paper) -----------------

def induction(pred: str, base: int = 0, var: str = "n") -> tuple[str, str]:
    """An instance of the induction schema over the integers for the unary predicate `pred` (the
    name of a `define-fun` (Int) -> Bool): (rule, conclusion). The rule is
    `P(base) and (forall var >= base: P(var) => P(var+1)) => forall var >= base: P(var)`; every
    instance is true by the principle of induction, so asserting it as a premise is sound. z3 does
    no induction itself: given the rule, it checks the base case, the step and the conclusion in
    one query. `var` names the bound variable (pick one that is not a declared constant)."""
    conclusion = f"(forall (({var} Int)) (=> (>= {var} {base}) ({pred} {var})))"
    step = f"(forall (({var} Int)) (=> (and (>= {var} {base}) ({pred} {var})) ({pred} (+ {var} 1))))"
    return f"(=> (and ({pred} {base}) {step}) {conclusion})", conclusion


def accumulate(acc: str, term, n: str = "n") -> list[str]:
    """Premises making array `acc` the running sum over j = 0..n-1 of term(j) (term maps an SMT
    index expression to an SMT term): acc[0] = term(0), acc[j+1] = acc[j] + term(j+1)."""
    return [f"(= (select {acc} 0) {term('0')})",
            f"(forall ((j Int)) (=> (and (<= 0 j) (< (+ j 1) {n})) "
            f"(= (select {acc} (+ j 1)) (+ (select {acc} j) {term('(+ j 1)')}))))"]


def below(body: str, var: str = "m", n: str = "n") -> str:
    """`body` for every index var in 0..n-1."""
    return f"(forall (({var} Int)) (=> (and (<= 0 {var}) (< {var} {n})) {body}))"


def const_array(name: str, value: str, sort: str = "Real") -> str:
    """name is the constant array with every entry `value` (for pinning witnesses)."""
    return f"(= {name} ((as const (Array Int {sort})) {value}))"


BEFORE = """\
; before a j i: entry j is ranked before entry i (larger value, ties to the lower index)
(define-fun before ((a (Array Int Real)) (j Int) (i Int)) Bool
  (or (> (select a j) (select a i)) (and (= (select a j) (select a i)) (< j i))))"""


# --- the one-hot proof split with a max lemma, so that every per-index fact is local ------------

# z3 flattens the nested prefix flags seen_{i+1} = (or seen_i at_max_i) into flat n-ary ors, one of
# size i per index: quadratic work (and memory) before any search. This option only stops that
# flattening; it changes no answer. At n = 4096 the last step below goes from about 10 s to 0.5 s.
NO_FLATTEN = "(set-option :rewriter.flat_and_or false)"


def at_max(i: int, j: int | None = None) -> str:
    """Per-index fact: y_i is at the max of y exactly when z_i is at the max of z (z_j: a mutant)."""
    return f"(= (= y{i} ymax) (= z{i if j is None else j} zmax))"


@dataclass(frozen=True)
class Split:
    """One step of a split proof: every goal follows from `facts` (premises of the theorem or goals
    of earlier steps). scoped: one (push) (assert (not goal)) (check-sat) (pop) per goal in one
    solver process, each answer must be unsat; else a single query with the negated conjunction."""

    name: str
    facts: tuple[str, ...]
    goals: tuple[str, ...]
    scoped: bool = False


def max_split(n: int, per_entry: bool = False, claim_offset: int = 0, drop: int | None = None,
              fact_offset: int = 0):
    """The one-hot theorem of `one_hot(n)` (same declarations, premises and claim), proved in three
    steps whose hard parts are per index: (1) max(z - c) = max(z) - c (`MAX_LEMMA`) from the
    premises; (2) for each i, from the shift premises y_i = z_i - c and (1):
    y_i = max(y) iff z_i = max(z), each checked in its own scope (n small unsat checks, no global
    disjunction of n negated facts); (3) the claim from the premises, (1) and every (2): only the
    prefix flags remain, which is propositional. Returns (decls, premises, claim, steps).

    Mutants (for tests; they must not be proved): per_entry (c_i per entry, the false theorem),
    claim_offset (compare zfirst_i with yfirst_{i+offset}), drop (leave out the shift premise of
    entry `drop`), fact_offset (the per-index facts pair y_i with z_{i+offset})."""
    decls, premises, claim = one_hot(n, per_entry)
    shift = premises[:n]  # y_i = z_i - c (or c_i), in index order
    if drop is not None:
        premises = [p for p in premises if p != shift[drop]]
        shift = [p for p in shift if p != shift[drop]]
    if claim_offset:
        claim = _and([f"(= zfirst{i} yfirst{(i + claim_offset) % n})" for i in range(n)])
    facts = [at_max(i, (i + fact_offset) % n if fact_offset else None) for i in range(n)]
    steps = [Split("max", tuple(premises), (MAX_LEMMA,)),
             Split("at-max", (*shift, MAX_LEMMA), tuple(facts), scoped=True),
             Split("claim", (*premises, MAX_LEMMA, *facts), (claim,))]
    return decls, premises, claim, steps


def split_is_honest(premises: list[str], claim: str, steps: list[Split]) -> bool:
    """Every step uses only premises and earlier goals, and the last step's goal is the claim."""
    known = set(premises)
    for step in steps:
        if not set(step.facts) <= known:
            return False
        known |= set(step.goals)
    return steps[-1].goals == (claim,)


def split_script(decls: str, step: Split) -> tuple[str, list[str]]:
    """SMT-LIB text of one step (no set-logic) and the answers a correct solver gives, in order.

    A plain step is one check of the negated conjunction of its goals. A scoped step first checks
    its facts alone (sat: they are consistent, and z3 internalizes them once, most of the work),
    then one scoped check per goal. z3's rlimit applies to each (check-sat) on its own: a scoped
    step of k goals is bounded by (k + 1) * rlimit units, and uses far less (about 300 units per
    goal at n = 4096). A per-check budget of rlimit / k does not work: the first scoped check
    costs O(n) units (z3 re-checks the whole context once), which passes rlimit / k near
    n = 5600 with the default rlimit."""
    lines = [NO_FLATTEN, decls, *(f"(assert {f})" for f in step.facts)]
    if not step.scoped:
        return "\n".join([*lines, f"(assert (not {_and(list(step.goals))}))", "(check-sat)"]), ["unsat"]
    lines += ["(check-sat)", *(f"(push 1)\n(assert (not {g}))\n(check-sat)\n(pop 1)" for g in step.goals)]
    return "\n".join(lines), ["sat"] + ["unsat"] * len(step.goals)

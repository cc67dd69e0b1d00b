"""Z3 and SymPy proofs that typical-p, epsilon, eta, XTC and top-n-sigma keep the same tokens when
fed log-probabilities z - logsumexp(z) (any per-row shift z - c) instead of logits.

Typical-p, epsilon, eta and XTC read the probabilities p_i of the row they see and functions of
them (log p_i, the entropy H, exp(-H)); their min_tokens_to_keep ranks read the logits' order.
Top-n-sigma reads max(z) and the standard deviation sigma(z). Each proof has two parts:

- what the rule reads moves as it should: the probabilities are those of the shifted row (z3,
  every n = 1..MAX_N), the log-probabilities and the entropy too (SymPy, symbolic n); for
  top-n-sigma, sigma(z - c) = sigma(z) (SymPy, symbolic n) and max(z - c) = max(z) - c (z3);
- given that, the rule keeps the same tokens (z3, every n = 1..MAX_N, a copy of the row per n in
  one query, every parameter symbolic);
- and over one keep-set the softmax of z - c is that of z (SymPy, symbolic n, a keep mask m_j), so
  the target distributions agree, not only the keep-sets (`masked_softmax_shift`, one step shared by
  the five theorems).

The lemma's rows are written as in `filters-shift`: weights e_i = exp(z_i) > 0, shifted weights
f_i = t e_i with t = exp(-c) > 0, p_i = e_i / sum(e). The rules' rows hold logits z and y = z - c,
probabilities p and q with the lemma q = p as a premise, log-probabilities lg(p_i) and weights
E(z_i): log and exp are uninterpreted functions (lg, E), so equal arguments give equal values and
nothing else is assumed about them. Mutants that read the logits or the weights where the engines
read probabilities are not proved (tests): z3 finds a model of their negated claim.

`top-n-sigma-temperature`: the same rule on z and z / T (T > 0), max and sigma both scaled by 1 / T;
then, given the keep-sets agree, the two orders give the same distribution: softmax(z / T) over
keep(z / T) and over keep(z) (z3, exp uninterpreted, `temperature_distribution`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import sympy as sp

from proofs import symbolic
from proofs.commute_smt import chain_max, conj, run_batch
from proofs.core import NOT_RUN, Context
from proofs.encodings import add
from proofs.smt import Query

MAX_N = 6  # every row length 1..MAX_N
HEADER = "(declare-fun lg (Real) Real)\n(declare-fun E (Real) Real)"


@dataclass(frozen=True)
class Side:
    """One row as a rule sees it: probabilities, log-probabilities, logits, unnormalised weights."""
    p: tuple[str, ...]
    lp: tuple[str, ...]
    z: tuple[str, ...]
    w: tuple[str, ...]


@dataclass
class Rows:
    """A row of length n and its shift, with the declarations and premises that define them."""
    n: int
    pre: str
    decls: list = field(default_factory=list)
    premises: list = field(default_factory=list)
    keep: dict = field(default_factory=dict)  # sigma_rows: each row's entries and keep tests, by row name

    def const(self, name: str, sort: str = "Real", definition: str | None = None) -> str:
        name = self.pre + name
        self.decls.append(f"(declare-const {name} {sort})")
        if definition is not None:
            self.premises.append(f"(= {name} {definition})")
        return name

    def vector(self, stem: str, sort: str = "Real", definitions=None) -> tuple[str, ...]:
        defs = list(definitions) if definitions is not None else [None] * self.n
        return tuple(self.const(f"{stem}{i}", sort, d) for i, d in enumerate(defs))


def weighted(n: int) -> tuple[Rows, str]:
    """The lemma's row: weights e_i > 0, shifted weights f_i = t e_i (t = exp(-c) > 0), p = e / sum(e),
    q = f / sum(f). Returns (rows, the claim q = p)."""
    r = Rows(n, f"n{n}_")
    t = r.const("t")
    e, f = r.vector("e"), r.vector("f")
    r.premises += [f"(> {t} 0.0)", *(f"(> {x} 0.0)" for x in e),
                   *(f"(= {y} (* {t} {x}))" for x, y in zip(e, f, strict=True))]
    s, s2 = r.const("S", definition=add(list(e))), r.const("S2", definition=add(list(f)))
    p = r.vector("p", definitions=(f"(/ {x} {s})" for x in e))
    q = r.vector("q", definitions=(f"(/ {y} {s2})" for y in f))
    return r, conj(f"(= {y} {x})" for x, y in zip(p, q, strict=True))


def shifted(n: int) -> tuple[Rows, Side, Side]:
    """The rules' row: logits z and z - c, their probabilities p and q with the lemma q = p as a
    premise, log-probabilities lg(p_i), weights E(z_i)."""
    r = Rows(n, f"n{n}_")
    c = r.const("c")
    z, p = r.vector("z"), r.vector("p")
    y, q = r.vector("y", definitions=(f"(- {x} {c})" for x in z)), r.vector("q")
    r.premises += [f"(= {b} {a})" for a, b in zip(p, q, strict=True)]
    return r, *(Side(v, tuple(f"(lg {x})" for x in v), u, tuple(f"(E {x})" for x in u)) for v, u in ((p, z), (q, y)))


def absolute(x: str) -> str:
    return f"(ite (>= {x} 0.0) {x} (- {x}))"


def count(terms) -> str:
    return add([f"(ite {t} 1 0)" for t in terms])


def mass(p, terms) -> str:
    terms = [f"(ite {t} {x} 0.0)" for t, x in zip(terms, p, strict=True)]
    return "0.0" if not terms else add(terms)


def earlier(v, j: int, i: int, asc: bool = False) -> str:
    """v_j is ranked before v_i: larger (smaller if asc), ties to the lower index."""
    op = "<" if asc else ">"
    return f"(or ({op} {v[j]} {v[i]}) (= {v[j]} {v[i]}))" if j < i else f"({op} {v[j]} {v[i]})"


def entropy(r: Rows, side: Side, tag: str) -> str:
    """H = -sum_i p_i log p_i, a named constant of the row."""
    return r.const(f"H{tag}", definition=f"(- {add([f'(* {x} {lx})' for x, lx in zip(side.p, side.lp, strict=True)])})")


# --- the rules, as the spec (spec/transforms/) states them; `reads` picks a mutant ------------------

def typical(r: Rows, side: Side, tag: str, reads: str = "log-probabilities") -> list[str]:
    """Score |-log p_i - H|, most typical first (ties by index); keep iff the mass ranked before
    (ties "any") or of the strictly more typical tokens (ties "all") is < mass, or min_tokens_to_keep.
    Mutant reads="logits": the score |-z_i - H|."""
    h, n = entropy(r, side, tag), r.n
    surprise = side.lp if reads == "log-probabilities" else side.z
    s = r.vector(f"score{tag}_", definitions=(absolute(f"(- (- {x}) {h})") for x in surprise))
    out = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        rank = count(earlier(s, j, i, asc=True) for j in others)
        keep_min = f"(< {rank} {r.pre}min_keep)"
        before_any = mass([side.p[j] for j in others], [earlier(s, j, i, asc=True) for j in others])
        before_all = mass([side.p[j] for j in others], [f"(< {s[j]} {s[i]})" for j in others])
        out += [f"(or (< {before_any} {r.pre}mass) {keep_min})", f"(or (< {before_all} {r.pre}mass) {keep_min})"]
    return out


def cutoff(r: Rows, side: Side, threshold: str, reads: str = "probabilities") -> list[str]:
    """Keep iff p_i >= threshold; when fewer pass, the min_tokens_to_keep largest logits, ties kept
    (spec `_cutoff` and `_keep_at_least`). Mutant reads="weights": exp(z_i) against the threshold."""
    v, n = (side.p if reads == "probabilities" else side.w), r.n
    passed = [f"(>= {x} {threshold})" for x in v]
    few = f"(< {count(passed)} {r.pre}min_keep)"
    return [f"(or {passed[i]} (and {few} (< {count(f'(> {side.z[j]} {side.z[i]})' for j in range(n) if j != i)} "
            f"{r.pre}min_keep)))" for i in range(n)]


def epsilon(r: Rows, side: Side, tag: str, reads: str = "probabilities") -> list[str]:
    return cutoff(r, side, f"{r.pre}eps", reads)


def eta(r: Rows, side: Side, tag: str, reads: str = "probabilities") -> list[str]:
    """Threshold min(eps, sqrt(eps) exp(-H)), sqrt(eps) the root >= 0."""
    h = entropy(r, side, tag)
    scaled = f"(* {r.pre}root (E (- {h})))"
    threshold = r.const(f"eta{tag}", definition=f"(ite (<= {r.pre}eps {scaled}) {r.pre}eps {scaled})")
    return cutoff(r, side, threshold, reads)


def xtc(r: Rows, side: Side, tag: str, reads: str = "probabilities") -> list[str]:
    """The branch that fires: of the tokens above the threshold (> or >=), remove all but the least
    likely (ties "all": all tied with it stay; "any": the first index stays), never a special token,
    nothing when fewer than min_keep would remain. Then the mixture (1 - chance) softmax +
    chance softmax over the kept. For each of the four variants: the kept set, then the mixture."""
    v, n, out = (side.p if reads == "probabilities" else side.w), r.n, []
    for above in (">", ">="):
        over = [f"({above} {x} {r.pre}thr)" for x in v]
        for ties in ("all", "any"):
            removed = []
            for i in range(n):  # over, not special, and some other token over it is less likely
                less = [f"(and {over[j]} {earlier(v, j, i, asc=True) if ties == 'any' else f'(< {v[j]} {v[i]})'})"
                        for j in range(n) if j != i]
                removed.append(f"(and {over[i]} (not {r.pre}special{i}) (or false {' '.join(less)}))")
            few = f"(< {count(f'(not {x})' for x in removed)} {r.pre}min_keep)"
            kept = [f"(or (not {x}) {few})" for x in removed]
            total = mass(side.p, kept)
            out += kept
            out += [f"(+ (* (- 1.0 {r.pre}chance) {x}) (* {r.pre}chance (/ (ite {k} {x} 0.0) {total})))"
                    for k, x in zip(kept, side.p, strict=True)]
    return out


RULES = {"typical": typical, "epsilon": epsilon, "eta": eta, "xtc": xtc}
PARAMETERS = {  # each rule's parameters: (name, sort, constraint with {} for the name)
    "typical": [("mass", "Real", "(and (<= 0.0 {}) (<= {} 1.0))"), ("min_keep", "Int", "(>= {} 1)")],
    "epsilon": [("eps", "Real", "(and (<= 0.0 {}) (<= {} 1.0))"), ("min_keep", "Int", "(>= {} 1)")],
    "eta": [("eps", "Real", "(and (<= 0.0 {}) (<= {} 1.0))"), ("root", "Real", "(>= {} 0.0)"),
            ("min_keep", "Int", "(>= {} 1)")],
    "xtc": [("thr", "Real", "(and (<= 0.0 {}) (<= {} 1.0))"), ("chance", "Real", "(and (<= 0.0 {}) (<= {} 1.0))"),
            ("min_keep", "Int", "(>= {} 0)")],
}


def rule_query(rule: str, n: int, reads: str | None = None) -> tuple[Rows, str]:
    """(rows, claim) for one row length: given the lemma q = p, the rule keeps the same tokens (and,
    for XTC, gives the same mixture) on the row and on its shift."""
    r, before, after = shifted(n)
    for name, sort, constraint in PARAMETERS[rule]:
        r.premises.append(constraint.replace("{}", r.const(name, sort)))
    if rule == "eta":
        r.premises.append(f"(= (* {r.pre}root {r.pre}root) {r.pre}eps)")
    if rule == "xtc":
        r.vector("special", "Bool")
    args = {} if reads is None else {"reads": reads}
    terms = zip(RULES[rule](r, before, "a", **args), RULES[rule](r, after, "b", **args), strict=True)
    return r, conj(f"(= {x} {y})" for x, y in terms)


def jobs(name: str, what: str, decls: list[str], premises: list[str], claim: str) -> list[tuple[Query, str]]:
    """The two queries of Context.proof (negated claim unsat, premises sat), run through the cache
    of proofs.commutation.run_batch: the probability lemma is shared by four theorems."""
    body = "\n".join([HEADER, *decls, *(f"(assert {p})" for p in premises)])
    neg = Query(f"{name}.negation", f"{what}\nThe premises together with the NEGATED claim: unsat means the claim "
                "follows from the premises.", f"{body}\n(assert (not {claim}))", "unsat", "negation")
    pre = Query(f"{name}.premises", f"Non-vacuity check for: {what}\nThe premises alone: sat means they are "
                "consistent, so the proof is not vacuous.", body, "sat", "premises")
    return [(neg, what), (pre, f"premises of: {what} are satisfiable")]


SIZES = f"every n = 1..{MAX_N} (a copy of the row per n)"


def probabilities() -> list[tuple[Query, str]]:
    """The shared lemma, one query per n: the probabilities of the shifted weights are those of the
    weights (the query of `filters-shift`'s top-p lemma; nonlinear, so one row per query)."""
    todo = []
    for n in range(1, MAX_N + 1):
        r, same = weighted(n)
        todo += jobs(f"n{n}.probabilities", f"n = {n}, lemma: the probabilities f_i / sum(f) of the shifted "
                     "weights f_i = t e_i (t = exp(-c) > 0) are those of the weights, e_i / sum(e)",
                     r.decls, r.premises, same)
    return todo


def keep_jobs(rule: str, what: str) -> list[tuple[Query, str]]:
    """One query for every n (a copy of the row per n): given the lemma, the rule keeps the same tokens."""
    built = [rule_query(rule, n) for n in range(1, MAX_N + 1)]
    return jobs("keep", f"{SIZES}, any parameters, given the lemma (q = p) and y = z - c: {what}",
                [d for r, _ in built for d in r.decls], [x for r, _ in built for x in r.premises],
                conj(c for _, c in built))


# --- SymPy, symbolic n -------------------------------------------------------------------------------

def log_probs_shift(ctx: Context):
    """log softmax(z - c)_i = log softmax(z)_i and H(z - c) = H(z), symbolic n."""
    t0 = time.perf_counter()
    z, c, i, j, n = symbolic.z, symbolic.c, symbolic.i, symbolic.j, symbolic.n

    def log_prob(k, shift):
        return (z[k] - shift) - sp.log(symbolic.sum_j(sp.exp(z[j] - shift)))
    lhs = log_prob(i, c)
    split = (z[i] - c) - sp.log(symbolic.pull_out_sum(symbolic.sum_j(sp.exp(z[j] - c))))
    logs = sp.expand_log(split)  # no force=True: splits only the log of a product of positive factors
    symbolic.finish(ctx, "symbolic n: log softmax(z - c)_i = log softmax(z)_i", lhs, log_prob(i, 0), [
        ("exp(a - b) = exp(a) exp(-b) in every term of the sum, the factor free of j out of it", split),
        ("log of a product of positive factors, log(exp(-c)) = -c for real c", logs)], t0)
    t0 = time.perf_counter()
    k = sp.Symbol("k", integer=True, positive=True)
    lp = sp.Function("lp")  # lp(k) = log softmax(z - c)_k = log softmax(z)_k, the step above
    h = -sp.Sum(sp.exp(lp(k)) * lp(k), (k, 1, n))
    symbolic.finish(ctx, "symbolic n: H = -sum_k p_k log p_k is a function of the log-probabilities alone, so "
                    "H(z - c) = H(z)", h.subs(lp(k), log_prob(k, c)), h.subs(lp(k), log_prob(k, 0)), [
                        ("each log-probability rewritten as in the step above", h.subs(lp(k), sp.expand_log(
                            (z[k] - c) - sp.log(symbolic.pull_out_sum(symbolic.sum_j(sp.exp(z[j] - c)))))))], t0)


# --- top-n-sigma: logits, max and standard deviation -----------------------------------------------

def sigma_rows(n: int, scale: bool = False, reads: str = "logits") -> tuple[Rows, list[str], str]:
    """A row z and y = z - c (scale: z = T y, T > 0, so y = z / T), the population standard deviation
    of each as the root s >= 0 of s^2 = mean((v - mean v)^2), and the maxima. Returns (rows, lemmas,
    claim): each lemma is proved given the ones before it (shift: max(y) = max(z) - c and s_y = s_z;
    scale: the means, the variances, then max(z) = T max(y) and s_z = T s_y), the claim that keep_i =
    (v_i >= max(v) - k s_v) agrees for any k > 0. reads="weights": the mutant whose sigma is that of
    exp(v), E(v_i)."""
    r = Rows(n, f"n{n}_")
    k, c = r.const("k"), r.const("T" if scale else "c")
    r.premises += [f"(> {k} 0.0)", *([f"(> {c} 0.0)"] if scale else [])]
    if scale:
        y = r.vector("y")
        z = r.vector("z", definitions=(f"(* {c} {x})" for x in y))
    else:
        z = r.vector("z")
        y = r.vector("y", definitions=(f"(- {x} {c})" for x in z))
    stats = {}
    for v, tag in ((z, "z"), (y, "y")):
        u = v if reads == "logits" else tuple(f"(E {x})" for x in v)
        mean = r.const(f"mean_{tag}", definition=f"(/ {add(list(u))} {n}.0)")
        var = r.const(f"var_{tag}", definition=f"(/ {add([f'(* (- {x} {mean}) (- {x} {mean}))' for x in u])} {n}.0)")
        s = r.const(f"sigma_{tag}")
        r.premises += [f"(>= {s} 0.0)", f"(= (* {s} {s}) {var})"]
        stats[tag] = (r.const(f"max_{tag}", definition=chain_max(list(v))), s, mean, var)
    (mz, sz, mean_z, var_z), (my, sy, mean_y, var_y) = stats["z"], stats["y"]
    lemmas = ([f"(= {mean_z} (* {c} {mean_y}))", f"(= {var_z} (* {c} {c} {var_y}))",
               f"(and (= {mz} (* {c} {my})) (= {sz} (* {c} {sy})))"] if scale
              else [f"(and (= {my} (- {mz} {c})) (= {sy} {sz}))"])
    r.keep = {tag: (v, [f"(>= {a} (- {mx} (* {k} {s})))" for a in v])
              for v, tag, mx, s in ((z, "z", mz, sz), (y, "y", my, sy))}
    claim = conj(f"(= {a} {b})" for a, b in zip(r.keep["z"][1], r.keep["y"][1], strict=True))
    return r, lemmas, claim


LEMMA_TEXT = {
    False: ["max(z - c) = max(z) - c and sigma(z - c) = sigma(z), sigma the root >= 0 of the population variance"],
    True: ["mean(z) = T mean(z / T)", "var(z) = T^2 var(z / T)",
           "max(z) = T max(z / T) and sigma(z) = T sigma(z / T), sigma the root >= 0 of the variance"],
}
TEMPERATURE_N = 4  # top-n-sigma-temperature: every n = 1..4 by default, up to MAX_N with --full


def temperature_distribution(n: int, mutant: str | None = None) -> tuple[Rows, list[str], str]:
    """The distributions of the two orders on the row of `sigma_rows(n, scale=True)` (z = T y, so
    z / T = y). Temperature then top-n-sigma: softmax of y over keep(y), P_i = E(y_i) / sum over keep(y)
    (0 if dropped). Top-n-sigma then temperature: keep(z), the kept entries divided by T, softmax over
    keep(z) of z / T: Q_i = E(z_i / T) / sum over keep(z). E is an uninterpreted exp. Premises: T > 0,
    z_i = T y_i and the keep query's conclusion, keep_i(z) = keep_i(y) (proved from the lemmas); no
    other premise of the row, so the claim P = Q holds for any values of max and sigma. Returns (rows,
    premises, claim). Mutants: "no-keep" (without the keep conclusion), "no-mask" (Q over every entry),
    "no-temperature" (Q of z, not z / T)."""
    r, _, keep_claim = sigma_rows(n, scale=True)
    T = f"{r.pre}T"
    (z, keep_z), (y, keep_y) = r.keep["z"], r.keep["y"]
    premises = [f"(> {T} 0.0)", *(f"(= {a} (* {T} {b}))" for a, b in zip(z, y, strict=True)),
                *([] if mutant == "no-keep" else [keep_claim])]
    assert set(premises[:n + 1]) <= set(r.premises)  # the row's own premises, as sigma_rows states them
    scaled = list(z) if mutant == "no-temperature" else [f"(/ {a} {T})" for a in z]
    mask_z = ["true"] * n if mutant == "no-mask" else keep_z
    start = len(r.premises)
    sides = []
    for tag, mask, row in (("P", keep_y, y), ("Q", mask_z, scaled)):
        total = r.const(f"S{tag}", definition=add([f"(ite {m} (E {x}) 0.0)" for m, x in zip(mask, row, strict=True)]))
        sides.append(r.vector(tag, definitions=(f"(ite {m} (/ (E {x}) {total}) 0.0)"
                                                for m, x in zip(mask, row, strict=True))))
    premises += r.premises[start:]  # the definitions of the two softmaxes
    return r, premises, conj(f"(= {a} {b})" for a, b in zip(*sides, strict=True))


def distribution_jobs(sizes, mutant: str | None = None) -> list[tuple[Query, str]]:
    """One query for every n in sizes (a copy of the row per n): given the keep-sets agree, the two
    orders give the same distribution."""
    built = [temperature_distribution(n, mutant) for n in sizes]
    return jobs("distribution", f"every n = 1..{sizes[-1]} (a copy of the row per n), given the keep query's "
                "conclusion keep(z) = keep(z / T): temperature then top-n-sigma gives softmax(z / T) over "
                "keep(z / T), top-n-sigma then temperature gives softmax(z / T) over keep(z), and the two are "
                "the same distribution (exp an uninterpreted function E; masked sums)",
                [d for r, *_ in built for d in r.decls], [x for _, premises, _ in built for x in premises],
                conj(c for *_, c in built))


def sigma_proof(ctx: Context, scale: bool):
    """Per row length the lemmas (nonlinear: one row per query), then the keep tests for every n."""
    sizes = range(1, (MAX_N if ctx.full or not scale else TEMPERATURE_N) + 1)
    todo, built = [], []
    for n in sizes:
        r, lemmas, claim = sigma_rows(n, scale)
        built.append((r, lemmas, claim))
        for number, (lemma, text) in enumerate(zip(lemmas, LEMMA_TEXT[scale], strict=True)):
            name = f"n{n}.max-sigma" if number == len(lemmas) - 1 else f"n{n}.lemma{number + 1}"
            given = " (given the lemmas before)" if number else ""
            todo += jobs(name, f"n = {n}, lemma{given}: {text}", r.decls, [*r.premises, *lemmas[:number]], lemma)
    row = "z / T" if scale else "z - c"
    todo += jobs("keep", f"every n = 1..{sizes[-1]} (a copy of the row per n), any n-sigma k > 0, given the lemmas: "
                 f"keep_i = (z_i >= max(z) - k sigma(z)) is the same for z and {row}",
                 [d for r, *_ in built for d in r.decls],
                 [x for r, lemmas, _ in built for x in [*r.premises, *lemmas]], conj(c for *_, c in built))
    if scale:
        todo += distribution_jobs(sizes)
    run_batch(ctx, todo)
    if not ctx.full and scale:
        ctx.step(f"n = {TEMPERATURE_N + 1}..{MAX_N} (only with --full)", "not run", NOT_RUN,
                 "Slower nonlinear lemma queries; `python -m proofs.check --full` runs them.")


def sigma_shift(ctx: Context):
    """sigma(z - c)^2 = sigma(z)^2, symbolic n: the deviations from the mean do not move."""
    t0 = time.perf_counter()
    z, c, j, n = symbolic.z, symbolic.c, symbolic.j, symbolic.n
    k = sp.Symbol("k", integer=True, positive=True)

    def variance(shift, total):
        return symbolic.sum_j(((z[j] - shift) - total / n) ** 2) / n
    plain = sp.Sum(z[k], (k, 1, n))
    total = plain + sp.Sum(-c, (k, 1, n)).doit()  # sum_k (z_k - c) = sum_k z_k - n c
    symbolic.finish(ctx, "symbolic n: sigma(z - c)^2 = sigma(z)^2 (population variance)",
                    variance(c, sp.Sum(z[k] - c, (k, 1, n))), variance(0, plain), [
                        ("the sum of the shifted row: sum_k z_k - n c", variance(c, total)),
                        ("each deviation (z_j - c) - mean(z - c) expanded: z_j - mean(z)",
                         symbolic.sum_j(sp.expand((z[j] - c) - total / n) ** 2) / n)], t0)


def top_n_sigma(ctx: Context):
    sigma_shift(ctx)
    sigma_proof(ctx, scale=False)
    masked_softmax_shift(ctx)


def top_n_sigma_temperature(ctx: Context):
    sigma_proof(ctx, scale=True)


RULE_TEXT = {
    "typical": "typical-p (score |-log p_i - H|, most typical first; keep iff the mass before is < mass, "
               "ties kept whole or broken by index, or min_tokens_to_keep) keeps the same tokens",
    "epsilon": "epsilon (keep iff p_i >= eps; when fewer pass, the min_tokens_to_keep largest logits, ties "
               "kept) keeps the same tokens",
    "eta": "eta (epsilon with the threshold min(eps, sqrt(eps) exp(-H))) keeps the same tokens",
    "xtc": "XTC (above the threshold by > or >=, all but the least likely removed, ties kept or broken by "
           "index, special tokens never, nothing when fewer than min_keep remain) removes the same tokens, and "
           "the mixture (1 - chance) softmax + chance (softmax over the kept) is the same",
}


# --- the distribution over a keep-set: the same for z - c and z (SymPy, symbolic n) ----------------

MASK = sp.IndexedBase("m", nonnegative=True)  # m_j = 1 if entry j is kept, else 0 (any weights >= 0 will do)


def masked_softmax(logit_of, mask=MASK):
    """softmax over the entries the mask keeps, m_i exp(v_i) / sum_j m_j exp(v_j) with v_j = logit_of(j):
    0 for a dropped entry, the renormalised softmax over the kept ones."""
    i, j = symbolic.i, symbolic.j
    return mask[i] * sp.exp(logit_of(i)) / symbolic.sum_j(mask[j] * sp.exp(logit_of(j)))


MASKED_SHIFT_TITLE = ("symbolic n, any keep mask m_j in {0, 1} (at least one kept): the softmax over the kept "
                      "entries of z - c is that of z, m_i exp(z_i - c) / sum_j m_j exp(z_j - c) = "
                      "m_i exp(z_i) / sum_j m_j exp(z_j)")
_MASKED_SHIFT: dict = {}  # (lhs, rhs) -> the recorded step: five theorems check the same chain


def masked_softmax_shift(ctx: Context):
    """The keep-set of z - c is that of z (each shift theorem's z3 steps), and over one keep-set the
    softmax of z - c is that of z: so the target distributions agree, not only the keep-sets. The chain
    is derived from the left-hand side (a wrong left-hand side gives a chain that does not close):
    exp(a - b) = exp(a) exp(-b) in the numerator and in every term of the sum, then the factor exp(-c),
    free of j, leaves the sum and cancels. With c = logsumexp(z) it also says that the probabilities
    p_i renormalised over the kept entries are the softmax of the logits over them."""
    z, c = symbolic.z, symbolic.c
    lhs, rhs = masked_softmax(lambda k: z[k] - c), masked_softmax(lambda k: z[k])
    key = (lhs, rhs)
    if key not in _MASKED_SHIFT:
        t0, scratch = time.perf_counter(), Context()
        num, den = sp.fraction(lhs)
        split = sp.expand(num) / sp.expand(den)
        symbolic.finish(scratch, MASKED_SHIFT_TITLE, lhs, rhs, [  # a link SymPy raises on is not shown equal
            ("exp(a - b) = exp(a) exp(-b) for real a, b, in the numerator and in every term of the sum", split),
            ("the factor exp(-c) is free of j: it leaves the sum and cancels (exp(-c) > 0; the sum is positive "
             "when at least one entry is kept)", sp.expand(num) / symbolic.pull_out_sum(den)),
        ], t0)
        _MASKED_SHIFT[key] = scratch.steps[-1]
    ctx.steps.append(replace(_MASKED_SHIFT[key]))


def shift_theorem(rule: str):
    """The run of `<rule>-shift`: what the rule reads is shift-invariant, then the keep-sets agree, then
    the softmax over the keep-set of z - c is that of z."""
    def run(ctx: Context):
        if rule in ("typical", "eta"):
            log_probs_shift(ctx)
        run_batch(ctx, probabilities() + keep_jobs(rule, RULE_TEXT[rule]))  # one batch: z3 on every core
        masked_softmax_shift(ctx)
    return run

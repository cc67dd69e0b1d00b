"""Z3 proofs that greedy decoding, Gumbel-max / inverse-CDF draws and the top-k / top-p / min-p
keep-sets see only what a per-row shift z -> z - c preserves.

Unbounded proofs use arrays indexed by Int and a symbolic length n, with quantifiers; z3 does no
induction, so where one is needed an explicit instance of the induction rule is a premise (sound by
the principle of induction) and z3 checks base case, step and conclusion. Bounded proofs use n
explicit reals (quantifier-free, decided completely).
"""

from __future__ import annotations

from proofs.core import Context
from proofs.encodings import (
    BEFORE,
    FIRST_MAX,
    MAX_LEMMA,
    accumulate,
    add,
    arrays,
    below,
    const_array,
    consts,
    induction,
    one_hot,
)


def bounded_sizes(max_n: int) -> list[int]:
    """Every n in 1..16, then every power of two up to max_n."""
    sizes = list(range(1, min(16, max_n) + 1))
    p = 32
    while p <= max_n:
        sizes.append(p)
        p *= 2
    return sizes


def running_argmax(better: str = ">") -> tuple[str, list[str], str, tuple[str, ...]]:
    """The existence of a first maximum for every n >= 1, as one query with no step on paper.

    K[n] is the running argmax of a[0..n-1] (K[1] = 0, K[n+1] = n if a[n] `better` a[K[n]] else
    K[n]); Q(n) = first-max a n K[n]. The premises hold the recurrence and an instance of the
    induction rule for Q; z3 checks base, step and conclusion together. better = ">=" is the
    mutant that picks the LAST maximum: it must not prove first-max.
    Returns (declarations, premises, claim, witness for the premises check)."""
    rule, conclusion = induction("Q", 1)
    decls = (f"{FIRST_MAX}\n{arrays('a')}\n(declare-const K (Array Int Int))\n"
             "(define-fun Q ((n Int)) Bool (first-max a n (select K n)))")
    premises = ["(= (select K 1) 0)",
                f"(forall ((n Int)) (=> (>= n 1) (= (select K (+ n 1)) (ite ({better} (select a n) "
                "(select a (select K n))) n (select K n)))))", rule]
    # a row of zeros with K = 0 satisfies the recurrence with ">", so the premises are consistent
    return decls, premises, conclusion, (const_array("a", "0.0"), const_array("K", "0", "Int"))


def first_max_function(ctx: Context, name: str = "first-max"):
    """first-max a n k defines a function of (a, n) for n >= 1: it exists and is unique.

    Existence for every n: the running argmax is a first maximum, by an explicit instance of the
    induction rule that z3 checks in one query (see `running_argmax`)."""
    decls = f"{FIRST_MAX}\n{arrays('a')}\n{consts('Int', 'n', 'k', 'k2')}"
    ctx.proof(f"{name}.unique", "uniqueness: two first maxima of the same row are the same index",
              decls, ["(first-max a n k)", "(first-max a n k2)"], "(= k k2)")
    decls, premises, claim, witness = running_argmax()
    ctx.proof(f"{name}.exists", "existence for every n >= 1: the running argmax K[n] (K[1] = 0, "
              "K[n+1] = n if a[n] > a[K[n]] else K[n]) is the first maximum of a[0..n-1]. Premise: "
              "the instance of the induction rule for Q(n) = first-max a n K[n], true by the "
              "principle of induction over the integers; z3 checks the base case Q(1), the step "
              "Q(n) => Q(n+1) and the conclusion in this one query", decls, premises, claim,
              witness=witness)


def invariance(ctx: Context, name: str, what: str, extra_decls: str, definition: str,
               premises=(), pair=("z", "y")):
    """For all n >= 1 and k: k is the first maximum of row pair[0] iff of row pair[1]."""
    decls = f"{FIRST_MAX}\n{arrays('z', 'y')}\n{consts('Int', 'n', 'k')}\n{extra_decls}"
    a, b = pair
    ctx.proof(name, what, decls, ["(>= n 1)", definition, *premises],
              f"(= (first-max {a} n k) (first-max {b} n k))")


def argmax_shift(ctx: Context):
    for size in bounded_sizes(ctx.max_n):
        decls, premises, claim = one_hot(size)
        ctx.proof(f"bounded.n{size}.max", f"n = {size}, lemma: max(z - c) = max(z) - c",
                  decls, premises, MAX_LEMMA)
        ctx.proof(f"bounded.n{size}", f"n = {size}, given the lemma: argmax(z - c) = argmax(z) "
                  "(one-hot encoding)", decls, [*premises, MAX_LEMMA], claim)
    first_max_function(ctx)
    invariance(ctx, "unbounded.invariance", "every n >= 1: k is the first maximum of z - c iff of z",
               consts("Real", "c"), "(forall ((i Int)) (= (select y i) (- (select z i) c)))")


def greedy_logprobs(ctx: Context):
    # logsumexp enters only as "some real number per row": an uninterpreted function of (z, n).
    invariance(ctx, "unbounded", "every n >= 1: argmax(z - lse(z)) = argmax(z), lse any function "
               "of the row", "(declare-fun lse ((Array Int Real) Int) Real)",
               "(forall ((i Int)) (= (select y i) (- (select z i) (lse z n))))")


def gumbel_coupling(ctx: Context):
    decls = f"{arrays('g', 'x')}\n{consts('Real', 'c')}"
    invariance(ctx, "gumbel", "every n >= 1, any noise g: argmax(z - c + g) = argmax(z + g)",
               decls, "(forall ((i Int)) (and (= (select x i) (+ (select z i) (select g i))) "
               "(= (select y i) (+ (- (select z i) c) (select g i)))))", pair=("x", "y"))
    inverse_cdf(ctx)


def inverse_cdf(ctx: Context):
    """Inverse CDF with unnormalised weights w = exp(z): token = first k with C[k] > u * C[n-1],
    C the prefix sums. Shifting z by c scales every weight by s = exp(-c) > 0."""
    cross = """\
; first-cross C n u k: k is the first index whose prefix sum exceeds u times the total
(define-fun first-cross ((C (Array Int Real)) (n Int) (u Real) (k Int)) Bool
  (and (<= 0 k) (< k n) (> (select C k) (* u (select C (- n 1))))
       (forall ((j Int)) (=> (and (<= 0 j) (< j k)) (<= (select C j) (* u (select C (- n 1))))))))"""
    prefix = """\
(assert (= (select C 0) (select w 0)))
(assert (forall ((m Int)) (=> (>= m 0) (= (select C (+ m 1)) (+ (select C m) (select w (+ m 1)))))))
(assert (= (select D 0) (* s (select w 0))))
(assert (forall ((m Int)) (=> (>= m 0) (= (select D (+ m 1)) (+ (select D m) (* s (select w (+ m 1))))))))"""
    decls = f"{arrays('w', 'C', 'D')}\n{consts('Real', 's')}\n{prefix}"
    zero = tuple(const_array(a, "0.0") for a in "wCD")
    rule, scaled = induction("P", 0, "m")
    scale = "(define-fun P ((m Int)) Bool (= (select D m) (* s (select C m))))"
    ctx.proof("inverse-cdf.scale", "prefix sums of s*w are s times those of w: D[m] = s * C[m] for "
              "every m >= 0. Premise: the instance of the induction rule for P(m) = (D[m] = s * C[m]), "
              "true by the principle of induction over the integers; z3 checks the base case P(0), "
              "the step P(m) => P(m+1) and the conclusion in this one query", f"{decls}\n{scale}",
              ["(> s 0.0)", rule], scaled, witness=zero)
    decls = f"{cross}\n{arrays('C', 'D')}\n{consts('Real', 's', 'u')}\n{consts('Int', 'n', 'k')}\n{scale}"
    ctx.proof("inverse-cdf.same-token", "every n >= 1, u in [0, 1): with prefix sums scaled by "
              "s > 0, the inverse-CDF draw picks the same token", decls,
              ["(>= n 1)", "(> s 0.0)", "(and (<= 0.0 u) (< u 1.0))", scaled],
              "(= (first-cross C n u k) (first-cross D n u k))")


def temperature_argmax(ctx: Context):
    invariance(ctx, "argmax", "every n >= 1, T > 0: argmax(z / T) = argmax(z)", consts("Real", "T"),
               "(forall ((i Int)) (= (* T (select y i)) (select z i)))", ["(> T 0.0)"])


def filters_shift(ctx: Context):
    decls = f"{arrays('z', 'y')}\n{consts('Real', 'c')}\n{consts('Int', 'n', 'i', 'j')}"
    shift = "(forall ((m Int)) (= (select y m) (- (select z m) c)))"
    ctx.proof("top-k.order", "every n: the shift keeps every pairwise comparison z_i > z_j, "
              "z_i = z_j (top-k with any tie rule reads only these and the indices)", decls,
              ["(>= n 1)", shift, "(and (<= 0 i) (< i n) (<= 0 j) (< j n))"],
              "(and (= (> (select z i) (select z j)) (> (select y i) (select y j))) "
              "(= (= (select z i) (select z j)) (= (select y i) (select y j))))")
    for size in range(1, 9):
        top_k_counting(ctx, size)
    decls = (f"{FIRST_MAX}\n{arrays('z', 'y')}\n{consts('Real', 'c', 'logm')}\n"
             f"{consts('Int', 'n', 'i', 'kz', 'ky')}")
    ctx.proof("min-p.keep", "every n, any threshold log m: keep_i = (z_i >= max(z) + log m) is the "
              "same for z and z - c (the probability-space rule p_i >= m p_max is the same test: "
              "min-p.prob-space)", decls,
              ["(>= n 1)", shift, "(first-max z n kz)", "(first-max y n ky)", "(and (<= 0 i) (< i n))"],
              "(= (>= (select z i) (+ (select z kz) logm)) (>= (select y i) (+ (select y ky) logm)))")
    top_k_rank(ctx)
    for size in TOP_P_SIZES:
        decls, premises, lemma, claim = top_p_bounded(size)
        ctx.proof(f"top-p.n{size}.probabilities", f"n = {size}, lemma: the probabilities e_i / sum(e) "
                  "of the shifted weights e_i * t (t = exp(-c) > 0) are those of e", decls, premises, lemma)
        ctx.proof(f"top-p.n{size}", f"n = {size}, any p and min_tokens_to_keep, given the lemma: "
                  f"top-p keeps the same tokens ({TOP_P_RULE})", decls, [*premises, lemma], claim)
    top_p_unbounded(ctx)
    min_p_prob_space(ctx)


def top_k_counting(ctx: Context, size: int):
    """Both top-k tie rules, written as rank counts, for n = size and any k."""
    rows = ["(declare-const c Real)\n(declare-const k Int)"]
    rows += [f"(declare-const z{a} Real)\n(declare-const y{a} Real)" for a in range(size)]
    premises = [f"(= y{a} (- z{a} c))" for a in range(size)]

    def rank(v, a, exact):  # how many entries beat entry a (exact: ties broken by index)
        beats = [f"(> {v}{b} {v}{a})" if not (exact and b < a) else f"(>= {v}{b} {v}{a})"
                 for b in range(size) if b != a]
        return add([f"(ite {t} 1 0)" for t in beats])

    claim = " ".join(f"(= (< {rank('z', a, e)} k) (< {rank('y', a, e)} k))"
                     for a in range(size) for e in (False, True))
    ctx.proof(f"top-k.count-n{size}", f"n = {size}, any k: keep_i = rank_i < k, rank counting "
              "strictly larger entries (keep ties) or larger-or-earlier entries (exactly k)",
              "\n".join(rows), premises, f"(and {claim})")


TOP_P_SIZES = range(1, 7)
TOP_P_RULE = ("tokens ranked by probability, ties to the lower index; keep token i iff the probability "
              "mass ranked before it is < p, or fewer than min_tokens_to_keep tokens are ranked before it")


def top_p_keep(row: str, i: int, size: int) -> str:
    """Top-p's keep test for entry i of the explicit row row0..row{size-1} (TOP_P_RULE)."""
    others = [j for j in range(size) if j != i]
    before = {j: f"({'>=' if j < i else '>'} {row}{j} {row}{i})" for j in others}
    mass = add([f"(ite {before[j]} {row}{j} 0.0)" for j in others]) if others else "0.0"
    rank = add([f"(ite {before[j]} 1 0)" for j in others])
    return f"(or (< {mass} top_p) (< {rank} min_keep))"


def top_p_bounded(size: int, reads: str = "probabilities"):
    """Top-p on an explicit row of n = size, as engines run it: in probability space.

    Weights e_i = exp(z_i) > 0 are variables; the shift z -> z - c multiplies every weight by
    t = exp(-c) > 0 (exp(z_i - c) = exp(z_i) exp(-c)), so no exp is needed. p_i = e_i / sum(e),
    q_i the same for the shifted weights. Returns (declarations, premises, lemma q = p, claim:
    the keep-sets of p and q agree). reads: the row the rule reads. "probabilities" is the
    theorem; "weights" (unnormalised exp(z)) and "logits" (z and z - c) are mutants that must not
    be proved: top-p is shift-invariant only because it reads normalised probabilities.
    """
    n = range(size)
    decls = ["(declare-const top_p Real)", "(declare-const min_keep Int)"]
    if reads == "logits":
        decls += ["(declare-const c Real)", *(f"(declare-const {v}{i} Real)" for i in n for v in "zy")]
        premises = [f"(= y{i} (- z{i} c))" for i in n]
    else:
        decls += ["(declare-const t Real)", *(f"(declare-const {v}{i} Real)" for i in n for v in "ef")]
        premises = ["(> t 0.0)", *(f"(> e{i} 0.0)" for i in n), *(f"(= f{i} (* t e{i}))" for i in n)]
    if reads == "probabilities":
        decls += ["(declare-const S Real)", "(declare-const S2 Real)",
                  *(f"(declare-const {v}{i} Real)" for i in n for v in "pq")]
        premises += [f"(= S {add([f'e{i}' for i in n])})", f"(= S2 {add([f'f{i}' for i in n])})",
                     *(f"(= p{i} (/ e{i} S))" for i in n), *(f"(= q{i} (/ f{i} S2))" for i in n)]
    u, v = {"probabilities": "pq", "weights": "ef", "logits": "zy"}[reads]
    lemma = f"(and {' '.join(f'(= q{i} p{i})' for i in n)})" if reads == "probabilities" else None
    claim = f"(and {' '.join(f'(= {top_p_keep(u, i, size)} {top_p_keep(v, i, size)})' for i in n)})"
    return "\n".join(decls), premises, lemma, claim


def top_p_unbounded(ctx: Context):
    """Top-p for every n, arrays and quantifiers: weights e > 0, shifted weights f = t * e, prefix
    sums E, F, probabilities p = e / E[n-1], q = f / F[n-1]; for a token i, Mp[j] / Rp[j] are the
    mass / count of the tokens among 0..j ranked before i (the same for q). Three queries on the
    same premises, each lemma a premise of the next, two induction-rule instances."""
    decls = "\n".join([
        BEFORE, arrays("e", "f", "E", "F", "p", "q", "Mp", "Mq"),
        "(declare-const Rp (Array Int Int))\n(declare-const Rq (Array Int Int))",
        consts("Real", "t", "S", "S2", "top_p"), consts("Int", "n", "i", "min_keep"),
        "(define-fun total ((j Int)) Bool (=> (< j n) (and (= (select F j) (* t (select E j))) "
        "(> (select E j) 0.0))))",
        "(define-fun same-prefix ((j Int)) Bool (=> (< j n) (and (= (select Mq j) (select Mp j)) "
        "(= (select Rq j) (select Rp j)))))"])
    premises = ["(>= n 1)", "(and (<= 0 i) (< i n))", "(> t 0.0)",
                below("(and (> (select e m) 0.0) (= (select f m) (* t (select e m))))"),
                *accumulate("E", lambda j: f"(select e {j})"), *accumulate("F", lambda j: f"(select f {j})"),
                "(= S (select E (- n 1)))", "(= S2 (select F (- n 1)))",
                below("(and (= (select p m) (/ (select e m) S)) (= (select q m) (/ (select f m) S2)))")]
    for r in "pq":
        premises += accumulate(f"M{r}", lambda j, r=r: f"(ite (before {r} {j} i) (select {r} {j}) 0.0)")
        premises += accumulate(f"R{r}", lambda j, r=r: f"(ite (before {r} {j} i) 1 0)")
    # n = 1 with every weight 1 (t = 1): a model of all premises, pinned because z3 cannot build
    # one for the quantified premises itself
    witness = ("(= n 1)", "(= i 0)", "(= t 1.0)", *(const_array(a, "1.0") for a in ("e", "f", "E", "F", "p", "q")),
               const_array("Mp", "0.0"), const_array("Mq", "0.0"), const_array("Rp", "0", "Int"),
               const_array("Rq", "0", "Int"))
    rule, _ = induction("total", 0, "j")
    total = "(and (= S2 (* t S)) (> S 0.0))"
    ctx.proof("top-p.total", "every n >= 1: the shifted weights sum to t times the weights, and that "
              "sum is positive. Premise: the instance of the induction rule for total(j) = (j < n => "
              "F[j] = t E[j] and E[j] > 0), true by the principle of induction over the integers",
              decls, [*premises, rule], total, witness=witness)
    same = below("(= (select q m) (select p m))")
    ctx.proof("top-p.probabilities", "every n >= 1, given top-p.total: the probabilities of the "
              "shifted weights are those of the weights", decls, [*premises, total], same, witness=witness)
    rule, _ = induction("same-prefix", 0, "j")

    def keep(r):
        return f"(or (< (select M{r} (- n 1)) top_p) (< (select R{r} (- n 1)) min_keep))"
    ctx.proof("top-p.keep", f"every n >= 1, any p and min_tokens_to_keep, given top-p.probabilities: "
              f"top-p keeps token i for the shifted row iff for the row ({TOP_P_RULE}). Premise: "
              "the instance of the induction rule for same-prefix(j) = (j < n => Mq[j] = Mp[j] and "
              "Rq[j] = Rp[j]), true by the principle of induction over the integers", decls,
              [*premises, same, rule], f"(= {keep('p')} {keep('q')})", witness=witness)


def top_k_rank(ctx: Context):
    """Top-k for every n: rank(i) = #{j < n : z_j > z_i or (z_j = z_i and j < i)} (exactly k) and
    #{j < n : z_j > z_i} (keep ties) are the same for y = z - c; keep_i = rank(i) < k."""
    decls = "\n".join([
        BEFORE, arrays("z", "y"), "\n".join(f"(declare-const {a} (Array Int Int))" for a in ("Kz", "Ky", "Gz", "Gy")),
        consts("Real", "c"), consts("Int", "n", "i", "k"),
        "(define-fun same-rank ((j Int)) Bool (=> (< j n) (and (= (select Ky j) (select Kz j)) "
        "(= (select Gy j) (select Gz j)))))"])
    premises = ["(>= n 1)", "(and (<= 0 i) (< i n))", "(forall ((m Int)) (= (select y m) (- (select z m) c)))"]
    for r in "zy":
        premises += accumulate(f"K{r}", lambda j, r=r: f"(ite (before {r} {j} i) 1 0)")
        premises += accumulate(f"G{r}", lambda j, r=r: f"(ite (> (select {r} {j}) (select {r} i)) 1 0)")
    rule, _ = induction("same-rank", 0, "j")
    witness = ("(= n 1)", "(= i 0)", "(= c 0.0)", const_array("z", "0.0"), const_array("y", "0.0"),
               *(const_array(a, "0", "Int") for a in ("Kz", "Ky", "Gz", "Gy")))
    ctx.proof("top-k.rank", "every n >= 1, any k: the rank of token i, counted over j < n as K[j] "
              "(larger or earlier entries: exactly k) and G[j] (larger entries: keep ties), is the same "
              "for z and z - c, so keep_i = rank_i < k is. Premise: the instance of the induction rule "
              "for same-rank(j) = (j < n => Ky[j] = Kz[j] and Gy[j] = Gz[j]), true by the principle "
              "of induction over the integers", decls, [*premises, rule],
              "(and (= (< (select Kz (- n 1)) k) (< (select Ky (- n 1)) k)) "
              "(= (< (select Gz (- n 1)) k) (< (select Gy (- n 1)) k)))", witness=witness)


def min_p_prob_space(ctx: Context):
    """Min-p for every n: the log-space rule z_i >= max(z) + log m and the probability-space rule
    p_i >= m * max(p) (as engines run it) keep the same tokens. exp is an uninterpreted function;
    the premises hold only instances of its laws (positive, strictly increasing,
    exp(a + b) = exp(a) exp(b)), which exp satisfies at every point, so they are sound."""
    decls = "\n".join([
        FIRST_MAX, arrays("z", "e", "E", "p"), "(declare-fun Exp (Real) Real)",
        consts("Real", "S", "logm", "m"), consts("Int", "n", "i", "kz", "kp"),
        "(define-fun positive ((j Int)) Bool (=> (< j n) (> (select E j) 0.0)))"])
    zmax = "(select z kz)"
    premises = [
        "(>= n 1)", "(and (<= 0 i) (< i n))", "(= m (Exp logm))",
        below("(and (= (select e j) (Exp (select z j))) (> (select e j) 0.0))", "j"),
        below("(= (select p j) (/ (select e j) S))", "j"), "(first-max z n kz)", "(first-max p n kp)",
        # exp is strictly increasing: at the row's entries, and at z_i against max(z) + log m, in both
        # directions (u < v iff exp(u) < exp(v), and v < u iff exp(v) < exp(u), so u = v iff
        # exp(u) = exp(v)): with one direction only, a model may give exp two equal values at two
        # different points, and a true claim that reads `>` would look refutable
        "(forall ((a Int) (b Int)) (=> (and (<= 0 a) (< a n) (<= 0 b) (< b n) (< (select z a) (select z b))) "
        "(< (select e a) (select e b))))",
        f"(= (< (select z i) (+ {zmax} logm)) (< (select e i) (Exp (+ {zmax} logm))))",
        f"(= (< (+ {zmax} logm) (select z i)) (< (Exp (+ {zmax} logm)) (select e i)))",
        f"(= (Exp (+ {zmax} logm)) (* (Exp {zmax}) (Exp logm)))"]  # exp(a + b) = exp(a) exp(b)
    total = [*accumulate("E", lambda j: f"(select e {j})"), "(= S (select E (- n 1)))"]
    rule, _ = induction("positive", 0, "j")
    witness = ("(= n 1)", "(= i 0)", "(= kz 0)", "(= kp 0)", "(= logm 0.0)", "(= m 1.0)", "(= S 1.0)",
               const_array("z", "0.0"), *(const_array(a, "1.0") for a in "eEp"))
    ctx.proof("min-p.sum", "every n >= 1: the sum S of the weights e_i = exp(z_i) > 0 is positive. "
              "Premise: the instance of the induction rule for positive(j) = (j < n => E[j] > 0), true "
              "by the principle of induction over the integers", decls, [*premises, *total, rule],
              "(> S 0.0)", witness=witness)
    ctx.proof("min-p.prob-space", "every n >= 1, any m = exp(log m), given min-p.sum: the log-space rule "
              "z_i >= max(z) + log m keeps token i iff the probability-space rule p_i >= m * max(p) does "
              "(p = e / S, e_i = exp(z_i)). Premises: instances of the laws of exp, true at every point; "
              "the other premises are those of min-p.sum without the definition of S, plus its "
              "conclusion S > 0 (so the claim holds for every positive S, the sum included)", decls,
              [*premises, "(> S 0.0)"],
              "(= (>= (select z i) (+ (select z kz) logm)) (>= (select p i) (* m (select p kp))))",
              witness=witness)

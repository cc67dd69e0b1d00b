"""Z3 proofs that greedy decoding, Gumbel-max / inverse-CDF draws and the top-k / min-p keep-sets
see only what a per-row shift z -> z - c preserves.

Unbounded proofs use arrays indexed by Int and a symbolic length n, with quantifiers; bounded
proofs use n explicit reals (quantifier-free, decided completely).
"""

from __future__ import annotations

from proofs.core import HOLDS, Context
from proofs.encodings import FIRST_MAX, MAX_LEMMA, add, arrays, consts, one_hot


def bounded_sizes(max_n: int) -> list[int]:
    """Every n in 1..16, then every power of two up to max_n."""
    sizes = list(range(1, min(16, max_n) + 1))
    p = 32
    while p <= max_n:
        sizes.append(p)
        p *= 2
    return sizes


def first_max_function(ctx: Context, name: str = "first-max"):
    """first-max a n k defines a function of (a, n) for n >= 1: it exists and is unique.

    Existence for every n is an induction on n: z3 checks the base case and the step; the
    induction rule is the one step taken on paper.
    """
    decls = f"{FIRST_MAX}\n{arrays('a')}\n{consts('Int', 'n', 'k', 'k2')}"
    ctx.proof(f"{name}.unique", "uniqueness: two first maxima of the same row are the same index",
              decls, ["(first-max a n k)", "(first-max a n k2)"], "(= k k2)")
    ctx.proof(f"{name}.exists-base", "existence, base case n = 1: index 0 is the first maximum",
              decls, [], "(first-max a 1 0)")
    ctx.proof(f"{name}.exists-step", "existence, step: if k is the first maximum of a[0..n-1], "
              "then ite(a[n] > a[k], n, k) is the first maximum of a[0..n]",
              decls, ["(>= n 1)", "(first-max a n k)"],
              "(first-max a (+ n 1) (ite (> (select a n) (select a k)) n k))")
    ctx.step("induction on n (on paper)", "paper", HOLDS,
             "From the base case P(1) and the step P(n) => P(n+1) for n >= 1, where "
             "P(n) = 'a[0..n-1] has a first maximum', the induction rule gives P(n) for every "
             "n >= 1. With uniqueness, `argmax(a[0..n-1])` = the k with first-max a n k is a "
             "well-defined function for every n >= 1.")


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
    decls = f"{arrays('w', 'C', 'D')}\n{consts('Real', 's')}\n{consts('Int', 'm0')}\n{prefix}"
    zero = tuple(f"(= {a} ((as const (Array Int Real)) 0.0))" for a in "wCD")
    ctx.proof("inverse-cdf.scale-base", "prefix sums of s*w are s times those of w: base, index 0",
              decls, ["(> s 0.0)"], "(= (select D 0) (* s (select C 0)))", witness=zero)
    ctx.proof("inverse-cdf.scale-step", "prefix sums of s*w are s times those of w: step m -> m+1",
              decls, ["(> s 0.0)", "(>= m0 0)", "(= (select D m0) (* s (select C m0)))"],
              "(= (select D (+ m0 1)) (* s (select C (+ m0 1))))", witness=zero)
    ctx.step("induction on the index (on paper)", "paper", HOLDS,
             "Base and step give D[m] = s * C[m] for every m >= 0: shifted weights have "
             "prefix sums scaled by s = exp(-c) > 0.")
    decls = f"{cross}\n{arrays('C', 'D')}\n{consts('Real', 's', 'u')}\n{consts('Int', 'n', 'k')}"
    ctx.proof("inverse-cdf.same-token", "every n >= 1, u in [0, 1): with prefix sums scaled by "
              "s > 0, the inverse-CDF draw picks the same token", decls,
              ["(>= n 1)", "(> s 0.0)", "(and (<= 0.0 u) (< u 1.0))",
               "(forall ((m Int)) (=> (>= m 0) (= (select D m) (* s (select C m)))))"],
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
              "same for z and z - c (prob-space rule p_i >= m p_max is the same test: "
              "p_i / p_max = exp(z_i - max z))", decls,
              ["(>= n 1)", shift, "(first-max z n kz)", "(first-max y n ky)", "(and (<= 0 i) (< i n))"],
              "(= (>= (select z i) (+ (select z kz) logm)) (>= (select y i) (+ (select y ky) logm)))")
    ctx.step("top-p: composition with softmax-shift (on paper)", "paper", HOLDS,
             "Top-p sorts tokens by probability (ties by index) and keeps token i iff the mass "
             "strictly above it is < p. Every quantity it reads is an entry of softmax(z), and "
             "`softmax-shift` proves softmax(z - c) = softmax(z). So its keep-set is a function "
             "of softmax(z) alone and is the same for z - c. (Z3 with exp as an uninterpreted "
             "function stalls beyond n = 16, so this step is not handed to Z3.)")


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

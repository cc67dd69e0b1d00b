"""Floating point: where "logits or log-probabilities" stays exact under IEEE rounding.

Bounded proofs use SMT-LIB's floating-point theory (fp.sub with round-to-nearest-even), one
query per format; z3 bit-blasts them, so each is a complete decision. float32 is slow (minutes),
so it runs only with --full. Every witness is decoded from its bits and re-checked with our own
exact rounding in Python Fractions, independently of the solver.
"""

from __future__ import annotations

import time
from fractions import Fraction

from proofs.core import COUNTEREXAMPLE, HOLDS, INCONCLUSIVE, NOT_RUN, Context
from proofs.encodings import FIRST_MAX, arrays, consts
from proofs.smt import Query

FORMATS = {"bfloat16": (8, 8), "float16": (5, 11), "float32": (8, 24)}


def formats(ctx: Context) -> list[str]:
    return ["bfloat16", "float16"] + (["float32"] if ctx.full else [])


def sort(fmt: str) -> str:
    eb, sb = FORMATS[fmt]
    return f"(_ FloatingPoint {eb} {sb})"


def lit(fmt: str, value: float) -> str:
    eb, sb = FORMATS[fmt]
    return f"((_ to_fp {eb} {sb}) RNE {float(value)!r})"


def finite(*names: str) -> list[str]:
    return [f"(not (or (fp.isNaN {v}) (fp.isInfinite {v})))" for v in names]


def modest(fmt: str, *names: str) -> list[str]:
    """Normal numbers with 1 <= |v| <= 100: a witness a person can check by hand."""
    return [f"(and (fp.isNormal {v}) (fp.leq {lit(fmt, 1)} (fp.abs {v})) (fp.leq (fp.abs {v}) {lit(fmt, 100)}))"
            for v in names]


def decls(fmt: str, *names: str) -> str:
    return "\n".join(f"(declare-const {v} {sort(fmt)})" for v in names)


# --- exact IEEE arithmetic in Fractions, to re-check witnesses -----------------------------------

def decode(expr, fmt: str) -> Fraction:
    """(fp #b<sign> #b/#x<exponent> #b/#x<significand>) -> its exact value (finite only)."""
    eb, sb = FORMATS[fmt]
    _, sign, exponent, significand = expr
    bits = [int(t[2:], 2) if t.startswith("#b") else int(t[2:], 16) for t in (sign, exponent, significand)]
    s, e, m = bits
    bias = 2 ** (eb - 1) - 1
    if e == 2**eb - 1:
        raise ValueError("not a finite number")
    value = Fraction(m, 2 ** (sb - 1)) * Fraction(2) ** (1 - bias) if e == 0 else \
        (1 + Fraction(m, 2 ** (sb - 1))) * Fraction(2) ** (e - bias)
    return -value if s else value


def round_to(fmt: str, r: Fraction) -> Fraction | float:
    """IEEE round-to-nearest-even of the exact real r into the format (inf on overflow)."""
    eb, sb = FORMATS[fmt]
    if r == 0:
        return Fraction(0)
    bias = 2 ** (eb - 1) - 1
    a = abs(r)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    quantum = Fraction(2) ** (max(e, 1 - bias) - (sb - 1))
    q, rest = divmod(a / quantum, 1)
    q = int(q) + (1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and q % 2) else 0)
    value = q * quantum
    if value >= Fraction(2) ** (bias + 1):
        return float("inf") if r > 0 else float("-inf")
    return value if r > 0 else -value


def show(x: Fraction) -> str:
    return f"{float(x)!r} (= {x})" if x.denominator != 1 else str(x)


# --- the theorems ----------------------------------------------------------------------------------

def _search_shift_collapse(ctx: Context, name: str, title: str):
    """z0 < z1 but fl(z0 - c) >= fl(z1 - c): first-index argmax moves from 1 to 0. Per format."""
    jobs = []
    for fmt in formats(ctx):
        body = "\n".join([decls(fmt, "z0", "z1", "c"), *(f"(assert {a})" for a in modest(fmt, "z0", "z1", "c")),
                          "(assert (fp.lt z0 z1))", "(assert (not (fp.lt (fp.sub RNE z0 c) (fp.sub RNE z1 c))))"])
        jobs.append((Query(f"{name}.{fmt}", f"{fmt}: z0 < z1 whose shifted values fl(z0 - c), fl(z1 - c) are no "
                           "longer in strict order", body, "sat", "search", ("z0", "z1", "c")),
                     f"{fmt}: z3 searches for a witness"))
    for (query, _), found in zip(jobs, ctx.z3_batch(jobs), strict=True):
        fmt = query.name.split(".")[-1]
        t0 = time.perf_counter()
        if found.answer.status != "sat":
            ctx.step(f"{fmt}: the witness, re-checked", "exact", INCONCLUSIVE, "no witness to check")
            continue
        z0, z1, c = (decode(found.answer.values[v], fmt) for v in ("z0", "z1", "c"))
        y0, y1 = round_to(fmt, z0 - c), round_to(fmt, z1 - c)
        ok = z0 < z1 and not y0 < y1
        text = (f"**{fmt}**: z = ({show(z0)}, {show(z1)}), c = {show(c)}. Exactly, z - c = ({show(z0 - c)}, "
                f"{show(z1 - c)}); rounded to {fmt}: ({show(y0)}, {show(y1)}). argmax(z) = 1, but the rounded "
                f"values tie, so first-index argmax(fl(z - c)) = 0.")
        ctx.step(f"{fmt}: {title}, re-checked", "exact", COUNTEREXAMPLE if ok else INCONCLUSIVE,
                 "checked with Python Fractions and our own round-to-nearest-even: see Counterexample."
                 if ok else text, time.perf_counter() - t0)
        ctx.witness[fmt] = (z0, z1, c)
        if ok:
            ctx.counterexample += text + "\n\n"


def fp_argmax_shift_exact(ctx: Context):
    _search_shift_collapse(ctx, "n2", "argmax moves")


def fp_sub_strict(ctx: Context):
    _search_shift_collapse(ctx, "strict", "strict order lost")


_MONOTONE: dict = {}


def _monotone(ctx: Context, fmt: str) -> list:
    return [(Query(f"monotone.{fmt}.negation", f"{fmt}: x <= y implies fl(x - c) <= fl(y - c), finite x, y, c. "
                   "Negated claim: unsat means the claim holds.",
                   "\n".join([decls(fmt, "x", "y", "c"), *(f"(assert {a})" for a in finite("x", "y", "c")),
                              "(assert (fp.leq x y))",
                              "(assert (not (fp.leq (fp.sub RNE x c) (fp.sub RNE y c))))"]), "unsat", "negation"),
             f"{fmt}: x <= y implies fl(x - c) <= fl(y - c)"),
            (Query(f"monotone.{fmt}.premises", f"{fmt}: the premises alone (non-vacuity)",
                   "\n".join([decls(fmt, "x", "y", "c"), *(f"(assert {a})" for a in finite("x", "y", "c")),
                              "(assert (fp.leq x y))"]), "sat", "premises"),
             f"premises of: {fmt} monotone subtraction are satisfiable"),
            (Query(f"monotone.{fmt}.nan", f"{fmt}: finiteness is needed: with c = NaN the claim fails",
                   "\n".join([decls(fmt, "x", "y", "c"), *(f"(assert {a})" for a in finite("x", "y")),
                              "(assert (fp.isNaN c))", "(assert (fp.leq x y))",
                              "(assert (not (fp.leq (fp.sub RNE x c) (fp.sub RNE y c))))"]), "sat", "search"),
             f"{fmt}: without the finiteness premise (c = NaN) the claim fails")]


def fp_sub_monotone(ctx: Context):
    """Each format's queries run in parallel; the results are kept for fp-argmax-shift-weak."""
    jobs = [job for fmt in formats(ctx) for job in _monotone(ctx, fmt)]
    steps = ctx.z3_batch(jobs)
    _MONOTONE[(tuple(formats(ctx)), ctx.timeout)] = steps
    if not ctx.full:
        ctx.step("float32 (only with --full)", "not run", NOT_RUN,
                 "float32 is not checked in the default run (minutes in z3): this run proves the claim for "
                 "bfloat16 and float16 only; run `python -m proofs.check --full --only fp-sub-monotone`.")


def _abstract(ctx: Context, name: str, what: str, premises: list[str], claim: str):
    """An unbounded theorem about any map f applied entrywise: y[i] = f(z[i])."""
    d = f"{FIRST_MAX}\n{arrays('z', 'y')}\n{consts('Int', 'n', 'k', 'k2')}\n(declare-fun f (Real) Real)"
    ctx.proof(name, what, d, ["(>= n 1)", "(forall ((i Int)) (= (select y i) (f (select z i))))",
                              "(forall ((a Real) (b Real)) (=> (<= a b) (<= (f a) (f b))))", *premises], claim)


def fp_argmax_shift_weak(ctx: Context):
    key = (tuple(formats(ctx)), ctx.timeout)
    steps = _MONOTONE.get(key)
    if steps is None:
        steps = ctx.z3_batch([job for fmt in formats(ctx) for job in _monotone(ctx, fmt)])
    else:
        ctx.steps.extend(steps)  # the same queries and answers as in fp-sub-monotone's run
    _abstract(ctx, "nondecreasing-map", "every n, any non-decreasing f: the first maximum k of z is a maximiser "
              "of f(z), and the first maximum k2 of f(z) satisfies k2 <= k",
              ["(first-max z n k)", "(first-max y n k2)"],
              "(and (<= k2 k) (forall ((j Int)) (=> (and (<= 0 j) (< j n)) (<= (select y j) (select y k)))))")
    ctx.step("composition (on paper)", "paper", HOLDS,
             "For finite c, v -> fl(v - c) is non-decreasing on finite floats (`fp-sub-monotone`, per format "
             "above). Instantiating f with it in the unbounded theorem: the logit argmax stays a maximiser "
             "of fl(z - c), and the first-index argmax can only move to an earlier index (to a token tied "
             "with it after rounding). This instantiation is the one step taken on paper.")


def fp_greedy_exact_guard(ctx: Context):
    jobs = []
    for fmt in formats(ctx):
        d = decls(fmt, "x", "m", "c")
        premises = [*finite("x", "m", "c"), "(fp.lt x m)", "(fp.geq c m)", f"(fp.gt c {lit(fmt, 0)})",
                    "(fp.gt (fp.add RNE m m) c)"]  # 2m > c (doubling is exact or overflows past c)
        asserts = "\n".join(f"(assert {p})" for p in premises)
        jobs += [(Query(f"strict-at-max.{fmt}.negation", f"{fmt}: x < m <= c < 2m, c > 0 (Sterbenz zone for m) "
                        "implies fl(x - c) < fl(m - c). Negated claim: unsat means it holds.",
                        f"{d}\n{asserts}\n(assert (not (fp.lt (fp.sub RNE x c) (fp.sub RNE m c))))", "unsat",
                        "negation"), f"{fmt}: below the max stays strictly below after fl(. - c)"),
                 (Query(f"strict-at-max.{fmt}.premises", f"{fmt}: the premises alone (non-vacuity)",
                        f"{d}\n{asserts}", "sat", "premises"), f"premises of: {fmt} strict-at-max are satisfiable")]
    ctx.z3_batch(jobs)
    for fmt in formats(ctx):  # and monotone, needed for the tokens after the max
        key = (tuple(formats(ctx)), ctx.timeout)
        if key in _MONOTONE:
            ctx.steps.extend(s for s in _MONOTONE[key] if s.query.name.startswith(f"monotone.{fmt}"))
        else:
            ctx.z3_batch(_monotone(ctx, fmt))
    _abstract(ctx, "strict-at-max", "every n: if f is non-decreasing and f(a) < f(z[k]) for every a < z[k], "
              "where k is the first maximum of z, then k is the first maximum of f(z)",
              ["(first-max z n k)", "(forall ((a Real)) (=> (< a (select z k)) (< (f a) (f (select z k)))))"],
              "(first-max y n k)")
    ctx.step("composition and the corollary for log-probabilities (on paper)", "paper", HOLDS,
             "With m = max(z) and c >= m, 2m > c > 0, the map v -> fl(v - c) satisfies both hypotheses of the "
             "unbounded theorem (strict below the max, and monotone: the per-format queries above), so "
             "first-index argmax(fl(z - c)) = argmax(z) for every n.\n\n"
             "Corollary. Take c = the computed logsumexp(z) = fl(m + fl(log(s))) with s = sum_i exp(z_i - m) "
             ">= 1 (the max term is exactly 1), so log(s) >= 0 and c >= m as long as the computed log is not "
             "negative, which holds for any faithful log of a number >= 1. And c <= m + log(n) plus rounding, "
             "so 2m > c holds when m > log(n) + slack. For a vocabulary of 151,936, log(n) = 11.93: greedy on "
             "float log-probabilities equals greedy on logits whenever max(z) > 11.93 + slack, with slack "
             "bounding the error of the computed logsumexp. `spec.greedy_logprobs_exact` takes slack = "
             "max(4 ulps of the dtype at that scale, 1e-3): mlx's float32 logsumexp was measured 1.5e-4 off "
             "at V = 151,936. The assumption on the computed logsumexp is exactly m <= c <= m + log(n) + slack.")


# --- sanity checks: the same arithmetic in numpy (float16, float32) and mlx (bfloat16) ---------------

def _sub(fmt: str, a, b):
    """Elementwise fl(a - b) in the format, by the libraries engines use."""
    import numpy as np
    if fmt == "bfloat16":
        import mlx.core as mx
        a, b = (mx.array(np.asarray(v, dtype=np.float32)).astype(mx.bfloat16) for v in (a, b))
        return np.array((a - b).astype(mx.float32)).astype(np.float64)
    dtype = {"float16": np.float16, "float32": np.float32}[fmt]
    return (np.asarray(a, dtype=dtype) - np.asarray(b, dtype=dtype)).astype(np.float64)


def sanity_witnesses(ctx: Context):
    t0 = time.perf_counter()
    results = []
    for fmt in formats(ctx):
        if fmt in ctx.witness:
            z0, z1, c = ctx.witness[fmt]
            y = _sub(fmt, [float(z0), float(z1)], [float(c), float(c)])
            results.append(f"{fmt}: fl(z - c) = ({y[0]!r}, {y[1]!r}), first-index argmax {int(y.argmax())}")
    ok = len(results) == len(formats(ctx)) and all(r.endswith("argmax 0") for r in results)
    ctx.step("sanity check: the witnesses reproduce in numpy / mlx", "sanity", HOLDS if ok else INCONCLUSIVE,
             "; ".join(results) + ". A sanity check, not the proof.", time.perf_counter() - t0)


def sanity_monotone(ctx: Context):
    """Random finite triples in each format: fl(x - c) <= fl(y - c) whenever x <= y."""
    import numpy as np
    t0, rng, lines, bad = time.perf_counter(), np.random.default_rng(12), [], 0
    for fmt in formats(ctx):
        x, y, c = (rng.normal(0, 30, 100_000) for _ in range(3))
        x, y = np.minimum(x, y), np.maximum(x, y)
        if fmt == "float16":
            x, y, c = (v.astype(np.float16).astype(np.float64) for v in (x, y, c))
            x, y = np.minimum(x, y), np.maximum(x, y)
        fails = int((_sub(fmt, x, c) > _sub(fmt, y, c)).sum())
        bad += fails
        lines.append(f"{fmt}: {fails} of 100,000")
    ctx.step("sanity check: random triples", "sanity", HOLDS if bad == 0 else INCONCLUSIVE,
             "violations of monotone subtraction: " + "; ".join(lines) + ". A sanity check, not the proof.",
             time.perf_counter() - t0)


def _sanity_rows(ctx: Context, guard: bool):
    """Random rows with near-ties, shifted in each format: the weak property always; with the
    guard's premises (c >= max z, 2 max z > c > 0), the argmax itself."""
    import numpy as np
    t0, rng, lines, bad = time.perf_counter(), np.random.default_rng(13), [], 0
    for fmt in formats(ctx):
        fails = 0
        for _ in range(2000):
            z = 20 + rng.integers(-40, 5, 16) * 0.0625 + rng.normal(0, 1e-3, 16) * (rng.random() < 0.5)
            z = _sub(fmt, z, np.zeros(16))  # round the row into the format
            c = z.max() * (1 + rng.random() * 0.9) if guard else rng.normal(0, 30)
            c = float(_sub(fmt, [c], [0.0])[0])
            y = _sub(fmt, z, np.full(16, c))
            k, k2 = int(z.argmax()), int(y.argmax())
            if guard and c >= z.max() and 2 * z.max() > c > 0:
                fails += k2 != k
            elif not guard:
                fails += not (k2 <= k and y[k] == y.max())
        bad += fails
        lines.append(f"{fmt}: {fails} of 2,000")
    ctx.step("sanity check: random rows with near-ties", "sanity", HOLDS if bad == 0 else INCONCLUSIVE,
             "violations: " + "; ".join(lines) + ". A sanity check, not the proof.", time.perf_counter() - t0)


def sanity_weak(ctx: Context):
    _sanity_rows(ctx, guard=False)


def sanity_guard(ctx: Context):
    _sanity_rows(ctx, guard=True)

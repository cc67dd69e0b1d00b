"""SymPy proofs of the softmax identities, for a symbolic vocabulary size n.

Each proof is a closed chain: the left-hand side as stated, then whole expressions each checked
equal to the one before it (rewrites that hold for real z, real c, T > 0 and a positive integer n),
the last checked equal to the right-hand side. A link SymPy cannot reduce to 0 makes the step
`not proved`, never false.
"""

from __future__ import annotations

import time

import sympy as sp

from proofs.core import HOLDS, INCONCLUSIVE, Context

n = sp.Symbol("n", integer=True, positive=True)
i, j = sp.symbols("i j", integer=True, positive=True)
z = sp.IndexedBase("z", real=True)
c = sp.Symbol("c", real=True)
T = sp.Symbol("T", positive=True)


def sum_j(term):
    return sp.Sum(term, (j, 1, n))


def softmax(logit_of):
    """softmax(v)_i for v_j = logit_of(j): the one definition every SymPy proof uses."""
    return sp.exp(logit_of(i)) / sum_j(sp.exp(logit_of(j)))


def show(expr) -> str:
    return f"$$\n{sp.latex(expr)}\n$$"


def same(a, b) -> bool:
    """a - b reduces to exactly 0 (simplify, then simplify after expand): equal for every value of
    the symbols under their assumptions. False means only that SymPy did not show it."""
    diff = a - b
    try:
        return sp.simplify(diff) == 0 or sp.simplify(sp.expand(diff)) == 0
    except Exception:  # noqa: BLE001 - SymPy 1.14's simplify can raise StopIteration on Sums: not shown
        return False


def finish(ctx: Context, title: str, lhs, rhs, steps: list[tuple[str, object]], started: float):
    """Record a closed chain lhs = e_1 = ... = e_k = rhs. Each e_m is a whole expression, checked
    equal to the one before it (e_1 to lhs as stated), and e_k to rhs: every link's check is in the
    transcript, and the step holds only if every link reduced to 0. A chain that is not closed
    proves nothing, however plausible its last expression looks (a rewrite of the wrong left-hand
    side can still end at the right-hand side)."""
    lines = [f"Left-hand side as stated: {show(sp.Eq(sp.Symbol('L'), lhs, evaluate=False))}"]
    failed, previous = [], lhs
    for number, (why, expr) in enumerate(steps, 1):
        ok = same(expr, previous)
        failed += [] if ok else [number]
        lines.append(f"Link {number}, {why}: {show(expr)}\nCheck: this minus the expression before it "
                     f"{'simplifies to 0' if ok else '**does not simplify to 0**'}.")
        previous = expr
    ok = same(previous, rhs)
    failed += [] if ok else ["last"]
    lines.append(f"Right-hand side: {show(rhs)}\nCheck: the last expression minus the right-hand side "
                 f"{'simplifies to 0' if ok else '**does not simplify to 0**'}.")
    status = HOLDS if not failed else INCONCLUSIVE
    lines.append(f"The chain is closed: each of its {len(steps) + 1} links was checked." if not failed else
                 f"Links not shown equal: {failed}. **not proved** (this is not a refutation).")
    ctx.step(title, "sympy", status, "\n\n".join(lines), time.perf_counter() - started)


def pull_out_sum(expr):
    """exp(a - b) -> exp(a) exp(-b) inside the sum, then factor the j-free part out of it."""
    return sp.factor_terms(sp.expand(expr))


def prove_shift(ctx: Context, title: str, logit, shifted_logit):
    """softmax of shifted_logit equals softmax of logit, symbolic n."""
    t0 = time.perf_counter()
    lhs = softmax(shifted_logit)
    num = sp.expand(sp.exp(shifted_logit(i)))
    den = sum_j(sp.exp(shifted_logit(j)))
    split = num / den
    finish(ctx, title, lhs, softmax(logit), [
        ("numerator: exp(a - b) = exp(a) exp(-b) for real a, b", split),
        ("denominator: the same split in every term, then the factor free of j leaves the sum; the "
         "common factor cancels", num / pull_out_sum(den)),
    ], t0)


def prove_concrete_shift(ctx: Context, bound: int):
    """softmax(z - c) = softmax(z) for each n = 1..bound and each i, with n explicit symbols."""
    t0 = time.perf_counter()
    bad = []
    for size in range(1, bound + 1):
        zs = sp.symbols(f"z1:{size + 1}", real=True)
        shifted, plain = sum(sp.exp(x - c) for x in zs), sum(sp.exp(x) for x in zs)
        for k in range(size):
            # Both denominators are positive, so equality of the fractions is equality of the
            # cross products; expand() reduces their difference to 0.
            if sp.expand(sp.exp(zs[k] - c) * plain - sp.exp(zs[k]) * shifted) != 0:
                bad.append((size, k))
    status = HOLDS if not bad else INCONCLUSIVE
    ctx.step(f"every concrete n from 1 to {bound}, every i", "sympy", status,
             f"For n = 1..{bound} and every i, with n real symbols z_1..z_n: the cross-multiplied "
             "difference exp(z_i - c) * sum_j exp(z_j) - exp(z_i) * sum_j exp(z_j - c) expands to 0 "
             "(cross-multiplying is valid because both denominators are sums of exponentials, "
             "hence positive)." + (f" Not reduced to 0 for (n, i) = {bad}." if bad else ""),
             time.perf_counter() - t0)


def softmax_shift(ctx: Context):
    prove_shift(ctx, "symbolic n: softmax(z - c)_i = softmax(z)_i", lambda k: z[k], lambda k: z[k] - c)
    prove_concrete_shift(ctx, 16)


def log_softmax(ctx: Context):
    t0 = time.perf_counter()
    s = sp.Symbol("s", positive=True)  # stands for sum_j exp(z_j)
    positive = sum_j(sp.exp(z[j])).is_positive
    ctx.step("sum_j exp(z_j) > 0", "sympy", HOLDS if positive else INCONCLUSIVE,
             f"SymPy's assumption system: `Sum(exp(z[j]), (j, 1, n)).is_positive` is `{positive}` for "
             "real z_j and a positive integer n. So the sum can be named s with s > 0.",
             time.perf_counter() - t0)
    t0 = time.perf_counter()
    lhs = sp.log(sp.exp(z[i]) / s)
    # expand_log without force=True only splits logs of positive factors; force=True would be
    # unsound (it "proves" the identity for complex z too).
    step1 = sp.expand_log(lhs)
    finish(ctx, "log(exp(z_i) / s) = z_i - log(s)", lhs, z[i] - sp.log(s), [
        ("log of a quotient of positive numbers, log(exp(z_i)) = z_i for real z_i", step1),
    ], t0)


def softmax_of_logprobs(ctx: Context):
    lse = sp.log(sum_j(sp.exp(z[j])))
    prove_shift(ctx, "softmax(z - logsumexp(z))_i = softmax(z)_i, symbolic n",
                lambda k: z[k], lambda k: z[k] - lse)


def temperature_softmax(ctx: Context):
    prove_shift(ctx, "symbolic n, T > 0: softmax((z - c)/T)_i = softmax(z/T)_i",
                lambda k: z[k] / T, lambda k: (z[k] - c) / T)

"""Speculative decoding: when does verifying a draft keep the target's distribution p?

- `speculative-rejection` (Leviathan et al., arXiv:2211.17192; Chen et al., arXiv:2302.01318): a
  draft token x ~ q accepted with probability min(1, p(x)/q(x)), otherwise a token from
  max(0, p - q) normalised, is distributed exactly as p. Z3 over the reals, every n = 1..MAX_N with p
  and q symbolic, plus the per-token identity q min(1, p/q) + max(0, p - q) = p for all reals.
- `speculative-logits`: the same verifier with the ratio taken from unnormalised logits,
  exp(z_p(x) - z_q(x)) = (p(x)/q(x)) (Z_p/Z_q), does not give p: an exact witness in Fractions.
- `speculative-token-match`: mlx-lm's scheme (the target samples every verified position, and the
  drafts are kept while its own sample equals them) emits the target's own samples, so it keeps
  the joint p1(a) p2(b | a) when the target's draws at the positions are independent: Z3, symbolic
  distributions over n = 1..3 tokens, every draft.
- `speculative-shared-coin`: claim: it does so even when the two positions share one random coin
  (mlx-lm's XTC: one coin per sampler call). False: an exact witness in Fractions.

Here p and q are the distributions actually sampled from: every transform (penalties, bias,
temperature, top-k / top-p / min-p, XTC) applied to the target's logits for p and to the draft's
for q, normalised. The verifier must use those normalised probabilities.
"""

from __future__ import annotations

import itertools
import random
import time
from fractions import Fraction as F

import numpy as np

from proofs.core import COUNTEREXAMPLE, HOLDS, INCONCLUSIVE, Context
from proofs.refutations import fmt

MAX_N = 4  # speculative-rejection: every n = 1..MAX_N tokens
MATCH_N = 3  # speculative-token-match: every n = 1..MATCH_N tokens
SANITY_TRIALS = 300


def _sum(terms) -> str:
    terms = list(terms)
    return terms[0] if len(terms) == 1 else f"(+ {' '.join(terms)})"


def _rejection_query(n: int, mutant: str = "") -> tuple[str, list[str], str]:
    """Declarations, premises and claim for one n: the output distribution of the verifier is p.
    mutant (for the tests): "resample-p" resamples from p, "inverted" accepts with min(1, q/p)."""
    decls = "\n".join(f"(declare-const {v}{i} Real)" for i in range(n) for v in ("p", "q"))
    premises = [f"(>= p{i} 0.0)" for i in range(n)] + [f"(>= q{i} 0.0)" for i in range(n)]
    premises += [f"(= {_sum(f'p{i}' for i in range(n))} 1.0)", f"(= {_sum(f'q{i}' for i in range(n))} 1.0)"]
    accept = [f"(ite (> q{i} 0.0) (ite (< p{i} q{i}) (/ p{i} q{i}) 1.0) 0.0)" for i in range(n)]  # min(1, p/q)
    residual = [f"(ite (> p{i} q{i}) (- p{i} q{i}) 0.0)" for i in range(n)]  # max(0, p - q)
    if mutant == "resample-p":
        residual = [f"p{i}" for i in range(n)]
    if mutant == "inverted":
        accept = [f"(ite (> p{i} 0.0) (ite (< q{i} p{i}) (/ q{i} p{i}) 1.0) 0.0)" for i in range(n)]
    rejected = f"(- 1.0 {_sum(f'(* q{i} {accept[i]})' for i in range(n))})"
    mass = _sum(residual)
    out = [f"(+ (* q{i} {accept[i]}) (ite (> {mass} 0.0) (/ (* {rejected} {residual[i]}) {mass}) 0.0))"
           for i in range(n)]
    claim = "(and " + " ".join(f"(= {o} p{i})" for i, o in enumerate(out)) + ")" if n > 1 else f"(= {out[0]} p0)"
    return decls, premises, claim


def rejection(ctx: Context):
    ctx.proof("termwise", "for every real p >= 0 and q > 0: q min(1, p/q) + max(0, p - q) = p (and with q = 0 the "
              "draft never proposes the token, leaving max(0, p - 0) = p)",
              "(declare-const p Real)\n(declare-const q Real)", ["(>= p 0.0)", "(> q 0.0)"],
              "(= (+ (* q (ite (< p q) (/ p q) 1.0)) (ite (> p q) (- p q) 0.0)) p)")
    for n in range(1, MAX_N + 1):
        decls, premises, claim = _rejection_query(n)
        ctx.proof(f"n{n}", f"n = {n}: a draft x ~ q accepted with probability min(1, p(x)/q(x)), else a token from "
                  "max(0, p - q) normalised (no resampling when that mass is 0: then p = q), is distributed as p, "
                  "for every p and q on n tokens", decls, premises, claim)
    t0 = time.perf_counter()
    rng = random.Random(16)
    wrong = 0
    for _ in range(SANITY_TRIALS):
        n = rng.randint(1, 12)
        wp = [F(rng.randint(0, 9)) for _ in range(n)]
        wq = [F(rng.randint(0, 9)) for _ in range(n)]
        if not sum(wp) or not sum(wq):
            continue
        p, q = [w / sum(wp) for w in wp], [w / sum(wq) for w in wq]
        accept = [min(F(1), a / b) if b else F(0) for a, b in zip(p, q, strict=True)]
        wrong += _verify(p, q, accept, [max(F(0), a - b) for a, b in zip(p, q, strict=True)]) != p
    ctx.step("sanity check: exact output distributions on random rational p and q", "sanity",
             HOLDS if wrong == 0 else INCONCLUSIVE,
             f"{SANITY_TRIALS} seeded random p and q on 1..12 tokens with rational entries (zeros included), the "
             f"verifier's output distribution computed in Fractions: {wrong} differ from p. A sanity check beyond "
             f"the bound n <= {MAX_N}, not the proof.", time.perf_counter() - t0)


def _verify(p, q, accept, residual) -> list:
    """The verifier's output distribution, exactly: propose x ~ q, accept with accept[x], else draw
    from residual normalised."""
    n = len(p)
    rejected = 1 - sum(q[x] * accept[x] for x in range(n))
    total = sum(residual)
    return [q[x] * accept[x] + (rejected * residual[x] / total if total else 0) for x in range(n)]


def logits_witness():
    """The smallest witness: p = (3/4, 1/4), q = (1/2, 1/2), logits z_p = log (3, 1), z_q = log (1, 1):
    the ratio exp(z_p - z_q) = (3, 1) accepts every draft, so the output is q, not p."""
    wp, wq = (F(3), F(1)), (F(1), F(1))
    p = [w / sum(wp) for w in wp]
    q = [w / sum(wq) for w in wq]
    accept = [min(F(1), a / b) for a, b in zip(wp, wq, strict=True)]  # exp(z_p(x) - z_q(x))
    residual = [max(F(0), a - b) for a, b in zip(p, q, strict=True)]
    return p, q, wp, wq, _verify(p, q, accept, residual)


def logits(ctx: Context):
    t0 = time.perf_counter()
    p, q, wp, wq, out = logits_witness()
    right = _verify(p, q, [min(F(1), a / b) for a, b in zip(p, q, strict=True)],
                    [max(F(0), a - b) for a, b in zip(p, q, strict=True)])
    ok = out != p and right == p
    text = (f"p = ({', '.join(map(fmt, p))}), q = ({', '.join(map(fmt, q))}); logits z_p = (log {fmt(wp[0])}, "
            f"log {fmt(wp[1])}), z_q = (log {fmt(wq[0])}, log {fmt(wq[1])}). Ratio from the logits: "
            f"exp(z_p - z_q) = ({', '.join(fmt(a / b) for a, b in zip(wp, wq, strict=True))}), so every draft is "
            f"accepted and the output is ({', '.join(map(fmt, out))}) = q, not p. With the normalised ratio p/q "
            f"the same verifier gives ({', '.join(map(fmt, right))}) = p.")
    ctx.counterexample += text + "\n\n"
    ctx.step("exact witness in Fractions", "exact", COUNTEREXAMPLE if ok else HOLDS, text, time.perf_counter() - t0)
    t0 = time.perf_counter()
    zp, zq = np.log(np.array([3.0, 1.0])), np.log(np.array([1.0, 1.0]))
    pf, qf = np.exp(zp) / np.exp(zp).sum(), np.exp(zq) / np.exp(zq).sum()
    accept = np.minimum(1.0, np.exp(zp - zq))
    rejected = 1 - (qf * accept).sum()
    outf = qf * accept + (rejected * np.maximum(0, pf - qf) / np.maximum(0, pf - qf).sum())
    same = np.allclose(outf, [float(x) for x in out]) and not np.allclose(outf, pf)
    ctx.step("sanity check: the witness in numpy float64 from its logits", "sanity", HOLDS if same else INCONCLUSIVE,
             f"softmax of the logits, the ratio exp(z_p - z_q), the output distribution {np.round(outf, 6).tolist()} "
             f"against p = {np.round(pf, 6).tolist()}: {'reproduces' if same else 'does NOT reproduce'} the exact "
             "witness. A sanity check, not the proof.", time.perf_counter() - t0)


def _match_query(n: int, draft: int) -> tuple[str, list[str], str]:
    """Two positions over n tokens, the draft's first token fixed: the emitted pair is (t1, t2),
    where t2 is the verified sample when t1 = draft, else a fresh sample given t1. With
    independent draws: P(a, b) = p1(a) p2(b | a)."""
    decls = [f"(declare-const a{i} Real)" for i in range(n)]
    decls += [f"(declare-const b{i}_{j} Real)" for i in range(n) for j in range(n)]
    premises = [f"(>= a{i} 0.0)" for i in range(n)] + [f"(= {_sum(f'a{i}' for i in range(n))} 1.0)"]
    for i in range(n):
        premises += [f"(>= b{i}_{j} 0.0)" for j in range(n)] + [f"(= {_sum(f'b{i}_{j}' for j in range(n))} 1.0)"]
    claims = []
    for x, y in itertools.product(range(n), repeat=2):
        # emitted (x, y): t1 = x, and either x = draft and the verified t2 = y (drawn from p2(. | draft)),
        # or x != draft and the fresh draw given x is y; both independent of t1's draw
        emitted = f"(* a{x} b{draft}_{y})" if x == draft else f"(* a{x} b{x}_{y})"
        claims.append(f"(= {emitted} (* a{x} b{x}_{y}))")
    return "\n".join(decls), premises, "(and " + " ".join(claims) + ")" if len(claims) > 1 else claims[0]


def token_match(ctx: Context):
    for n in range(1, MATCH_N + 1):
        for draft in range(n):
            decls, premises, claim = _match_query(n, draft)
            ctx.proof(f"n{n}.draft{draft}", f"n = {n}, the draft's first token {draft}: the emitted pair (a, b) has "
                      "probability p1(a) p2(b | a) for every a, b, when the target's draws are independent",
                      decls, premises, claim)
    t0 = time.perf_counter()
    rng = random.Random(17)
    wrong = 0
    for _ in range(SANITY_TRIALS):
        n = rng.randint(1, 8)
        p1 = _random_distribution(rng, n)
        p2 = [_random_distribution(rng, n) for _ in range(n)]
        for draft in range(n):
            emitted = {}
            for t1, t2 in itertools.product(range(n), repeat=2):  # the target's two independent draws
                second = t2 if t1 == draft else None  # on a mismatch the next step draws afresh given t1
                weight = p1[t1] * (p2[draft][t2] if t1 == draft else p2[t1][t2])
                key = (t1, second if second is not None else t2)
                emitted[key] = emitted.get(key, 0) + weight
            wrong += any(emitted.get((a, b), 0) != p1[a] * p2[a][b] for a in range(n) for b in range(n))
    ctx.step("sanity check: the scheme enumerated exactly on random rational distributions", "sanity",
             HOLDS if wrong == 0 else INCONCLUSIVE,
             f"{SANITY_TRIALS} seeded random p1 and p2(. | a) on 1..8 tokens, every draft: the emitted pairs' "
             f"probabilities enumerated in Fractions, {wrong} differ from p1(a) p2(b | a). A sanity check, not the "
             "proof.", time.perf_counter() - t0)


def _random_distribution(rng: random.Random, n: int) -> list:
    weights = [F(rng.randint(1, 9)) for _ in range(n)]
    return [w / sum(weights) for w in weights]


def shared_coin_witness():
    """Two tokens, two positions, one coin c (probability 1/2) shared by both positions: with c the
    target samples from A, without it from B (the same A and B at both positions, as XTC on a
    model whose next-token distribution does not depend on the first token). Every marginal is
    p = (A + B)/2, but the joint is (A x A + B x B)/2, not p x p."""
    a, b = (F(1), F(0)), (F(0), F(1))
    p = [(x + y) / 2 for x, y in zip(a, b, strict=True)]
    joint = {(i, j): (a[i] * a[j] + b[i] * b[j]) / 2 for i in range(2) for j in range(2)}
    product = {(i, j): p[i] * p[j] for i in range(2) for j in range(2)}
    return p, joint, product


def shared_coin(ctx: Context):
    t0 = time.perf_counter()
    p, joint, product = shared_coin_witness()
    ok = joint != product
    text = ("Two tokens; at each position the target samples from A = (1, 0) if a shared coin (probability 1/2) "
            "shows heads, else from B = (0, 1); the draft proposes token 0 twice. The emitted pair follows the "
            f"target's samples, whose marginals are p = ({', '.join(map(fmt, p))}) at each position, but the joint "
            f"is P(0, 0) = {fmt(joint[0, 0])}, P(1, 1) = {fmt(joint[1, 1])}, P(0, 1) = {fmt(joint[0, 1])}, where "
            f"independent positions give {fmt(product[0, 0])} each.")
    ctx.counterexample += text + "\n\n"
    ctx.step("exact witness in Fractions", "exact", COUNTEREXAMPLE if ok else HOLDS, text, time.perf_counter() - t0)
    t0 = time.perf_counter()
    rng = np.random.default_rng(16)
    coins = rng.random(100_000) < 0.5
    both_zero = float(np.mean(coins))  # heads: A = (1, 0) at both positions, so the pair (0, 0)
    ok = abs(both_zero - 0.5) < 0.01
    ctx.step("sanity check: 100,000 seeded simulated runs", "sanity", HOLDS if ok else INCONCLUSIVE,
             f"the pair (0, 0) in {both_zero:.4f} of the runs (exact: 1/2; independent positions: 1/4). A sanity "
             "check, not the proof.", time.perf_counter() - t0)

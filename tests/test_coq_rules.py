"""The Coq rules are the spec's rules: each rule of proofs/coq/Rules.v, the very definition the Coq
theorems are about (instantiated there at R), is evaluated at Q with `vm_compute` on a few hundred
rational rows per rule (ties, exact boundaries, min_tokens_to_keep, k >= n, masked tokens) and its
keep-set is compared with spec.target's.

What this covers: every comparison, tie rule, rank, cumulative mass and min_tokens_to_keep branch of
argmax, top-k (both tie rules), top-p (both tie rules, renormalised over survivors and over the
original row), min-p (probability space), epsilon, eta, typical-p (both tie rules), top-n-sigma (its
square-root-free form) and XTC (both comparisons, both tie rules, special tokens, min_keep); and the
scores of temperature (z / T), logit bias and the repetition penalty against the spec step's own, and
the masked softmax's normalisation (over the survivors, 0 elsewhere) on the weights q = exp(log q).

What it cannot cover: exp, log and sqrt are not computable at Q, so the rules that read them take
their results as inputs: the probability row p = q / sum(q) (the spec gets logits log q); typical-p's
and eta's surprisals on dyadic rows (p_i = 2^-k_i, surprisal k_i in bits: a positive scale every
typical-p comparison ignores, and eta's exp(-H) is then 2^-H for a whole number H of bits, with
epsilon a rational square); top-n-sigma's sigma through (max - z_i)^2 <= n^2 var. That the inputs
at R are the softmax, the surprisals, exp and sqrt, and that the square-root-free and log-space
forms are the spec's forms, is proved in Coq (Softmax.v, Filters.v, Samplers.v), not tested here.

How exactly: where float64 computes the spec's decisions exactly (dyadic probabilities and
parameters; min-p with m in {0, 1}; a top-n-sigma threshold float64 gets exactly) the whole keep-set
is compared; for typical-p on such rows the mass cut is compared exactly and only tokens whose
typicality scores are within 1e-9 are left out (spec boundary); elsewhere spec.target runs with a
1e-9 tolerance and its boundary tokens are not compared. Rows whose typicality scores tie exactly
between different probabilities are skipped (float64 cannot see such ties).

Skips with an install hint without `coqc`; fails instead when the environment variable CI is set.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pytest

from proofs.fidelity import EXACT_TOL, NEAR_TOL, agrees, exact_weights, float_exact, masses, spec_target, weights
from spec.transforms import XTC, EpsilonCutoff, EtaCutoff, MinP, Temperature, TopK, TopNSigma, TopP, TypicalP

COQ_DIR = Path(__file__).resolve().parent.parent / "proofs" / "coq"
INSTALL = "install Coq to run it: apt-get install coq libcoq-flocq libcoq-interval"
ROWS = 200  # rows per rule: about 2200 terms, 3 to 5 s of coqc on 2 shared cores
RULES = ("argmax", "top-k", "top-k-exact", "top-p", "top-p-original", "min-p", "epsilon", "eta", "typical",
         "top-n-sigma", "xtc", "scores", "softmax")


@dataclass
class Case:
    """One Coq term to evaluate, and how to compare its value with the spec."""
    rule: str
    term: str
    check: object  # value (list[bool] or int) -> mismatch text, or "" when it agrees
    exact: bool = False  # the spec's float64 decides it exactly, so no token is left out as boundary


@dataclass
class Tally:
    rows: int = 0
    exact: int = 0
    skipped: int = 0
    mismatches: list = field(default_factory=list)


# --- Coq syntax ---------------------------------------------------------------------------------------

def q(x) -> str:
    x = F(x)
    return f"(Qmake ({x.numerator}) {x.denominator})"


def qlist(xs) -> str:
    return "[" + "; ".join(q(x) for x in xs) + "]"


def blist(bs) -> str:
    return "[" + "; ".join("true" if b else "false" for b in bs) + "]"


def nlist(ns) -> str:
    return "[" + "; ".join(f"{int(n)}%nat" for n in ns) + "]"


def cbool(b: bool) -> str:
    return "true" if b else "false"


def parse(text: str) -> list:
    """The values Coq printed, in order: a list of booleans or a natural number each."""
    out = []
    for m in re.finditer(r"=\s*(\[[^\]]*\]|\d+(?:%nat)?)\s*:\s*(list bool|nat)", text):
        body = m.group(1)
        out.append([w == "true" for w in re.findall(r"true|false", body)] if body.startswith("[")
                   else int(body.removesuffix("%nat")))
    return out


def evaluate(cases: list[Case], coq_dir: Path = COQ_DIR) -> list:
    """Compile Rules.v (a copy, in a temporary directory) and evaluate every case's term with vm_compute."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(coq_dir / "Rules.v", tmp)
        subprocess.run(["coqc", "-Q", tmp, "SamplerProofs", f"{tmp}/Rules.v"], check=True, capture_output=True,
                       text=True, timeout=120)
        body = ["From SamplerProofs Require Import Rules.", "From Coq Require Import QArith List.",
                "Import ListNotations."]
        body += [f"Eval vm_compute in {c.term}." for c in cases]
        Path(tmp, "Eval.v").write_text("\n".join(body) + "\n")
        run = subprocess.run(["coqc", "-Q", tmp, "SamplerProofs", f"{tmp}/Eval.v"], capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
    values = parse(run.stdout)
    assert len(values) == len(cases), f"Coq printed {len(values)} values for {len(cases)} terms"
    return values


# --- comparisons with spec.target ---------------------------------------------------------------------

def kept(values) -> set:
    return {i for i, v in enumerate(values) if v}


def keep_check(logits, steps, tol, what):
    """Compare a Coq keep-mask with spec.target's support: all of it when tol is exact, else off the boundary."""
    t = spec_target(logits, steps, tol)
    support = set(np.flatnonzero(t.support).tolist())
    boundary = set(np.flatnonzero(t.boundary).tolist()) if tol != EXACT_TOL else set()

    def check(values):
        got = kept(values)
        if agrees(got, support, boundary):
            return ""
        return f"{what}: Coq keeps {sorted(got)}, spec.target keeps {sorted(support)} (boundary {sorted(boundary)})"
    return check


def dyadic(*xs) -> bool:
    return all(F(float(x)) == F(x) for x in xs)


def log_row(qs, alive=None) -> list[float]:
    return [math.log(x) if alive is None or alive[i] else -math.inf for i, x in enumerate(qs)]


def survivors(rng, n) -> list[bool]:
    """Every token alive, or (one row in four) some masked out as -inf, at least one alive."""
    alive = [True] * n
    if n > 1 and rng.random() < 0.25:
        for i in rng.sample(range(n), rng.randint(1, n - 1)):
            alive[i] = False
    return alive


def renormalised(qs, alive) -> list[F]:
    total = sum(x for x, a in zip(qs, alive, strict=True) if a)
    return [F(x, total) if a else F(0) for x, a in zip(qs, alive, strict=True)]


# --- the cases, rule by rule ------------------------------------------------------------------------------

def _argmax(rng, r):
    n = 1 + r % 9
    z = [F(rng.randint(-2, 2), rng.choice([1, 2, 4])) for _ in range(n)]
    greedy = spec_target([float(x) for x in z], [Temperature(0.0)], EXACT_TOL).greedy
    return Case("argmax", f"argmax Q_ops {qlist(z)}",
                lambda v: "" if v == greedy else f"argmax of {z}: Coq {v}, spec.target {greedy}", True)


def _top_k(exact):
    def make(rng, r):
        n = 1 + r % 9
        z = [F(rng.randint(0, 3)) for _ in range(n)]
        alive = survivors(rng, n)
        k = rng.randint(1, n + 2)
        rule = "topk_exact" if exact else "topk_all"
        logits = [float(x) if a else -math.inf for x, a in zip(z, alive, strict=True)]
        check = keep_check(logits, [TopK(k, ties="any" if exact else "all")], EXACT_TOL, f"z = {logits}, k = {k}")
        return Case("top-k-exact" if exact else "top-k", f"{rule} Q_ops {k} {qlist(z)} {blist(alive)}", check, True)
    return make


def _param(rng, exact_values, others):
    return rng.choice(exact_values) if exact_values and rng.random() < 0.5 else rng.choice(others)


def _top_p(rng, r):
    n = 1 + r % 8
    qs = exact_weights(rng, n) if r % 2 else weights(rng, n)
    alive = survivors(rng, n)
    p = renormalised(qs, alive)
    live = [x for x, a in zip(qs, alive, strict=True) if a]
    top_p = _param(rng, masses(p, lambda i: (-p[i], i))[1:], [F(0), F(1), F(rng.randint(1, 15), 16), F(3, 10)])
    ties, mtk = rng.choice(["all", "any"]), rng.choice([1, 1, 2, 3])
    exact = float_exact(live) and dyadic(top_p)
    check = keep_check(log_row(qs, alive), [TopP(float(top_p), ties=ties, min_tokens_to_keep=mtk)],
                       EXACT_TOL if exact else NEAR_TOL, f"q = {qs}, alive = {alive}, p = {top_p}, ties = {ties}, "
                       f"min_tokens_to_keep = {mtk}")
    return Case("top-p", f"topp Q_ops {cbool(ties == 'all')} {q(top_p)} {mtk} {qlist(p)} {blist(alive)}", check, exact)


def _top_p_original(rng, r):
    """tiny-llm's top-p after a top-k: the masses of the unfiltered row, the survivors of the top-k."""
    n = 2 + r % 7
    qs = exact_weights(rng, n) if r % 2 else weights(rng, n)
    k = rng.randint(1, n)
    t = spec_target(log_row(qs), [TopK(k)], EXACT_TOL)
    alive = t.support.tolist()
    p = [F(x, sum(qs)) for x in qs]
    top_p = _param(rng, masses(p, lambda i: (-p[i], i))[1:], [F(0), F(1), F(rng.randint(1, 15), 16), F(3, 10)])
    ties, mtk = rng.choice(["all", "any"]), rng.choice([1, 1, 2])
    exact = float_exact(qs) and dyadic(top_p)
    check = keep_check(log_row(qs), [TopK(k), TopP(float(top_p), mass="original", ties=ties, min_tokens_to_keep=mtk)],
                       EXACT_TOL if exact else NEAR_TOL, f"q = {qs}, top-k {k}, then top-p (original mass) {top_p}, "
                       f"ties = {ties}, min_tokens_to_keep = {mtk}")
    return Case("top-p-original", f"topp Q_ops {cbool(ties == 'all')} {q(top_p)} {mtk} {qlist(p)} {blist(alive)}",
                check, exact)


def _min_p(rng, r):
    n = 1 + r % 8
    qs = weights(rng, n)
    alive = survivors(rng, n)
    p = renormalised(qs, alive)
    top = max(p)
    mm = _param(rng, [x / top for x in p if x], [F(0), F(1), F(1, 10), F(3, 10), F(1, 2), F(9, 10)])
    mtk = rng.choice([1, 1, 2, 3, n + 1])
    if r % 4 == 0:  # exactly decided and the min_tokens_to_keep branch taken: its tie rule shows
        mm, mtk = F(1), rng.choice([2, 3])
    exact = mm in (0, 1)  # the spec's threshold max + log m is exact in float64 only then
    check = keep_check(log_row(qs, alive), [MinP(float(mm), min_tokens_to_keep=mtk)], EXACT_TOL if exact else NEAR_TOL,
                       f"q = {qs}, alive = {alive}, m = {mm}, min_tokens_to_keep = {mtk}")
    return Case("min-p", f"minp Q_ops {q(mm)} {mtk} {qlist(p)} {blist(alive)}", check, exact)


def _epsilon(rng, r):
    n = 1 + r % 8
    qs = exact_weights(rng, n) if r % 2 else weights(rng, n)
    alive = survivors(rng, n)
    p = renormalised(qs, alive)
    live = [x for x, a in zip(qs, alive, strict=True) if a]
    eps = _param(rng, [x for x in p if x], [F(0), F(1, 16), F(1, 8), F(1, 4), F(1, 10), F(1)])
    mtk = rng.choice([1, 1, 2, 3])
    exact = float_exact(live) and dyadic(eps)
    check = keep_check(log_row(qs, alive), [EpsilonCutoff(float(eps), min_tokens_to_keep=mtk)],
                       EXACT_TOL if exact else NEAR_TOL, f"q = {qs}, alive = {alive}, epsilon = {eps}, "
                       f"min_tokens_to_keep = {mtk}")
    return Case("epsilon", f"epsilon Q_ops {q(eps)} {mtk} {qlist(p)} {blist(alive)}", check, exact)


def dyadic_row(rng, n) -> list[int]:
    """Exponents k_i with sum 2^-k_i = 1: split a random part in halves until there are n."""
    ks = [0]
    while len(ks) < n:
        i = rng.randrange(len(ks))
        ks[i:i + 1] = [ks[i] + 1, ks[i] + 1]
    rng.shuffle(ks)
    return ks


def _typical(rng, r):
    n = 1 + r % 7
    ks = dyadic_row(rng, n)
    p = [F(1, 2 ** k) for k in ks]
    h = sum(x * k for x, k in zip(p, ks, strict=True))  # the entropy, in units of log 2
    score = [abs(k - h) for k in ks]
    blind = any(score[i] == score[j] and p[i] != p[j] for i in range(n) for j in range(n))
    mass = _param(rng, masses(p, lambda i: (score[i], i))[1:], [F(0), F(1, 4), F(1, 2), F(3, 4), F(9, 10), F(1)])
    ties, mtk = rng.choice(["all", "any"]), rng.choice([1, 1, 2])
    weights_ = [2 ** (max(ks) - k) for k in ks]
    # Where float64 computes the probabilities exactly, the masses before each token are exact too:
    # the spec then decides the mass cut exactly (mass tolerance 0) and only near-tied scores are boundary.
    exact = float_exact(weights_) and dyadic(mass)
    check = keep_check(log_row(weights_), [TypicalP(float(mass), min_tokens_to_keep=mtk, ties=ties)],
                       (NEAR_TOL[0], 0.0) if exact else NEAR_TOL,
                       f"p = {[str(x) for x in p]}, mass = {mass}, ties = {ties}, min_tokens_to_keep = {mtk}")
    case = Case("typical", f"typical Q_ops {cbool(ties == 'all')} {q(mass)} {mtk} {qlist(p)} {qlist(ks)} "
                f"{blist([True] * n)}", check, exact)
    return None if blind else case  # float64 cannot see an exact tie between scores of different p


def sigma_exact(alive: list[F], nn: F) -> bool:
    """float64 computes the threshold max - n * std of these values exactly: the variance is the
    square of a dyadic s that numpy's std returns exactly, and n * s is dyadic."""
    mean = sum(alive) / len(alive)
    var = sum((x - mean) ** 2 for x in alive) / len(alive)
    s = F(math.isqrt(var.numerator), math.isqrt(var.denominator))
    return s * s == var and float(np.std([float(x) for x in alive])) == s and dyadic(nn * s, max(alive) - nn * s)


def _eta(rng, r):
    """Dyadic rows whose entropy is a whole number h of bits, so exp(-H) = 2^-h is rational, and
    epsilon a rational square: Coq computes H from the row and the threshold min(eps, sqrt(eps) 2^-h)."""
    for _ in range(100):
        n = rng.randint(1, 9)
        ks = dyadic_row(rng, n)
        p = [F(1, 2 ** k) for k in ks]
        h = sum(x * k for x, k in zip(p, ks, strict=True))
        if h.denominator == 1:
            break
    else:
        return None
    root = rng.choice([F(0), F(1, 2), F(1, 4), F(1, 8), F(3, 10), F(1, 10), F(1)])
    mtk = rng.choice([1, 1, 2, 3])
    weights_ = [2 ** (max(ks) - k) for k in ks]
    check = keep_check(log_row(weights_), [EtaCutoff(float(root ** 2), mtk)],
                       NEAR_TOL, f"p = {[str(x) for x in p]}, epsilon = {root ** 2}, min_tokens_to_keep = {mtk}")
    bits = "(fun h => Qpower (Qmake 1 2) (Qnum (Qred h)))"
    return Case("eta", f"eta Q_ops {bits} {q(root ** 2)} {q(root)} {mtk} {qlist(p)} {qlist(ks)} {blist([True] * n)}",
                check)


def _top_n_sigma(rng, r):
    """Small integer logits; one row in three of the form c +- d in equal numbers (sigma = d), so
    that float64 computes the threshold exactly and tokens on it are compared too."""
    n = 1 + r % 8
    if r % 3 == 0:
        c, d = rng.randint(-2, 2), rng.randint(0, 2)
        z = [F(c + d if i % 2 else c - d) for i in range(2 * (1 + n // 2))]
        rng.shuffle(z)
        z += [F(rng.randint(-3, 3)) for _ in range(rng.randint(0, 1))]
    else:
        z = [F(rng.randint(-3, 3)) for _ in range(n)]
    if r % 3:
        alive = survivors(rng, len(z))
    else:  # the c +- d part alive, the odd extra token masked
        alive = [True] * (len(z) - len(z) % 2) + [False] * (len(z) % 2)
    nn = rng.choice([F(1, 2), F(1), F(3, 2), F(2), F(3)])
    exact = sigma_exact([x for x, a in zip(z, alive, strict=True) if a], nn)
    logits = [float(x) if a else -math.inf for x, a in zip(z, alive, strict=True)]
    check = keep_check(logits, [TopNSigma(float(nn))], EXACT_TOL if exact else NEAR_TOL, f"z = {logits}, n = {nn}")
    return Case("top-n-sigma", f"top_n_sigma Q_ops {q(nn)} {qlist(z)} {blist(alive)}", check, exact)


def _xtc(rng, r):
    n = 1 + r % 8
    qs = exact_weights(rng, n) if r % 2 else weights(rng, n)
    alive = survivors(rng, n)
    p = renormalised(qs, alive)
    live = [x for x, a in zip(qs, alive, strict=True) if a]
    thr = _param(rng, [x for x in p if x], [F(0), F(1, 10), F(1, 8), F(1, 4), F(1, 2)])
    above, ties = rng.choice([">", ">="]), rng.choice(["all", "any"])
    special = sorted(rng.sample(range(n), rng.randint(0, min(2, n)))) if rng.random() < 0.3 else []
    min_keep = rng.choice([0, 0, 1, 2, 3])
    exact = float_exact(live) and dyadic(thr)
    step = XTC(1.0, float(thr), above=above, ties=ties, special_tokens=tuple(special), min_keep=min_keep)
    check = keep_check(log_row(qs, alive), [step], EXACT_TOL if exact else NEAR_TOL,
                       f"q = {qs}, alive = {alive}, threshold {above} {thr}, ties = {ties}, special = {special}, "
                       f"min_keep = {min_keep}")
    return Case("xtc", f"xtc Q_ops {cbool(above == '>=')} {cbool(ties == 'all')} {q(thr)} {nlist(special)} "
                f"{min_keep} {qlist(p)} {blist(alive)}", check, exact)


def score_row(step, z, history=None) -> list[F]:
    """The scores spec.transforms' own step leaves on a row of exact floats (shift_ok False: a
    temperature then divides the logits themselves, z / t, as Rules.v states it)."""
    from spec.numerics import Tolerance
    from spec.transforms import Row
    zs = np.array([float(x) for x in z])
    row = Row(zs, zs.copy(), np.ones(len(z), bool), np.zeros(len(z), bool), Tolerance(0.0, 0.0), shift_ok=False)
    step.apply(row, history)
    return [F(float(x)) for x in row.z]


def score_check(expected, what):
    def check(values):
        return "" if len(values) == len(expected) and all(values) else f"{what}: Coq's scores differ from the spec's"
    return check


def same_scores(term: str, expected) -> str:
    return f"map (fun '(a, b) => Qeq_bool a b) (combine ({term}) {qlist(expected)})"


def _scores(rng, r):
    """Temperature, logit bias and repetition penalty: Coq's scores equal the spec step's, exactly
    (dyadic logits and parameters: float64 computes them exactly)."""
    from spec.transforms import History, LogitBias, RepetitionPenalty
    n = 1 + r % 8
    z = [F(rng.randint(-8, 8), rng.choice([1, 2, 4])) for _ in range(n)]
    kind = r % 3
    if kind == 0:
        t = rng.choice([F(1, 2), F(2), F(4), F(1, 4), F(1)])
        want, term, what = score_row(Temperature(float(t)), z), f"temperature Q_ops {q(t)} {qlist(z)}", f"z / {t}"
    elif kind == 1:
        b = [F(rng.randint(-4, 4), rng.choice([1, 2])) for _ in range(n)]
        want = score_row(LogitBias({i: float(x) for i, x in enumerate(b)}), z)
        term, what = f"bias Q_ops {qlist(b)} {qlist(z)}", f"z + {b}"
    else:
        theta = rng.choice([F(2), F(1, 2), F(4), F(1)])
        seen = [rng.random() < 0.5 for _ in range(n)]
        want = score_row(RepetitionPenalty(float(theta)), z, History(output=tuple(i for i in range(n) if seen[i])))
        term, what = f"repetition Q_ops {q(theta)} {blist(seen)} {qlist(z)}", f"penalty {theta} on {seen}"
    return Case("scores", same_scores(term, want), score_check(want, f"{what}, z = {[str(x) for x in z]}"), True)


def _softmax(rng, r):
    """The masked softmax's structure (renormalised over the survivors, 0 elsewhere) on the weights
    q = exp(log q): Coq's probabilities equal spec.target's, exactly, on rows float64 computes exactly."""
    n = 1 + r % 8
    qs = exact_weights(rng, n)
    alive = survivors(rng, n)
    if not float_exact([x for x, a in zip(qs, alive, strict=True) if a]):
        return None
    want = [F(float(x)) for x in spec_target(log_row(qs, alive), [], EXACT_TOL).probs]
    term = same_scores(f"normalize Q_ops {qlist(qs)} {blist(alive)}", want)
    return Case("softmax", term, score_check(want, f"softmax of log {qs}, alive = {alive}"), True)


MAKERS = {"argmax": _argmax, "top-k": _top_k(False), "top-k-exact": _top_k(True), "top-p": _top_p,
          "top-p-original": _top_p_original, "min-p": _min_p, "epsilon": _epsilon, "eta": _eta, "typical": _typical,
          "top-n-sigma": _top_n_sigma, "xtc": _xtc, "scores": _scores,
          "softmax": _softmax}


def cases(rows: int = ROWS, seed: int = 25, rules=RULES) -> tuple[list[Case], dict]:
    rng = random.Random(seed)
    out, tallies = [], {rule: Tally() for rule in rules}
    for rule in rules:
        for r in range(rows):
            case = MAKERS[rule](rng, r)
            if case is None:
                tallies[rule].skipped += 1
                continue
            out.append(case)
    return out, tallies


def compare(coq_dir: Path = COQ_DIR, rows: int = ROWS, rules=RULES) -> dict:
    """{rule: Tally} of the Coq rules at Q against spec.target."""
    todo, tallies = cases(rows, rules=rules)
    for case, value in zip(todo, evaluate(todo, coq_dir), strict=True):
        tally = tallies[case.rule]
        tally.rows += 1
        tally.exact += case.exact
        text = case.check(value)
        if text:
            tally.mismatches.append(text)
    return tallies


def need_coqc():
    if shutil.which("coqc") is None:
        if os.environ.get("CI"):
            pytest.fail(f"coqc is not on the PATH (CI must run the Coq fidelity test): {INSTALL}")
        pytest.skip(f"coqc is not on the PATH: {INSTALL}")


@pytest.fixture(scope="module")
def tallies():
    need_coqc()
    return compare()


@pytest.mark.parametrize("rule", RULES)
def test_coq_rule_keeps_what_the_spec_keeps(tallies, rule):
    t = tallies[rule]
    assert not t.mismatches, f"{len(t.mismatches)} of {t.rows} rows differ; first: {t.mismatches[0]}"
    assert t.rows >= ROWS * 3 // 4, f"only {t.rows} rows evaluated ({t.skipped} skipped)"
    if rule != "eta":  # float64 never computes exp(-H) exactly: eta is compared off the boundary only
        assert t.exact >= t.rows // 5, f"only {t.exact} of {t.rows} rows compared exactly"


def test_parse_reads_lists_and_numbers():
    text = "     = [true; false;\n        true]\n     : list bool\n     = 3\n     : nat\n     = []\n     : list bool\n"
    assert parse(text) == [[True, False, True], 3, []]


def test_a_broken_rule_is_caught(tmp_path):
    """The comparison can fail: argmax taking the last maximum and top-p with <= for < (a scratch
    copy of Rules.v) both disagree with the spec."""
    need_coqc()
    source = (COQ_DIR / "Rules.v").read_text()
    broken = source.replace("if ltb o bv x then argmax_go", "if leb o bv x then argmax_go", 1) \
        .replace("on t && (ltb o (sumf val (if ties_all", "on t && (leb o (sumf val (if ties_all", 1)
    assert broken.count("leb o bv x") == 1 and broken.count("(leb o (sumf val") == 1
    (tmp_path / "Rules.v").write_text(broken)
    got = compare(tmp_path, rows=60, rules=("argmax", "top-p"))
    assert got["argmax"].mismatches and got["top-p"].mismatches

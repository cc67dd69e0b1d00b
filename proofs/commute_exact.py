"""The rules of the sampler transforms evaluated outside the solver, for the commutation table
(proofs.commutation): in exact rational arithmetic, to find and re-check the witnesses of the
pairs that do not commute, and in numpy float64, for the sanity checks.

A witness is the smallest counterexample (weights q_i, so logits z_i = log q_i; bias
b_i = log beta_i; T = 1/2, so softmax(z / T) is proportional to q_i^2) found by evaluating both
chains in exact rational arithmetic with the rules of proofs.rules; proofs.commutation then has z3
confirm it on the SMT encoding of both chains (proofs.commute_smt.search_query, the inputs pinned).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np

from proofs.commute_smt import SEARCH_N, inputs
from proofs.refutations import fmt
from proofs.rules import keep_min_p, keep_top_k, keep_top_p

# --- exact rules (Fractions): the witnesses -------------------------------------------------------

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


# --- the same rules in numpy float64, for the sanity checks (evidence, not proof) -----------------

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

"""Wrong encodings of sampler rules, each a monkeypatch of a builder the proofs call (the very text z3
sees). A shift theorem applies its rule to z and to z - c alike, so each of these still proves the
shift claim; what must catch them is the fidelity check (tests/test_proofs_fidelity.py, rule by rule,
and tests/test_proofs_mutants.py, the whole theorem). Why these: each is a plausible slip (`<=` for
`<`, a rank reversed, a condition dropped) that an earlier version of the checker proved."""

import re
from functools import partial

from proofs import order, samplers, speculative, symbolic
from proofs.encodings import FIRST_MAX


def _top_p_le(mp):
    original = order.top_p_keep
    mp.setattr(order, "top_p_keep", lambda row, i, size: original(row, i, size).replace("(or (< ", "(or (<= ", 1))


def _top_p_all(mp):
    mp.setattr(order, "top_p_keep", lambda row, i, size: "true")


def _typical_descending(mp):
    original, earlier = samplers.RULES["typical"], samplers.earlier

    def typical(r, side, tag, **kwargs):  # the same rule, ranking by descending distance
        samplers.earlier = lambda v, j, i, asc=False: earlier(v, j, i, asc=False)
        try:
            return original(r, side, tag, **kwargs)
        finally:
            samplers.earlier = earlier
    mp.setitem(samplers.RULES, "typical", typical)


def _xtc_removes_least(mp):
    def xtc(r, side, tag, reads="probabilities"):  # every token above the threshold goes, the least likely too
        v, n, out = side.p, r.n, []
        for above in (">", ">="):
            over = [f"({above} {x} {r.pre}thr)" for x in v]
            for _ties in ("all", "any"):
                removed = [f"(and {over[i]} (not {r.pre}special{i}))" for i in range(n)]
                few = f"(< {samplers.count(f'(not {x})' for x in removed)} {r.pre}min_keep)"
                kept = [f"(or (not {x}) {few})" for x in removed]
                total = samplers.mass(side.p, kept)
                out += kept
                out += [f"(+ (* (- 1.0 {r.pre}chance) {x}) (* {r.pre}chance (/ (ite {k} {x} 0.0) {total})))"
                        for k, x in zip(kept, side.p, strict=True)]
        return out
    mp.setitem(samplers.RULES, "xtc", xtc)


def _one_hot_any_max(mp):
    original = order.one_hot

    def one_hot(n, per_entry=False):  # f_i = (v_i = max), without "no earlier entry is at the max"
        decls, premises, claim = original(n, per_entry)
        decls, count = re.subn(r"\(and (\(= \w+ \w+\)) \(not \w+\)\)", r"\1", decls)
        assert count == 2 * n
        return decls, premises, claim
    mp.setattr(order, "one_hot", one_hot)


def _first_max_any(mp):
    earlier = "\n       (forall ((j Int)) (=> (and (<= 0 j) (< j k)) (< (select a j) (select a k))))"
    mutant = FIRST_MAX.replace(earlier, "")
    assert mutant != FIRST_MAX
    mp.setattr(order, "FIRST_MAX", mutant)


def _rejection_inverted(mp):
    mp.setattr(speculative, "_rejection_query", partial(speculative._rejection_query, mutant="inverted"))


def _softmax_half(mp):
    original = symbolic.softmax
    mp.setattr(symbolic, "softmax", lambda logit_of: original(logit_of) / 2)  # the denominator doubled


MUTANTS = {
    "softmax with its denominator doubled": ("softmax", _softmax_half),
    "top-p le (<=) instead of lt (<)": ("top-p", _top_p_le),
    "top-p keeps every token": ("top-p", _top_p_all),
    "typical-p by descending distance": ("typical", _typical_descending),
    "XTC removes the least likely too": ("xtc", _xtc_removes_least),
    "one-hot argmax without first-index": ("argmax-one-hot", _one_hot_any_max),
    "greedy first-max: any maximum": ("first-max", _first_max_any),
    "speculative: accept with min(1, q/p)": ("speculative", _rejection_inverted),
}

"""Mutation meta-test of the Coq layer (issue 25): each of these wrong rules or broken proofs, applied
to a copy of proofs/coq, must make coqc or the trusted-base check reject a statement
(proofs.coq_layer), or make the Coq rules disagree with spec.target on rational rows
(tests/test_coq_rules.py). None may compile clean and agree: otherwise the kernel would be
"proving" a look-alike. The unchanged copy passes both, so each catch is the mutant's doing."""

import pytest
from test_coq_rules import compare, need_coqc

from proofs import coq_layer

ROWS = 100  # rows per rule for the fidelity side: each rule mutant here disagrees on 6 to 30 of them


def fidelity(rules):
    """The fidelity test on a mutated folder, for the rules a mutant touches: its first disagreement."""
    def run(folder) -> str:
        found = [f"{rule}: {t.mismatches[0]}" for rule, t in compare(folder, rows=ROWS, rules=rules).items()
                 if t.mismatches]
        return found[0] if found else ""
    return run


R = "Rules.v"
# (what is wrong, the mutation, the theorem ids whose statements the layer checks, the rules the fidelity side runs)
MUTANTS = [
    ("argmax picks the last maximum",
     coq_layer.textual(R, "if ltb o bv x then argmax_go", "if leb o bv x then argmax_go"), {"argmax-shift"},
     ("argmax",)),
    ("softmax's denominator scaled by 2",
     coq_layer.textual("Softmax.v", "map (fun x => exp x / sumexp z) z", "map (fun x => exp x / (2 * sumexp z)) z"),
     {"softmax-shift", "log-softmax", "softmax-of-logprobs"}, ()),
    ("top-p `<` -> `<=`",
     coq_layer.textual(R, "on t && (ltb o (sumf val (if ties_all", "on t && (leb o (sumf val (if ties_all"),
     {"filters-shift"}, ("top-p",)),
    ("top-p keeps everything",
     coq_layer.textual(R, "on t && (ltb o (sumf val (if ties_all", "on t && (true || ltb o (sumf val (if ties_all"),
     {"filters-shift"}, ("top-p",)),
    ("min-p `>=` -> `>`",
     coq_layer.textual(R, "on t && leb o (mul o mm (vmax ts)) (val t)", "on t && ltb o (mul o mm (vmax ts)) (val t)"),
     {"filters-shift"}, ("min-p",)),
    ("typical-p ranks by descending distance",
     coq_layer.textual(R, "on u && (ltb o (tscore h u) (tscore h t)\n", "on u && (ltb o (tscore h t) (tscore h u)\n"),
     {"typical-shift"}, ("typical",)),
    ("XTC removes the last token above the threshold too",
     coq_layer.textual(R, "xtc_over ge thr t\n  && (ltb o least (val t)",
                       "xtc_over ge thr t\n  && (leb o least (val t)"), {"xtc-shift"}, ("xtc",)),
    ("a dropped hypothesis: T > 0 in temperature-shift",
     coq_layer.textual("Softmax.v", "forall (z : list R) (c T : R), 0 < T ->\n  softmax",
                       "forall (z : list R) (c T : R),\n  softmax"), {"temperature-shift"}, ()),
    # both edit the first file (by name) with an annotated statement: Argmax.v, whose theorem is argmax-shift
    ("Admitted in place of a proof", coq_layer.admit_first_proof, {"argmax-shift"}, ()),
    ("an extra Axiom", coq_layer.extra_axiom, {"argmax-shift"}, ()),
]


@pytest.fixture(scope="module")
def coqc():
    need_coqc()


def test_the_unchanged_copy_passes_the_layer_and_the_fidelity_test(coqc):
    rules = tuple({r for *_, rs in MUTANTS for r in rs})
    ids = set().union(*(ids for _, _, ids, _ in MUTANTS))
    caught, what = coq_layer.mutant_caught(lambda folder: "unchanged", ids=ids, fidelity=fidelity(rules))
    assert not caught, what


@pytest.mark.parametrize("name, mutate, ids, rules", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_each_mutant_is_caught(coqc, name, mutate, ids, rules):
    caught, what = coq_layer.mutant_caught(mutate, ids=ids, fidelity=fidelity(rules) if rules else None)
    assert caught, what

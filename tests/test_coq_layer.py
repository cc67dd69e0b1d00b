"""The Coq layer (proofs/coq_layer.py): it reads annotations and statements right, rejects every way a
Coq file can claim a proof it does not have (Admitted, an axiom, a compile error), turns a kernel check
into an every-n verdict only when the other checkers agree, and shows a failure instead of hiding it.

The runner is tested on small fixture files written here, so these tests do not depend on how far
proofs/coq/ has come; one test holds every statement of the real proofs/coq/ kernel-checked (by the
session's default `python -m proofs.check`, and here the files it leaves to --full). Without coqc the
Coq tests skip with the install hint, except in CI (CI set), where they fail: there every Coq proof must
be checked."""

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from proofs import check as cli
from proofs import coq_layer
from proofs.catalogue import BY_ID
from proofs.core import COQ, COUNTEREXAMPLE, HOLDS, INCONCLUSIVE, NOT_RUN, Step, verdict
from proofs.transcript import Result, checkers


def need_coqc():
    if shutil.which("coqc") is None:
        message = f"coqc is not on the PATH: {coq_layer.INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run the Coq layer)")
        pytest.skip(message)


HEADER = "Require Import Reals Lra.\nOpen Scope R_scope.\n"
FIXTURES = {
    "Good.v": HEADER + textwrap.dedent("""\
        (* a comment that says Admitted and Axiom (* nested, with "*)" in a string *) is no problem *)
        Definition shift (x c : R) := x - c.
        (* theorem: fx-good *)
        Theorem shift_monotone : forall x y c : R,
          x <= y -> shift x c <= shift y c.
        Proof. intros x y c H. unfold shift. lra. Qed.
        Module Inner.
        (* theorem: fx-module *)
        Lemma plus_zero (x : R) : x + 0 = x. Proof. ring. Qed.
        End Inner.
        """),
    "Admit.v": "From SamplerProofs Require Import Good.\n" + HEADER + textwrap.dedent("""\
        (* theorem: fx-admitted *)
        Theorem shift_zero : forall x : R, shift x 0 = x.
        Proof. Admitted.
        """),
    "Extra.v": HEADER + textwrap.dedent("""\
        Axiom cheat : forall x : R, x = 0.
        (* theorem: fx-axiom *)
        Lemma one_is_zero : 1 = 0. Proof. apply cheat. Qed.
        """),
    # a Variable outside a section is an axiom that no keyword check names: Print Assumptions does
    "Hidden.v": HEADER + textwrap.dedent("""\
        Variable hidden : False.
        (* theorem: fx-hidden *)
        Lemma one_is_two : 1 = 2. Proof. destruct hidden. Qed.
        """),
    "Broken.v": HEADER + textwrap.dedent("""\
        (* theorem: fx-broken *)
        Theorem wrong : forall x : R, x + 1 = x.
        Proof. intros. ring. Qed.
        """),
    "After.v": "From SamplerProofs Require Import Broken.\n" + HEADER + textwrap.dedent("""\
        (* theorem: fx-after *)
        Lemma after : forall x : R, x = x. Proof. reflexivity. Qed.
        """),
    "Apart.v": "From SamplerProofs Require Import Good.\n" + HEADER + textwrap.dedent("""\
        (* theorem: fx-apart *)
        Lemma shift_self (x : R) : shift x x = 0. Proof. unfold shift. ring. Qed.
        """),
    # not in ORDER (compiled after the listed files); its statement's text omits the Section's hypothesis
    "Sect.v": HEADER + textwrap.dedent("""\
        Section Scaled.
        Variable T : R.
        Hypothesis T_pos : 0 < T.
        (* theorem: fx-section *)
        Lemma inverse_pos : 0 < 1 / T.
        Proof. apply Rdiv_lt_0_compat; lra. Qed.
        End Scaled.
        """),
}
ORDER = "Good.v\nAdmit.v\nExtra.v\nHidden.v\nBroken.v\nAfter.v\nApart.v\n"


def write_fixtures(folder: Path, files=FIXTURES, order=ORDER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "ORDER").write_text(order)
    return folder


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return write_fixtures(tmp_path_factory.mktemp("coq") / "coq")


@pytest.fixture(scope="module")
def report(fixtures):
    need_coqc()
    return coq_layer.check(fixtures)


def outcome(report, theorem_id):
    [o] = report.for_id(theorem_id)
    return o


# --- reading the sources (no coqc needed) ----------------------------------------------------------

def test_statements_are_read_from_the_keyword_to_the_dot_that_ends_them(fixtures):
    found = {s.id: s for s in coq_layer.annotated(fixtures)}
    assert set(found) == {"fx-good", "fx-module", "fx-admitted", "fx-axiom", "fx-hidden", "fx-broken", "fx-after",
                          "fx-apart", "fx-section"}
    good = found["fx-good"]
    assert good.text == "Theorem shift_monotone : forall x y c : R,\n  x <= y -> shift x c <= shift y c."
    assert (good.name, good.file, good.line, good.flocq) == ("Good.shift_monotone", "Good.v", 6, False)
    assert found["fx-module"].name == "Good.Inner.plus_zero"
    assert found["fx-module"].qualified == "SamplerProofs.Good.Inner.plus_zero"


def test_a_dot_inside_a_name_a_string_or_a_comment_does_not_end_a_statement(tmp_path):
    (tmp_path / "Dots.v").write_text(textwrap.dedent("""\
        (* theorem: fx-dots *)
        Lemma dots : (* a comment. with dots *) forall l : list nat,
          List.length l = List.length (List.rev l) /\\ "a. b" = "a. b".
        Proof. intros; rewrite List.rev_length; auto. Qed.
        """))
    [s] = coq_layer.annotated(tmp_path)
    assert s.text.endswith('/\\ "a. b" = "a. b".') and "List.length l" in s.text and "comment" not in s.text


def test_an_annotation_not_right_above_a_theorem_is_reported(tmp_path):
    (tmp_path / "Loose.v").write_text("(* theorem: fx-loose *)\n\nLemma t : True. Proof. exact I. Qed.\n")
    found, dangling = coq_layer.statements_of(tmp_path / "Loose.v")
    assert not found and "fx-loose" in dangling[0] and "Loose.v:1" in dangling[0]


def test_comments_are_blanked_as_coq_reads_them():
    text = 'a (* b (* "*)" *) Admitted *) d "(* e" (* x\ny *)'
    code = coq_layer.strip_comments(text)
    assert code == "a" + " " * 28 + ' d "(* e"' + " " * 5 + "\n" + " " * 4 and len(code) == len(text)


def test_forbidden_text_is_found_in_code_and_ignored_in_comments(fixtures):
    assert coq_layer.forbidden(fixtures / "Good.v") == []
    assert coq_layer.forbidden(fixtures / "Admit.v") == ["`Admitted` at Admit.v:6"]
    assert coq_layer.forbidden(fixtures / "Extra.v") == ["an axiom declaration at Extra.v:3"]
    assert coq_layer.forbidden(fixtures / "Hidden.v") == []  # caught by Print Assumptions instead


def test_build_order_follows_order_then_requires(tmp_path):
    files = {"A.v": "", "B.v": "From SamplerProofs Require Import A.\n", "Z.v": "",
             "W.v": "Require Import SamplerProofs.Z.\n"}
    write_fixtures(tmp_path, files, "B.v\nA.v\n")
    assert coq_layer.build_order(tmp_path) == ["A", "B", "Z", "W"]


def test_print_assumptions_output_is_parsed_conservatively():
    closed = coq_layer.sorted_assumptions("Closed under the global context\n")
    assert closed == ("Closed under the global context", [], "")
    text, names, problem = coq_layer.sorted_assumptions(
        "Axioms:\nZ.b : False\nA.a\n  : forall P : Prop,\n    P\n")
    assert names == ["A.a", "Z.b"] and not problem and text.startswith("Axioms:\nA.a\n  : forall P")
    _, _, problem = coq_layer.sorted_assumptions("Axioms:\nA.a : True\nConstants relying on type-in-type:\nx\n")
    assert "unexpected" in problem


def test_only_the_listed_axioms_are_allowed():
    s = coq_layer.Statement("x", "F.t", "F.v", 1, "Lemma t : True.", False)
    real = "Axioms:\n" + "\n".join(f"{a} : True" for a in coq_layer.REAL_AXIOMS)
    assert coq_layer.judge(s, real).ok
    assert coq_layer.judge(s, real + "\nFloatAxioms.add_spec : True").ok  # the Interval tactic's primitives
    rejected = coq_layer.judge(s, real + "\nF.helper : False")
    assert not rejected.ok and "F.helper" in rejected.problem
    assert not coq_layer.judge(s, "error: The reference t was not found").ok


# --- verdicts (no coqc needed) ---------------------------------------------------------------------

KERNEL = "proved for every n (Coq kernel)"


def steps(*statuses, coq=None):
    out = [Step("z3", "z3", s) for s in statuses]
    return out + ([Step("coq", COQ, coq)] if coq else [])


@pytest.mark.parametrize("z3, coq, scope, expected", [
    ((HOLDS,), HOLDS, "n <= 6", KERNEL),  # the kernel widens a bounded proof
    ((HOLDS,), HOLDS, "", KERNEL),
    ((HOLDS,), INCONCLUSIVE, "n <= 6", "proved for n <= 6"),  # a failed kernel check falls back, never refutes
    ((HOLDS,), NOT_RUN, "n <= 6", "proved for n <= 6"),
    ((INCONCLUSIVE,), HOLDS, "n <= 6", "not proved"),  # an inconclusive step still wins
    ((COUNTEREXAMPLE,), HOLDS, "", "not proved (z3 model not confirmed)"),
])
def test_the_kernel_verdict_needs_the_other_checkers_and_a_holding_coq_step(z3, coq, scope, expected):
    assert verdict(steps(*z3, coq=coq), scope, KERNEL) == expected


def test_a_refuted_theorem_stays_refuted_whatever_its_coq_witness_does():
    for coq in (HOLDS, INCONCLUSIVE):
        s = [Step("z3", "z3", COUNTEREXAMPLE), Step("exact", "exact", COUNTEREXAMPLE), Step("coq", COQ, coq)]
        assert verdict(s, "", KERNEL) == "refuted"


def test_expected_verdict_is_the_kernels_only_for_a_proved_theorem_in_a_run_with_coq():
    t = BY_ID["typical-shift"]
    assert t.expected_verdict("n <= 6") == "proved for n <= 6"
    assert t.expected_verdict("n <= 6", KERNEL) == KERNEL
    assert BY_ID["penalty-shift"].expected_verdict("", KERNEL) == "refuted"


def test_a_failed_coq_witness_makes_a_refuted_theorem_unexpected():
    theorem = BY_ID["penalty-shift"]
    failed = Result(theorem, "refuted", [Step("exact", "exact", COUNTEREXAMPLE), Step("coq", COQ, INCONCLUSIVE)],
                    "", 0.0)
    assert failed.verdict == failed.expected and not failed.ok
    assert Result(theorem, "refuted", [Step("coq", COQ, HOLDS)], "", 0.0).ok


def test_without_coqc_the_coq_step_is_not_run_and_the_verdict_is_todays():
    s = coq_layer.Statement("typical-shift", "F.t", "F.v", 3, "Lemma t : True.", False)
    before = Result(BY_ID["typical-shift"], "proved for n <= 6", [Step("z3", "z3", HOLDS)], "", 0.0, "n <= 6")
    after = cli.with_coq(before, None, [s])
    assert (after.verdict, after.expected, after.ok) == ("proved for n <= 6", "proved for n <= 6", True)
    assert after.steps[-1].status == NOT_RUN and coq_layer.INSTALL_HINT in after.steps[-1].detail
    assert [c["checker"] for c in checkers(after)] == ["z3", "Coq kernel"]
    assert checkers(after)[1]["status"] == NOT_RUN


def test_without_coqc_the_check_prints_one_install_line_and_carries_on(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(coq_layer, "coqc", lambda: None)
    assert cli.main(["--only", "log-softmax", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert [ln for ln in out.splitlines() if coq_layer.INSTALL_HINT in ln] == [coq_layer.summary(None)]
    data = json.loads((tmp_path / "summary.json").read_text())["theorems"][0]
    has_coq = any(s.id == "log-softmax" for s in coq_layer.annotated())
    assert data["verdict"] == "proved" and (data["coq"] is not None) == has_coq


# --- the runner on the fixtures (coqc) -------------------------------------------------------------

def test_a_proof_with_the_standard_real_axioms_is_kernel_checked(report):
    good = outcome(report, "fx-good")
    assert good.ok and not good.problem, good.problem
    names = coq_layer.sorted_assumptions(good.assumptions)[1]
    # what Coq 8.16 prints for lra over the reals: the reason REAL_AXIOMS lists these names
    assert "ClassicalDedekindReals.sig_forall_dec" in names and set(names) <= set(coq_layer.REAL_AXIOMS)
    assert outcome(report, "fx-module").ok and report.version.startswith("8.")


def test_a_statement_in_a_section_shows_the_kernels_statement_with_the_hypothesis(report):
    o = outcome(report, "fx-section")
    assert o.ok and o.statement.in_section and o.statement.text == "Lemma inverse_pos : 0 < 1 / T."
    assert o.kernel_type == "forall T : R, 0 < T -> 0 < 1 / T", o.kernel_type
    assert not outcome(report, "fx-good").kernel_type  # outside a Section the source text is the statement


def test_admitted_is_rejected(report):
    o = outcome(report, "fx-admitted")
    assert not o.ok and "`Admitted` at Admit.v:6" in o.problem


def test_an_extra_axiom_is_rejected(report):
    o = outcome(report, "fx-axiom")
    assert not o.ok and "axiom declaration" in o.problem


def test_an_axiom_only_print_assumptions_sees_is_rejected(report):
    o = outcome(report, "fx-hidden")
    assert not o.ok and "Hidden.hidden" in o.problem and "outside the allowed trusted base" in o.problem


def test_a_compile_error_fails_its_file_and_the_files_that_require_it(report, fixtures):
    broken, after = outcome(report, "fx-broken"), outcome(report, "fx-after")
    assert report.files["Broken"].status == "failed" and not broken.ok
    assert f'File "{fixtures}/Broken.v", line 5' in broken.problem and "Error" in broken.problem
    assert report.files["After"].status == "skipped" and "Requires Broken.v" in after.problem and not after.ok
    assert report.files["Apart"].status == "compiled" and outcome(report, "fx-apart").ok  # coqc decides


def test_a_compile_that_outlives_the_wall_clock_limit_fails_its_file(tmp_path):
    need_coqc()
    slow = "Goal True. let x := eval vm_compute in (Nat.iter 1000000000 negb true) in idtac. exact I. Qed.\n"
    lemma = "(* theorem: fx-slow *)\nLemma t : True. Proof. exact I. Qed.\n"
    folder = write_fixtures(tmp_path, {"Slow.v": slow + lemma}, "Slow.v\n")
    report = coq_layer.check(folder, timeout=3)
    assert report.files["Slow"].status == "failed" and "killed after 3 s" in report.files["Slow"].error
    assert not outcome(report, "fx-slow").ok


def test_no_build_output_lands_in_the_source_folder(report, fixtures):
    assert sorted(p.name for p in fixtures.iterdir()) == sorted([*FIXTURES, "ORDER"])


def test_a_failed_kernel_check_shows_in_the_step_the_verdict_and_the_summary(report, fixtures):
    statements = [s for s in coq_layer.annotated(fixtures) if s.id == "fx-admitted"]
    step = coq_layer.step("fx-admitted", report, statements)
    assert step.status == INCONCLUSIVE and "Admitted" in step.detail and "Theorem shift_zero" in step.detail
    bounded = Result(BY_ID["typical-shift"], "proved for n <= 6", [Step("z3", "z3", HOLDS), step], "", 0.0,
                     "n <= 6", coq_layer.kernel_verdict(statements))
    assert verdict(bounded.steps, "n <= 6", bounded.kernel) == "proved for n <= 6" != bounded.expected
    assert not bounded.ok
    record = coq_layer.record("fx-admitted", report, statements, "every n", step.status)
    assert record["statements"][0]["kernel_checked"] is False and "Admitted" in record["statements"][0]["problem"]


def test_the_mutation_harness_catches_admitted_and_an_extra_axiom(fixtures, tmp_path):
    need_coqc()
    good = write_fixtures(tmp_path / "good", {"Good.v": FIXTURES["Good.v"]}, "Good.v\n")
    for mutate in (coq_layer.admit_first_proof, coq_layer.extra_axiom,
                   coq_layer.textual("Good.v", "x <= y -> shift", "shift")):  # a dropped hypothesis
        caught, what = coq_layer.mutant_caught(mutate, good)
        assert caught, what
    # a mutant the Coq kernel accepts is caught only by a fidelity test that disagrees, and reported as such
    rename = coq_layer.textual("Good.v", "Definition shift", "(* renamed *) Definition shift")
    assert coq_layer.mutant_caught(rename, good) == (False, "Good.v: 'Definition shift' -> "
                                                     "'(* renamed *) Definition shift'; not caught")
    caught, what = coq_layer.mutant_caught(rename, good, fidelity=lambda folder: "row (1, 2): keeps {0}, spec {1}")
    assert caught and "fidelity test disagrees: row (1, 2)" in what
    with pytest.raises(ValueError):
        coq_layer.mutant_caught(coq_layer.textual("Good.v", "no such text", ""), good)


# --- the real proofs/coq/ (coqc) -------------------------------------------------------------------

@pytest.fixture(scope="module")
def real():
    """The layer on the statements a default run leaves to --full (their theorems have a statement in a file
    marked FULL_ONLY); the session's default `python -m proofs.check` (conftest.py) checks every other one."""
    need_coqc()
    return coq_layer.check(ids={s.id for s in coq_layer.annotated() if s.full_only})


def test_every_annotated_theorem_of_proofs_coq_is_kernel_checked(real, default_check):
    run, out = default_check
    assert (out / "summary.json").exists(), run.stdout[-3000:] + run.stderr[-3000:]
    by_default = {s["name"] for t in json.loads((out / "summary.json").read_text())["theorems"] if t["coq"]
                  for s in t["coq"]["statements"] if s["kernel_checked"]}
    failing = [f"{o.statement.name}: {o.problem.splitlines()[0]}" for o in real.outcomes if not o.ok]
    assert not failing and not real.problems, failing + real.problems
    checked = by_default | {o.statement.qualified for o in real.outcomes if o.ok}
    statements = coq_layer.annotated()
    assert [s.qualified for s in statements if s.qualified not in checked] == []
    assert {s.id for s in statements} <= set(BY_ID), "an annotation names no catalogue theorem"


def test_the_source_folder_gets_no_build_output_from_the_layer(real):
    leftovers = {p.name for p in coq_layer.COQ_DIR.iterdir()} & {"CoqLayerShared.v", "CoqLayerAssumptions.v"}
    assert not leftovers


@pytest.mark.parametrize("mutate", [coq_layer.admit_first_proof, coq_layer.extra_axiom])
def test_generic_mutants_of_proofs_coq_are_caught(real, mutate):
    if not real.outcomes:
        pytest.skip("proofs/coq has no annotated theorem yet")
    first = coq_layer.annotated()[0]
    caught, what = coq_layer.mutant_caught(mutate, ids={first.id})
    assert caught, what


def test_full_only_witnesses_are_not_run_by_default_and_checked_with_full(tmp_path):
    """A refuted cell whose Coq witness is in a file "checked with --full" keeps its verdict in a default
    run, its Coq step listed as not run (and why); --full kernel-checks it."""
    need_coqc()
    deferred = {s.id for s in coq_layer.annotated() if s.full_only}
    assert "commute-temperature-typical" in deferred
    for flags, status in (([], "not run"), (["--full"], "holds")):
        out = tmp_path / (flags[0][2:] if flags else "default")
        assert cli.main(["--only", "commute-temperature-typical", "--out", str(out), *flags]) == 0
        data = json.loads((out / "summary.json").read_text())["theorems"][0]
        assert data["verdict"] == "refuted" and data["coq"]["status"] == status, data["coq"]
    assert "checked with --full" in (tmp_path / "default" / "commute-temperature-typical.md").read_text()

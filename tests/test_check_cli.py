"""The command line: exit codes, bad arguments, and the transcript files it writes."""

import importlib.util
import json
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from proofs.catalogue import THEOREMS

QUICK = ["--only", "argmax-shift", "penalty-shift", "softmax-shift", "--max-n", "32"]


def check(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "proofs.check", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def transcripts(tmp_path_factory):
    out = tmp_path_factory.mktemp("t")
    first, second = out / "a", out / "b"
    runs = [check("--out", str(first), *QUICK), check("--out", str(second), *QUICK)]
    return first, second, runs


def test_exit_0_and_one_progress_line_per_theorem(transcripts):
    _, _, (run, _) = transcripts
    assert run.returncode == 0, run.stdout + run.stderr
    progress = [ln for ln in run.stdout.splitlines() if re.match(r"\[ ?\d+/3\]", ln)]
    assert len(progress) == 3 and all("ok" in ln for ln in progress)


def test_transcript_files(transcripts):
    out, _, _ = transcripts
    assert (out / "index.md").exists() and (out / "summary.json").exists()
    for theorem_id in ("argmax-shift", "penalty-shift", "softmax-shift"):
        text = (out / f"{theorem_id}.md").read_text()
        for section in ("## Claim", "$$", "## Assumptions", "## Method", "## Steps", "Verdict:", "## Run"):
            assert section in text, (theorem_id, section)
    assert "## Counterexample" in (out / "penalty-shift.md").read_text()
    assert re.search(r"\|---\|---\|---\|---\|---\|---\|\n\| \d+ \|", (out / "argmax-shift.md").read_text())  # a table
    summary = json.loads((out / "summary.json").read_text())
    assert summary["all_ok"] and {t["id"] for t in summary["theorems"]} == {
        "argmax-shift", "penalty-shift", "softmax-shift"}


def test_one_self_contained_smt2_file_per_query(transcripts):
    out, _, _ = transcripts
    summary = json.loads((out / "summary.json").read_text())
    queries = [s for t in summary["theorems"] for s in t["steps"] if "query" in s]
    files = sorted((out / "smt2").rglob("*.smt2"))
    assert len(files) == len(queries) > 40
    for f in files:
        text = f.read_text()
        assert re.search(r"\(set-info :status (sat|unsat)\)", text)
        assert text.rstrip().endswith("(check-sat)") and text.count("(check-sat)") == 1


def test_transcripts_are_deterministic_apart_from_the_run_block(transcripts):
    first, second, _ = transcripts
    for f in sorted(first.rglob("*")):
        if f.is_file():
            a, b = f.read_text(), (second / f.relative_to(first)).read_text()
            if f.name == "summary.json":
                a, b = json.loads(a), json.loads(b)
                a.pop("run"), b.pop("run")
            else:
                a, b = a.split("## Run")[0], b.split("## Run")[0]
            assert a == b, f


def test_list_names_every_theorem():
    run = check("--list")
    assert run.returncode == 0
    for t in THEOREMS:
        assert t.id in run.stdout


def test_json_output(tmp_path):
    run = check("--out", str(tmp_path), "--only", "log-softmax", "--json")
    assert run.returncode == 0
    data = json.loads(run.stdout)
    assert data["all_ok"] and data["theorems"][0]["verdict"] == data["theorems"][0]["expected"]
    assert data["theorems"][0]["verdict"].startswith("proved")


@pytest.mark.parametrize("args, message", [
    (["--only", "no-such-theorem"], "unknown theorem id"),
    (["--max-n", "0"], "must be positive"),
    (["--max-n", "abc"], "not a number"),
    (["--timeout", "-1"], "must be positive"),
    (["--frobnicate"], "unrecognized arguments"),
    (["--cross-check", "yices"], "invalid choice"),
])
def test_usage_errors_exit_2_with_one_line(args, message):
    run = check(*args)
    assert run.returncode == 2
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr


@pytest.fixture
def no_theorem_may_run(monkeypatch):
    """A usage error must be found before the first theorem runs: running one fails the test."""
    def refuse(theorem, *args, **kwargs):
        pytest.fail(f"theorem {theorem.id} ran despite a usage error")
    monkeypatch.setattr("proofs.check.run", refuse)


def usage_error(capsys, args):
    """Call main in-process; return its one-line error message (asserting exit 2, one line, no stdout)."""
    from proofs.check import main
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("proofs.check: error: "), err
    return err


@pytest.mark.parametrize("where", ["existing-file", "under-a-file", "/proc/nope"])
def test_unwritable_out_is_a_usage_error(tmp_path, capsys, no_theorem_may_run, where):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me\n")
    if where == "/proc/nope" and not Path("/proc/self").exists():
        pytest.skip("no /proc on this platform")
    out = {"existing-file": a_file, "under-a-file": a_file / "sub", "/proc/nope": Path("/proc/nope")}[where]
    err = usage_error(capsys, ["--out", str(out), "--only", "log-softmax"])
    assert "--out" in err and str(out) in err
    assert a_file.read_text() == "keep me\n"


@pytest.mark.parametrize("args", [
    ["--timeout", "nan"], ["--timeout", "NaN"], ["--timeout", "inf"], ["--timeout", "1e400"],
    ["--timeout", "1e7"],  # z3 takes at most 2**32 - 1 milliseconds
    ["--max-n", str(10**30)], ["--max-n", str(2**16 + 1)],
])
def test_timeout_and_max_n_must_be_finite_and_in_range(tmp_path, capsys, no_theorem_may_run, args):
    err = usage_error(capsys, ["--out", str(tmp_path), "--only", "log-softmax", *args])
    assert args[0].split("=")[0] in err


@pytest.mark.filterwarnings("ignore:'proofs.check' found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("solver", ["cvc5", "bitwuzla"])
def test_missing_solver_is_a_usage_error_when_run_as_main(tmp_path, capsys, monkeypatch, solver):
    # `python -m proofs.check` runs check.py as __main__ (a second copy of the module): the error
    # crosscheck raises must still be the class that copy catches. The solver may be installed, so
    # hide it (a None entry in sys.modules makes `import cvc5` fail).
    monkeypatch.setitem(sys.modules, solver, None)
    monkeypatch.setattr(sys, "argv", ["proofs.check", "--out", str(tmp_path), "--cross-check", solver])
    with pytest.raises(SystemExit) as exit:
        runpy.run_module("proofs.check", run_name="__main__")
    out, err = capsys.readouterr()
    assert exit.value.code == 2, err
    assert err.startswith("proofs.check: error: ") and len(err.splitlines()) == 1, err
    assert f"pip install 'sampler-proofs[{solver}]'" in err and out == ""


@pytest.mark.parametrize("args", [["stray\nword"], ["--frobnicate=a\nb"], ["--list", "x\u2028y"]])
def test_argparse_errors_stay_on_one_line(capsys, no_theorem_may_run, args):
    err = usage_error(capsys, args)
    assert "unrecognized arguments" in err


def test_a_theorem_that_misses_its_verdict_exits_1(tmp_path):
    # n = 2048 cannot be proved in 0.5 s: the timeout must surface as "not proved", exit 1
    run = check("--out", str(tmp_path), "--only", "argmax-shift", "--max-n", "2048", "--timeout", "0.5")
    assert run.returncode == 1, run.stdout
    assert "not proved" in run.stdout
    assert json.loads((tmp_path / "summary.json").read_text())["all_ok"] is False


@pytest.mark.skipif(importlib.util.find_spec("cvc5") is None, reason="cvc5 extra not installed")
def test_cross_check_with_cvc5(tmp_path):
    run = check("--out", str(tmp_path), "--only", "penalty-shift", "argmax-vector-shift",
                "greedy-logprobs", "--cross-check", "cvc5")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 disagree" in run.stdout


def test_default_run_all_theorems_as_expected(default_check):
    run, _ = default_check  # python -m proofs.check --out DIR, shared with test_coq_layer.py (conftest.py)
    assert run.returncode == 0, run.stdout
    assert f"{len(THEOREMS)}/{len(THEOREMS)} theorems as expected" in run.stdout


def test_a_resource_limit_is_not_proved_and_says_so(capsys, tmp_path):
    """z3's resource limit (machine-independent) stops the solver: not proved, exit 1, and the
    console names the limit and the flag that raises it."""
    from proofs.check import main
    assert main(["--out", str(tmp_path), "--only", "argmax-shift", "--max-n", "16", "--rlimit", "1000"]) == 1
    out = capsys.readouterr().out
    assert "not proved" in out and "resource limit of 1,000 units; try --rlimit" in out


def test_cross_check_counts_only_decided_answers_as_agreement(tmp_path, monkeypatch):
    """cvc5's unknown, timeout or error is undecided, by kind and by theorem, never agreement (not
    even when z3 did not decide either); an opposite decided answer is a disagreement."""
    import io

    from proofs import crosscheck
    said = {  # query -> (z3's answer, cvc5's answer)
        "smt2/a/1.smt2": ("unsat", "unsat"), "smt2/a/2.smt2": ("sat", "sat"),
        "smt2/a/3.smt2": ("unsat", "sat"), "smt2/b/1.smt2": ("unsat", "unknown (INCOMPLETE)"),
        "smt2/b/2.smt2": ("sat", "timeout"), "smt2/c/1.smt2": ("unsat", "error: Parse Error: unsupported"),
        "smt2/c/2.smt2": ("unknown", "unknown (TIMEOUT)"),
    }
    steps = [{"query": q, "answer": z3} for q, (z3, _) in said.items()]
    (tmp_path / "summary.json").write_text(json.dumps({"theorems": [{"steps": steps}]}))
    for name in said:  # distinct texts: cvc5 runs on each
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    monkeypatch.setattr(crosscheck, "answer", lambda path, timeout, solver: said[str(path.relative_to(tmp_path))][1])
    log = io.StringIO()
    result = crosscheck.run(tmp_path, 60, log)
    assert result["solver"] == "cvc5"
    assert result["agree"] == ["smt2/a/1.smt2", "smt2/a/2.smt2"] and result["disagree"] == ["smt2/a/3.smt2"]
    assert result["undecided"] == ["smt2/b/1.smt2", "smt2/b/2.smt2", "smt2/c/1.smt2", "smt2/c/2.smt2"]
    assert result["undecided_why"]["smt2/c/1.smt2"].startswith("error:")
    text = log.getvalue()
    assert "2 agree, 1 disagree, 4 undecided of 7 queries" in text
    assert "NOT checked by cvc5 (not counted as agreement): 1 error, 1 timeout, 2 unknown; by theorem: b 2, c 2" in text


@pytest.mark.skipif(importlib.util.find_spec("cvc5") is None, reason="cvc5 extra not installed")
def test_cross_check_worker_reports_errors_as_errors(tmp_path):
    from proofs.crosscheck import answer
    good, bad = tmp_path / "good.smt2", tmp_path / "bad.smt2"
    good.write_text("(set-logic ALL)\n(declare-const x Real)\n(assert (< x x))\n(check-sat)\n")
    bad.write_text("(set-logic ALL)\n(declare-const x Real)\n(assert (frobnicate x))\n(check-sat)\n")
    assert answer(good, 30) == "unsat"
    assert answer(bad, 30).startswith("error: ")


@pytest.mark.slow
def test_cross_check_with_bitwuzla(tmp_path):
    """Bitwuzla re-runs the floating-point queries: it agrees with z3 on every float16 one and
    contradicts none (bfloat16 may be undecided: its PyPI wheel rejects that format)."""
    pytest.importorskip("bitwuzla")
    run = check("--out", str(tmp_path), "--only", "fp-sub-monotone", "fp-sub-strict", "--cross-check", "bitwuzla")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "bitwuzla cross-check" in run.stdout and "0 disagree" in run.stdout
    result = json.loads((tmp_path / "summary.json").read_text())["cross_check"]
    assert result["solver"] == "bitwuzla" and result["disagree"] == []
    float16 = [q for q in result["agree"] + result["undecided"] if ".float16." in q]
    assert len(float16) == 4 and set(float16) <= set(result["agree"])  # 3 fp-sub-monotone, 1 fp-sub-strict
    for name in result["undecided"]:  # only bfloat16, with Bitwuzla's own error message
        assert ".bfloat16." in name and result["undecided_why"][name].startswith("error: "), name


FLOAT16 = "(set-logic ALL)\n(declare-const x (_ FloatingPoint 5 11))\n"


def test_bitwuzla_reports_reals_and_integers_as_unsupported(tmp_path):
    """A file with a Real or Int sort is undecided, "unsupported by bitwuzla (reals/integers)", never
    agreement; a floating-point file is re-run (a real literal in to_fp or a comment naming Real is
    no Real sort), and the file's expected status does not stand in for Bitwuzla's answer."""
    pytest.importorskip("bitwuzla")
    import io

    from proofs import crosscheck
    files = {  # query -> (z3's answer, text)
        "smt2/r/real.smt2": ("unsat", "(set-logic ALL)\n(declare-const x Real)\n(assert (< x x))\n(check-sat)\n"),
        "smt2/r/int.smt2": ("sat", "(set-logic ALL)\n(declare-fun f (Int) Int)\n(assert (= (f 0) 1))\n(check-sat)\n"),
        "smt2/f/lt.smt2": ("unsat", "; no Real sort here\n" + FLOAT16 + "(assert (fp.lt x x))\n(check-sat)\n"),
        "smt2/f/half.smt2": ("sat", "(set-info :status unsat)\n" + FLOAT16
                             + "(assert (= x ((_ to_fp 5 11) RNE (/ 1.0 2.0))))\n(check-sat)\n"),
    }
    steps = [{"query": q, "answer": z3} for q, (z3, _) in files.items()]
    (tmp_path / "summary.json").write_text(json.dumps({"theorems": [{"steps": steps}]}))
    for name, (_, text) in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    log = io.StringIO()
    result = crosscheck.run(tmp_path, 30, log, "bitwuzla")
    assert result["solver"] == "bitwuzla" and result["disagree"] == []
    assert result["agree"] == ["smt2/f/lt.smt2", "smt2/f/half.smt2"]
    assert result["undecided"] == ["smt2/r/real.smt2", "smt2/r/int.smt2"]
    assert set(result["undecided_why"].values()) == {"unsupported by bitwuzla (reals/integers)"}
    assert "2 agree, 0 disagree, 2 undecided of 4 queries" in log.getvalue()
    assert "NOT checked by bitwuzla (not counted as agreement): 2 unsupported; by theorem: r 2" in log.getvalue()
    bad = tmp_path / "bad.smt2"
    bad.write_text(FLOAT16 + "(assert (frobnicate x))\n(check-sat)\n")
    assert crosscheck.answer(bad, 30, "bitwuzla").startswith("error: ")

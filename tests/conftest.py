"""Hypothesis runs derandomized: the same examples on every run, so CI cannot flake on a new draw.
(Set HYPOTHESIS_PROFILE=explore to search with fresh random examples locally.) Also what several test
files share, to fit CI's time: the theorem runs, the default proofs.check run, and long commands started
as soon as the tests are collected (BACKGROUND)."""

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

# False-alarm budget of one CI run, below one in a million: the 35 distribution tests of
# test_impl.py share 4e-7, the Gumbel KS test of test_impl.py takes 1e-7, the statistical tests of
# test_impl_transforms.py share 5e-8, and the validator runs of correct samplers (the test_validat*.py,
# zoo, engine, conformance and generation files) share 4e-7 (tests/validating.py counts them), and the
# runs of correct samplers that own their generators (test_own_rng.py) share 4e-8: 9.9e-7 in all.
# Every other test is exact or seeded with a fixed verdict.


@pytest.fixture(scope="session")
def theorem_run():
    """proofs.check.run(theorem, max_n=64, timeout=1800) by theorem id, once per session: test_proofs.py,
    test_commutation.py and test_proofs_speculative.py check the same runs instead of repeating them (the
    commutation table's and the speculative theorems' runs twice over): a second run would be the same
    computation (theorem, max_n, timeout), and no test changes a Result. The timeout is the CLI's wall-clock
    safety net: the resource limit decides, so a verdict cannot flip on a busy machine (fp-sub-monotone's
    bfloat16 query, 28 s idle, passed a 120 s limit only below load 10)."""
    from proofs.catalogue import BY_ID
    from proofs.check import run
    return functools.cache(lambda theorem_id: run(BY_ID[theorem_id], max_n=64, timeout=1800))


# --- long commands started early ------------------------------------------------------------------
# A long command a test only reads the result of starts when collection ends, in a process of its own with
# its output in files, and runs beside the tests before its reader: CI has two cores and most tests keep
# one busy. The same command, run once, only sooner. A module names its own in BACKGROUND
# ({fixture name: argv of a scratch folder}); it starts when a selected test uses that fixture.
# Off by default (TESTS_START_EARLY=1 turns it on): on a 2-core machine it puts a z3- and coqc-heavy run beside
# tests with wall-clock limits, and a test's verdict must not depend on how busy the machine is. Without it,
# each starts when its reader needs it: the same command, still run once.

ROOT = Path(__file__).resolve().parents[1]
BACKGROUND = {  # python -m proofs.check --out DIR: the README's default run (test_check_cli.py, test_coq_layer.py)
    "default_check": lambda folder: [sys.executable, "-m", "proofs.check", "--out", str(folder / "transcripts")],
}
_commands: dict = dict(BACKGROUND)  # every module's, gathered at collection
_started: dict[str, tuple[subprocess.Popen, Path]] = {}


def _start(name: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    with open(folder / "stdout", "w") as out, open(folder / "stderr", "w") as err:
        _started[name] = subprocess.Popen(_commands[name](folder), cwd=ROOT, stdout=out, stderr=err,
                                          start_new_session=True), folder  # its own group: see below


def pytest_collection_finish(session):
    for item in session.items:
        _commands.update(getattr(getattr(item, "module", None), "BACKGROUND", {}))
    if session.config.option.collectonly or os.environ.get("TESTS_START_EARLY") != "1":
        return
    for item in session.items:
        for name in set(getattr(item, "fixturenames", ())) & set(_commands) - set(_started):
            _start(name)


def pytest_sessionfinish(session):
    """A command still running (its reader failed first, or was deselected) ends, with its children (coqc)."""
    for proc, folder in _started.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def finished(name: str, timeout: float) -> tuple[subprocess.CompletedProcess, Path]:
    """The command started for fixture `name` (now, if collection did not start it), waited for: (the
    process with its output, its folder)."""
    if name not in _started:
        _start(name)
    proc, folder = _started[name]
    proc.wait(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, (folder / "stdout").read_text(),
                                       (folder / "stderr").read_text()), folder


@pytest.fixture(scope="session")
def background():
    """finished(name, timeout): the command started early for fixture `name` (BACKGROUND), waited for."""
    return finished


@pytest.fixture(scope="session")
def default_check():
    """`python -m proofs.check --out DIR`, the README's default run (every theorem; with coqc, every Coq
    statement not left to --full), once per session: (the finished process, DIR). test_check_cli.py checks
    its exit status and summary line, test_coq_layer.py the Coq statements it kernel-checked, so the
    default Coq build runs once, not twice."""
    run, folder = finished("default_check", timeout=600)
    return run, folder / "transcripts"

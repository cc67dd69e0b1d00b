"""Hypothesis runs derandomized: the same examples on every run, so CI cannot flake on a new draw.
(Set HYPOTHESIS_PROFILE=explore to search with fresh random examples locally.) Also what several test
files share, to fit CI's time: the theorem runs and the default proofs.check run."""

import functools
import os
import shutil
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
# zoo, engine, conformance and generation files) share 4.08e-7 (tests/validating.py counts them), and the
# runs of correct samplers that own their generators (test_own_rng.py) share 4e-8: 9.98e-7 in all.
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


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def default_check():
    """`python -m proofs.check --out DIR`, the README's default run (every theorem; with coqc, every Coq
    statement not left to --full), once per session: (the finished process, DIR). test_check_cli.py checks
    its exit status and summary line, test_coq_layer.py the Coq statements it kernel-checked, so the
    default Coq build runs once, not twice."""
    folder = Path(tempfile.mkdtemp(prefix="default-check-"))
    # the CLI's own wall-clock safety net: a slow, shared machine may take minutes, and must not fail here
    run = subprocess.run([sys.executable, "-m", "proofs.check", "--out", str(folder / "transcripts")], cwd=ROOT,
                         capture_output=True, text=True, timeout=1800)
    yield run, folder / "transcripts"
    shutil.rmtree(folder, ignore_errors=True)

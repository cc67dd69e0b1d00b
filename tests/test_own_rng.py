"""Correct samplers that own their randomness (tests/zoo_own_rng.py) conform, at every seed, through
the Python API and the CLI; the broken zoo holding its own generators is still caught.

The validator's reproducibility probe decides with a stated error (contract._reproducible): a
sampler that ignores its key passes it with probability q^m <= alpha / 100, so no same-key check
reads its independent draws as a shift dependence. Every run here is a correct sampler at
alpha = ALPHA_OWN: they share 4e-8 of the suite's false-alarm budget (conftest.py). The runs go two
at a time (two cores; a process each), to fit in CI's time. A CLI run and its replay through the Python
API are one chance event (the replay must reproduce the CLI's report), so they count once.
"""

import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest
import zoo_own_rng
from validating import ROOT
from zoo import BUGGY, BUGGY_TRANSFORMS

import spec

SEEDS = range(1, 31)  # per kind, through the Python API
# Through the CLI (two processes per run, each importing the project): every kind at two seeds, each run
# held to the Python API's report on the same sampler (below); tests/false_alarms.py --cli runs each kind
# at more.
CLI_SEEDS = (1, 2)
KINDS = list(zoo_own_rng.kinds(0))
RUNS = len(KINDS) * len(SEEDS) + len(KINDS) * len(CLI_SEEDS) + len(SEEDS) + 2  # torch, 2 more
ALPHA_OWN = 4e-8 / RUNS
TIMING = ("seconds", "command_seconds", "sampler_seconds")  # the only fields two runs of one sampler may differ in


def test_every_kind_conforms_at_30_seeds_through_the_python_api():
    jobs = [(kind, seed, ALPHA_OWN) for kind in KINDS for seed in SEEDS]
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(zoo_own_rng.validate_kind, jobs))
    failed = [(kind, seed, text) for kind, seed, passed, text in results if not passed]
    assert not failed, f"{len(failed)} false alarms of {len(jobs)} runs; first:\n{failed[0][2]}"
    assert len(results) == len(KINDS) * 30


def _cli(path: str, flags, seed: int, report: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spec.validate", path, *flags, "--profile", "quick",
                             "--seed", str(seed), "--alpha", str(ALPHA_OWN), "--json", str(report)], cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _untimed(report_json: str) -> dict:
    return {k: v for k, v in json.loads(report_json).items() if k not in TIMING}


def test_every_kind_conforms_through_the_cli_with_the_python_apis_report(tmp_path, monkeypatch):
    """The CLI seeds the global random state before each call, which these samplers never read. Every CLI
    run but the clock's is repeated through the Python API on the same sampler (tests.zoo_own_rng imported
    afresh, as in a new CLI process) at the same seed and alpha: the two reports must agree in every field
    but their timings (the same draws, checks, skips and verdict), so the CLI conforms exactly where the
    Python API does, whose false-alarm rate the 30-seed test above tests. The clock-reseeded sampler draws
    anew on every run, so its CLI runs must conform, not agree."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")  # the fingerprint lists sets of presets: one order in each process
    jobs = [(kind, path, setting.flags, seed) for kind, (_, setting, path) in zoo_own_rng.kinds(0).items()
            for seed in CLI_SEEDS]
    failed, reports = [], {}
    for pair in (jobs[i:i + 2] for i in range(0, len(jobs), 2)):
        procs = [(job, _cli(job[1], job[2], job[3], tmp_path / f"{job[1]}-{job[3]}.json")) for job in pair]
        for (kind, path, _, seed), proc in procs:
            out, err = proc.communicate(timeout=600)
            if proc.returncode != 0 or not out.startswith("CONFORMS"):
                failed.append((kind, seed, proc.returncode, out + err))
            else:
                reports[path, seed] = (tmp_path / f"{path}-{seed}.json").read_text()
    assert not failed, f"{len(failed)} of {len(jobs)} CLI runs did not conform; first: {failed[0]}"
    replayed = [(path, seed, ALPHA_OWN) for kind, path, _, seed in jobs if kind != "clock-reseeded"]
    assert len(replayed) == len(jobs) - len(CLI_SEEDS)
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        for (path, seed, _), api in zip(replayed, pool.map(zoo_own_rng.fresh_report, replayed), strict=True):
            cli = _untimed(reports[path, seed])
            assert cli == _untimed(api), (path, seed, {k: v for k, v in cli.items() if v != _untimed(api).get(k)})
            assert cli["passed"] and cli["seed"] == seed and cli["alpha"] == ALPHA_OWN


def test_a_torch_generator_conforms_at_30_seeds():
    pytest.importorskip("torch")
    setting = zoo_own_rng.HF_TOP_K_P
    for seed in SEEDS:
        report = spec.validate(zoo_own_rng.TorchGenerator(setting, seed), setting.pipeline, profile="quick",
                               seed=seed, alpha=ALPHA_OWN)
        assert report.passed, str(report)


def test_the_report_states_the_probe_and_skips_the_same_key_checks():
    sampler, setting, _ = zoo_own_rng.kinds(7)["numpy module-level"]
    report = spec.validate(sampler, setting.pipeline, profile="quick", seed=7, alpha=ALPHA_OWN)
    assert report.passed
    assert any("not reproducible" in s and "keeps its own random state" in s for s in report.skipped)
    assert "for calling a sampler that ignores its key reproducible" in report.alpha_split


@pytest.mark.parametrize("bug", BUGGY + BUGGY_TRANSFORMS, ids=lambda s: s.name)
def test_the_broken_zoo_is_still_caught_when_it_owns_its_generator(bug):
    """No key reaches these samplers, so no same-key check runs: each bug is caught by another."""
    report = spec.validate(bug.black_box(own_rng=True), bug.pipeline)
    assert not report.passed, f"{bug.name} was not caught:\n{report}"
    assert report.failures[0].check not in ("contract: output", "contract: no hang")
    assert not report.failures[0].check.startswith("structure: same-key")


class KeyedAtFirst:
    """Correct, and reproducible through the global random state for its first `honest` calls (the
    probe sees a fixed key), then drawing from a generator of its own: only the same-key checks'
    own controls can tell."""

    def __init__(self, honest: int):
        self.honest, self.calls, self.own = honest, 0, np.random.default_rng(1)

    def __call__(self, logits):
        self.calls += 1
        p = zoo_own_rng._probs(logits, zoo_own_rng.HF_MIN_P)
        rng = np.random if self.calls <= self.honest else self.own
        return zoo_own_rng.pick(p, rng.random(len(p)))


def test_a_same_key_check_whose_control_moves_is_skipped_not_failed():
    report = spec.validate(KeyedAtFirst(honest=5), zoo_own_rng.HF_MIN_P.pipeline, profile="quick", seed=3,
                           alpha=ALPHA_OWN)
    assert report.passed, str(report)
    assert any(c.startswith("contract: reproducible") for c in report.checks)  # the probe was fooled ...
    assert any(s.startswith("same-key shift: not reproducible: re-run under the same keys") for s in report.skipped)
    assert any(s.startswith("batch same-key: the sampler is not reproducible") for s in report.skipped)

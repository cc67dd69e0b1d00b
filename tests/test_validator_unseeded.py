"""The unseeded check (spec.validator.unseeded) on samplers whose randomness is right and wrong with
no seed: fresh per call and per process (passes), reseeded from a constant on every call (fails
across calls), seeded from a constant once per process (passes across calls, fails across
processes), and a greedy configuration (nothing to check). The false-alarm bound is exact, from
the spec's own target, and below alpha = 1e-6."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from spec import presets
from spec.target import target
from spec.validator.report import Check
from spec.validator.sampler import Sampler
from spec.validator.unseeded import rows_for, unseeded

PIPELINE = presets.hf(temperature=0.8, top_k=40, top_p=0.9)


def _drawer(make_rng):
    """A numpy sampler drawing the spec's exact target with the generator make_rng() gives per call."""
    def draw(x):
        rng = make_rng()
        probs = np.asarray(target(np.asarray(x, dtype=np.float64), PIPELINE).probs)
        return np.array([rng.choice(p.size, p=p) for p in probs])
    return Sampler(draw, "numpy", None, name="test drawer")


STARTUP = """import numpy as np, pickle, sys
from spec import presets
from spec.target import target
rows = pickle.load(sys.stdin.buffer)
rng = np.random.default_rng({seed})
probs = np.asarray(target(rows, presets.hf(temperature=0.8, top_k=40, top_p=0.9)).probs)
sys.stdout.buffer.write(pickle.dumps([int(rng.choice(p.size, p=p)) for p in probs]))
"""


def _new_process(seed: str):
    """A new Python process seeding its generator with `seed` ("None": from the OS) at start-up."""
    def fresh(rows):
        import pickle
        done = subprocess.run([sys.executable, "-c", STARTUP.format(seed=seed)], input=pickle.dumps(rows),
                              capture_output=True, check=True, timeout=120)
        return pickle.loads(done.stdout)
    return fresh


def test_the_false_alarm_bound_is_below_alpha_and_exact():
    rows, bound = rows_for(PIPELINE, 1e-6, 18, seed=0)
    probs = np.asarray(target(rows, PIPELINE).probs)
    assert np.isclose(bound, np.prod((probs ** 2).sum(axis=1)) * 18, rtol=1e-12, atol=0) and bound <= 1e-6


def test_fresh_draws_per_call_and_per_process_pass():
    report = unseeded(_drawer(np.random.default_rng), PIPELINE, fresh=_new_process("None"))
    assert report.passed, report.failures
    assert report.checks == [Check.UNSEEDED_CALLS.value, Check.UNSEEDED_PROCESSES.value]


def test_a_sampler_reseeded_from_a_constant_on_every_call_fails_across_calls():
    report = unseeded(_drawer(lambda: np.random.default_rng(7)), PIPELINE)
    assert [f.check for f in report.failures] == [Check.UNSEEDED_CALLS.value]
    assert "calls 1 and 2" in report.failures[0].counterexample["row"]


def test_a_generator_seeded_once_per_process_from_a_constant_fails_across_processes():
    rng = np.random.default_rng(7)
    report = unseeded(_drawer(lambda: rng), PIPELINE, fresh=_new_process("7"))
    assert [f.check for f in report.failures] == [Check.UNSEEDED_PROCESSES.value]


def test_greedy_has_nothing_to_check():
    report = unseeded(_drawer(np.random.default_rng), presets.vllm(temperature=0.0))
    assert report.passed and not report.checks and "nearly deterministic" in report.skipped[0]

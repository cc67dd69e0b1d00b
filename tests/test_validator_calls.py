"""The calling machinery (spec/validator/calls.py): a sampler with threads=2 has two calls in
flight, and that must change nothing but the time a run takes: the same keys, tokens and report;
the sampler's own code never runs twice at once; a hang, a mutation and a raise are still found."""

import json
import threading
import time

import mlx.core as mx
import numpy as np
import pytest

import spec
from spec import presets
from spec.validator import adapters
from spec.validator.calls import Calls
from spec.validator.context import Context
from tests.validating import ALPHA_RUN


def _context(sampler, pipeline, seed=0):
    ctx = Context.build(sampler, pipeline, "logprobs", "auto", "quick", ALPHA_RUN, seed, None, None, None)
    ctx.calls = Calls(ctx)
    return ctx


@pytest.mark.parametrize("params", [dict(temp=0.7, top_p=0.9), dict(temp=1.0, xtc_probability=0.5, top_p=0.95)])
def test_two_workers_draw_the_keys_and_tokens_of_one(params):
    """calls.py: the keys are drawn in the same order, so every count is the same. With XTC the
    draws are one call each (tile 1), the case where the two workers alternate most."""
    pipeline = presets.mlx_lm(**params)
    counts, next_keys = {}, {}
    for threads in (1, 2):
        sampler = adapters.mlx_lm(**params)
        sampler.threads = threads
        ctx = _context(sampler, pipeline)
        try:
            wide = [c for c in ctx.cases if c.name.startswith("flat")][0]
            counts[threads] = [ctx.calls.draw(wide, 600), ctx.calls.draw(ctx.cases[0], 300)]
            next_keys[threads] = ctx.key()
        finally:
            ctx.calls.close()
    assert all(np.array_equal(a, b) for a, b in zip(counts[1], counts[2], strict=True))
    assert next_keys[1] == next_keys[2]
    assert counts[2][0].sum() == 600 and counts[2][1].sum() == 300


def test_a_run_reports_the_same_with_two_workers():
    """The whole report (checks, draws, calls, power, fingerprint) but its timings; and time inside
    the sampler is counted once where two calls overlap (never more than the run's wall time)."""
    pipeline = presets.mlx_lm(temp=0.7, top_p=0.9)
    reports = {}
    for threads in (1, 2):
        sampler = adapters.mlx_lm(temp=0.7, top_p=0.9)
        sampler.threads = threads
        reports[threads] = spec.validate(sampler, pipeline, input="logprobs", profile="quick", alpha=ALPHA_RUN, seed=3)
    assert reports[2].passed, str(reports[2])
    assert 0 < reports[2].sampler_seconds <= reports[2].seconds
    untimed = [{k: v for k, v in json.loads(r.to_json()).items() if "seconds" not in k} for r in reports.values()]
    assert untimed[0] == untimed[1]


def _lazy_sampler(inside: list, hang_on: int | None = None, mutate_on: int | None = None):
    """An mlx sampler returning a lazy array, which records how many calls are inside its code."""
    state = {"now": 0, "calls": 0}

    def draw(x, key):
        state["now"] += 1
        state["calls"] += 1
        inside.append(state["now"])
        time.sleep(0.002)  # long enough for a second worker to enter if nothing stops it
        if state["calls"] == hang_on:
            threading.Event().wait(60)
        if state["calls"] == mutate_on:
            x[0, 0] = x[0, 0] - 1.0  # mlx: the caller's array object now holds another value
        state["now"] -= 1
        return mx.random.categorical(x, key=mx.random.key(key))

    return adapters.Sampler(draw, "mlx", "key", threads=2, name="lazy test sampler")


def test_the_samplers_own_code_never_runs_in_two_calls_at_once():
    inside = []
    ctx = _context(_lazy_sampler(inside), presets.reference())
    try:
        ctx.calls.draw(ctx.cases[0], 200, check=False, independent=True)
        wide = [c for c in ctx.cases if c.name.startswith("flat")][0]
        ctx.calls.draw(wide, 2_000, check=False)
    finally:
        ctx.calls.close()
    assert len(inside) >= 2 and max(inside) == 1


def test_a_hang_on_the_second_worker_is_found_once():
    """The 30th call hangs in the sampler's code, holding the lock the other worker waits on: the
    run reports that one hang and ends, within about one time limit."""
    start = time.perf_counter()
    report = spec.validate(_lazy_sampler([], hang_on=30), presets.reference(), profile="quick", timeout=2, seed=0)
    assert [f.check for f in report.failures] == ["contract: no hang"], str(report)
    assert time.perf_counter() - start < 40


def test_a_mutation_of_a_reused_tiled_input_is_found():
    """Tiled inputs are built once per case and passed to many calls: a sampler that writes into
    its input on its 40th call (a same-key call, with two in flight) is still caught."""
    report = spec.validate(_lazy_sampler([], mutate_on=40), presets.reference(), profile="quick", seed=0)
    assert report.failures and report.failures[0].check == "contract: input not mutated", str(report)

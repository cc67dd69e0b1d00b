"""The calling machinery (spec/validator/calls.py): a sampler with in_flight=2 has two calls in
flight, each evaluating on its own mlx stream, and that must change nothing but the time a run
takes: the same keys, tokens and report; a hang, a mutation and a raise still found, in either
stream; samplers that keep mlx state or use the global random state still sampled correctly."""

import json
import time

import mlx.core as mx
import numpy as np
import pytest

import spec
from spec import presets
from spec.engines import mlx_lm
from spec.validator.calls import Calls, mlx_streams
from spec.validator.context import Context
from spec.validator.sampler import Sampler
from tests.validating import ALPHA_RUN

pytestmark = pytest.mark.skipif(not mlx_streams(), reason="mlx < 0.32.1: one call in flight only")


def _context(sampler, pipeline, seed=0):
    ctx = Context.build(sampler, pipeline, "logprobs", "auto", "quick", ALPHA_RUN, seed, None, None, None)
    ctx.calls = Calls(ctx)
    return ctx


@pytest.mark.parametrize("params", [dict(temp=0.7, top_p=0.9), dict(temp=1.0, xtc_probability=0.5, top_p=0.95)])
def test_two_in_flight_draw_the_keys_and_tokens_of_one(params):
    """calls.py: the keys are drawn in the same order, so every count is the same. With XTC the
    draws are one call each (tile 1), the case where the two streams alternate most."""
    pipeline = presets.mlx_lm(**params)
    counts, next_keys, overlapped = {}, {}, {}
    for in_flight in (1, 2):
        sampler = mlx_lm.sampler(**params)
        sampler.in_flight = in_flight
        ctx = _context(sampler, pipeline)
        try:
            wide = [c for c in ctx.cases if c.name.startswith("flat")][0]
            counts[in_flight] = [ctx.calls.draw(wide, 600), ctx.calls.draw(ctx.cases[0], 300)]
            next_keys[in_flight], overlapped[in_flight] = ctx.key(), ctx.calls.overlapped
        finally:
            ctx.calls.close()
    assert overlapped[1] == 0 and overlapped[2] > 0  # two calls really were in flight
    assert all(np.array_equal(a, b) for a, b in zip(counts[1], counts[2], strict=True))
    assert next_keys[1] == next_keys[2]
    assert counts[2][0].sum() == 600 and counts[2][1].sum() == 300


def test_a_run_reports_the_same_with_two_in_flight():
    """The whole report (checks, draws, calls, power, fingerprint) but its timings; and time inside
    the sampler is counted once where two calls overlap (never more than the run's wall time)."""
    pipeline = presets.mlx_lm(temp=0.7, top_p=0.9)
    reports = {}
    for in_flight in (1, 2):
        sampler = mlx_lm.sampler(temp=0.7, top_p=0.9)
        sampler.in_flight = in_flight
        reports[in_flight] = spec.validate(sampler, pipeline, input="logprobs", profile="quick", alpha=ALPHA_RUN,
                                           seed=3)
    assert reports[2].passed, str(reports[2])
    assert 0 < reports[2].sampler_seconds <= reports[2].seconds
    untimed = [{k: v for k, v in json.loads(r.to_json()).items() if "seconds" not in k} for r in reports.values()]
    assert untimed[0] == untimed[1]


def test_samplers_with_mlx_state_or_the_global_random_state_are_sampled_as_with_one():
    """A sampler that keeps a lazy key chain across calls (its next call depends on the last one's
    graph), and one drawing from mlx's global random state without a key, with two in flight: no
    error, and no draw repeated (a second thread would replay the first one's random sequence)."""
    chain = {"key": mx.random.key(0)}

    def chained(x):
        chain["key"], sub = mx.random.split(chain["key"])
        return mx.random.randint(0, 2**30, (x.shape[0],), key=sub)

    def unkeyed(x):
        return mx.random.randint(0, 2**30, (x.shape[0],))

    for draw in (chained, unkeyed):
        ctx = _context(Sampler(draw, "mlx", None, in_flight=2), presets.reference())
        fed = ctx.feed(ctx.cases[0].rows)
        x, before = ctx.calls.tiled(fed, 1)
        try:
            calls = [(x, 1, 2**30, None, "test", None, before) for _ in range(400)]
            ids = np.concatenate([out for _, out in ctx.calls.stream(calls)])
            assert ctx.calls.overlapped > 0
        finally:
            ctx.calls.close()
        assert np.unique(ids).size == ids.size, draw.__name__


def _lazy_sampler(hang_on: int | None = None, mutate_on: int | None = None):
    """An mlx sampler returning a lazy array; on call `hang_on` it hangs, on `mutate_on` it writes
    into its input (mlx: the caller's array object then holds a lazy new value)."""
    state = {"calls": 0}

    def draw(x, key):
        state["calls"] += 1
        if state["calls"] == hang_on:
            time.sleep(60)
        if state["calls"] == mutate_on:
            x[:] = 7.0
        return mx.random.categorical(x, key=mx.random.key(key))

    return Sampler(draw, "mlx", "key", in_flight=2, name="lazy test sampler")


@pytest.mark.parametrize("call", [30, 31])
def test_a_hang_in_either_stream_is_found_once(call):
    """The call hangs while the other is in flight: the run reports that one hang and ends within
    about one time limit (not two)."""
    start = time.perf_counter()
    report = spec.validate(_lazy_sampler(hang_on=call), presets.reference(), profile="quick", timeout=2, seed=0)
    assert [f.check for f in report.failures] == ["contract: no hang"], str(report)
    assert time.perf_counter() - start < 3 * 2 + 5


@pytest.mark.parametrize("call", [40, 41])
def test_a_mutation_of_a_reused_tiled_input_is_found_under_its_own_key(call):
    """Tiled inputs are built once per case and passed to many calls: a sampler that writes into
    its input (lazily, as mlx does) is caught, under the key of the call that wrote, in either stream."""
    report = spec.validate(_lazy_sampler(mutate_on=call), presets.reference(), profile="quick", seed=0)
    assert report.failures and report.failures[0].check == "contract: input not mutated", str(report)
    keys = []
    spec.validate(Sampler(lambda x, key: keys.append(key) or mx.random.categorical(x, key=mx.random.key(key)),
                                   "mlx", "key", in_flight=2), presets.reference(), profile="quick", seed=0)
    assert report.failures[0].case["key"] == keys[call - 1]

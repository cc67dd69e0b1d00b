"""Calling the sampler under test: on a worker thread with a time limit (a hang is a finding,
and the run never waits for it), with its output checked, and draws tiled into batches (each
copy of a row with its token history, for a sampler that takes `history`).

Each run owns its worker, so concurrent runs cannot interfere. A sampler declaring `in_flight=2`
(an mlx sampler that returns a lazy array, as mlx-lm's does) has two calls in flight: the worker
builds each call's graph on one of two mlx streams and starts its evaluation (`mx.async_eval`),
so mlx evaluates two calls at once on two cores. The sampler's code still runs on the one worker
thread, call after call, so its keys, random state and any state it keeps are those of one call
at a time, and so are its tokens.

A thread that has run mlx work must release mlx's per-thread streams before it ends: a thread
that ends without doing so leaves a stream whose destruction at interpreter exit aborts the
process ("terminate called without an active exception"; reproduced with mlx 0.32.4: 6 of 12 runs
of a script whose helper threads used mlx, 0 of 12 once they called mx.clear_streams()). The
worker does that on every exit path, after waiting for both of its streams, and a hung worker
ends itself the same way once its call returns."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass

import numpy as np

from spec.validator.report import Check
from spec.validator.sampler import Sampler

CALL_ELEMENTS = 2**20  # rows are tiled into batches of about this many entries per call


def mlx_streams() -> bool:
    """Whether the installed mlx is recent enough for two calls in flight: >= 0.32.1, after the
    per-thread streams and command encoders (0.32.0) and the compile-cache fixes (0.32.1); tested
    with 0.32.4. With an older one a sampler declaring in_flight=2 has one call in flight."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return tuple(int(part) for part in version("mlx").split(".")[:3]) >= (0, 32, 1)
    except (ValueError, PackageNotFoundError):  # a version we cannot read: one call at a time
        return False


def release_mlx_streams(streams=()):
    """End-of-thread cleanup for any thread that may have used mlx (see the module docstring)."""
    mx = sys.modules.get("mlx.core")
    if mx is not None:
        for stream in streams:
            mx.synchronize(stream)
        mx.synchronize()
        mx.clear_streams()


class Worker:
    """One daemon thread that runs a run's sampler calls in order."""

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue()
        self.abandoned = False
        self.streams = ()  # two mlx streams, made on this thread by the first call that needs them
        self.thread = threading.Thread(target=self._loop, daemon=True, name="spec.validator sampler calls")
        self.thread.start()

    def _loop(self):
        try:
            while not self.abandoned:
                job = self.jobs.get()
                if job is None:
                    return
                fn, box, done = job
                try:
                    box["out"] = fn()
                except BaseException as e:  # noqa: BLE001 - any exception of the sampler is a finding
                    box["error"] = e
                done.set()
        finally:
            release_mlx_streams(self.streams)

    def submit(self, fn: Callable) -> tuple[dict, threading.Event]:
        """Queue fn() on this thread; `result` collects it."""
        box, done = {}, threading.Event()
        self.jobs.put((fn, box, done))
        return box, done

    def result(self, job: tuple[dict, threading.Event], timeout: float):
        """(result, None) or (None, the exception) of a submitted job; TimeoutError if it does not
        finish within `timeout` seconds (the worker is then abandoned: make a new one)."""
        box, done = job
        if not done.wait(timeout):
            self.abandoned = True
            raise TimeoutError
        return box.get("out"), box.get("error")

    def call(self, fn: Callable, timeout: float):
        """fn() on this thread, as `result` returns it."""
        return self.result(self.submit(fn), timeout)

    def stream(self, slot: int):
        """The mlx stream for calls in slot 0 or 1 (called on this thread, which owns them)."""
        if not self.streams:
            import mlx.core as mx
            self.streams = (mx.default_stream(mx.default_device()), mx.new_stream(mx.default_device()))
        return self.streams[slot]

    def close(self, wait: float = 5.0):
        """Stop the thread (it releases mlx's streams on the way out) unless it is hung."""
        if not self.abandoned:
            self.jobs.put(None)
            self.thread.join(wait)


def token_ids(out, rows: int, vocab: int) -> np.ndarray | str:
    """The B token ids (a host array from Sampler.host) as int64, or what is wrong with them."""
    if not isinstance(out, np.ndarray) or out.dtype == object:
        return f"returned {type(out).__name__}, not an array of token ids"
    if out.shape != (rows,):
        return f"returned shape {tuple(out.shape)} for a batch of {rows} row{'s' * (rows != 1)}; expected ({rows},)"
    if out.dtype.kind not in "iu":
        return f"returned dtype {out.dtype}; token ids must be integers"
    if ((out < 0) | (out >= vocab)).any():
        return f"returned token id {int(out[(out < 0) | (out >= vocab)][0])}, outside [0, {vocab})"
    return out.astype(np.int64)


@dataclass
class _Call:
    """A sampler call in flight: what `Calls._finish` needs to check its answer."""

    x: object
    rows: int
    vocab: int
    key: int | None
    where: str
    sampler: Sampler
    before: bytes  # the input's bytes before the call (a sampler must not modify it)
    worker: Worker
    job: tuple
    start: float
    slot: int | None  # its mlx stream when two calls are in flight (its answer is then made a host array later)


class Calls:
    """The guarded calls of one run, with their counts and times for the report."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.worker = Worker()
        self.busy_until = 0.0  # sampler_seconds counts the time any call was running, once
        self.overlapped = 0  # calls started while another was in flight

    def close(self):
        self.worker.close()

    def _time(self, start: float, end: float):
        """Add a call's running time, less what an overlapping call already counted."""
        self.ctx.report.sampler_seconds += max(0.0, end - max(start, self.busy_until))
        self.busy_until = max(self.busy_until, end)

    def _run(self, fn: Callable):
        """fn() on the worker within the profile's time limit: (out, error); TimeoutError on a hang."""
        try:
            return self.worker.call(fn, self.ctx.profile.call_timeout)
        except TimeoutError:
            self.worker = Worker()
            raise

    def _left(self, c: _Call) -> float:
        return max(0.0, c.start + self.ctx.profile.call_timeout - time.perf_counter())

    def _start(self, x, rows: int, vocab: int, key: int | None, where: str, sampler: Sampler | None,
               history, before: bytes | None = None, slot: int | None = None) -> _Call:
        """Queue a call on the worker: the sampler's answer (a host array, or with a slot the lazy
        mlx array whose evaluation has started on that slot's stream) and its input's bytes after it."""
        sampler = sampler or self.ctx.sampler
        before = sampler.snapshot(x) if before is None else before
        worker = self.worker

        def job():
            if slot is None:
                out = sampler.host(sampler(x, key, history))
            else:
                import mlx.core as mx
                with mx.stream(worker.stream(slot)):
                    out = sampler(x, key, history)
                if isinstance(out, mx.array):
                    mx.async_eval(out)
            return out, sampler.snapshot(x)  # here: a lazily written mlx input is evaluated on its thread

        return _Call(x, rows, vocab, key, where, sampler, before, worker, worker.submit(job), time.perf_counter(),
                     slot)

    def _finish(self, c: _Call) -> np.ndarray:
        """The ids of a call in flight, or a Finding for a raise, a hang, garbage or a mutation."""
        from spec.validator.context import fail

        ctx = self.ctx
        ctx.report.calls += 1
        info = {"case": c.where, "key": c.key, "batch shape": f"({c.rows}, {c.vocab})"}
        try:
            answer, error = c.worker.result(c.job, self._left(c))
            if error is None and c.slot is not None:  # the evaluation started in _start
                answer, error = (c.worker.call(lambda: (c.sampler.host(answer[0]), answer[1]), self._left(c)))
        except TimeoutError:
            self._time(c.start, time.perf_counter())
            self.worker = Worker()
            fail(Check.HANG, "a sampler returns", (),
                 f"no answer within {ctx.profile.call_timeout:g} s on a ({c.rows}, {c.vocab}) batch ({c.where})", info)
        self._time(c.start, time.perf_counter())
        if error is not None:
            text = str(error).splitlines()[0][:200] if str(error) else ""
            fail(Check.RAISES, "a sampler returns a token for every valid row", (),
                 f"raised {type(error).__name__}: {text} ({c.where})", info)
        out, after = answer
        ids = token_ids(out, c.rows, c.vocab)
        if isinstance(ids, str):
            fail(Check.OUTPUT, "B token ids, integers in [0, V)", (), f"{ids} ({c.where})", info)
        if after != c.before:
            fail(Check.MUTATION, "the sampler leaves its input unchanged", (),
                 f"the input array was modified in place ({c.where})", info)
        return ids

    def call(self, x, rows: int, vocab: int, key: int | None, where: str, sampler: Sampler | None = None,
             history=None):
        """One guarded call: the ids, or a Finding for a raise, a hang, garbage or a mutation.
        history: one spec.History per row (None: nothing seen), for a sampler that reads it."""
        return self._finish(self._start(x, rows, vocab, key, where, sampler, history))

    def quiet(self, x, rows: int, vocab: int, key: int, sampler: Sampler | None = None, history=None):
        """A call for a shrinking oracle: the ids, or None on any problem or once the run's
        shrinking time is spent (no Finding)."""
        ctx, sampler = self.ctx, sampler or self.ctx.sampler
        if time.monotonic() > ctx.shrink_deadline:
            return None
        ctx.report.calls += 1
        ctx.report.shrink_calls += 1
        start = time.perf_counter()
        try:
            out, error = self._run(lambda: sampler.host(sampler(x, key, history)))
        except TimeoutError:
            return None
        finally:
            self._time(start, time.perf_counter())
        ids = token_ids(out, rows, vocab) if error is None else None
        return ids if isinstance(ids, np.ndarray) else None

    def raw(self, fn: Callable):
        """Any other guarded work on the worker (the white-box filter, a NaN row): (out, error),
        TimeoutError on a hang."""
        self.ctx.report.calls += 1
        return self._run(fn)

    def stream(self, batches, sampler: Sampler | None = None):
        """(call, ids) for each call in `batches`, in order: an iterable of (x, rows, vocab, key,
        where, history, before) tuples (`before`: the input's bytes, or None), pulled lazily. With
        in_flight=2, call i + 1 is pulled (its key drawn) and started before call i is collected:
        a run that stops at a finding has then drawn one key more than with one call in flight.
        Use it closed (contextlib.closing): a call still in flight then ends before the run goes on."""
        sampler = sampler or self.ctx.sampler
        two = sampler.in_flight > 1 and sampler.array == "mlx" and mlx_streams()
        flight: deque[_Call] = deque()
        batches, started = iter(batches), 0
        try:
            while True:
                if len(flight) == (2 if two else 1):
                    c = flight.popleft()
                    yield c, self._finish(c)
                if (batch := next(batches, None)) is None:
                    break
                x, rows, vocab, key, where, history, before = batch
                self.overlapped += bool(flight)
                flight.append(self._start(x, rows, vocab, key, where, sampler, history, before,
                                          started % 2 if two else None))
                started += 1
            while flight:
                c = flight.popleft()
                yield c, self._finish(c)
        finally:
            for c in flight:  # not counted: never collected
                if c.worker is self.worker:
                    try:
                        c.worker.result(c.job, self._left(c))
                    except TimeoutError:
                        self.worker = Worker()
                    self._time(c.start, time.perf_counter())

    def tiled(self, fed: np.ndarray, reps: int, sampler: Sampler | None = None):
        """`fed` tiled `reps` times as the sampler's array, and its bytes (see `stream`): built once
        and passed to many calls (a sampler that modifies its input fails on the first call that does)."""
        sampler = sampler or self.ctx.sampler
        x = sampler.to_array(np.tile(fed, (reps, 1)))
        return x, sampler.snapshot(x)

    def draw(self, case, n: int, sampler: Sampler | None = None, pipeline=None, check: bool = True,
             caps=None, independent: bool = True) -> np.ndarray:
        """n draws per row of the case, in tiled batches with fresh keys: the counts, (B, V). With
        `check`, every draw is checked against the support on the way; a token outside it is a
        failure, shrunk with fixed keys when `caps` says the sampler is reproducible.
        With random steps (XTC) and `independent`, one copy of the case per call: an engine may
        toss one coin per call (mlx-lm does), so copies tiled into one call are not independent
        draws, while separate calls are (counts for statistics need that; support checks do not)."""
        from spec.validator.oracles import support_failure

        ctx, sampler = self.ctx, sampler or self.ctx.sampler
        fed = ctx.feed(case.rows)
        b, v = fed.shape
        t = ctx.spec(sampler.to_array(fed), case, pipeline)
        allowed = np.atleast_2d(t.allowed)
        random = any(0 < s.chance < 1 for s in (pipeline or ctx.pipeline).steps)
        tile = 1 if random and independent else max(1, min(n, CALL_ELEMENTS // (v * b)))
        full = self.tiled(fed, tile, sampler)

        def batches():
            done = 0
            while done < n:
                reps = min(tile, n - done)
                x, before = full if reps == tile else self.tiled(fed, reps, sampler)
                yield x, reps * b, v, ctx.key(), case.name, case.history(reps), before
                done += reps

        counts = np.zeros((b, v), dtype=np.int64)
        with closing(self.stream(batches(), sampler)) as results:
            for c, ids in results:
                ids = ids.reshape(-1, b)
                ctx.report.draws += ids.size
                for r in range(b):
                    np.add.at(counts[r], ids[:, r], 1)
                    bad = ~allowed[r, ids[:, r]]
                    if check and bad.any():
                        support_failure(ctx, case, r, int(ids[bad.argmax(), r]), t, c.key, ids.shape[0], sampler,
                                        pipeline or ctx.pipeline, shrinkable=caps is not None and caps.reproducible)
        return counts

"""Calling the sampler under test: on a worker thread with a time limit (a hang is a finding,
and the run never waits for it), with its output checked, and draws tiled into batches (each
copy of a row with its token history, for a sampler that takes `history`).

Each run owns its worker, so concurrent runs cannot interfere. A thread that has run mlx work
must release mlx's per-thread streams before it ends: a thread that ends without doing so leaves
a stream whose destruction at interpreter exit aborts the process ("terminate called without an
active exception"; reproduced with mlx 0.32.4: 6 of 12 runs of a script whose helper threads
used mlx, 0 of 12 once they called mx.clear_streams()). The worker does that on every exit path,
and a hung worker ends itself the same way once its call returns."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from spec.validator.adapters import Sampler
from spec.validator.report import Check

CALL_ELEMENTS = 2**20  # rows are tiled into batches of about this many entries per call


def release_mlx_streams():
    """End-of-thread cleanup for any thread that may have used mlx (see the module docstring)."""
    mx = sys.modules.get("mlx.core")
    if mx is not None:
        mx.synchronize()
        mx.clear_streams()


class Worker:
    """One daemon thread that runs a run's sampler calls in order."""

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue()
        self.abandoned = False
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
            release_mlx_streams()

    def call(self, fn: Callable, timeout: float):
        """fn() on this thread: (result, None) or (None, the exception); TimeoutError if it does not
        finish within `timeout` seconds (the worker is then abandoned: make a new one)."""
        box, done = {}, threading.Event()
        self.jobs.put((fn, box, done))
        if not done.wait(timeout):
            self.abandoned = True
            raise TimeoutError
        return box.get("out"), box.get("error")

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


class Calls:
    """The guarded calls of one run, with their counts and times for the report."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.worker = Worker()

    def _run(self, fn: Callable):
        """fn() on the worker within the profile's time limit: (out, error); TimeoutError on a hang."""
        try:
            return self.worker.call(fn, self.ctx.profile.call_timeout)
        except TimeoutError:
            self.worker = Worker()
            raise

    def call(self, x, rows: int, vocab: int, key: int | None, where: str, sampler: Sampler | None = None,
             history=None):
        """One guarded call: the ids, or a Finding for a raise, a hang, garbage or a mutation.
        history: one spec.History per row (None: nothing seen), for a sampler that reads it."""
        from spec.validator.context import fail

        ctx, sampler = self.ctx, sampler or self.ctx.sampler
        before = sampler.as_numpy(x).copy()
        info = {"case": where, "key": key, "batch shape": f"({rows}, {vocab})"}
        start = time.perf_counter()
        ctx.report.calls += 1
        try:
            out, error = self._run(lambda: sampler.host(sampler(x, key, history)))
        except TimeoutError:
            fail(Check.HANG, "a sampler returns", (),
                 f"no answer within {ctx.profile.call_timeout:g} s on a ({rows}, {vocab}) batch ({where})", info)
        finally:
            ctx.report.sampler_seconds += time.perf_counter() - start
        if error is not None:
            text = str(error).splitlines()[0][:200] if str(error) else ""
            fail(Check.RAISES, "a sampler returns a token for every valid row", (),
                 f"raised {type(error).__name__}: {text} ({where})", info)
        ids = token_ids(out, rows, vocab)
        if isinstance(ids, str):
            fail(Check.OUTPUT, "B token ids, integers in [0, V)", (), f"{ids} ({where})", info)
        if not np.array_equal(before, sampler.as_numpy(x), equal_nan=True):
            fail(Check.MUTATION, "the sampler leaves its input unchanged", (),
                 f"the input array was modified in place ({where})", info)
        return ids

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
            ctx.report.sampler_seconds += time.perf_counter() - start
        ids = token_ids(out, rows, vocab) if error is None else None
        return ids if isinstance(ids, np.ndarray) else None

    def raw(self, fn: Callable):
        """Any other guarded work on the worker (the white-box filter, a NaN row): (out, error),
        TimeoutError on a hang."""
        self.ctx.report.calls += 1
        return self._run(fn)

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
        counts = np.zeros((b, v), dtype=np.int64)
        done = 0
        while done < n:
            reps = min(tile, n - done)
            key = ctx.key()
            x = sampler.to_array(np.tile(fed, (reps, 1)))
            ids = self.call(x, reps * b, v, key, case.name, sampler, case.history(reps)).reshape(reps, b)
            ctx.report.draws += ids.size
            for r in range(b):
                np.add.at(counts[r], ids[:, r], 1)
                bad = ~allowed[r, ids[:, r]]
                if check and bad.any():
                    support_failure(ctx, case, r, int(ids[bad.argmax(), r]), t, key, reps, sampler,
                                    pipeline or ctx.pipeline, shrinkable=caps is not None and caps.reproducible)
            done += reps
        return counts

"""Validate any sampler against the spec: `spec.validate(sampler, pipeline) -> Report`.

The checks run in tiers, cheapest and most definitive first, and stop at the first definitive
failure:
1. contract: the output is B token ids in [0, V), the input is not mutated, the sampler neither
   raises nor hangs on a valid row; with a factory, greedy, top_k = 1 and no-op parameters.
2. white-box (when the sampler exposes its filtered logits): the keep-set equals the spec's
   support except on boundary tokens, on the cases and on rows Hypothesis generates.
3. structure: every sampled token is in the spec's support (one outside is definitive); with a
   key, the same key gives the same token after a shift and for log-probabilities, up to what
   rounding allows (the floating-point theorems); each row of a batch is sampled on its own.
4. statistics: goodness of fit (`spec.stats`), the run's false-alarm rate at most `alpha`.
Failures are shrunk with deterministic, fixed-key oracles; a fingerprint says which engine
presets the sampler's draws are consistent with.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.exactness import greedy_logprobs_exact
from spec.invariants import BY_ID
from spec.presets import PRESETS, common, common_params
from spec.rows import VOCAB, llm_logits
from spec.target import EPS, Target, Tolerance, log_softmax, logsumexp, target
from spec.transforms import MinP, Pipeline, Temperature, TopK, TopP
from spec.validator import stats
from spec.validator.adapters import Sampler, as_sampler
from spec.validator.report import Failure, Report, row_text
from spec.validator.shrink import shrink

INPUTS = ("logits", "logprobs")
CALL_ELEMENTS = 2**20  # rows are tiled into batches of about this many entries per call


@dataclass(frozen=True)
class Profile:
    name: str
    structure_draws: int  # per small case, every draw checked against the support
    full_vocab_draws: int  # on the V = 151,936 row
    looks: tuple[int, ...]  # cumulative draws per statistics case at which the tests look
    coupling_draws: int  # same-key pairs per case and relation
    hypothesis_examples: int  # white-box rows generated
    call_timeout: float  # seconds one sampler call may take


PROFILES = {
    "quick": Profile("quick", 500, 16, (2_000, 8_000), 256, 50, 60.0),
    "default": Profile("default", 2_000, 64, (2_500, 10_000, 40_000), 1_024, 200, 120.0),
    "thorough": Profile("thorough", 8_000, 256, (5_000, 20_000, 80_000, 320_000), 4_096, 1_000, 300.0),
}


@dataclass(frozen=True)
class Case:
    name: str
    rows: np.ndarray  # (B, V) float64 logits, before the input transform
    exact: bool = False  # decided with Tolerance(0, 0); used only for float64 samplers
    statistics: bool = True  # a single row the statistics tier samples


def cases(seed: int) -> list[Case]:
    """The rows every sampler is tested on, smallest first: hand-made probes that tell common bugs
    apart, then seeded LLM-like rows, then one at full vocabulary."""
    rng = np.random.default_rng([seed, 0xCA5E])
    spread = np.array([0.0, 3.0, 1.0, 2.5, 0.2])
    out = [
        Case("dyadic masses 1/2, 1/4, 1/8, 1/16, 1/16", np.log([[0.5, 0.25, 0.125, 0.0625, 0.0625]])),
        Case("exact sums 1/2 + 1/4 (float64 samplers: decided exactly)", np.log([[0.5, 0.25, 0.125, 0.125]]), True),
        Case("nucleus not in index order", np.log([[0.1, 0.45, 0.05, 0.4]])),
        Case("ties", np.array([[2.0, 2.0, 1.0, 0.5, -1.0]])),
        Case("spread", spread[None]),
        Case("all logits negative (spread - 20)", spread[None] - 20),
        Case("large logits (spread + 1000)", spread[None] + 1000),
        Case("masked entries (-inf)", np.array([[-np.inf, 1.0, 0.5, -np.inf, 0.2, 0.0]])),
        Case("two different rows in one batch", np.array([[2.0, 2.0, 1.0, 0.5, -1.0], spread]), statistics=False),
        Case(f"LLM-like, V = 1,000 (seed {seed})", 0.35 * llm_logits(rng, 1, 1000)),
        Case(f"flat, V = 4,000 (normal, sd 2, seed {seed})", rng.normal(0, 2, (1, 4000))),
    ]
    big = llm_logits(rng, 1, VOCAB)
    out.append(Case(f"LLM-like, V = {VOCAB:,} (seed {seed})", big, statistics=False))
    head = np.sort(np.argpartition(-big[0], 4095)[:4096])  # statistics run on this reduced copy
    out.append(Case(f"its 4,096 largest logits (reduced copy of the V = {VOCAB:,} row)", big[:, head]))
    return out


class Finding(Exception):  # noqa: N818 - carries a Failure out of the tiers
    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


# --- one sampler call, guarded -----------------------------------------------------------------------

class _Worker:
    """One long-lived daemon thread runs every sampler call, so a hung sampler can be abandoned
    (its thread cannot be killed) and never waited for. One thread, not one per call: mlx keeps
    per-thread state, and many short-lived threads made the interpreter abort at exit."""

    def __init__(self):
        self.jobs = queue.Queue()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            fn, box, done = self.jobs.get()
            try:
                box["out"] = fn()
            except BaseException as e:  # noqa: BLE001 - any exception of the sampler is a finding
                box["error"] = e
            done.set()


_worker: _Worker | None = None


def _timed_call(fn: Callable, timeout: float):
    """fn() on the worker thread: (result, None) or (None, the exception); TimeoutError if it
    does not finish within `timeout` seconds (the worker is then replaced)."""
    global _worker
    if _worker is None:
        _worker = _Worker()
    box, done = {}, threading.Event()
    _worker.jobs.put((fn, box, done))
    if not done.wait(timeout):
        _worker = None
        raise TimeoutError
    return box.get("out"), box.get("error")


def _ids(out, rows: int, vocab: int) -> np.ndarray | str:
    """The B token ids (a host array from Sampler.host) as int64, or what is wrong with them."""
    if not isinstance(out, np.ndarray) or out.dtype == object:
        return f"returned {type(out).__name__}, not an array of token ids"
    if out.shape != (rows,):
        return f"returned shape {tuple(out.shape)} for a batch of {rows} rows; expected ({rows},)"
    if out.dtype.kind not in "iu":
        return f"returned dtype {out.dtype}; token ids must be integers"
    if ((out < 0) | (out >= vocab)).any():
        return f"returned token id {int(out[(out < 0) | (out >= vocab)][0])}, outside [0, {vocab})"
    return out.astype(np.int64)


# --- the run ---------------------------------------------------------------------------------------

@dataclass
class Family:
    """A sampler factory for a preset: build(**common parameters) -> sampler. With one, the
    contract tier also checks greedy, top_k = 1 and the no-op parameters."""

    build: Callable
    preset: str
    params: dict  # the common parameters of the sampler under test


class Run:
    """One validation: the sampler, the spec's pipeline, the cases, the keys and the report being
    written. Each tier is a method; a definitive failure raises Finding out of all of them."""

    def __init__(self, sampler, pipeline, input, array, profile, alpha, seed, family, progress, timeout=None):
        if not isinstance(pipeline, Pipeline):
            raise InvalidParameter("pipeline", pipeline, "a spec.Pipeline (see spec.presets)")
        if input not in INPUTS:
            raise InvalidParameter("input", input, f"one of {INPUTS}")
        if profile not in PROFILES:
            raise InvalidParameter("profile", profile, f"one of {tuple(PROFILES)}")
        if not (isinstance(alpha, float | int) and 0 < alpha < 1):
            raise InvalidParameter("alpha", alpha, "a number in (0, 1)")
        self.sampler = as_sampler(sampler, array)
        self.pipeline, self.input, self.profile = pipeline, input, PROFILES[profile]
        if timeout is not None:
            self.profile = replace(self.profile, call_timeout=float(timeout))
        self.alpha, self.seed, self.family, self.progress = float(alpha), int(seed), family, progress
        self.report = Report(self.sampler.name, str(pipeline), input, profile, self.alpha, self.seed)
        self.cases = []
        for case in cases(self.seed):
            try:
                target(self.feed(case.rows), pipeline)
                self.cases.append(case)
            except InvalidParameter as e:  # e.g. top_k >= V where the preset forbids it
                self.report.notes.append(f"case '{case.name}' skipped: the spec rejects it ({e})")
        if not self.cases:
            raise InvalidParameter("pipeline", str(pipeline), "a pipeline valid for at least one test row")
        self.reproducible = False
        self._keys = np.random.default_rng([self.seed, 0x4B45])
        self.stat_cases = [c for c in self.cases if c.statistics and not self._deterministic(c)]
        looks = len(self.profile.looks)
        counted = input == "logits" and not pipeline.greedy  # same-key mismatch counts are tested
        self.alpha_coupling = self.alpha / 10 if counted else 0.0
        self.alpha_stat = (self.alpha - self.alpha_coupling) / max(1, len(self.stat_cases) * looks * len(stats.TESTS))
        self.report.alpha_split = "no statistical decisions: every check is definitive" if not self.stat_cases else (
            f"total {self.alpha:g} for the whole run, split by Bonferroni: "
            + (f"{self.alpha_coupling:g} for the same-key mismatch counts, " if counted else "")
            + f"{self.alpha - self.alpha_coupling:g} for the statistics: "
            f"{len(self.stat_cases)} cases x {looks} looks x {len(stats.TESTS)} tests = {self.alpha_stat:.3g} each "
            "(the binomial scan divides its share again by the number of tokens it scans). "
            "Support, contract and white-box failures are definitive (no false alarms).")

    # -- plumbing --
    def key(self) -> int:
        return int(self._keys.integers(0, 2**31 - 1))

    def feed(self, rows: np.ndarray) -> np.ndarray:
        return log_softmax(rows) if self.input == "logprobs" else rows

    def spec(self, x, case: Case | None = None, pipeline: Pipeline | None = None) -> Target:
        exact = case is not None and case.exact and self.sampler.dtype == "float64"
        return target(x, pipeline or self.pipeline, tol=Tolerance(0.0, 0.0) if exact else None)

    def _deterministic(self, case: Case) -> bool:
        try:
            return bool(np.all(np.atleast_1d(target(self.feed(case.rows), self.pipeline).greedy) >= 0))
        except (InvalidParameter, InvalidLogits):
            return True

    def call(self, x, rows: int, vocab: int, key: int | None, where: str, sampler: Sampler | None = None):
        """One guarded call: the ids, or a Finding for a raise, a hang, garbage or a mutation."""
        sampler = sampler or self.sampler
        before = sampler.as_numpy(x).copy()
        start = time.perf_counter()
        try:
            out, error = _timed_call(lambda: sampler.host(sampler(x, key)), self.profile.call_timeout)
            self.report.sampler_seconds += time.perf_counter() - start
        except TimeoutError:
            self.fail("contract: no hang", "a sampler returns", (),
                      f"no answer within {self.profile.call_timeout:g} s ({where})", {"case": where, "key": key})
        if error is not None:
            self.fail("contract: valid rows are sampled", "a sampler returns a token for every valid row", (),
                      f"raised {type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''} "
                      f"({where})", {"case": where, "key": key})
        ids = _ids(out, rows, vocab)
        if isinstance(ids, str):
            self.fail("contract: output", "B token ids, integers in [0, V)", (), f"{ids} ({where})",
                      {"case": where, "key": key})
        if not np.array_equal(before, sampler.as_numpy(x), equal_nan=True):
            self.fail("contract: input not mutated", "the sampler leaves its input unchanged", (),
                      f"the input array was modified in place ({where})", {"case": where, "key": key})
        return ids

    def quiet_call(self, x, rows: int, vocab: int, key: int):
        """A call for a shrinking oracle: the ids, or None on any problem (no Finding)."""
        try:
            out, error = _timed_call(lambda: self.sampler.host(self.sampler(x, key)), self.profile.call_timeout)
        except TimeoutError:
            return None
        ids = _ids(out, rows, vocab) if error is None else None
        return ids if isinstance(ids, np.ndarray) else None

    def fail(self, check, invariant, theorems, message, case, **extra):
        raise Finding(Failure(check, invariant, tuple(theorems), message, case, **extra))

    def tick(self, text: str):
        if self.progress:
            self.progress(text)

    def draw(self, case: Case, n: int, sampler: Sampler | None = None, pipeline: Pipeline | None = None,
             check: bool = True):
        """n draws per row of the case, in tiled batches with fresh keys: the counts, (B, V). With
        `check`, every draw is checked against the support on the way."""
        sampler = sampler or self.sampler
        fed = self.feed(case.rows)
        b, v = fed.shape
        t = self.spec(sampler.to_array(fed), case, pipeline)
        allowed = np.atleast_2d(t.allowed)
        tile = max(1, min(n, CALL_ELEMENTS // (v * b)))
        counts = np.zeros((b, v), dtype=np.int64)
        done = 0
        while done < n:
            reps = min(tile, n - done)
            key = self.key()
            x = sampler.to_array(np.tile(fed, (reps, 1)))
            ids = self.call(x, reps * b, v, key, case.name, sampler).reshape(reps, b)
            self.report.draws += ids.size
            for r in range(b):
                np.add.at(counts[r], ids[:, r], 1)
                bad = ~allowed[r, ids[:, r]]
                if check and bad.any():
                    self.support_failure(case, r, int(ids[bad.argmax(), r]), t, key, reps, sampler)
            done += reps
        return counts

    # -- tiers --
    def contract(self):
        self.tick("contract")
        probe = next((c for c in self.cases if c.rows.shape[0] > 1), self.cases[0])
        fed = self.feed(probe.rows)
        key = self.key()
        first = self.call(self.sampler.to_array(fed), *fed.shape, key, probe.name)
        if self.sampler.key is not None:
            big = self.feed(max((c for c in self.cases if c.rows.shape[1] <= 8192), key=lambda c: c.rows.shape[1]).rows)
            tiled = np.tile(big, (64, 1))
            a = self.call(self.sampler.to_array(tiled), 64, big.shape[1], key, "reproducibility")
            b = self.call(self.sampler.to_array(tiled), 64, big.shape[1], key, "reproducibility")
            again = self.call(self.sampler.to_array(fed), *fed.shape, key, probe.name)
            self.reproducible = np.array_equal(a, b) and np.array_equal(first, again)
        how = {"key": "its `key` argument", "seed": "its `seed` argument", "rng": "a numpy Generator",
               "generator": "a seeded generator", "global": f"seeding {self.sampler.array}'s global random state"}
        if self.reproducible:
            self.report.checks.append(f"contract: reproducible with {how[self.sampler.key]} (fixed keys for the "
                                      "same-key checks and for shrinking)")
        else:
            self.report.notes.append("the sampler is not reproducible with a key: same-key coupling checks were "
                                     "skipped, and failures are shown unshrunk where shrinking needs a fixed key")
        self.report.checks.append("contract: output shape, dtype and range; input not mutated; no raise or hang")
        self._bad_input()
        if self.family:
            self._variants()

    def _bad_input(self):
        """A NaN row has no target. Raising is right; returning a token is noted (mlx-lm, for one,
        returns the NaN's index), not failed: the spec cannot say which token is wrong."""
        row = np.array([[0.5, np.nan, 1.0, 0.0]])
        x = self.sampler.to_array(row)
        try:
            out, error = _timed_call(lambda: self.sampler.host(self.sampler(x, self.key())), self.profile.call_timeout)
        except TimeoutError:
            self.fail("contract: no hang", "a sampler returns or raises", (), "hung on a row with a NaN",
                      {"case": "NaN row", "row": row[0]})
        if error is None:
            self.report.notes.append(f"given a row with a NaN ({row[0].tolist()}) the sampler returned "
                                     f"{np.ravel(out).tolist()} instead of "
                                     "raising an error")
        else:
            self.report.checks.append(f"contract: a NaN row is rejected ({type(error).__name__})")

    def _variants(self):
        """Greedy, top_k = 1 and the no-op parameters, built by the factory: deterministic targets
        must give the greedy token; a no-op must give the same tokens as without it (same keys)."""
        fam = self.family
        base = {k: v for k, v in fam.params.items() if v is not None}
        probes = [c for c in self.cases if c.rows.shape[0] == 1 and c.rows.shape[1] <= 8]
        tried = []
        for label, change in [("temperature = 0", {"temperature": 0.0}), ("top_k = 1", {"top_k": 1}),
                              ("top_p = 1", {"top_p": 1.0}), ("min_p = 0", {"min_p": 0.0}),
                              ("top_k = V", {"top_k": "V"})]:
            params = {**base, **change}
            try:
                variant_pipes = {c.name: common(fam.preset, **{k: (c.rows.shape[1] if v == "V" else v)
                                                               for k, v in params.items()}) for c in probes}
                for c in probes:
                    target(self.feed(c.rows), variant_pipes[c.name])
            except (InvalidParameter, InvalidLogits):
                continue  # the preset itself rejects this value: nothing to check
            noop = label not in ("temperature = 0", "top_k = 1")
            if noop and change.keys() & base.keys():
                continue  # the parameter is in use: setting it to the no-op value is a different sampler
            for c in probes:
                params_c = {k: (c.rows.shape[1] if v == "V" else v) for k, v in params.items()}
                try:
                    variant = as_sampler(fam.build(**params_c), self.sampler.array)
                except Exception as e:  # noqa: BLE001
                    self.fail("contract: factory", f"{label} is a valid parameter of {fam.preset}", (),
                              f"the factory raised {type(e).__name__} for {params_c}: {e}", {"case": c.name})
                variant.dtype, variant.batched = self.sampler.dtype, self.sampler.batched
                pipe = variant_pipes[c.name]
                x = variant.to_array(self.feed(c.rows))
                t, base_t = target(x, pipe), target(x, self.pipeline)
                same = np.array_equal(t.support, base_t.support) and np.allclose(t.probs, base_t.probs)
                if t.greedy >= 0 or not (noop and same):
                    self.draw(Case(f"{c.name}, {label}", c.rows), 64, variant, pipe)
                elif self.reproducible:
                    self._same_tokens(c, variant, label)
            tried.append(label)
        if tried:
            self.report.checks.append(f"contract (factory): {', '.join(tried)} on {len(probes)} probes")

    def _same_tokens(self, case: Case, variant: Sampler, label: str):
        fed = np.tile(self.feed(case.rows), (256, 1))
        key = self.key()
        a = self.call(self.sampler.to_array(fed), 256, fed.shape[1], key, case.name)
        b = self.call(variant.to_array(fed), 256, fed.shape[1], key, case.name, variant)
        t = self.spec(self.sampler.to_array(fed[:1]), case)
        differ = (a != b) & ~t.boundary[0, a] & ~t.boundary[0, b]
        if differ.any():
            self.fail("contract: no-op parameters", f"{label} changes nothing", (),
                      f"with the same key, {int(differ.sum())} of 256 draws differ once {label} is set",
                      {"case": case.name, "key": key, "row": case.rows[0]})

    def white_box(self):
        if self.sampler.filter is None or self.pipeline.greedy:
            why = "greedy has no keep-set" if self.sampler.filter else "the sampler exposes no filtered logits"
            self.report.checks.append(f"white-box: skipped ({why})")
            return
        self.tick("white-box")
        for case in self.cases:
            bad = self._keep_mismatch(case.rows, case)
            if bad is not None:
                self._white_box_failure(case.rows[bad[0]:bad[0] + 1], case.name, case)
        examples = self._hypothesis_search()
        self.report.checks.append(f"white-box: keep-set = spec support (outside boundary tokens) on {len(self.cases)} "
                                  f"cases and {examples} Hypothesis rows")

    def _kept(self, rows: np.ndarray, case: Case | None = None):
        """(the filter's keep-set, the spec's target) for rows, or None where the spec has no target."""
        x = self.sampler.to_array(self.feed(rows))
        try:
            t = self.spec(x, case)
        except (InvalidParameter, InvalidLogits):
            return None
        try:
            out, error = _timed_call(lambda: self.sampler.as_numpy(self.sampler.filter(x)), self.profile.call_timeout)
        except TimeoutError:
            self.fail("contract: no hang", "the filter returns", (),
                      f"the filter gave no answer within {self.profile.call_timeout:g} s", {"row": rows[0]})
        if error is not None:
            self.fail("white-box: filter", "the filter returns logits for every valid row", (),
                      f"filter raised {type(error).__name__}: {error}", {"row": rows[0]})
        return np.isfinite(out).reshape(rows.shape), t

    def _keep_mismatch(self, rows: np.ndarray, case: Case | None = None):
        """(row, token) where the filter's keep-set disagrees with the spec, or None."""
        got = self._kept(rows, case)
        if got is None:
            return None
        kept, t = got
        bad = (kept != np.atleast_2d(t.support)) & ~np.atleast_2d(t.boundary)
        return tuple(int(i) for i in np.argwhere(bad)[0]) if bad.any() else None

    def _hypothesis_search(self) -> int:
        from hypothesis import HealthCheck, Phase, find, settings
        from hypothesis.errors import NoSuchExample

        from spec.strategies import logit_rows

        seen = [0]

        def disagrees(row):
            seen[0] += 1
            return self._keep_mismatch(row[None]) is not None

        try:
            row = find(logit_rows(max_size=32, llm_max_size=2048), disagrees,
                       settings=settings(max_examples=self.profile.hypothesis_examples, derandomize=True,
                                         database=None, deadline=None, phases=[Phase.generate, Phase.shrink],
                                         suppress_health_check=list(HealthCheck)))
        except NoSuchExample:
            return seen[0]
        self._white_box_failure(row[None], "a row Hypothesis generated (shrunk by Hypothesis)", None, shrunk=True)
        return seen[0]

    def _white_box_failure(self, rows, where, case, shrunk=False):
        if not shrunk:
            rows = shrink(rows, lambda r: self._keep_mismatch(r) is not None)
        kept, t = self._kept(rows)
        kept, support = kept[0], np.atleast_2d(t.support)[0]
        _, token = self._keep_mismatch(rows)
        what = "keeps" if kept[token] else "drops"
        self.fail("white-box: keep-set", "keep-set = spec support (spec.target)", (),
                  f"the filter {what} token {token}, which the spec {'drops' if kept[token] else 'keeps'}",
                  {"case": where, "pipeline": str(self.pipeline), "row": rows[0]},
                  counterexample={"how": "white-box oracle, "
                                         + ("Hypothesis shrinking" if shrunk else "delta debugging"),
                                  "row": row_text(rows[0], 40), "values": rows.tolist(),
                                  "spec": f"keeps {np.flatnonzero(support).tolist()[:40]}",
                                  "sampler": f"keeps {np.flatnonzero(kept).tolist()[:40]}"})

    def structure(self):
        p = self.profile
        for case in self.cases:
            self.tick(f"structure: {case.name}")
            self.draw(case, p.full_vocab_draws if case.rows.shape[1] > 8192 else p.structure_draws)
        self.report.checks.append(f"structure: every draw in the spec's support, {len(self.cases)} cases "
                                  f"({p.structure_draws:,} draws each, {p.full_vocab_draws} at V = {VOCAB:,}); "
                                  "each row of a two-row batch in its own support (batch-rows)")
        if self.reproducible:
            self.coupling()

    def support_failure(self, case, row, token, t: Target, key, reps, sampler):
        probs = np.atleast_2d(t.probs)[row]
        greedy = int(np.atleast_1d(t.greedy)[row])
        if self.pipeline.greedy:
            check, inv, msg = ("contract: greedy", "greedy = first-index argmax of the (filtered) row",
                               f"returned token {token}; the deterministic answer is token {greedy}")
        else:
            check, inv, msg = ("structure: support", "every sampled token is in the spec's support",
                               f"returned token {token}, which the spec gives probability 0")
        if case.rows.shape[0] > 1:
            inv += " (batch-rows: each row of a batch is sampled as if it were alone)"
        info = {"case": case.name, "pipeline": str(self.pipeline), "input": self.input, "key": key,
                "batch": f"{reps} copies of the case", "row": case.rows[row]}
        ce = None
        if self.reproducible and sampler is self.sampler:
            keys = [key] + [self.key() for _ in range(7)]

            def outside(r):
                return self._outside(r, keys, reps, case) is not None
            # A batch case shrinks as a batch (its rows together); an exact-sum case is not shrunk:
            # smaller rows would lose the exact sums it is about.
            start = case.rows if case.rows.shape[0] > 1 else case.rows[row:row + 1]
            small = start if case.exact else shrink(start, outside)
            got = self._outside(small, keys, reps, case)
            if got is not None:
                b, token_out = got
                ts = self.spec(self.sampler.to_array(self.feed(small)), case)
                how = "the case itself (exact sums)" if case.exact else "delta debugging"
                ce = {"how": f"fixed-key oracle (keys {keys[:2]}...), {how}",
                      "row": "; ".join(row_text(r, 40) for r in small), "values": small.tolist(),
                      "spec": f"support {np.flatnonzero(ts.allowed[b]).tolist()[:40]}"
                              + (f" for row {b}" if len(small) > 1 else "")
                              + f", probabilities {np.round(ts.probs[b], 4).tolist()[:40]}",
                      "sampler": f"returned token {token_out}" + (f" for row {b}" if len(small) > 1 else "")}
        self.fail(check, inv, (), msg, info,
                  observed=[{"token": token, "rank": _rank(probs, token), "spec_p": float(probs[token]),
                             "observed": "drawn", "expected": 0.0}],
                  counterexample=ce)

    def _outside(self, rows, keys, reps, case):
        """(row, token) for a token some fixed key draws outside the spec's support of `rows`
        (tiled `reps` times as in the failing call, so the failing key reproduces), or None."""
        fed = self.feed(rows)
        try:
            t = self.spec(self.sampler.to_array(fed), case)
        except (InvalidParameter, InvalidLogits):
            return None
        b, v = fed.shape
        x = self.sampler.to_array(np.tile(fed, (reps, 1)))
        for key in keys:
            ids = self.quiet_call(x, reps * b, v, key)
            if ids is None:
                continue
            ids = ids.reshape(reps, b)
            bad = ~t.allowed[np.arange(b)[None, :], ids]
            if bad.any():
                r, row = np.argwhere(bad)[0]
                return int(row), int(ids[r, row])
        return None

    def coupling(self):
        """Same key, related inputs: the shift and logits-vs-logprobs invariants, draw by draw.
        Only for samplers fed logits: a shifted row of log-probabilities is no longer
        log-probabilities, and a sampler documented to take them may rely on the normalisation."""
        if self.input == "logprobs":
            self.report.checks.append("structure: same-key coupling skipped (the sampler takes log-probabilities, "
                                      "so shifted rows are outside its contract)")
            return
        relations = [("shift", lambda values: values - 37.0), ("logits-vs-logprobs", self._float_logprobs)]
        single = [c for c in self.cases if c.rows.shape[0] == 1 and c.rows.shape[1] <= 8192 and not c.exact]
        self.coupling_tests = len(relations) * len(single)
        for name, relate in relations:
            for case in single:
                self.tick(f"coupling ({name}): {case.name}")
                self._couple(case, name, relate)
        self.report.checks.append(f"structure: same-key coupling under {', '.join(r[0] for r in relations)} on "
                                  f"{len(single)} cases ({self.profile.coupling_draws} key pairs each)")

    def _float_logprobs(self, values: np.ndarray) -> np.ndarray:
        """fl(z - c) with c = fl(logsumexp(z)), both in the sampler's precision: the exact setting
        of the floating-point theorems (z and c are floats of that format, one rounding each)."""
        c = self.sampler.as_numpy(self.sampler.to_array(logsumexp(values)))
        return values - c  # exact in float64; to_array rounds it once

    def _couple(self, case: Case, relation: str, relate):
        """Same keys for a case and its related row, both exactly as the sampler receives them:
        the related row is computed from the rounded values and rounded once (fl(x - c))."""
        inv = BY_ID[relation]
        xa = self.sampler.to_array(self.feed(case.rows))
        fed_a = self.sampler.as_numpy(xa)
        fed_b = relate(fed_a)
        xb = self.sampler.to_array(fed_b)
        ta = self.spec(xa, case)
        if ta.boundary.any() or self.spec(xb, case).boundary.any():
            return  # a boundary token may flip, and with it the whole renormalised distribution
        n = self.profile.coupling_draws
        reps = max(1, min(n, CALL_ELEMENTS // fed_a.shape[1]))
        a, b, keys = [], [], []
        while len(a) * reps < n:
            key = self.key()
            keys.append(key)
            a.append(self.call(self.sampler.to_array(np.tile(fed_a, (reps, 1))), reps, fed_a.shape[1], key, case.name))
            b.append(self.call(self.sampler.to_array(np.tile(fed_b, (reps, 1))), reps, fed_a.shape[1], key,
                               f"{case.name}, {relation}"))
        a, b = np.concatenate(a), np.concatenate(b)
        self.report.draws += 2 * a.size
        va, vb = self.sampler.as_numpy(xa)[0], self.sampler.as_numpy(xb)[0]
        if self.pipeline.greedy:
            self._couple_greedy(case, relation, inv, a, b, va, vb, keys)
            return
        rate, delta = mismatch_rate(ta, va, vb, self.sampler.dtype, self.pipeline)
        differ = int((a != b).sum())
        alpha_t = self.alpha_coupling / max(1, self.coupling_tests)
        limit = stats.binomial_upper(a.size, rate, alpha_t)
        if differ > limit:
            ce = self._shrink_coupling(case, relate, keys, reps)
            self.fail(f"structure: same-key {relation}", f"{inv.id}: {inv.statement}",
                      inv.theorems + BY_ID["same-key-coupling"].theorems + inv.float_theorems,
                      f"with the same keys, {differ} of {a.size} draws differ; rounding explains at most {limit} "
                      f"(per-draw mismatch bound {rate:.3g} from a score error <= {delta:.3g})",
                      {"case": case.name, "pipeline": str(self.pipeline), "input": self.input, "keys": keys[:4],
                       "row": case.rows[0]},
                      statistics={"test": "binomial upper bound", "mismatches": differ, "draws": int(a.size),
                                  "alpha used": alpha_t},
                      observed=_pairs(a, b, ta), counterexample=ce)

    def _shrink_coupling(self, case: Case, relate, keys: list, reps: int):
        """Delta-debug a same-key failure with the failing keys fixed: the oracle holds while more
        draws differ than rounding could explain at a 1e-9 error rate."""
        def mismatches(rows):
            xa = self.sampler.to_array(self.feed(rows))
            fed_a = self.sampler.as_numpy(xa)
            fed_b = relate(fed_a)
            try:
                t = self.spec(xa)
                if t.boundary.any() or self.spec(self.sampler.to_array(fed_b)).boundary.any():
                    return None
            except (InvalidParameter, InvalidLogits):
                return None
            tile_a, tile_b = (self.sampler.to_array(np.tile(f, (reps, 1))) for f in (fed_a, fed_b))
            vocab = fed_a.shape[1]
            pairs = [(self.quiet_call(tile_a, reps, vocab, k), self.quiet_call(tile_b, reps, vocab, k)) for k in keys]
            if any(a is None or b is None for a, b in pairs):
                return None
            rate, _ = mismatch_rate(t, fed_a[0], self.sampler.as_numpy(self.sampler.to_array(fed_b))[0],
                                    self.sampler.dtype, self.pipeline)
            differ = sum(int((a != b).sum()) for a, b in pairs)
            return differ, stats.binomial_upper(reps * len(keys), rate, 1e-9), pairs[0]

        def fails(rows):
            got = mismatches(rows)
            return got is not None and got[0] > got[1]

        if not fails(case.rows):
            return None
        small = shrink(case.rows, fails)
        differ, limit, (a, b) = mismatches(small)
        first = int(np.flatnonzero(a != b)[0])
        return {"how": f"fixed keys ({len(keys)} keys x {reps} draws; more mismatches than rounding explains at "
                       "error rate 1e-9), delta debugging", "row": row_text(small[0], 40), "values": small.tolist(),
                "spec": f"the same token for both inputs (rounding explains <= {limit} of {reps * len(keys)} "
                        "mismatches)",
                "sampler": f"{differ} draws differ, e.g. token {int(a[first])} -> {int(b[first])}"}

    def _couple_greedy(self, case, relation, inv, a, b, va, vb, keys):
        """Greedy: theorem-exact. fp-argmax-shift-weak: after rounding, the first maximum can only
        move to an earlier index tied with it; fp-greedy-exact-guard: it does not move at all when
        max(z) > log(n) + slack (logits vs log-probabilities)."""
        i, j = int(a[0]), int(b[0])
        if i == j:
            return
        guard = relation == "logits-vs-logprobs" and greedy_logprobs_exact(va, self.sampler.dtype)
        weak_ok = j < i and vb[j] == vb[i] and not guard
        if not weak_ok:
            self.fail(f"structure: greedy {relation}", f"{inv.id}: {inv.statement}", inv.theorems + inv.float_theorems,
                      f"greedy returned token {i} for the row and token {j} after the {relation}; "
                      + ("the guard max(z) > log(n) + slack holds, so they must be equal" if guard else
                         "rounding may only move the first maximum to an earlier, tied index"),
                      {"case": case.name, "pipeline": str(self.pipeline), "keys": keys[:2], "row": case.rows[0]})

    def statistics(self):
        """Goodness of fit on every case with a random target, smallest first. Boundary tokens
        (whose membership rounding may flip) are left out: given that a draw lands on one of the
        other kept tokens, a correct sampler follows the target restricted to them and
        renormalised, whichever way the boundary went (the ratios exp(s_i - s_j) do not move)."""
        if not self.stat_cases:
            self.report.checks.append("statistics: none needed (every case has a deterministic target)")
            return
        tested = []  # (case, draws on tokens outside the boundary, tokens tested)
        for case in sorted(self.stat_cases, key=lambda c: c.rows.shape[1]):
            t = self.spec(self.sampler.to_array(self.feed(case.rows)), case)
            definite = t.support[0] & ~t.boundary[0]
            if definite.sum() < 2:
                self.report.notes.append(f"statistics skipped on '{case.name}': fewer than two kept tokens outside "
                                         "the boundary")
                continue
            probs = np.where(definite, t.probs[0], 0.0)
            probs /= probs.sum()
            counts = np.zeros(case.rows.shape[1], dtype=np.int64)
            done = 0
            for look in self.profile.looks:
                self.tick(f"statistics: {case.name} ({look:,} draws)")
                counts += self.draw(case, look - done)[0]
                done = look
                kept = np.where(definite, counts, 0)
                for test in stats.TESTS:
                    result = test(kept, probs)
                    if result.pvalue < self.alpha_stat:
                        self._stat_failure(case, result, kept, probs)
            tested.append((case, int(kept.sum()), int(definite.sum())))
            if t.boundary.any():
                self.report.notes.append(f"statistics on '{case.name}' leave out its {int(t.boundary.sum())} boundary "
                                         f"tokens ({done - int(kept.sum()):,} of {done:,} draws)")
        if not tested:
            self.report.checks.append("statistics: no case has two kept tokens outside the boundary")
            self.report.power = [f"a token outside the spec's support: each is a definitive failure "
                                 f"({self.report.draws:,} draws were checked); no statistics could run"]
            return
        looked = ", ".join(f"{n:,}" for n in self.profile.looks)
        self.report.checks.append(f"statistics: {len(tested)} cases, looks at {looked} draws, tests: "
                                  f"{', '.join(t.__name__ for t in stats.TESTS)}")
        self._power(tested)

    def _stat_failure(self, case, result: stats.Test, counts, probs):
        n = int(counts.sum())
        expected = n * probs
        z = (counts - expected) / np.sqrt(np.maximum(expected, 1))
        worst = [i for i in np.argsort(-np.abs(z), kind="stable") if probs[i] > 0 or counts[i] > 0][:6]
        missing = [int(i) for i in worst if counts[i] == 0 and probs[i] > 0]
        ce = self._shrink_missing(case, missing[0]) if missing and self.reproducible else None
        self.fail(f"statistics: {result.name}", "draws follow the spec's target distribution (spec.target)",
                  (),
                  f"{result.detail}; p = {result.pvalue:.3g} < {self.alpha_stat:.3g}"
                  + (f"; token {missing[0]} (spec p = {probs[missing[0]]:.4g}) was never drawn" if missing else ""),
                  {"case": case.name, "pipeline": str(self.pipeline), "input": self.input,
                   "generator": f"spec.validator.cases(seed={self.seed})", "row": case.rows[0]},
                  statistics={"test": result.name, "p-value": result.pvalue, "alpha used": self.alpha_stat,
                              "draws": n, "statistic": result.statistic},
                  observed=[{"token": int(i), "rank": _rank(probs, int(i)), "spec_p": float(probs[i]),
                             "observed": int(counts[i]), "expected": float(expected[i])} for i in worst],
                  counterexample=ce)

    def _shrink_missing(self, case, token: int):
        """Delta-debug the row down while the sampler never returns `token` in m fixed-key draws
        although the spec gives it probability p in the smaller row (m such that a correct sampler
        does this with probability < 1e-9): a fixed-key, not a statistical, oracle."""
        keys = [self.key() for _ in range(4)]

        def never(rows, ids):
            if token not in ids:
                return False
            pos = ids.index(token)
            fed = self.feed(rows)
            try:
                t = self.spec(self.sampler.to_array(fed))
            except (InvalidParameter, InvalidLogits):
                return False
            p = float(np.atleast_2d(t.probs)[0, pos])
            if p <= 0 or np.atleast_2d(t.boundary).any():
                return False
            m = min(50_000, math.ceil(math.log(1e-9) / math.log1p(-p)) if p < 1 else 1)
            reps = max(1, min(m, CALL_ELEMENTS // fed.shape[1]))
            x = self.sampler.to_array(np.tile(fed, (reps, 1)))
            for k in range(math.ceil(m / reps)):
                drawn = self.quiet_call(x, reps, fed.shape[1], keys[k % 4] + k)
                if drawn is None or (drawn == pos).any():
                    return False
            return True

        ids = list(range(case.rows.shape[1]))
        small, kept = shrink(case.rows, lambda r, i: never(r, i), ids=ids, with_ids=True)
        if not never(small, kept):
            return None
        t = self.spec(self.sampler.to_array(self.feed(small)))
        pos = kept.index(token)
        return {"how": "fixed-key oracle (never drawn in m draws where a correct sampler misses with "
                       "probability < 1e-9), delta debugging", "row": row_text(small[0], 40), "values": small.tolist(),
                "spec": f"probabilities {np.round(np.atleast_2d(t.probs)[0], 4).tolist()[:40]}",
                "sampler": f"never returns token {pos} (token {token} of the case)"}

    def _power(self, tested):
        """What the statistics would have caught, at the fewest draws any tested case got."""
        n = min(draws for _, draws, _ in tested)
        cells = max(tokens for _, _, tokens in tested)
        alpha_t = self.alpha_stat
        self.report.power = [
            f"a token outside the spec's support: each is a definitive failure; {self.report.draws:,} draws were "
            f"checked, and out-of-support mass >= {stats.out_of_support_mass(n):.2g} on any statistics row is "
            "seen with probability >= 0.99",
            f"a missing token with spec probability >= {stats.missing_token(n, alpha_t, cells):.2g} "
            f"(binomial scan, {n:,} draws per row, up to {cells:,} tokens)",
            f"a temperature-like deviation with total variation >= {stats.ks_detectable(n, alpha_t):.3f}, "
            "with probability >= 0.99 (rank KS)",
        ]
        if self.reproducible and not self.pipeline.greedy and self.input == "logits":
            self.report.power.append("a shift or log-probability dependence that changes more same-key draws "
                                     "than rounding allows (see the coupling check)")
        if self.sampler.filter is not None:
            self.report.power.append("any keep-set difference on the white-box rows (definitive)")

    def fingerprint(self):
        self.tick("fingerprint")
        self.report.fingerprint = fingerprint(self)


def _rank(probs: np.ndarray, token: int) -> int:
    return int((probs > probs[token]).sum() + (probs[:token] == probs[token]).sum() + 1)


def _pairs(a, b, t: Target):
    """The most frequent same-key mismatches: token for the row -> token for the related row,
    with how often it happened (a correct sampler: about never)."""
    probs = np.atleast_2d(t.probs)[0]
    pairs, counts = np.unique(np.stack([a[a != b], b[a != b]]), axis=1, return_counts=True)
    top = np.argsort(-counts, kind="stable")[:6]
    return [{"token": int(pairs[0, i]), "rank": _rank(probs, int(pairs[0, i])), "spec_p": float(probs[pairs[0, i]]),
             "observed": f"-> {int(pairs[1, i])} x{int(counts[i])}", "expected": 0.0} for i in top]


def mismatch_rate(t: Target, va: np.ndarray, vb: np.ndarray, dtype: str, pipeline: Pipeline) -> tuple[float, float]:
    """An upper bound on the chance that one same-key draw differs between two inputs that are
    the same row up to a shift and rounding (va, vb: the arrays the sampler received).

    Rounding keeps the order of values (fp-sub-monotone) and moves each by at most a few units
    in the last place, so the scores a sampler races or accumulates differ by at most
    delta = |rounding of vb against va's shift| + 8 u (max |score| + 17), where 17 bounds the
    Gumbel noise and the 8 covers a sampler's own operations in precision u. A Gumbel-max race
    changes winner only if its top two scores are within 2 delta, which happens with probability
    at most e^(2 delta) - 1 (the winner's gap to the rest is larger than an Exp(1) variable would
    allow); an inverse CDF moves a boundary F_k by at most (e^(2 delta) - 1) min(F_k, 1 - F_k).
    The bound takes the larger of the two. Returns (rate, delta)."""
    finite = np.isfinite(va) & np.isfinite(vb)
    shift = np.median(va[finite] - vb[finite]) if finite.any() else 0.0
    input_error = float(np.abs((va[finite] - vb[finite]) - shift).max()) if finite.any() else 0.0
    t_min = min([s.t for s in pipeline.steps if isinstance(s, Temperature) and s.t > 0] + [1.0])
    scale = float(np.abs(np.r_[va[finite], vb[finite]]).max()) / t_min if finite.any() else 0.0
    delta = (input_error / t_min) + 8 * EPS[dtype] * (scale + 17)
    probs = np.atleast_2d(t.probs)[0]
    cdf = np.cumsum(np.sort(probs)[::-1])
    spread = max(1.0, float(np.minimum(cdf, 1 - cdf).sum()))
    return min(1.0, math.expm1(2 * delta) * spread), delta


# --- fingerprint -------------------------------------------------------------------------------------

def _order(pipeline: Pipeline) -> str:
    names = {Temperature: "temperature", TopK: "top-k", TopP: "top-p", MinP: "min-p"}
    return " -> ".join(names[type(s)] for s in pipeline.steps) or "plain softmax"


def fingerprint(run: Run, draws: int = 2_000, floor: float = 0.02) -> dict:
    """Which presets, given the same parameters, the sampler's draws are consistent with.

    Rows are picked (seeded) where the presets' targets differ; on each, a preset is ruled out if
    a draw falls outside its support, or if a token it gives probability >= 2% never shows up in
    `draws` draws (a correct sampler does that with probability < 0.98^2000 = 3e-18)."""
    params = common_params(run.pipeline)
    pipes = {}
    for name in PRESETS:
        try:
            pipes[name] = common(name, explicit=True, **params)
        except InvalidParameter:
            continue
    rng = np.random.default_rng([run.seed, 0xF1])
    candidates = [c.rows for c in run.cases if c.rows.shape[0] == 1 and c.rows.shape[1] <= 8]
    candidates += [rng.normal(0, s, (1, int(rng.integers(4, 12)))) for s in (0.5, 1.0, 2.0) for _ in range(12)]
    chosen, classes = [], {frozenset(pipes)}
    for rows in candidates:
        fed = run.feed(rows)
        x = run.sampler.to_array(fed)
        try:
            targets = {n: target(x, p) for n, p in pipes.items()}
        except (InvalidParameter, InvalidLogits):
            continue
        if any(t.boundary.any() for t in targets.values()):
            continue
        sig = {n: (tuple(t.support.ravel()), tuple(np.round(t.probs, 3).ravel())) for n, t in targets.items()}
        split = {frozenset(n for n in group if sig[n] == s) for group in classes for s in {sig[m] for m in group}}
        if len(split) > len(classes):
            chosen.append((rows, targets))
            classes = split
        if len(chosen) == 6:
            break
    consistent = set(pipes)
    for rows, targets in chosen:
        case = Case("fingerprint row", rows)
        try:
            counts = run.draw(case, draws, check=False)
        except InvalidParameter:  # the spec under test rejects this row (top_k >= V, say)
            continue
        except Finding:
            consistent = set()
            break
        seen = counts[0] > 0
        for name, t in targets.items():
            outside = (seen & ~t.allowed).any()
            unseen = (t.support & (t.probs >= floor) & ~seen).any()
            if outside or unseen:
                consistent.discard(name)
    groups = [sorted(g) for g in classes]
    if not consistent:
        summary = "consistent with none of the presets " + ", ".join(sorted(pipes))
    elif len(chosen) == 0:
        summary = (f"the parameters {', '.join(f'{k}={v}' for k, v in params.items() if v is not None)} do not tell "
                   f"the presets apart ({', '.join(sorted(pipes))} all agree)")
    else:
        orders = sorted({_order(pipes[n]) for n in consistent})
        summary = (f"consistent with {', '.join(sorted(consistent))} (order: {'; '.join(orders)}); ruled out: "
                   f"{', '.join(sorted(set(pipes) - consistent)) or 'none'}")
    return {"consistent": sorted(consistent), "presets": sorted(pipes), "indistinguishable_groups": groups,
            "rows": [r[0].round(4).tolist() for r, _ in chosen], "draws_per_row": draws, "summary": summary}


# --- the entry point ---------------------------------------------------------------------------------

def validate(sampler, pipeline: Pipeline, *, input: str = "logits", array: str = "auto", profile: str = "default",
             alpha: float = 1e-6, seed: int = 0, family: Family | None = None,
             progress: Callable[[str], None] | None = None, timeout: float | None = None) -> Report:
    """Check `sampler` against the spec's `pipeline`; see the module docstring for the tiers.

    sampler: a callable (B, V) array -> B token ids, or a `spec.adapters.Sampler`. input: what the
    sampler is fed, "logits" or "logprobs" (z - logsumexp(z)). array: "mlx", "numpy", "torch"
    or "auto" (from the sampler's module). alpha: the false-alarm rate of the whole run.
    family: a factory, to check greedy, top_k = 1 and no-op parameters too. timeout: seconds one
    sampler call may take (default: the profile's).
    """
    run = Run(sampler, pipeline, input, array, profile, alpha, seed, family, progress, timeout)
    start = time.perf_counter()
    hung = False
    try:
        run.contract()
        run.white_box()
        run.structure()
        run.statistics()
    except Finding as found:
        run.report.failures.append(found.failure)
        hung = found.failure.check == "contract: no hang"
    if not hung:
        try:
            run.fingerprint()
        except Finding:
            pass
    run.report.seconds = time.perf_counter() - start
    return run.report

"""What one validation run knows: its configuration, its random keys, its alpha budget and the
report being written. Tiers read it and add to the report; what one tier learns that another
needs is passed on explicitly (`Capabilities`), never left as an attribute to be found later."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.presets import drift
from spec.target import Target, Tolerance, log_softmax, target
from spec.transforms import Pipeline
from spec.validator import stats
from spec.validator.cases import Case, cases, reads_history
from spec.validator.report import Check, Failure, Report
from spec.validator.sampler import Sampler, as_sampler

INPUTS = ("logits", "logprobs")


@dataclass(frozen=True)
class Profile:
    name: str
    structure_draws: int  # per small case, every draw checked against the support
    full_vocab_draws: int  # on the V = 151,936 row
    looks: tuple[int, ...]  # cumulative draws per statistics case at which the tests look
    random_looks: tuple[int, ...]  # the same with random steps (XTC): one case copy per call, so fewer
    coupling_draws: int  # same-key pairs per case and relation
    hypothesis_examples: int  # white-box rows generated
    call_timeout: float  # seconds one sampler call may take
    shrink_seconds: float  # the time all shrinking in a run may take


PROFILES = {
    "quick": Profile("quick", 500, 16, (2_000, 8_000), (400, 1_600), 256, 50, 60.0, 30.0),
    "default": Profile("default", 2_000, 64, (2_500, 10_000, 40_000), (500, 2_000, 8_000), 1_024, 200, 120.0, 60.0),
    "thorough": Profile("thorough", 8_000, 256, (5_000, 20_000, 80_000, 320_000), (1_000, 4_000, 16_000, 64_000),
                        4_096, 1_000, 300.0, 300.0),
}


@dataclass
class Family:
    """A sampler factory for a preset: build(**common parameters) -> sampler. With one, the
    contract tier also checks greedy, top_k = 1 and the no-op parameters."""

    build: Callable
    preset: str
    params: dict  # the common parameters of the sampler under test
    engine: dict = field(default_factory=dict)  # engine-only parameters (xtc_threshold, context sizes, ...)

    def pipeline(self, **common) -> Pipeline:
        """The preset's pipeline for these common parameters and the family's engine-only ones."""
        from spec.presets import PRESETS, canonical, engine_params
        return PRESETS[canonical(self.preset)](**engine_params(self.preset, **common), **self.engine)


@dataclass(frozen=True)
class Capabilities:
    """What the tiers found out about the sampler, for the tiers after them: the contract tier
    whether it is reproducible; the structure tier the draws it checked, which the statistics
    tier counts too (fresh keys, one distribution: drawn once, used twice)."""

    reproducible: bool  # the same key gives the same tokens (same-key checks, shrinking)
    drawn: dict = field(default_factory=dict)  # case name -> (B, V) counts of independent draws


class Finding(Exception):  # noqa: N818 - carries a Failure out of the tiers
    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


def fail(check: Check | str, invariant: str, theorems, message: str, case: dict, **extra):
    name = check.value if isinstance(check, Check) else check
    raise Finding(Failure(name, invariant, tuple(theorems), message, case, **extra))


def _timeout(value) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise InvalidParameter("timeout", value, "a finite number of seconds > 0 (or None for the profile's)")
    return float(value)


@dataclass
class Context:
    sampler: Sampler
    pipeline: Pipeline
    input: str
    profile: Profile
    alpha: float
    seed: int
    family: Family | None
    progress: Callable[[str], None] | None
    report: Report
    cases: list[Case] = field(default_factory=list)
    stat_cases: list[Case] = field(default_factory=list)
    alpha_coupling: float = 0.0
    alpha_stat: float = 0.0
    alpha_batch_key: float = 0.0
    alpha_probe: float = 0.0  # a sampler that ignores its key passes the reproducibility probe with at most this
    shrink_deadline: float = math.inf  # time.monotonic() after which shrinking stops
    keys: np.random.Generator = None
    calls: object = None  # spec.validator.calls.Calls, attached by validate()

    @classmethod
    def build(cls, sampler, pipeline, input, array, profile, alpha, seed, family, progress, timeout) -> Context:
        """Every argument checked before anything runs; bad ones are InvalidParameter."""
        if not isinstance(pipeline, Pipeline):
            raise InvalidParameter("pipeline", pipeline, "a spec.Pipeline (see spec.presets)")
        if input is not None and input not in INPUTS:
            raise InvalidParameter("input", input, f"one of {INPUTS} (None: what the sampler declares, else logits)")
        if profile not in PROFILES:
            raise InvalidParameter("profile", profile, f"one of {tuple(PROFILES)}")
        if isinstance(alpha, bool) or not (isinstance(alpha, float | int) and 0 < alpha < 1):
            raise InvalidParameter("alpha", alpha, "a number in (0, 1)")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InvalidParameter("seed", seed, "an integer >= 0")
        prof = PROFILES[profile]
        if (t := _timeout(timeout)) is not None:
            prof = replace(prof, call_timeout=t)
        sampler = as_sampler(sampler, array)
        input = input or sampler.input or "logits"
        report = Report(sampler.name, str(pipeline), input, profile, float(alpha), int(seed),
                        release=drift(pipeline.name) or "")
        ctx = cls(sampler, pipeline, input, prof, float(alpha), int(seed), family, progress, report,
                  keys=np.random.default_rng([int(seed), 0x4B45]))
        ctx.cases = [c for c in cases(ctx.seed, pipeline) if ctx._has_target(c)]
        if reads_history(pipeline) and not sampler.history:
            ctx.cases = [c for c in ctx.cases if not c.seen]
            report.skipped.append("token histories: the sampler takes no `history` argument, so it was validated "
                                  "with empty histories only (the penalties had nothing to act on); give it a "
                                  "`history` parameter (one spec.History per row) to test them")
        if not ctx.cases:
            raise InvalidParameter("pipeline", str(pipeline), "a pipeline valid for at least one test row")
        ctx.stat_cases = [c for c in ctx.cases if c.statistics and not ctx._deterministic(c)]
        ctx._budget()
        return ctx

    def _has_target(self, case: Case) -> bool:
        try:
            self.spec(self.feed(case.rows), case)
            return True
        except InvalidParameter as e:  # a row the engine itself rejects (see cases.rejected_row)
            self.report.notes.append(f"case '{case.name}' skipped: the spec rejects it ({e})")
            return False

    def _deterministic(self, case: Case) -> bool:
        return bool(np.all(np.atleast_1d(self.spec(self.feed(case.rows), case).greedy) >= 0))

    def _budget(self):
        """Bonferroni: a tenth for the same-key mismatch counts (when they are tested), the rest
        split evenly over every (statistics row, look, test)."""
        looks = len(self.looks)
        counted = (self.input == "logits" and not self.pipeline.greedy
                   and not any(0 < s.chance < 1 for s in self.pipeline.steps))
        self.alpha_coupling = self.alpha / 10 if counted else 0.0
        # Set aside before the contract finds whether the sampler is reproducible: unused, it only
        # makes the run more conservative.
        self.alpha_batch_key = self.alpha / 100 if same_key_applies(self) else 0.0
        probed = self.sampler.key is not None and not all(self._deterministic(c) for c in self.cases)
        self.alpha_probe = self.alpha / 100 if probed else 0.0  # contract._reproducible
        # + 1: the joint of batch independence
        rows = sum(c.rows.shape[0] for c in self.stat_cases) + independence_applies(self)
        rest = self.alpha - self.alpha_coupling - self.alpha_batch_key - self.alpha_probe
        self.alpha_stat = rest / max(1, rows * looks * len(stats.TESTS))
        self.report.alpha_split = "no statistical decisions: every check is definitive" if not rows else (
            f"total {self.alpha:g} for the whole run, split by Bonferroni: "
            + (f"{self.alpha_coupling:g} for the same-key mismatch counts, " if counted else "")
            + (f"{self.alpha_batch_key:g} for the batch same-key mismatch count, " if self.alpha_batch_key else "")
            + (f"{self.alpha_probe:g} for calling a sampler that ignores its key reproducible, "
               if self.alpha_probe else "")
            + f"{rest:g} for the statistics: "
            f"{rows} rows x {looks} looks x {len(stats.TESTS)} tests = {self.alpha_stat:.3g} each "
            "(the binomial scan divides its share again by the number of tokens it scans). "
            "Support, contract and white-box failures are definitive (no false alarms).")

    @property
    def looks(self) -> tuple[int, ...]:
        """The statistics' looks: with random steps each draw is a call of its own (calls.draw), so
        the profile's smaller `random_looks`."""
        random = any(0 < s.chance < 1 for s in self.pipeline.steps)
        return self.profile.random_looks if random else self.profile.looks

    def key(self) -> int:
        return int(self.keys.integers(0, 2**31 - 1))

    def feed(self, rows: np.ndarray) -> np.ndarray:
        return log_softmax(rows) if self.input == "logprobs" else rows

    def spec(self, x, case: Case | None = None, pipeline: Pipeline | None = None, history=None) -> Target:
        """The target of x, with the case's histories (or `history`, one per row of x)."""
        exact = case is not None and case.exact and self.sampler.dtype == "float64"
        if history is None and case is not None and case.histories:
            history = case.history()
        return target(x, pipeline or self.pipeline, tol=Tolerance(0.0, 0.0) if exact else None, history=history)

    def tick(self, text: str):
        if self.progress:
            self.progress(text)


def targets_or_none(ctx: Context, x, case=None, pipeline=None, history=None) -> Target | None:
    """The spec's target, or None where the spec has none (a rejected parameter, a bad row)."""
    try:
        return ctx.spec(x, case, pipeline, history)
    except (InvalidParameter, InvalidLogits):
        return None


def independence_applies(ctx: Context) -> bool:
    """Batch independence is tested: a batched sampler with a random target."""
    return ctx.sampler.batched and not ctx.pipeline.greedy


def same_key_applies(ctx: Context) -> bool:
    """Batched and without random steps: a correct sampler may spend its key on XTC's coins in
    any order (e.g. only for rows where XTC acts), which moves the other rows' draws."""
    return independence_applies(ctx) and not any(0 < s.chance < 1 for s in ctx.pipeline.steps)

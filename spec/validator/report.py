"""The validator's report: what failed, why (the invariant and the theorems behind it), the
evidence (observed vs expected, the statistics and the alpha used), the minimal counterexample,
and for a pass what it rules out. `str(report)` is for people, `report.to_json()` for programs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum

import numpy as np


class Check(StrEnum):
    """Every check a failure can be reported under: the tier, then the check."""

    HANG = "contract: no hang"
    RAISES = "contract: valid rows are sampled"
    OUTPUT = "contract: output"
    MUTATION = "contract: input not mutated"
    GREEDY = "contract: greedy"
    FACTORY = "contract: factory"
    NOOP = "contract: no-op parameters"
    FILTER = "white-box: filter"
    KEEP_SET = "white-box: keep-set"
    SUPPORT = "structure: support"
    SAME_KEY_SHIFT = "structure: same-key shift"
    SAME_KEY_LOGPROBS = "structure: same-key logits-vs-logprobs"
    GREEDY_SHIFT = "structure: greedy shift"
    GREEDY_LOGPROBS = "structure: greedy logits-vs-logprobs"
    STATISTICS = "statistics"
    BATCH_SAME_KEY = "structure: batch same-key"
    UNSEEDED_CALLS = "unseeded: fresh draws per call"
    UNSEEDED_PROCESSES = "unseeded: fresh draws per process"


@dataclass
class Failure:
    check: str  # the tier and check, e.g. "structure: support"
    invariant: str  # the spec clause or invariant id that failed
    theorems: tuple[str, ...]  # the theorem ids behind it (empty: by definition)
    message: str
    case: dict  # the case: name, pipeline, input, key, row (or generator and seed)
    observed: list = field(default_factory=list)  # most deviating tokens: token, rank, spec p, observed
    statistics: dict | None = None  # test, p-value, alpha used, draws
    counterexample: dict | None = None  # the shrunk rows ("values", and as text), spec vs sampler


@dataclass
class Report:
    sampler: str
    pipeline: str
    input: str
    profile: str
    alpha: float
    seed: int
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # what ran, in order
    power: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)  # what these rows cannot show, and the settings that would
    fingerprint: dict = field(default_factory=dict)
    alpha_split: str = ""
    draws: int = 0
    seconds: float = 0.0  # the whole validate() call, the fingerprint included
    command_seconds: float = 0.0  # the CLI: the whole command, Python's start-up and imports included
    sampler_seconds: float = 0.0  # of which inside the sampler's own calls
    calls: int = 0  # every call of the sampler (or its filter), shrinking included
    shrink_calls: int = 0
    skipped: list[str] = field(default_factory=list)  # checks that did not run, and why
    generation: bool = False  # a generation loop's report (spec.validate_generation): runs of the loop, prompts
    release: str = ""  # the preset: the release it models against the installed one (presets.drift), or a default

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "passed": self.passed}, indent=2, default=_plain)

    def __str__(self) -> str:
        verdict = "CONFORMS" if self.passed else "DOES NOT CONFORM"
        work = (f"{self.draws:,} run{'s' * (self.draws != 1)} of the loop in {self.seconds:.1f} s" if self.generation
                else f"{self.draws:,} draws in {self.seconds:.1f} s"
                + (f" ({self.command_seconds:.1f} s with start-up)" if self.command_seconds else "")
                + f"; {self.calls:,} sampler calls"
                + (f" ({self.shrink_calls:,} while shrinking)" if self.shrink_calls else "")
                + f", {self.sampler_seconds:.1f} s inside the sampler")
        lines = [f"{verdict}: {self.sampler}", f"  spec: {self.pipeline} (input: {self.input})",
                 f"  profile {self.profile}, alpha {self.alpha:g}, seed {self.seed}: {work}"]
        if self.release:
            lines.append(f"  {self.release}")
        for f in self.failures:
            lines += ["", f"FAILED {f.check}: {f.message}",
                      f"  invariant: {f.invariant}" + (f" (theorems: {', '.join(f.theorems)})" if f.theorems else ""),
                      f"  case: {_brief(f.case)}"]
            if f.statistics:
                lines.append("  statistics: " + ", ".join(f"{k} {_fmt(v)}" for k, v in f.statistics.items()))
            if f.observed:
                lines.append(f"  {'token':>7}  {'rank':>7}  {'spec p':<10}  {'observed':<10}  expected")
                lines += [f"  {o['token']:>7}  {o['rank']:>7}  {o['spec_p']:<10.4g}  {o['observed']!s:<10}  "
                          f"{o['expected']:.4g}" for o in f.observed]
            if f.counterexample:
                ce = f.counterexample
                lines.append(f"  minimal counterexample ({ce['how']}):")
                label = ce.get("label", "row")
                lines.append(f"    {label + ':':<8} {ce['row']}")
                lines.append(f"    spec:    {ce['spec']}")
                lines.append(f"    sampler: {ce['sampler']}")
        lines += ["", "checks run:"] + [f"  - {c}" for c in self.checks]
        if self.skipped:
            lines += ["", "checks skipped:"] + [f"  - {c}" for c in self.skipped]
        if self.passed and self.power:
            lines += ["", "a pass rules out:"] + [f"  - {p}" for p in self.power]
        if self.passed and self.unseen:
            lines += ["", "a pass does not rule out:"] + [f"  - {u}" for u in self.unseen]
        if self.fingerprint:
            lines += ["", f"fingerprint: {self.fingerprint.get('summary', '')}"]
        if self.alpha_split:
            lines += ["", f"false alarms: {self.alpha_split}"]
        if self.notes:
            lines += ["", "notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)


def _plain(o):
    if isinstance(o, np.ndarray):
        if o.size > 4096:  # a full-vocabulary row: reproducible from spec.validator.cases(seed)
            return {"size": int(o.size), "head": o.ravel()[:12].tolist(), "rows": "spec.validator.cases(seed)"}
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _brief(case: dict) -> str:
    parts = [str(case["case"])] if "case" in case else []
    parts += [f"{k} {v}" for k, v in case.items() if k not in ("case", "row")]
    parts += [f"row {row_text(case['row'])}"] if "row" in case else []
    return "; ".join(parts)


def probs_text(probs, support, limit: int = 40) -> str:
    """A target as people read it: the support, and the nonzero probabilities by token."""
    probs, support = np.asarray(probs, dtype=np.float64).ravel(), np.asarray(support).ravel()
    kept = np.flatnonzero(support)
    shown = ", ".join(f"{int(i)}: {probs[i]:.4g}" for i in kept[:limit])
    return f"support {kept.tolist()[:limit]}, probabilities {{{shown}{', ...' if kept.size > limit else ''}}}"


def row_text(row, limit: int = 12) -> str:
    row = np.asarray(row, dtype=np.float64).ravel()
    text = ", ".join(f"{v:.6g}" for v in row[:limit])
    return f"[{text}{', ...' if row.size > limit else ''}] (V = {row.size:,})"



"""Validate any sampler against the spec: `spec.validate(sampler, pipeline) -> Report`.

The checks run in tiers, cheapest and most definitive first, and stop at the first definitive
failure; each tier is a module of this package:
0. `cases`: the rows, and with penalties in the pipeline, token histories for them.
1. `contract`: B token ids in [0, V) for one row and for a batch, the input not mutated, no raise
   and no hang on a valid row; with a factory, greedy, top_k = 1 and no-op parameters.
2. `white_box` (when the sampler exposes its filtered logits): the keep-set equals the spec's
   support except on boundary tokens (with random steps: one mixture component's), on the cases
   and on rows Hypothesis generates.
3. `structure`: every sampled token is in the spec's support (one outside is definitive), each
   row of a batch in its own; with a key, `coupling`: the same key gives the same token after a
   shift and for log-probabilities, up to what rounding allows (the floating-point theorems).
4. `statistics`: goodness of fit (`stats`) to the exact target (with XTC, the exact mixture),
   the run's false-alarm rate at most `alpha`; `independence`: the rows of one call are
   independent draws (a shared coin or random number fails even when every marginal is right).
Failures are shrunk with deterministic, fixed-key oracles (`oracles`); a `fingerprint` says which
engine presets the sampler's draws are consistent with. `python -m spec.validate` is the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from spec.transforms import Pipeline
from spec.validator.calls import Calls
from spec.validator.cases import Case, cases
from spec.validator.context import PROFILES, Context, Family, Finding
from spec.validator.contract import contract
from spec.validator.coupling import mismatch_rate
from spec.validator.fingerprint import fingerprint
from spec.validator.independence import independence
from spec.validator.report import Check, Failure, Report
from spec.validator.statistics import statistics
from spec.validator.structure import structure
from spec.validator.white_box import white_box

TIERS = (white_box, structure, statistics, independence)  # after `contract`, which finds the Capabilities

__all__ = ["PROFILES", "Case", "Check", "Failure", "Family", "Report", "cases", "mismatch_rate", "validate"]


def validate(sampler, pipeline: Pipeline, *, input: str | None = None, array: str = "auto", profile: str = "default",
             alpha: float = 1e-6, seed: int = 0, family: Family | None = None,
             progress: Callable[[str], None] | None = None, timeout: float | None = None) -> Report:
    """Check `sampler` against the spec's `pipeline`; see the module docstring for the tiers.

    sampler: a callable (B, V) array -> B token ids, or a `spec.validator.sampler.Sampler`.
    input: what the sampler is fed, "logits" or "logprobs" (z - logsumexp(z)); None: what the
    `Sampler` declares (spec.engines.mlx_lm.sampler: logits, since its processors see raw logits),
    else logits. A sampler that reads the token history takes `history=` (a list, one `spec.History` per row);
    the cases then carry histories that exercise the pipeline's penalties. array: "mlx",
    "numpy", "torch" or "auto" (guessed from the sampler's module, and other types tried if the
    guess fails). alpha: the false-alarm rate of the whole run. family: a factory, to check
    greedy, top_k = 1 and no-op parameters too. timeout: seconds one sampler call may take
    (default: the profile's).
    """
    start = time.perf_counter()  # the whole call: building the cases and the alpha budget too
    ctx = Context.build(sampler, pipeline, input, array, profile, alpha, seed, family, progress, timeout)
    ctx.calls = Calls(ctx)
    try:
        _run(ctx)
    finally:
        ctx.calls.close()
    ctx.report.seconds = time.perf_counter() - start
    return ctx.report


def _run(ctx: Context):
    """The tiers in order, stopping at the first definitive failure; then the fingerprint."""
    try:
        caps = contract(ctx)
        for tier in TIERS:
            caps = tier(ctx, caps) or caps  # a tier may return what it learned for the next ones
    except Finding as found:
        ctx.report.failures.append(found.failure)
        if found.failure.check == Check.HANG.value:
            return
    try:
        ctx.report.fingerprint = fingerprint(ctx)
    except Finding:
        pass

"""Tier 3, structure: every draw of every case lies in the spec's support (one outside is a
definitive failure, shrunk with fixed keys), including each row of a batch whose rows have
opposite top tokens (batch-rows); then the same-key checks (for a sampler its key does not
reproduce, on the cases with a deterministic target only)."""

from __future__ import annotations

from dataclasses import replace

from spec.rows import VOCAB
from spec.validator.context import Capabilities, Context
from spec.validator.coupling import coupling


def structure(ctx: Context, caps: Capabilities) -> Capabilities:
    """Returns `caps` with the counts of the draws, for the statistics when they are independent
    draws (no random step: with one, tiled copies share a call's coins) and no more than the
    statistics' first look takes (so that the looks stay where the report says)."""
    p = ctx.profile
    drawn = {}
    reuse = not any(step.random for step in ctx.pipeline.steps) and p.structure_draws <= ctx.looks[0]
    for case in ctx.cases:
        ctx.tick(f"structure: {case.name}")
        counts = ctx.calls.draw(case, p.full_vocab_draws if case.rows.shape[1] > 8192 else p.structure_draws,
                                caps=caps, independent=False)  # support checks: tiled copies need not be independent
        if reuse:
            drawn[case.name] = counts
    batch = [c for c in ctx.cases if c.batch]
    ctx.report.checks.append(f"structure: every draw in the spec's support, {len(ctx.cases)} cases "
                             f"({p.structure_draws:,} draws each, {p.full_vocab_draws} at V = {VOCAB:,})")
    if batch and ctx.sampler.batched:
        ctx.report.checks.append("structure: each row of a batch in its own support, on two rows whose top tokens "
                                 "are at opposite ends (batch-rows)")
    elif batch:
        ctx.report.skipped.append("batch-rows: the sampler takes one row per call (it is called row by row)")
    return replace(caps, drawn=drawn, reproducible=coupling(ctx, caps.reproducible))

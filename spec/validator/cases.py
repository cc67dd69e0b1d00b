"""The rows every sampler is tested on: hand-made probes that tell common bugs apart, seeded
LLM-like rows, and one at full vocabulary. Probes are small so that failures read easily; `fit`
pads them with -inf entries (which no correct sampler ever returns) so that they stay valid rows
under realistic parameters: top_k = 50 on a 5-token probe is rejected by engines that refuse
k >= V (mlx-lm), but not on the same probe padded to 51 tokens."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spec.rows import VOCAB, llm_logits
from spec.transforms import Pipeline, TopK

SPREAD = np.array([0.0, 3.0, 1.0, 2.5, 0.2])
# Two rows whose top tokens sit at opposite ends: under any filter that keeps at most half of a
# row their supports are disjoint, so a sampler that mixes rows (one row's mask applied to both,
# or the union of the masks) returns a token outside a row's support.
DESCENDING = np.array([4.0, 3.0, 2.5, 2.0, 1.0, 0.5, 0.0, -1.0, -2.0, -3.0])


@dataclass(frozen=True)
class Case:
    name: str
    rows: np.ndarray  # (B, V) float64 logits, before the input transform
    exact: bool = False  # decided with Tolerance(0, 0); used only for float64 samplers
    statistics: bool = True  # the statistics tier samples it (every row of it)
    probe: bool = True  # a small hand-made row (factory variants and the fingerprint use these)

    @property
    def batch(self) -> bool:
        return self.rows.shape[0] > 1


def min_width(pipeline: Pipeline | None) -> int:
    """The fewest tokens a row needs for every parameter of the pipeline to be valid on it."""
    steps = pipeline.steps if pipeline else ()
    return max([s.k + (s.over_vocab == "error") for s in steps if isinstance(s, TopK) and s.over_vocab != "clamp"],
               default=1)


def pad(rows: np.ndarray, width: int) -> np.ndarray:
    """`rows` padded on the right with -inf up to `width` tokens."""
    if rows.shape[1] >= width:
        return rows
    return np.concatenate([rows, np.full((rows.shape[0], width - rows.shape[1]), -np.inf)], axis=1)


def fit(rows: np.ndarray, pipeline: Pipeline | None) -> np.ndarray:
    """`rows` padded with -inf so that every parameter of the pipeline is valid on them."""
    return pad(rows, min_width(pipeline))


def cases(seed: int, pipeline: Pipeline | None = None) -> list[Case]:
    """The cases, smallest first, probes fitted to the pipeline's parameters."""
    rng = np.random.default_rng([seed, 0xCA5E])
    probes = [
        Case("dyadic masses 1/2, 1/4, 1/8, 1/16, 1/16", np.log([[0.5, 0.25, 0.125, 0.0625, 0.0625]])),
        Case("exact sums 1/2 + 1/4 (float64 samplers: decided exactly)", np.log([[0.5, 0.25, 0.125, 0.125]]), True),
        Case("nucleus not in index order", np.log([[0.1, 0.45, 0.05, 0.4]])),
        Case("ties", np.array([[2.0, 2.0, 1.0, 0.5, -1.0]])),
        Case("spread", SPREAD[None]),
        Case("all logits negative (spread - 20)", SPREAD[None] - 20),
        Case("large logits (spread + 1000)", SPREAD[None] + 1000),
        Case("masked entries (-inf)", np.array([[-np.inf, 1.0, 0.5, -np.inf, 0.2, 0.0]])),
        Case("two rows with opposite top tokens in one batch", np.stack([DESCENDING, DESCENDING[::-1]])),
    ]
    out = [replace(c, rows=fit(c.rows, pipeline)) for c in probes]
    out += [
        Case(f"LLM-like, V = 1,000 (seed {seed})", 0.35 * llm_logits(rng, 1, 1000), probe=False),
        Case(f"flat, V = 4,000 (normal, sd 2, seed {seed})", rng.normal(0, 2, (1, 4000)), probe=False),
    ]
    big = llm_logits(rng, 1, VOCAB)
    out.append(Case(f"LLM-like, V = {VOCAB:,} (seed {seed})", big, statistics=False, probe=False))
    head = np.sort(np.argpartition(-big[0], 4095)[:4096])  # statistics run on this reduced copy
    out.append(Case(f"its 4,096 largest logits (reduced copy of the V = {VOCAB:,} row)", big[:, head], probe=False))
    return out


def rejected_row(pipeline: Pipeline) -> np.ndarray | None:
    """A row on which the engine the pipeline models raises (top_k >= V or > V where it refuses
    that), or None if it raises on no row."""
    width = min_width(pipeline) - 1
    return SPREAD[None, :width] if 1 <= width <= SPREAD.size else (
        np.linspace(2.0, -2.0, width)[None] if width > SPREAD.size else None)

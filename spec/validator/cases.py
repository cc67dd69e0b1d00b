"""The rows every sampler is tested on: hand-made probes that tell common bugs apart, seeded
LLM-like rows, and one at full vocabulary. When the pipeline reads the token history
(penalties), cases also carry one `History` per row that exercises it (`history_cases`): repeats,
the context window's edge, seen tokens with positive and negative logits, prompt vs output, and a
different history for each row of a batch. Probes are small so that failures read easily; `fit`
pads them with -inf entries (which no correct sampler ever returns) so that they stay valid rows
under realistic parameters: top_k = 50 on a 5-token probe is rejected by engines that refuse
k >= V (mlx-lm), but not on the same probe padded to 51 tokens."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spec.rows import VOCAB, llm_logits
from spec.transforms import XTC, History, LogitBias, Pipeline, TopK

SPREAD = np.array([0.0, 3.0, 1.0, 2.5, 0.2])
# Two rows whose top tokens sit at opposite ends: under any filter that keeps at most half of a
# row their supports are disjoint, so a sampler that mixes rows (one row's mask applied to both,
# or the union of the masks) returns a token outside a row's support.
DESCENDING = np.array([4.0, 3.0, 2.5, 2.0, 1.0, 0.5, 0.0, -1.0, -2.0, -3.0])
# Positive and negative logits, the top tokens out of index order: the row the history cases use
# (the repetition penalty divides a positive logit and multiplies a negative one).
MIXED = np.array([2.0, -0.5, 1.5, 0.0, -1.0, 1.0, -2.0, 0.5])


@dataclass(frozen=True)
class Case:
    name: str
    rows: np.ndarray  # (B, V) float64 logits, before the input transform
    exact: bool = False  # decided with Tolerance(0, 0); used only for float64 samplers
    statistics: bool = True  # the statistics tier samples it (every row of it)
    probe: bool = True  # a small hand-made row (factory variants and the fingerprint use these)
    histories: tuple[History, ...] = ()  # one per row (empty: nothing seen)

    @property
    def batch(self) -> bool:
        return self.rows.shape[0] > 1

    @property
    def seen(self) -> bool:
        """Some row has a non-empty history."""
        return any(h.prompt or h.output for h in self.histories)

    def history(self, reps: int = 1) -> list[History]:
        """One History per row of the case tiled `reps` times (as np.tile(rows, (reps, 1)))."""
        return list(self.histories or (History(),) * self.rows.shape[0]) * reps


def reads_history(pipeline: Pipeline | None) -> bool:
    return pipeline is not None and any(type(s).history for s in pipeline.steps)


def min_width(pipeline: Pipeline | None) -> int:
    """The fewest tokens a row needs for every parameter of the pipeline to be valid on it."""
    steps = pipeline.steps if pipeline else ()
    widths = [_top_k_width(pipeline)]
    widths += [s.bias[-1][0] + 1 for s in steps if isinstance(s, LogitBias) and s.bias]  # biased ids exist
    widths += [s.special_tokens[-1] + 1 for s in steps if isinstance(s, XTC) and s.special_tokens]
    return max(widths, default=1)


def _top_k_width(pipeline: Pipeline | None) -> int:
    """The fewest tokens a row needs for the pipeline's top_k to be valid on it (1: any row)."""
    steps = pipeline.steps if pipeline else ()
    return max([s.k + (s.over_vocab == "error") for s in steps if isinstance(s, TopK) and s.over_vocab != "clamp"],
               default=1)


def pad(rows: np.ndarray, width: int) -> np.ndarray:
    """`rows` padded on the right with -inf up to `width` tokens."""
    if rows.shape[1] >= width:
        return rows
    return np.concatenate([rows, np.full((rows.shape[0], width - rows.shape[1]), -np.inf)], axis=1)


def _top_ks(pipeline: Pipeline | None) -> list[int]:
    return sorted({s.k for s in (pipeline.steps if pipeline else ()) if isinstance(s, TopK) and s.k <= 4096})


def tie_at_cut(k: int) -> np.ndarray:
    """k - 1 distinct logits, then two equal ones at positions k and k + 1, then two lower: a row
    that puts an exact tie on the top-k cut, where the engines' tie rules differ (keep both, or
    exactly k). Exact in every dtype: equal logits stay equal through any shift or scaling."""
    return np.r_[np.linspace(1.0, 0.55, k - 1) if k > 1 else [], 0.5, 0.5, -1.0, -2.0][None]  # the tied pair is likely


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
    probes += [Case(f"a tie across the top-k cut (k = {k})", tie_at_cut(k)) for k in _top_ks(pipeline)]
    out = [replace(c, rows=fit(c.rows, pipeline)) for c in probes]
    out += [
        Case(f"LLM-like, V = 1,000 (seed {seed})", 0.35 * llm_logits(rng, 1, 1000), probe=False),
        Case(f"flat, V = 4,000 (normal, sd 2, seed {seed})", rng.normal(0, 2, (1, 4000)), probe=False),
    ]
    big = llm_logits(rng, 1, VOCAB)
    out.append(Case(f"LLM-like, V = {VOCAB:,} (seed {seed})", big, statistics=False, probe=False))
    head = np.sort(np.argpartition(-big[0], 4095)[:4096])  # statistics run on this reduced copy
    out.append(Case(f"its 4,096 largest logits (reduced copy of the V = {VOCAB:,} row)", big[:, head], probe=False))
    return history_cases(out, pipeline, rng) if reads_history(pipeline) else out


def _recent(rng: np.random.Generator, row: np.ndarray, length: int = 40) -> History:
    """A history like a generation's: tokens among the row's 30 most likely, repeats included,
    the first 60% as the prompt."""
    top = np.argsort(-row, kind="stable")[:30]
    ids = rng.choice(top, length).tolist()
    return History(prompt=ids[: length * 3 // 5], output=ids[length * 3 // 5:])


def history_cases(out: list[Case], pipeline: Pipeline, rng: np.random.Generator) -> list[Case]:
    """The cases for a pipeline that reads the token history: the probes keep empty histories;
    the batch case gets a different history per row (a sampler applying one row's history to
    another is caught); the LLM-like rows get a generation-like history; and probes on MIXED
    tell the conventions apart: repeats (frequency counts them, presence does not), the edge of
    each context window, positive and negative logits seen, prompt vs output."""
    windows = sorted({s.window for s in pipeline.steps if type(s).history and s.window is not None})
    mixed = MIXED[None]
    probes = [
        Case("history: token 0 seen 3 times, token 2 once (frequency vs presence)", mixed,
             histories=(History(output=(0, 2, 0, 0)),)),
        Case("history: tokens with positive and negative logits seen (0, 1, 4 and 3: z = 2, -0.5, -1, 0)", mixed,
             histories=(History(output=(0, 1, 4, 3)),)),
        Case("history: prompt (0, 0, 2) vs output (5,) (which part a penalty counts)", mixed,
             histories=(History(prompt=(0, 0, 2), output=(5,)),)),
    ]
    for w in windows:
        probes.append(Case(f"history: window {w}, token 0 just before the last {w} tokens (row 0) and just "
                           "inside them (row 1)", np.stack([MIXED, MIXED]),
                           histories=(History(prompt=(0, 0), output=(6,) * w),
                                      History(prompt=(0,), output=(6,) * (w - 1)))))
    fitted = [replace(c, rows=fit(c.rows, pipeline)) for c in probes]
    for i, c in enumerate(out):
        if c.batch:  # each row its own top token seen, twice
            tops = [int(np.argmax(r)) for r in c.rows]
            out[i] = replace(c, histories=tuple(History(output=(t, t)) for t in tops),
                             name=c.name + ", each row's top token seen twice")
        elif not c.probe:
            out[i] = replace(c, histories=(_recent(rng, c.rows[0]),), name=c.name + ", with a generation-like history")
    return out + fitted


def rejected_row(pipeline: Pipeline) -> np.ndarray | None:
    """A row on which the engine the pipeline models raises (top_k >= V or > V where it refuses
    that), or None if it raises on no row."""
    width = _top_k_width(pipeline) - 1
    return SPREAD[None, :width] if 1 <= width <= SPREAD.size else (
        np.linspace(2.0, -2.0, width)[None] if width > SPREAD.size else None)

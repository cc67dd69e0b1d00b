"""Your deployment: validate the sampling of a model already served, on the rows it computes itself
(`python -m spec.validate --endpoint URL --model NAME --prompt IDS`; the served engine module gives
`next_row` and `draw`: spec.engines.vllm_server.deployment).

For each of a handful of the user's prompts, the server is asked once for the full next-token
distribution after the prompt (vLLM: `prompt_logprobs: -1` on the prompt plus one token), then
sampled many times with the user's settings and a seed per request (`max_tokens` 1), and the draws
are tested against the spec's target on that row (`spec.validate_generation`, one step).

What it rules out and what it cannot, said in every report: the row is the model's log-softmax,
a shift of its logits, which every transform may see except the repetition penalty (not
shift-invariant: theorem `penalty-shift`), so that penalty is refused here; only the first token
after each prompt is checked (no history, no batch or same-key checks, no white box); and the
server's own numerics for the row (float16 or bfloat16 logits) are taken as given: the check is
that the server samples what it says from the distribution it reports for the prompt.

A server that reports only its top log-probabilities (mlx-lm's server: at most 11) gives a
`TopRow`, checked only where the target cannot depend on the unreported rest of the row. For
temperature, top-k, top-p and min-p in any order (other transforms, a logit bias among them, are
refused here: they can lift an unreported token or read the whole row) the rest enters the target
only through which tokens are kept, and each of these keeps a prefix of the tokens in order of
probability: so the support must not reach the least reported token (unreported tokens are no
larger, and may tie with it), and where a temperature comes before a nucleus the rest's tempered
mass, which moves the cut, is taken at its two extremes (the rest packed into as few tokens as
possible just below the least reported one; spread evenly over a vocabulary of `VOCAB_BOUND`
tokens), which must give the same target. A truncation inside the reported tokens (top-k below
their number, a nucleus or min-p cut inside them, greedy) passes; plain temperature sampling of a
large vocabulary does not, and is refused with the reason. A drawn token outside the reported ones
is then a definitive failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spec.target import target
from spec.transforms import MinP, RepetitionPenalty, Temperature, TopK, TopP
from spec.validator.generation import validate_generation
from spec.validator.report import Report

RULED_OUT = ("only the first token after each prompt is checked: no histories, batch or same-key checks, white box "
             "or coupling; the rows are the server's own log-probabilities (a shift of its logits), taken as given")


VOCAB_BOUND = 2**18  # the most tokens a served vocabulary is assumed to have (Gemma 3's: 262,144)
PREFIX_RULES = (Temperature, TopK, TopP, MinP)  # each keeps a prefix of the tokens in order of probability


@dataclass(frozen=True)
class TopRow:
    """What a server reports after a prompt when it cannot give the whole row: the log-probabilities
    of its top tokens (over the whole vocabulary), by token id."""

    ids: tuple[int, ...]
    logprobs: tuple[float, ...]


def completed(top: TopRow, pipeline) -> tuple[np.ndarray, dict[int, int]]:
    """(row, index): a whole row standing for `top` (its tokens by decreasing log-probability, then
    the unreported mass as tokens each below the least reported one, then one token of probability
    0 for anything else) and the row position of each reported token id. ValueError, with the
    reason, where the pipeline's target could depend on how the unreported mass is spread."""
    if other := [type(step).__name__ for step in pipeline.steps if not isinstance(step, PREFIX_RULES)]:
        raise ValueError(f"{', '.join(other)} cannot be checked on the top log-probabilities a server reports (only "
                         f"temperature, top-k, top-p and min-p): validate it on exact rows")
    order = np.argsort(-np.asarray(top.logprobs, dtype=np.float64), kind="stable")
    ids = [int(top.ids[i]) for i in order]
    known = np.asarray(top.logprobs, dtype=np.float64)[order]
    if len(set(ids)) != len(ids) or not np.isfinite(known).all() or known.max() > 1e-6:
        raise ValueError(f"the server's top log-probabilities are not distinct tokens with finite values <= 0: "
                         f"{dict(zip(top.ids, top.logprobs, strict=False))}")
    least = float(np.exp(known[-1]))
    rest = max(0.0, 1.0 - float(np.exp(known).sum())) if least > 0 else 0.0  # a reported 0: nothing is unreported
    shown = f"the server reports its top {len(ids)} log-probabilities, {1 - rest:.6g} of the mass"
    room = VOCAB_BOUND - len(ids)
    packed, spread = np.zeros(0), np.zeros(0)
    if rest > 0:  # the rest's two extremes: packed into tokens just below the least reported one; spread thin
        below = least * (1 - 1e-9)
        full = min(int(rest // below), room - 1)
        with np.errstate(divide="ignore"):  # an exact fit leaves a remainder of 0
            packed = np.log(np.r_[np.full(full, below), [rest - full * below]])
        spread = np.full(room, np.log(rest / room))
    rows = [np.concatenate([known, tail, [-np.inf]]) for tail in (packed, spread)]
    targets = [target(row, pipeline) for row in rows]
    m = len(ids)
    for t in targets:
        probs, boundary = np.asarray(t.probs), np.asarray(t.boundary)
        if probs[m:].any() or boundary[m:].any():
            raise ValueError(f"{shown}, and under these settings the rest of the row can be drawn: its target depends "
                             f"on what the server does not report (a truncation to fewer tokens, or a prompt whose "
                             f"next token is more certain, can be checked)")
        if rest > 0 and (probs[:m][known == known[-1]].any() or boundary[:m][known == known[-1]].any()):
            raise ValueError(f"{shown}, and under these settings the least of them can be drawn: unreported tokens "
                             f"may tie with it (a truncation to fewer tokens can be checked)")
    if not np.allclose(targets[0].probs[:m], targets[1].probs[:m], rtol=0, atol=1e-12):
        raise ValueError(f"{shown}, and under these settings their probabilities depend on how the rest is spread")
    return rows[0], {token: i for i, token in enumerate(ids)}


def validate_deployment(next_row: Callable, draw: Callable, prompts: list, pipeline, *,
                        profile: str = "quick", alpha: float = 1e-6, seed: int = 0, name: str = "") -> list[Report]:
    """next_row(prompt) -> the served model's log-probabilities after `prompt` (length V, -inf where
    0), or a TopRow; draw(prompt, seed) -> one token id sampled by the server with the settings under
    test. A prompt is token ids or, for a server that takes only text, a string. One report per
    prompt, the run's alpha split evenly over them."""
    if not prompts:
        raise ValueError("give at least one prompt")
    if any(isinstance(s, RepetitionPenalty) for s in pipeline.steps):
        raise ValueError("the repetition penalty is not shift-invariant (penalty-shift), so it cannot be checked "
                         "on log-probabilities: validate it on exact rows")
    reports = []
    for prompt in prompts:
        tokens = [] if isinstance(prompt, str) else list(prompt)  # what the report shows as the prompt
        row, index, top = next_row(prompt), None, None
        if isinstance(row, TopRow):
            top = row
            try:
                row, index = completed(top, pipeline)
            except ValueError as e:
                raise ValueError(f"prompt {prompt!r}: {e}") from None
        row = np.asarray(row, dtype=np.float64)
        outside = len(row) - 1  # a token the server did not report: the last, probability-0 token of the row

        def loop(p, s, prompt=prompt, index=index, outside=outside):
            token = draw(prompt, s)
            yield (token if index is None else index.get(int(token), outside)), None
        loop.__name__ = f"{name or 'served model'}, prompt {prompt!r}"
        report = validate_generation(loop, lambda t, row=row: row, tokens, pipeline, steps=1,
                                     yields="none", profile=profile, alpha=alpha / len(prompts), seed=seed)
        report.skipped.append(RULED_OUT)
        if top is not None:
            shown = ", ".join(f"{i}: {token}" for token, i in sorted(index.items(), key=lambda kv: kv[1]))
            report.notes.append(f"partial row: the server reported its top {len(index)} tokens; the row's "
                                f"positions and their token ids: {{{shown}}}; positions {len(index)} to "
                                f"{outside - 1} stand for the unreported mass, position {outside} for any other "
                                f"token (probability 0): a draw there is a token the server did not report, "
                                f"outside the target's support")
        reports.append(report)
    return reports

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
`TopRow`, checked only where the target cannot depend on the unreported rest of the row. Only
temperature, top-k, top-p and min-p are allowed here (a logit bias can lift a token the server did
not report), and each keeps a prefix of the tokens in order of probability: so the support must not
reach the least reported token (unreported tokens are no larger, and may tie with it). The rest then
matters only through the total a nucleus cut is measured against: untempered, that total is 1 minus
the reported mass, which rounding of the reported values blurs, so it is taken at both ends of a
band of `ROUNDING`; after a temperature, it is the rest's tempered mass, which lies between the rest
packed into tokens just below the least reported one and the rest spread over `VOCAB_BOUND` tokens.
Every one of those rows must give the same target. A temperature followed by min-p or top-k and then
a nucleus (vLLM's order with all three) is refused: tokens just above the min-p cut could hold more
tempered mass than either extreme. A truncation inside the reported tokens (top-k below their
number, a nucleus or min-p cut inside them, greedy) passes; plain temperature sampling does not, and
is refused with the reason. A drawn token outside the reported ones is then a definitive failure.

A server that reports every token but keys them by text (llama-cpp-python: tokens whose texts
coincide, such as byte pieces that are not UTF-8 on their own, keep one value) gives a `whole`
TopRow: the unreported tokens are then not below the reported ones but anywhere, each holding at
most the unreported mass, so they are laid out as one token of that mass (its extreme after a
temperature below 1) or spread thin (its extreme above 1), and no reported token that small may be
in the support."""

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


VOCAB_BOUND = 2**19  # the most tokens a served vocabulary is assumed to have (token ids at or above it are refused)
ROUNDING = 0.05  # how far the reported mass may be off 1 minus the rest (bfloat16 log-probabilities: a few %)
PREFIX_RULES = (Temperature, TopK, TopP, MinP)  # each keeps a prefix of the tokens in order of probability
MASKED = -1e20  # a log-probability below it is a masked token's: probability 0 (float64 has it 0 already)
# A drawn token is its text's reported token only if their log-probabilities agree this closely: loose
# enough for the same row computed twice (llama-cpp-python evaluates the prompt's last token alone on a
# repeated prompt, a quantized model's matmul then rounds differently), and sound at any value, since
# no reported token within this of the unreported rest may be in the support.
MATCH = 0.05


@dataclass(frozen=True)
class TopRow:
    """What a server reports after a prompt when it cannot give the whole row: the log-probabilities
    of its top tokens (over the whole vocabulary), by token id. whole: it was asked for every token,
    but tokens sharing an id kept one value (ids stand for texts): a drawn token is that id only if
    its own log-probability is within MATCH of the reported one, or larger than any unreported token
    can be (`unreported_bound`). rounding: how far the reported mass may be off 1 minus the
    unreported rest. names: what each id stands for (the texts), for the report."""

    ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    whole: bool = False
    rounding: float = ROUNDING
    names: tuple[str, ...] | None = None

    def unreported_bound(self) -> float:
        """The most probability one unreported token can hold (whole rows: all of the rest)."""
        return max(1.0 - float(np.exp(np.asarray(self.logprobs, dtype=np.float64)).sum()), 0.0) + self.rounding


def _idle(step) -> bool:
    """A penalty that counts the output alone acts on nothing at the first token after a prompt."""
    return getattr(step, "counts", None) == "output"


def _refuse_order(pipeline):
    """ValueError for a pipeline whose target on a partial row cannot be decided (see the module docstring)."""
    if other := [type(step).__name__ for step in pipeline.steps
                 if not isinstance(step, PREFIX_RULES) and not _idle(step)]:
        raise ValueError(f"{', '.join(other)} cannot be checked on the top log-probabilities a server reports (only "
                         f"temperature, top-k, top-p and min-p): validate it on exact rows")
    kinds = [type(step) for step in pipeline.steps]
    if Temperature in kinds and TopP in kinds[kinds.index(Temperature):]:
        between = kinds[kinds.index(Temperature) + 1:len(kinds) - kinds[::-1].index(TopP) - 1]
        if MinP in between or TopK in between:
            raise ValueError("a temperature, then min-p or top-k, then top-p cannot be checked on the top "
                             "log-probabilities a server reports (the unreported tokens' share of the nucleus has no "
                             "bound): validate it on exact rows, or with one of min-p, top-k, top-p")


def completed(top: TopRow, pipeline) -> tuple[np.ndarray, dict[int, int]]:
    """(row, index): a whole row standing for `top` (its tokens by decreasing log-probability, then
    the unreported mass as tokens each below the least reported one, or for a whole row as one
    token of it, then tokens of probability 0, the last standing for anything else) and the row
    position of each reported token id.
    ValueError, with the reason, where the pipeline's target could depend on what is unreported."""
    _refuse_order(pipeline)
    order = np.argsort(-np.asarray(top.logprobs, dtype=np.float64), kind="stable")
    ids = [int(top.ids[i]) for i in order]
    known = np.asarray(top.logprobs, dtype=np.float64)[order]
    if len(set(ids)) != len(ids) or not np.isfinite(known).all() or known.max() > 1e-6 or min(ids) < 0:
        raise ValueError(f"the server's top log-probabilities are not distinct tokens with finite values <= 0: "
                         f"{str(dict(zip(top.ids, top.logprobs, strict=False)))[:200]}")
    known[known < MASKED] = -np.inf  # a stand-in for -inf (the tables' -1e30), which would set the row's scale
    if max(ids) >= VOCAB_BOUND:
        raise ValueError(f"token id {max(ids)} is beyond the {VOCAB_BOUND:,} tokens this mode assumes a vocabulary has")
    m, least = len(ids), float(np.exp(known[-1]))
    estimate = 1.0 - float(np.exp(known).sum())
    if estimate < -top.rounding:
        raise ValueError(f"the server's log-probabilities hold {1 - estimate:.6g} of the mass, more than all of it "
                         f"(beyond a rounding of {top.rounding:g}): they are not one distribution")
    rests = (max(estimate - top.rounding, 1e-12), max(estimate + top.rounding, 2e-12))
    shown = (f"the server reports {m} token texts, {1 - max(estimate, 0):.6g} of the mass (tokens sharing a text "
             f"keep one value)" if top.whole else
             f"the server reports its top {m} log-probabilities, {1 - max(estimate, 0):.6g} of the mass")
    rows = []
    if least == 0 and not top.whole:  # a reported probability 0: nothing larger is unreported
        rows.append(np.concatenate([known, np.full(VOCAB_BOUND - m, -np.inf)]))
    else:
        room = VOCAB_BOUND - m - 1
        for rest in rests:
            below = rest if top.whole else least * (1 - 1e-9)  # the most one unreported token can hold
            full = min(int(rest // below), room - 1)
            with np.errstate(divide="ignore"):  # an exact fit leaves a remainder of 0
                packed = np.log(np.r_[np.full(full, below), [rest - full * below]])
            rows.append(np.concatenate([known, packed, np.full(room - len(packed) + 1, -np.inf)]))
            rows.append(np.concatenate([known, np.full(room, np.log(rest / room)), [-np.inf]]))
    targets = [target(row, pipeline) for row in rows]
    for t in targets:
        probs, boundary = np.asarray(t.probs), np.asarray(t.boundary)
        if probs[m:].any() or boundary[m:].any():
            raise ValueError(f"{shown}, and under these settings the rest of the row can be drawn: its target depends "
                             f"on what the server does not report (a truncation to fewer tokens, or a prompt whose "
                             f"next token is more certain, can be checked)")
        # reported tokens an unreported one may reach: those tied with the least (top-k), or for a whole row
        # any as small as the rest (with MATCH's margin: a drawn token is matched to its text by value)
        small = np.exp(known) <= top.unreported_bound() * np.exp(2 * MATCH) if top.whole else known == known[-1]
        if (least > 0 or top.whole) and (probs[:m][small].any() or boundary[:m][small].any()):
            raise ValueError(f"{shown}, and under these settings " + (
                "a token as small as the unreported rest can be drawn: an unreported token may be as large "
                "(a truncation to fewer tokens can be checked)" if top.whole else
                "the least of them can be drawn: unreported tokens may tie with it (a truncation to fewer tokens "
                "can be checked)"))
    if any(not np.allclose(t.probs[:m], targets[0].probs[:m], rtol=0, atol=1e-12) for t in targets[1:]):
        raise ValueError(f"{shown}, and under these settings their probabilities depend on the unreported rest (or "
                         f"on the rounding of the reported values): the cut falls too close to a token")
    return rows[0], {token: i for i, token in enumerate(ids)}


def validate_deployment(next_row: Callable, draw: Callable, prompts: list, pipeline, *,
                        profile: str = "quick", alpha: float = 1e-6, seed: int = 0, name: str = "") -> list[Report]:
    """next_row(prompt) -> the served model's log-probabilities after `prompt` (length V, -inf where
    0), or a TopRow; draw(prompt, seed) -> one token id sampled by the server with the settings under
    test. A prompt is token ids or, for a server that takes only text, a string. One report per
    prompt, the run's alpha split evenly over them."""
    if not prompts:
        raise ValueError("give at least one prompt")
    if any(isinstance(s, RepetitionPenalty) and not _idle(s) for s in pipeline.steps):
        raise ValueError("the repetition penalty is not shift-invariant (penalty-shift), so it cannot be checked "
                         "on log-probabilities: validate it on exact rows")
    cases = []  # every prompt's row first: a prompt that cannot be checked is refused before any draw
    for prompt in prompts:
        row = top = next_row(prompt)
        index = None
        if isinstance(top, TopRow):
            try:
                row, index = completed(top, pipeline)
            except ValueError as e:
                raise ValueError(f"prompt {prompt!r}: {e}") from None
        cases.append((prompt, np.asarray(row, dtype=np.float64), index, top))
    reports = []
    for prompt, row, index, top in cases:
        tokens = [] if isinstance(prompt, str) else list(prompt)  # what the report shows as the prompt
        outside = len(row) - 1  # a token the server did not report: the last, probability-0 token of the row

        def loop(p, s, prompt=prompt, index=index, outside=outside):
            token = draw(prompt, s)
            yield (token if index is None else index.get(int(token), outside)), None
        loop.__name__ = f"{name or 'served model'}, prompt {prompt!r}"
        report = validate_generation(loop, lambda t, row=row: row, tokens, pipeline, steps=1,
                                     yields="none", profile=profile, alpha=alpha / len(prompts), seed=seed)
        report.skipped.append(RULED_OUT)
        if index is not None:
            pairs = sorted(index.items(), key=lambda kv: kv[1])
            names = dict(zip(top.ids, top.names, strict=True)) if top.names else {}
            shown = ", ".join(f"{i}: {names[token]!r}" if names else f"{i}: {token}" for token, i in pairs[:20])
            shown += ", ..." if len(pairs) > 20 else ""
            what = (f"every token, by text ({len(index)} texts, numbered in the server's order)" if top.whole
                    else f"its top {len(index)} tokens")
            report.notes.append(f"partial row: the server reported {what}; the row's "
                                f"positions and their tokens: {{{shown}}}; the positions after them stand for "
                                f"the unreported mass, the last ({outside}) for any other token (probability 0): "
                                f"a draw there is a token the server did not report, outside the target's support")
        reports.append(report)
    return reports

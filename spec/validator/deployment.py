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
that the server samples what it says from the distribution it reports for the prompt."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spec.transforms import RepetitionPenalty
from spec.validator.generation import validate_generation
from spec.validator.report import Report

RULED_OUT = ("only the first token after each prompt is checked: no histories, batch or same-key checks, white box "
             "or coupling; the rows are the server's own log-probabilities (a shift of its logits), taken as given")


def validate_deployment(next_row: Callable, draw: Callable, prompts: list[list[int]], pipeline, *,
                        profile: str = "quick", alpha: float = 1e-6, seed: int = 0, name: str = "") -> list[Report]:
    """next_row(prompt) -> the served model's log-probabilities after `prompt` (length V, -inf where 0);
    draw(prompt, seed) -> one token id sampled by the server with the settings under test. One
    report per prompt, the run's alpha split evenly over them."""
    if not prompts:
        raise ValueError("give at least one prompt (token ids)")
    if any(isinstance(s, RepetitionPenalty) for s in pipeline.steps):
        raise ValueError("the repetition penalty is not shift-invariant (penalty-shift), so it cannot be checked "
                         "on log-probabilities: validate it on exact rows")
    reports = []
    for prompt in prompts:
        row = np.asarray(next_row(list(prompt)), dtype=np.float64)

        def loop(p, s):
            yield draw(list(p), s), None
        loop.__name__ = f"{name or 'served model'}, prompt {list(prompt)}"
        report = validate_generation(loop, lambda tokens, row=row: row, list(prompt), pipeline, steps=1,
                                     yields="none", profile=profile, alpha=alpha / len(prompts), seed=seed)
        report.skipped.append(RULED_OUT)
        reports.append(report)
    return reports

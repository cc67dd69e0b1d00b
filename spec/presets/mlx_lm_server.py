"""mlx-lm's OpenAI-compatible server (`python -m mlx_lm.server`), as it samples a request."""

from __future__ import annotations

from spec.errors import InvalidParameter
from spec.presets.builders import mlx_lm
from spec.presets.checks import _check, _finite
from spec.transforms import Pipeline


def mlx_lm_server(temperature: float = 0.0, top_p: float = 1.0, top_k: int = 0, min_p: float = 0.0,
                  repetition_penalty: float = 0.0, repetition_context_size: int = 20,
                  presence_penalty: float = 0.0, presence_context_size: int = 20,
                  frequency_penalty: float = 0.0, frequency_context_size: int = 20,
                  xtc_probability: float = 0.0, xtc_threshold: float = 0.1, logit_bias: dict | None = None, *,
                  xtc_special_tokens: list[int] | None = None, concurrency: int | None = None,
                  seeded: bool = True) -> Pipeline:
    """mlx-lm 0.32.2 mlx_lm/server.py: `APIHandler.do_POST` reads the request's fields with the
    server's own defaults (temperature, top_p, top_k, min_p from its command line: --temp 0.0,
    --top-p 1.0, --top-k 0, --min-p 0.0; repetition_penalty 0.0, presence and frequency 0.0, every
    context size 20, xtc_probability 0.0, xtc_threshold 0.1), `validate_model_parameters` refuses
    with HTTP 400 what is out of range, and `_make_sampler` / `_make_logits_processors` build the
    library's `make_sampler` / `make_logits_processors` from them: so the library's pipeline
    (`spec.presets.mlx_lm`), with the server's names and defaults. Two differences from the
    library: min_tokens_to_keep is not exposed (1), and XTC never removes the tokens
    `tokenizer.encode("\\n") + tokenizer.eos_token_ids` (xtc_special_tokens: on the table models
    of `spec.tables.llama` none of them is a row token, so the default here is none).
    The server also checks types: xtc_probability and xtc_threshold must be JSON floats (0 is refused,
    0.0 is not), top_k an integer. concurrency (requests in flight at once) and seeded (whether each
    request carries a seed) are the adapter's, not sampling parameters (concurrency None: the
    adapter's default)."""
    if concurrency is not None:
        _check("concurrency", concurrency, int, lambda n: n >= 1, "an integer >= 1")
    if not isinstance(seeded, bool):
        raise InvalidParameter("seeded", seeded, "True or False")
    temperature = _check("temperature", temperature, float, lambda t: _finite(t) and t >= 0,
                         "a finite number >= 0 (0 means greedy)")  # named as the request names it
    for name, value in (("repetition_penalty", repetition_penalty), ("presence_penalty", presence_penalty),
                        ("frequency_penalty", frequency_penalty)):  # the server refuses null (HTTP 400)
        _check(name, value, float, _finite, "a finite number (0 disables)")
    return mlx_lm(temp=temperature, top_p=top_p, top_k=top_k, min_p=min_p, xtc_probability=xtc_probability,
                  xtc_threshold=xtc_threshold, xtc_special_tokens=xtc_special_tokens, logit_bias=logit_bias,
                  repetition_penalty=repetition_penalty, repetition_context_size=repetition_context_size,
                  presence_penalty=presence_penalty, presence_context_size=presence_context_size,
                  frequency_penalty=frequency_penalty, frequency_context_size=frequency_context_size)

"""mlx-lm (https://github.com/ml-explore/mlx-lm): its sampler, its generation loops on a small random
model, and the grid `python -m spec.conformance` runs. Everything calls the installed package; what
it must sample is the spec's `mlx_lm` preset."""

from __future__ import annotations

import inspect

import numpy as np

from spec.engines.engine import Config, Engine, version
from spec.transforms import History
from spec.validator.generation import Loop
from spec.validator.sampler import Sampler

INF = float("inf")


def sampler(temp: float = 0.0, top_p: float = 0.0, min_p: float = 0.0, min_tokens_to_keep: int = 1,
           top_k: int = 0, xtc_probability: float = 0.0, xtc_threshold: float = 0.1,
           xtc_special_tokens: list[int] | None = None, *, logit_bias: dict | None = None,
           repetition_penalty: float | None = None, repetition_context_size: int = 20,
           presence_penalty: float | None = None, presence_context_size: int = 20,
           frequency_penalty: float | None = None, frequency_context_size: int = 20) -> Sampler:
    """mlx-lm's own `make_sampler` and `make_logits_processors` (every parameter of the mlx_lm
    preset), composed as mlx_lm/generate.py `generate_step` composes them (mlx-lm 0.32.2, `_step`):
    the processors act on the raw logits with `tokens` = prompt + generated ids, then
    `logprobs = logits - mx.logsumexp(logits, keepdims=True)`, then the sampler. generate_step
    runs one sequence, so each row is processed on its own (with its own history), as a fresh
    (1, V) array: the processors write into it (`logits[:, tokens] = ...`). Takes logits.
    White-box: the same, then mlx-lm's filters in make_sampler's order (XTC's coin seeded by the key)."""
    import mlx.core as mx
    from mlx_lm import sample_utils as su

    draw = su.make_sampler(temp=temp, top_p=top_p, min_p=min_p, min_tokens_to_keep=min_tokens_to_keep, top_k=top_k,
                           xtc_probability=xtc_probability, xtc_threshold=xtc_threshold,
                           xtc_special_tokens=xtc_special_tokens)
    processors = su.make_logits_processors(logit_bias=logit_bias, repetition_penalty=repetition_penalty,
                                           repetition_context_size=repetition_context_size,
                                           presence_penalty=presence_penalty,
                                           presence_context_size=presence_context_size,
                                           frequency_penalty=frequency_penalty,
                                           frequency_context_size=frequency_context_size)

    def logprobs(x, history):
        if not processors:
            return x - mx.logsumexp(x, axis=-1, keepdims=True)  # per row, as generate_step's (1, V) rows
        groups = {}  # rows with the same history are processed together: the processors index columns only
        for b in range(x.shape[0]):
            seen = history[b] if history else History()
            groups.setdefault(seen.prompt + seen.output, []).append(b)
        out, order = [], []
        for tokens, rows in groups.items():
            logits = x[mx.array(rows)]  # a new array: the processors' in-place writes stay in it
            for processor in processors:
                logits = processor(mx.array(tokens, dtype=mx.int32), logits)
            out.append(logits - mx.logsumexp(logits, axis=-1, keepdims=True))
            order += rows
        if len(out) == 1:
            return out[0]
        return mx.concatenate(out)[mx.array(np.argsort(order))]

    steps = []
    if 0 < top_p < 1.0:
        steps.append(lambda x: su.apply_top_p(x, top_p))
    if min_p != 0.0:
        steps.append(lambda x: su.apply_min_p(x, min_p, min_tokens_to_keep))
    if xtc_probability > 0.0:
        steps.append(lambda x: su.apply_xtc(x, xtc_probability, xtc_threshold, list(xtc_special_tokens or [])))
    if top_k > 0:
        steps.append(lambda x: su.apply_top_k(x, top_k))

    def filtered(x, history=None):
        x = logprobs(x, history)
        for step in steps:
            x = step(x)
        return x

    def sample(x, history=None):
        return draw(logprobs(x, history))

    given = {"temp": temp, "top_p": top_p, "min_p": min_p, "min_tokens_to_keep": min_tokens_to_keep, "top_k": top_k,
             "xtc_probability": xtc_probability, "xtc_threshold": xtc_threshold,
             "xtc_special_tokens": xtc_special_tokens, "logit_bias": logit_bias,
             "repetition_penalty": repetition_penalty, "repetition_context_size": repetition_context_size,
             "presence_penalty": presence_penalty, "presence_context_size": presence_context_size,
             "frequency_penalty": frequency_penalty, "frequency_context_size": frequency_context_size}
    shown = ", ".join(f"{k}={v}" for k, v in given.items()
                      if v != inspect.signature(sampler).parameters[k].default or k == "temp")
    # in_flight=2: the sampler returns a lazy array, so two calls evaluate at once on two mlx
    # streams (the same tokens for the same keys: tests/test_validator_calls.py).
    return Sampler(sample, "mlx", "global", filtered if temp != 0 else None, history=True, input="logits", in_flight=2,
                   name=f"{version('mlx-lm')} make_logits_processors + make_sampler as generate_step composes them "
                        f"({shown})")


def tiny_llama(vocab: int = 16, seed: int = 2):
    """A small randomly initialised mlx-lm llama model (mlx_lm.models.llama, no download): hidden
    size 16, one layer, one head. Returns (model, next_logits)."""
    import mlx.core as mx
    from mlx_lm.models import llama

    args = llama.ModelArgs(model_type="llama", hidden_size=16, num_hidden_layers=1, intermediate_size=32,
                           num_attention_heads=1, rms_norm_eps=1e-5, vocab_size=vocab, num_key_value_heads=1)
    mx.random.seed(seed)
    model = llama.Model(args)
    mx.eval(model.parameters())

    def next_logits(tokens):
        return np.array(model(mx.array(tokens)[None])[0, -1].astype(mx.float32), dtype=np.float64)
    return model, next_logits


def _built(params: dict):
    """(make_sampler(...), make_logits_processors(...)) from the mlx_lm preset's names, as a loop uses them."""
    from mlx_lm.sample_utils import make_logits_processors, make_sampler

    split = set(inspect.signature(make_sampler).parameters)
    return (make_sampler(**{k: v for k, v in params.items() if k in split}),
            make_logits_processors(**{k: v for k, v in params.items() if k not in split}))


def loop(model, **params) -> Loop:
    """mlx-lm's own `generate_step` with `make_sampler` and `make_logits_processors` built from
    `params` (the mlx_lm preset's names), seeded through mlx's global random state."""
    import mlx.core as mx
    from mlx_lm.generate import generate_step

    draw, processors = _built(params)

    def generate(prompt, seed):
        mx.random.seed(seed)
        for token, logprobs in generate_step(mx.array(prompt), model, sampler=draw, logits_processors=processors):
            yield int(token), np.array(logprobs.astype(mx.float32))
    generate.__name__ = f"mlx-lm generate_step ({', '.join(f'{k}={v}' for k, v in params.items())})"
    return generate


def speculative_loop(model, draft_model, num_draft_tokens: int = 2, **params) -> Loop:
    """mlx-lm's own `speculative_generate_step` (mlx_lm/generate.py, 0.32.2): the draft model
    proposes `num_draft_tokens`, the target samples every verified position in one sampler call
    and keeps the drafts while its own sample equals them. Same sampler and processors as
    `loop`; yields the processed log-probabilities of each position."""
    import mlx.core as mx
    from mlx_lm.generate import speculative_generate_step

    draw, processors = _built(params)

    def generate(prompt, seed):
        mx.random.seed(seed)
        for token, logprobs, _ in speculative_generate_step(mx.array(prompt), model, draft_model, sampler=draw,
                                                            logits_processors=processors or None,
                                                            num_draft_tokens=num_draft_tokens):
            yield int(token), np.array(logprobs.astype(mx.float32))
    generate.__name__ = (f"mlx-lm speculative_generate_step (num_draft_tokens={num_draft_tokens}, "
                         f"{', '.join(f'{k}={v}' for k, v in params.items())})")
    return generate


def generation(name: str, **params):
    """mlx-lm's generate_step ("generate"), or speculative_generate_step with the model as its own
    draft ("speculative"), on the small random llama of `tiny_llama` (vocabulary 8)."""
    model, next_logits = tiny_llama(vocab=8)
    if name == "speculative":
        return speculative_loop(model, model, **params), next_logits
    return loop(model, **params), next_logits


ENGINE = Engine(
    "mlx-lm", "mlx_lm", ("mlx-lm", "mlx"), ("mlx_lm",), 'pip install -e ".[test]" (mlx-lm is a test dependency)',
    sampler, (
        Config("defaults (temp 0: greedy)"),
        Config("temperature 0.7 + top-p 0.9", {"temp": 0.7, "top_p": 0.9}),
        Config("no seed: temperature 0.7 + top-p 0.9", {"temp": 0.7, "top_p": 0.9}, unseeded=True),
        Config("top-k 40 + top-p 0.95 + temperature 0.8", {"temp": 0.8, "top_k": 40, "top_p": 0.95}),
        Config("min-p 0.05", {"temp": 1.0, "min_p": 0.05}),
        Config("repetition 1.1 + presence 0.5 + logit bias", {
            "temp": 0.8, "repetition_penalty": 1.1, "presence_penalty": 0.5, "logit_bias": {1: 2.0, 5: -INF}}),
        Config("XTC 0.5 (threshold 0.1)", {"temp": 1.0, "xtc_probability": 0.5, "xtc_threshold": 0.1},
               known="mlx_lm/sample_utils.py apply_xtc tosses one coin per call for the whole batch "
                     "(`mx.random.uniform(0, 1) > xtc_probability`): each row's marginal is right, but the rows of "
                     "one call are not independent draws"),
        Config("generate_step: temperature 0.8 + top-p 0.9 + repetition 1.3 + logit bias",
               {"temp": 0.8, "top_p": 0.9, "repetition_penalty": 1.3, "logit_bias": {4: 1.5}}, loop="generate"),
        Config("speculative_generate_step: temperature 0.8 + top-p 0.9", {"temp": 0.8, "top_p": 0.9},
               loop="speculative"),
        Config("speculative_generate_step: XTC 0.5 (threshold 0.1)",
               {"temp": 1.0, "xtc_probability": 0.5, "xtc_threshold": 0.1}, loop="speculative",
               known="the target samples every verified position in one sampler call and apply_xtc tosses one coin "
                     "per call, so consecutive accepted tokens share it (`speculative-shared-coin`)"),
        Config("speculative_generate_step: repetition 1.2", {"temp": 0.8, "repetition_penalty": 1.2},
               loop="speculative",
               known="its processors' token list starts at the unprefilled tail of the prompt (`prev_tokens = None`), "
                     "so the penalty ignores every prompt token but the last"),
    ), generation, factories={"mlx_lm.sample_utils:make_sampler": sampler}, rank=0)

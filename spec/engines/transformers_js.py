"""transformers.js (https://github.com/huggingface/transformers.js, npm @huggingface/transformers) through
the node bridge (spec/engines/node, handler handlers/transformers_js.mjs): what its generate() does to
each step's logits, and the grid `python -m spec.conformance` runs. Everything calls the installed
package; what it must sample is the spec's `transformers_js` preset."""

from __future__ import annotations

import numpy as np

from spec.engines.engine import Config
from spec.engines.node import NodeEngine, npm_version
from spec.validator.sampler import Sampler

PACKAGE = "@huggingface/transformers"
TIMEOUT = 600.0  # seconds for one call: a batch of rows at V = 151,936 takes seconds, not minutes


def sampler(do_sample: bool = False, temperature: float = 1.0, top_k: int = 50, top_p: float = 1.0,
            typical_p: float = 1.0, epsilon_cutoff: float = 0.0, eta_cutoff: float = 0.0,
            repetition_penalty: float | None = 1.0, suppress_tokens: list[int] | None = None) -> Sampler:
    """generate()'s step (read and run at @huggingface/transformers 4.3.2): the GenerationConfig built
    from these parameters, the processors `_get_logits_processor` builds from it, run on the float32
    (B, V) rows with each row's prompt + output ids, then `LogitsSampler.getSampler(config)` row by row
    from the package's global Mersenne Twister, seeded by `random.seed(seed)` once per call (as one
    batched generate() step draws its rows in sequence from it; no seed: the generator seeded from OS
    entropy at import). White-box (sampling only): the processors' scores, -inf outside the sampler's
    top-k (its own `topk`)."""
    from spec.engines.node import bridge

    params = dict(do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p, typical_p=typical_p,
                  epsilon_cutoff=epsilon_cutoff, eta_cutoff=eta_cutoff, repetition_penalty=repetition_penalty,
                  suppress_tokens=suppress_tokens)

    def ids(history, rows: int):
        return [[int(t) for t in h.prompt + h.output] for h in history] if history else [[] for _ in range(rows)]

    def sample(logits, seed=None, history=None):
        rows = np.asarray(logits, dtype=np.float32)
        return bridge.call("transformers_js", "sample", timeout=TIMEOUT, logits=rows, params=params,
                           seed=None if seed is None else int(seed) % 2**53, histories=ids(history, len(rows)))

    def filtered(logits, history=None):
        rows = np.asarray(logits, dtype=np.float32)
        return bridge.call("transformers_js", "filter", timeout=TIMEOUT, logits=rows, params=params,
                           histories=ids(history, len(rows)))

    greedy = not do_sample or temperature == 0
    shown = ", ".join(f"{k}={v}" for k, v in params.items() if v != _DEFAULTS[k])
    return Sampler(sample, "numpy", "seed", None if greedy else filtered, dtype="float32", history=True,
                   input="logits", name=f"transformers.js generate() step ({npm_version(PACKAGE)}), "
                                        f"{shown or 'defaults'}")


def table_model(vocab: int = 8, seed: int = 3):
    """The logits-table model (spec.tables.transformers_js) of a seeded (V, V) table, one -inf entry,
    written once per process (spec.tables.scratch): (directory, next_logits), where
    next_logits(tokens) is row tokens[-1], computed here without the engine."""
    from spec.tables import scratch
    from spec.tables import transformers_js as tables

    table = np.random.default_rng(seed).normal(0.0, 1.0, size=(vocab, vocab)).astype(np.float32)
    table[1, 3] = -np.inf
    key = (vocab, seed)
    if key not in _MODELS:
        _MODELS[key] = str(tables.write(table, scratch() / f"transformers-js-{vocab}-{seed}"))

    def next_logits(tokens):
        return table[int(tokens[-1]) % vocab].astype(np.float64)
    return _MODELS[key], next_logits


_MODELS: dict = {}


def loop(directory: str, **params):
    """transformers.js's own `model.generate({input_ids, attention_mask, max_new_tokens, ...params})` on the
    model in `directory`, from `random.seed(seed)`; yields each new token with the log-softmax of the
    processed logits (bias, penalties) it sampled from. generate() returns no scores, so a processor appended
    through its `logits_processor` option records them; it runs after every processor generate() builds,
    TemperatureLogitsWarper included, so with sampling at temperature T != 1 the recorded scores are
    multiplied back by T (float32 scores: the result agrees to about 1e-7, the white-box tolerance is 1e-4).
    The tokens, which the statistics check, are the engine's alone."""
    from spec.engines.node import bridge
    from spec.numerics import log_softmax

    temperature = params.get("temperature", 1.0) if params.get("do_sample") else 1.0
    scale = temperature if temperature not in (0, None) else 1.0

    def generate(prompt, seed):
        steps = 2
        out = bridge.call("transformers_js", "generate", timeout=TIMEOUT, model=directory, ids=list(prompt),
                          seed=int(seed) % 2**53, steps=steps, params=params)
        for token, scores in zip(out["tokens"], out["scores"], strict=True):
            yield int(token), log_softmax(scores.astype(np.float64) * scale)
    generate.__name__ = f"transformers.js generate({', '.join(f'{k}={v}' for k, v in params.items())})"
    return generate


def generation(name: str, **params):
    """transformers.js generate() ("generate") on the logits-table model of `table_model` (vocabulary 8)."""
    if name != "generate":
        raise ValueError(f"transformers.js has one generation loop, generate(), not {name!r}")
    directory, next_logits = table_model()
    return loop(directory, **params), next_logits


_DEFAULTS = dict(do_sample=False, temperature=1.0, top_k=50, top_p=1.0, typical_p=1.0, epsilon_cutoff=0.0,
                 eta_cutoff=0.0, repetition_penalty=1.0, suppress_tokens=None)
_IGNORED = ("is documented by GenerationConfig but generate() builds no warper for it (src/models/modeling_utils.js "
            "`_get_logits_processor`, @huggingface/transformers 4.3.2: the TopPLogitsWarper lines are commented out "
            "under '// TODO: Add TopPLogitsWarper and TopKLogitsWarper', and no other warper but temperature is "
            "built), and MultinomialSampler.sample (src/generation/logits_sampler.js) applies top-k alone")

ENGINE = NodeEngine(
    "transformers.js", "transformers_js", (PACKAGE,), (),
    "python -m spec.engines.node install (npm, --ignore-scripts: 29 s with a warm cache, 59 s cold)", sampler, (
        Config("defaults (do_sample false: greedy)"),
        Config("sampling defaults (temperature 1, top-k 50)", {"do_sample": True}),
        Config("temperature 0 (greedy, do_sample true)", {"do_sample": True, "temperature": 0.0}),
        Config("temperature 0.7, top-k 0 (full vocabulary)", {"do_sample": True, "temperature": 0.7, "top_k": 0}),
        Config("temperature 0.7 + top-p 0.9, top-k 0", {"do_sample": True, "temperature": 0.7, "top_p": 0.9,
                                                        "top_k": 0}, known=f"top_p {_IGNORED}"),
        Config("top-k 40 + top-p 0.95 + temperature 0.8", {"do_sample": True, "temperature": 0.8, "top_k": 40,
                                                           "top_p": 0.95}, known=f"top_p {_IGNORED}"),
        Config("typical-p 0.9", {"do_sample": True, "typical_p": 0.9}, known=f"typical_p {_IGNORED}"),
        Config("epsilon 0.02", {"do_sample": True, "epsilon_cutoff": 0.02}, known=f"epsilon_cutoff {_IGNORED}"),
        Config("eta 0.001", {"do_sample": True, "eta_cutoff": 1e-3}, known=f"eta_cutoff {_IGNORED}"),
        Config("repetition 1.3 + suppress tokens + temperature 0.8", {
            "do_sample": True, "temperature": 0.8, "repetition_penalty": 1.3, "suppress_tokens": [1, 5]}),
        Config("repetition 1.3, greedy", {"repetition_penalty": 1.3}),
        Config("no seed: temperature 0.7, top-k 40", {"do_sample": True, "temperature": 0.7, "top_k": 40},
               unseeded=True),
        Config("generate(): sampling + repetition 1.3 + suppress token 4 + top-k 5", {
            "do_sample": True, "repetition_penalty": 1.3, "suppress_tokens": [4], "top_k": 5}, loop="generate"),
        Config("generate(): temperature 0.6 + top-k 3 + repetition 1.3", {
            "do_sample": True, "temperature": 0.6, "top_k": 3, "repetition_penalty": 1.3}, loop="generate"),
        Config("generate(): top-p 0.5, top-k 0", {"do_sample": True, "top_p": 0.5, "top_k": 0}, loop="generate",
               known=f"top_p {_IGNORED}"),
    ), generation=generation, rank=20)

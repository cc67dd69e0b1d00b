"""onnxruntime-genai (https://github.com/microsoft/onnxruntime-genai): its search (greedy, top-k,
top-p, temperature, repetition penalty, seeded or not, batched) on rows we choose, its generation
loop on a logits-table model, and the grid `python -m spec.conformance` runs. Everything calls the
installed package (`pip install onnxruntime-genai`: no torch); what it must sample is the spec's
`onnxruntime_genai` preset.

The engine samples only inside a `Generator` built from a model, so each call builds generators on
the constant logits-table model of `spec.tables.onnx` (one per vocabulary size, written once per
process) and replaces the model's logits with the rows under test (`Generator.set_logits`, the
engine's own hook), after appending each row's history as the generator's sequence (what the
repetition penalty reads)."""

from __future__ import annotations

import functools

import numpy as np

from spec.engines.engine import Config, Engine, version
from spec.numerics import log_softmax
from spec.tables import onnx as tables
from spec.tables import scratch
from spec.transforms import History
from spec.validator.generation import Loop
from spec.validator.sampler import Sampler

MAX_BATCH = 32  # kMaxBatchSize, src/generators.cpp Generator::Generator: a larger batch_size raises
CONTEXT = 4096  # the models' context_length: the longest history a row may bring
SEEDS = 2**31  # random_seed is a C int; >= 0 seeds std::mt19937 with it, -1 (the default) std::random_device


@functools.cache
def model(vocab: int):
    """onnxruntime-genai's Model of the constant logits-table graph for a vocabulary of `vocab`
    tokens (every position's logits 0: `set_logits` replaces them)."""
    import onnxruntime_genai as og

    where = scratch() / f"onnxruntime-genai-constant-{vocab}"
    return og.Model(str(tables.write(np.zeros((1, vocab), np.float32), where,
                                     context=CONTEXT)))


def _groups(history: list[History], batch_size: int) -> list[list[int]]:
    """Rows that can share one generator: the same history length (AppendTokens takes one
    (batch, length) block), at most batch_size of them, in row order."""
    by_length: dict[int, list[int]] = {}
    for i, h in enumerate(history):
        by_length.setdefault(len(h.prompt) + len(h.output), []).append(i)
    return [rows[i:i + batch_size] for rows in by_length.values() for i in range(0, len(rows), batch_size)]


def _seeds(key, count: int) -> list[int | None]:
    """The random_seed of each generator of a call: the key itself when one generator draws every
    row (the engine's own stream over its batch), else one derived per generator; None: unseeded."""
    if key is None:
        return [None] * count
    if count == 1:
        return [int(key) % SEEDS]
    return [int(s) % SEEDS for s in np.random.SeedSequence(int(key)).generate_state(count)]


def sampler(do_sample: bool = False, top_k: int = 50, top_p: float = 0.0, temperature: float = 1.0,
            repetition_penalty: float = 1.0, batch_size: int = MAX_BATCH) -> Sampler:
    """onnxruntime-genai's own search on each row: `GeneratorParams.set_search_options` with these
    options (the engine's names and defaults; batch_size: rows per generator, 1 to 32, here 32 by
    default where the engine's is 1, one sequence per generator: it changes no row's target), a
    `Generator` on the constant table model, the row's history appended as its sequence
    (`append_tokens`: the repetition penalty counts prompt and output), `set_logits(rows)`,
    `generate_next_token()`, `get_next_tokens()`. A key sets random_seed; without one the engine
    seeds itself (std::random_device). Rows are float32, as the engine's logits are. No white-box
    view: the engine exposes only the token it draws."""
    import onnxruntime_genai as og

    options = dict(do_sample=bool(do_sample), top_k=int(top_k), top_p=float(top_p), temperature=float(temperature),
                   repetition_penalty=float(repetition_penalty))
    per_generator = min(max(int(batch_size), 1), MAX_BATCH)

    def sample(logits, seed=None, history=None):
        rows = np.ascontiguousarray(logits, dtype=np.float32)
        history = list(history) if history else [History()] * rows.shape[0]
        tokens = np.zeros(rows.shape[0], dtype=np.int64)
        groups = _groups(history, per_generator)
        for group, key in zip(groups, _seeds(seed, len(groups)), strict=True):
            seen = [list(history[i].prompt) + list(history[i].output) for i in group]
            params = og.GeneratorParams(model(rows.shape[1]))
            params.set_search_options(**options, batch_size=len(group), max_length=len(seen[0]) + 1,
                                      **({} if key is None else {"random_seed": key}))
            generator = og.Generator(model(rows.shape[1]), params)
            if seen[0]:
                generator.append_tokens(np.array(seen, dtype=np.int32))
            generator.set_logits(rows[group])
            generator.generate_next_token()
            tokens[group] = generator.get_next_tokens()
        return tokens

    shown = ", ".join(f"{k}={v}" for k, v in (options | {"batch_size": batch_size}).items())
    return Sampler(sample, "numpy", "seed", None, dtype="float32", history=True, input="logits",
                   name=f"{version('onnxruntime-genai')} Generator search ({shown})")


def table_model(vocab: int = 8, seed: int = 5):
    """A logits-table model (spec.tables.onnx): after token t the next logits are row t of a seeded
    random float32 table of `vocab` tokens plus one more, the end-of-sequence and pad token, at -inf
    in every row (never drawn: a loop always runs its full length, and no prompt ends with the pad).
    Returns (onnxruntime-genai Model, next_logits)."""
    import onnxruntime_genai as og

    table = np.random.default_rng(seed).normal(0.0, 1.5, (vocab + 1, vocab + 1)).astype(np.float32)
    table[:, vocab] = -np.inf
    where = tables.write(table, scratch() / f"onnxruntime-genai-table-{vocab}-{seed}", context=CONTEXT, eos=[vocab],
                         pad=vocab)

    def next_logits(tokens):
        return table[int(tokens[-1])].astype(np.float64)
    return og.Model(str(where)), next_logits


def loop(model, *, do_sample: bool = False, top_k: int = 50, top_p: float = 0.0, temperature: float = 1.0,
         repetition_penalty: float = 1.0) -> Loop:
    """onnxruntime-genai's own generation loop, as its examples write it: GeneratorParams with
    these search options and random_seed, `append_tokens(prompt)`, then per step `get_logits()`
    (the model's logits for the next position) and `generate_next_token()`. Yields each token and
    the log-softmax of those logits: the processed log-probabilities only when nothing processes
    them (no repetition penalty: the engine applies it in place, out of sight)."""
    import onnxruntime_genai as og

    options = dict(do_sample=bool(do_sample), top_k=int(top_k), top_p=float(top_p), temperature=float(temperature),
                   repetition_penalty=float(repetition_penalty))

    def generate(prompt, seed):
        params = og.GeneratorParams(model)
        params.set_search_options(**options, max_length=len(prompt) + 8, random_seed=int(seed) % SEEDS)
        generator = og.Generator(model, params)
        generator.append_tokens(np.array(prompt, dtype=np.int32))
        while not generator.is_done():
            logits = np.array(generator.get_logits(), dtype=np.float64).reshape(-1)
            generator.generate_next_token()
            yield int(generator.get_next_tokens()[0]), log_softmax(logits)
    generate.__name__ = f"onnxruntime-genai generate loop ({', '.join(f'{k}={v}' for k, v in options.items())})"
    return generate


def generation(name: str, **params):
    """The engine's generation loop ("generate") on the 8-token logits-table model."""
    if name != "generate":
        raise ValueError(f"onnxruntime-genai has one generation loop, 'generate', not {name!r}")
    params.pop("batch_size", None)
    m, next_logits = table_model()
    return loop(m, **params), next_logits


NUCLEUS = ("`FindNucleus` (src/sampling_distribution.h lines 139-206 at a0c04eb, 0.16.0-dev; reproduced on 0.18.0), "
           "the top_k = 0 path of ComputeSampledCategorical, stops where a lower bound on the cumulative probability "
           "reaches top_p (line 170: prefix >= p * (prefix + (V - i - 1) * p_i)) and computes the exact cut only when "
           "V <= 64 (line 186: kInitialCandidateCount * kCandidateCountGrowthFactor): above 64 tokens it keeps "
           "tokens past the nucleus (\"may include a few extra tokens\", its comment says)")
ENGINE = Engine(
    "onnxruntime-genai", "onnxruntime_genai", ("onnxruntime-genai", "onnxruntime"), ("onnxruntime_genai",),
    'pip install -e ".[test,onnxruntime-genai]" (onnxruntime-genai and onnxruntime wheels: 5 s, no torch)', sampler, (
        Config("defaults (do_sample False: greedy)"),
        Config("do_sample + temperature 0 (greedy)", {"do_sample": True, "temperature": 0.0}),
        Config("temperature 0.7 + top-p 0.9 without do_sample (greedy, as config.h documents)",
               {"temperature": 0.7, "top_p": 0.9}),
        Config("do_sample defaults (top-k 50, temperature 1)", {"do_sample": True}),
        Config("temperature 0.7 + top-p 0.9, top-k 0 (pure nucleus, full vocabulary)",
               {"do_sample": True, "temperature": 0.7, "top_k": 0, "top_p": 0.9}, known=NUCLEUS),
        Config("top-k 40 + top-p 0.95 + temperature 0.8", {"do_sample": True, "top_k": 40, "top_p": 0.95,
                                                           "temperature": 0.8}),
        Config("repetition 1.3 (prompt and output) + top-k 20 + temperature 0.9",
               {"do_sample": True, "repetition_penalty": 1.3, "top_k": 20, "temperature": 0.9}),
        Config("repetition 1.5, greedy", {"repetition_penalty": 1.5}),
        Config("batch_size 1: one generator per row, each seeded (top-k 40 + top-p 0.9)",
               {"do_sample": True, "top_k": 40, "top_p": 0.9, "batch_size": 1}),
        Config("no seed: fresh draws per call and per process (top-k 0, top-p 1)",
               {"do_sample": True, "top_k": 0, "top_p": 1.0}, unseeded=True),
        Config("generate(): do_sample + temperature 0.8 + top-k 5 + top-p 0.9",
               {"do_sample": True, "temperature": 0.8, "top_k": 5, "top_p": 0.9}, loop="generate"),
    ), generation, rank=4)

"""node-llama-cpp (https://github.com/withcatai/node-llama-cpp, npm, prebuilt llama.cpp binaries): its
sampler on a GGUF logits-table model (spec.tables.gguf), through the node bridge (handler
spec/engines/node/handlers/node_llama_cpp.mjs), and the grid `python -m spec.conformance` runs.
What it must sample is the spec's `node_llama_cpp` preset."""

from __future__ import annotations

import hashlib

import numpy as np

from spec.engines.engine import Config
from spec.engines.node import NodeEngine, npm_version
from spec.transforms import History
from spec.validator.generation import Loop
from spec.validator.sampler import Sampler

INF = float("inf")
SEEDS = 0xFFFFFFFF  # node-llama-cpp's seed is a uint32; llama.cpp reads 0xFFFFFFFF as "pick a random seed"


def table_model(table: np.ndarray) -> str:
    """The GGUF table model of these rows (written once per distinct table): its path."""
    from spec.tables import gguf, scratch

    table = np.ascontiguousarray(table, dtype=np.float32)
    name = hashlib.sha256(table.tobytes() + str(table.shape).encode()).hexdigest()[:24]
    path = scratch() / f"node-llama-cpp-{name}.gguf"
    if not path.exists():
        gguf.write(path.with_suffix(".part"), table).rename(path)
    return str(path)


def sampler(temperature: float = 0.0, minP: float = 0.0, topK: int = 40, topP: float = 0.95,  # noqa: N803
            xtc: dict | None = None, repeatPenalty: dict | None = None, tokenBias: dict | None = None,
            threads: int = 1, sequences: int = 1) -> Sampler:
    """node-llama-cpp 3.22.1's own sampling, end to end from a model's logits: the rows of a call
    become a GGUF table model (one row per distinct row, one prompt token per draw) and
    `LlamaContextSequence.controlledEvaluate` decodes the prompt tokens and samples after each
    with the given options (node-llama-cpp's names and defaults: dist/evaluator/LlamaContext/
    LlamaContext.js `_resolveSamplerConfig`, the chain of llama/addon/AddonSampler.cpp). One
    sampler per controlledEvaluate: the handler seeds a call's k-th batch of draws with
    seed + k * 0x9E3779B1 (mod 2^32 - 1); no key: no seed (node-llama-cpp's own default).
    Penalties: each row's history (prompt + output) is its `repeatPenalty.punishTokens`.
    White-box: the same call with `logits: true`, the candidates left after the chain (logits
    after temperature); positions whose logit was -inf (stored as -1e30) read -inf.
    threads, sequences: the context's threads (1 by default here: node-llama-cpp's default, every
    core, spins and is ~100x slower on a busy 2-core machine; 0 = its default) and parallel
    sequences (sequences > 1 runs a call's batches of draws on several sequences at once: one
    decode, samplers on libuv's thread pool)."""
    from spec.engines.node import bridge
    from spec.tables import gguf

    options = {"temperature": temperature, "minP": minP, "topK": topK, "topP": topP, "xtc": xtc,
               "repeatPenalty": repeatPenalty, "tokenBias": tokenBias}
    options = {k: v for k, v in options.items() if v is not None}

    def call(x, seed, history, logits: bool):
        x = np.asarray(x, dtype=np.float32)
        table, rows = np.unique(x, axis=0, return_inverse=True)
        histories = None
        if repeatPenalty:
            seen = list(history) if history else [History()] * x.shape[0]
            histories = [np.array(list(h.prompt) + list(h.output), dtype=np.int32) for h in seen]
        out = bridge.call("node_llama_cpp", "draw", timeout=600.0, path=table_model(table),
                          width=x.shape[1] + gguf.EXTRA, tokens=rows.reshape(-1).astype(np.int32), options=options,
                          seed=None if seed is None else int(seed) % SEEDS, histories=histories, logits=logits,
                          vocab=x.shape[1], threads=threads, sequences=sequences)
        return out, x

    def sample(x, seed=None, history=None):
        out, _ = call(x, seed, history, False)
        return out["tokens"].astype(np.int64)

    def filtered(x, history=None, key=None):
        out, x = call(x, key, history, True)
        result = np.asarray(out["logits"], dtype=np.float32).copy()
        result[np.isneginf(x)] = -np.inf  # stored as -1e30: the engine saw the stand-in for -inf
        return result

    given = dict(temperature=temperature, minP=minP, topK=topK, topP=topP, xtc=xtc, repeatPenalty=repeatPenalty,
                 tokenBias=tokenBias, threads=threads, sequences=sequences)
    shown = ", ".join(f"{k}={v}" for k, v in given.items() if v not in (None, 0, 1) or k == "temperature")
    return Sampler(sample, "numpy", "seed", filtered if temperature > 0 else None, dtype="float32", history=True,
                   input="logits",
                   name=f"node-llama-cpp controlledEvaluate on a GGUF table model ({npm_version('node-llama-cpp')}), "
                        f"{shown}")


def table_llm(vocab: int = 8, seed: int = 2) -> np.ndarray:
    """A square logits table standing for a small model: after token t, row t (the GGUF table model
    of it is then a model whose next-token logits depend on the last token only)."""
    return np.random.default_rng(seed).normal(0.0, 1.5, (vocab, vocab)).astype(np.float32)


def loop(table: np.ndarray, steps: int = 2, **params) -> Loop:
    """node-llama-cpp's own token-level generation loop, `LlamaContextSequence.evaluateWithMetadata(
    prompt, {probabilities: true}, options)` (dist/evaluator/LlamaContext/LlamaContext.js, 3.22.1),
    on the GGUF table model of `table`, `steps` tokens per run; yields each token with the log of
    the probabilities it reports (after its whole chain: yields="final"). repeatPenalty counts every
    token so far (its punishTokens is prompt + generated)."""
    from spec.engines.node import bridge
    from spec.tables import gguf

    path, vocab = table_model(table), table.shape[1]
    options = {k: v for k, v in params.items() if k not in ("threads", "sequences") and v is not None}

    def generate(prompt, seed):
        out = bridge.call("node_llama_cpp", "generate", timeout=120.0, path=path, width=vocab + gguf.EXTRA,
                          prompt=np.asarray(prompt, dtype=np.int32), options=options, seed=int(seed) % SEEDS,
                          steps=steps, vocab=vocab)
        with np.errstate(divide="ignore"):
            logprobs = np.log(np.asarray(out["probabilities"], dtype=np.float64))
        yield from zip((int(t) for t in out["tokens"]), logprobs, strict=True)
    generate.__name__ = f"node-llama-cpp evaluateWithMetadata ({', '.join(f'{k}={v}' for k, v in options.items())})"
    return generate


def generation(name: str, **params):
    """node-llama-cpp's evaluateWithMetadata ("evaluate") on the table model of `table_llm`: (loop, next_logits)."""
    table = table_llm()
    return loop(table, **params), lambda tokens: table[tokens[-1]].astype(np.float64)


XTC = {"probability": 0.5, "threshold": 0.1}
XTC_SEED = ("XTC's coin and the draw are seeded alike and one sampler serves many tokens: llama/addon/"
            "AddonSampler.cpp (3.22.1) ApplyConfig seeds llama_sampler_init_xtc with the dist sampler's seed, so the "
            "two mt19937 streams are equal, and the bundled llama.cpp (src/llama-sampler.cpp) takes XTC's coin as a "
            "float from one word and dist's number as a double from two: the word that decides token n is the one "
            "that tosses token n + 1's coin (its evaluateWithMetadata loop shows it too: the pair [2, 2] 488 times "
            "in 4,000 runs for 374 expected)")
TOP_K_OFF = ("topK <= 0 does not leave top-k out: llama/addon/AddonSampler.cpp (3.22.1) ApplyConfig makes it "
             "llama_sampler_init_top_k(n_vocab), which sorts the whole vocabulary with the bundled llama.cpp's bucket "
             "sort (src/llama-sampler.cpp llama_token_data_array_partial_sort: buckets over absolute logits in "
             "[-10, 10], unstable std::sort / std::partial_sort inside them), so the order of tied tokens, and with "
             "it the token one seed draws, changes when every logit is shifted (same-key shift on a tie)")
ENGINE = NodeEngine(
    "node-llama-cpp", "node_llama_cpp", ("node-llama-cpp",), ("gguf",),
    'python -m spec.engines.node install (npm, prebuilt binaries, no compile) and pip install gguf==0.19.0',
    sampler, (
        Config("defaults (temperature 0: greedy)"),
        Config("temperature 0.7 + top-p 0.9, top-k off (pure nucleus)", {"temperature": 0.7, "topK": 0, "topP": 0.9},
               known=TOP_K_OFF),
        Config("no seed: temperature 0.7 + top-p 0.9", {"temperature": 0.7, "topK": 0, "topP": 0.9}, unseeded=True,
               known="with no seed, _resolveSamplerConfig (dist/evaluator/LlamaContext/LlamaContext.js, 3.22.1) uses "
                     "seed = Math.floor(Date.now() / 1000): every call in the same wall-clock second (and every "
                     "process started in it) draws the same tokens"),
        Config("top-k 40 + top-p 0.95 + temperature 0.8 (its defaults at temperature 0.8)", {"temperature": 0.8}),
        Config("min-p 0.05", {"temperature": 1.0, "topK": 0, "topP": 1.0, "minP": 0.05}, known=TOP_K_OFF),
        Config("repetition 1.1 + presence 0.5 + token bias", {
            "temperature": 0.8, "repeatPenalty": {"penalty": 1.1, "presencePenalty": 0.5},
            "tokenBias": {1: 2.0, 5: -INF}}),
        Config("repeatPenalty with its documented default penalty (1.1)", {"temperature": 0.8, "repeatPenalty": {}},
               known="types.d.ts documents `penalty` as defaulting to 1.1, but _resolveSamplerConfig passes "
                     "repeatPenalty?.penalty (undefined, dropped by removeNullFields) and llama/addon/AddonSampler.cpp "
                     "ApplyConfig falls back to `: 1`, which is off (3.22.1): no penalty at all"),
        Config("XTC 0.5 (threshold 0.1)", {"temperature": 1.0, "xtc": XTC}, known=XTC_SEED),
        Config("evaluateWithMetadata: repetition 1.3 + frequency 0.2 + presence 0.3 + token bias (temperature 1, "
               "no cut-off, so its final probabilities are the processed ones)",
               {"temperature": 1.0, "topK": 0, "topP": 1.0, "tokenBias": {4: 1.5, 6: -INF},
                "repeatPenalty": {"penalty": 1.3, "frequencyPenalty": 0.2, "presencePenalty": 0.3}}, loop="evaluate"),
        Config("fixed seed, 4 parallel sequences (one batched decode, 4 samplers at once): temperature 0.8 + "
               "min-p 0.05", {"temperature": 0.8, "minP": 0.05, "sequences": 4}),
    ), generation, rank=7)

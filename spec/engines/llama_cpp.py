"""llama.cpp (https://github.com/ggml-org/llama.cpp) through llama-cpp-python (extra [llama-cpp]): its
sampler chain, and the grid `python -m spec.conformance` runs. Everything calls the installed
package; what it must sample is the spec's `llama_cpp` preset."""

from __future__ import annotations

import inspect

import numpy as np

from spec.engines.engine import Config, Engine, version
from spec.transforms import History
from spec.validator.sampler import Sampler

INF = float("inf")


def sampler(temp: float = 0.8, top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05, min_keep: int = 0,
              typ_p: float = 1.0, top_n_sigma: float = -1.0, xtc_probability: float = 0.0, xtc_threshold: float = 0.1,
              penalty_last_n: int = 64, penalty_repeat: float = 1.0, penalty_freq: float = 0.0,
              penalty_present: float = 0.0, logit_bias: dict | None = None, context: int = 4096) -> Sampler:
    """llama.cpp's real sampler chain through llama-cpp-python's low-level API (read and run at
    llama-cpp-python 0.3.36): the chain `common_sampler_init` builds (vendor/llama.cpp
    common/sampling.cpp, default order in common/common.h): logit_bias, penalties, top_n_sigma,
    top_k, typical, top_p, min_p, xtc, temp_ext, dist(seed); DRY needs a model's vocabulary and is
    left out (its default multiplier 0 disables it). Each row gets a fresh chain that has accepted
    the row's prompt and output tokens (`llama_sampler_accept`, as llama-cli feeds the prompt), so
    the penalties see them; penalty_last_n = -1 means the context size (common/arg.cpp), here
    `context` tokens. Seeds: one per row, into dist and XTC. White-box: the same chain without
    dist, its survivors read back from the candidate array (which the samplers sort, shrink and
    move). Extra [llama-cpp]."""
    import ctypes

    import llama_cpp as L

    entry = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])
    last_n = context if penalty_last_n == -1 else penalty_last_n
    default_seed = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a random seed

    def chain(vocab: int, seed: int | None, history: History, final: bool):
        seed = default_seed if seed is None else int(seed) % default_seed
        c = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
        add = lambda s: L.llama_sampler_chain_add(c, s)  # noqa: E731 - the chain owns what is added
        if logit_bias:
            biases = (L.llama_logit_bias * len(logit_bias))(*[L.llama_logit_bias(int(t), float(b))
                                                              for t, b in logit_bias.items()])
            add(L.llama_sampler_init_logit_bias(vocab, len(logit_bias), biases))
        add(L.llama_sampler_init_penalties(vocab, last_n, penalty_repeat, penalty_freq, penalty_present))
        add(L.llama_sampler_init_top_n_sigma(top_n_sigma))
        add(L.llama_sampler_init_top_k(top_k))
        add(L.llama_sampler_init_typical(typ_p, min_keep))
        add(L.llama_sampler_init_top_p(top_p, min_keep))
        add(L.llama_sampler_init_min_p(min_p, min_keep))
        add(L.llama_sampler_init_xtc(xtc_probability, xtc_threshold, min_keep, seed))
        add(L.llama_sampler_init_temp_ext(temp, 0.0, 1.0))
        if final:
            add(L.llama_sampler_init_dist(seed))
        for token in history.prompt + history.output:
            L.llama_sampler_accept(c, int(token))
        return c

    def apply(row: np.ndarray, seed, history: History, final: bool):
        """One row through a fresh chain: the candidate array after it (id, logit, p), and the
        selected index."""
        buffer = (L.llama_token_data * row.size)()
        view = np.frombuffer(buffer, dtype=entry)
        view["id"], view["logit"], view["p"] = np.arange(row.size), row.astype(np.float32), 0.0
        arr = L.llama_token_data_array(data=ctypes.cast(buffer, L.llama_token_data_p), size=row.size, selected=-1,
                                       sorted=False)
        c = chain(row.size, seed, history, final)
        try:
            L.llama_sampler_apply(c, ctypes.byref(arr))
        finally:
            L.llama_sampler_free(c)
        out = np.ctypeslib.as_array((L.llama_token_data * arr.size).from_address(
            ctypes.addressof(arr.data.contents))).view(entry).copy() if arr.size else np.zeros(0, entry)
        return out, arr.selected

    def seeds(batch: int, seed):
        return [None] * batch if seed is None else np.random.SeedSequence(seed).generate_state(batch)

    def sample(logits, seed=None, history=None):
        history = list(history) if history else [History()] * logits.shape[0]
        tokens = []
        for row, s, h in zip(np.asarray(logits), seeds(logits.shape[0], seed), history, strict=True):
            out, selected = apply(row, s, h, True)
            tokens.append(int(out["id"][selected]))
        return np.array(tokens, dtype=np.int64)

    def filtered(logits, history=None, key=None):
        history = list(history) if history else [History()] * logits.shape[0]
        result = np.full(logits.shape, -np.inf, dtype=np.float32)
        for b, (row, s, h) in enumerate(zip(np.asarray(logits), seeds(logits.shape[0], key), history, strict=True)):
            out, _ = apply(row, s, h, False)
            alive = np.isfinite(out["logit"])
            result[b, out["id"][alive]] = out["logit"][alive]
        return result

    given = dict(temp=temp, top_k=top_k, top_p=top_p, min_p=min_p, min_keep=min_keep, typ_p=typ_p,
                 top_n_sigma=top_n_sigma, xtc_probability=xtc_probability, xtc_threshold=xtc_threshold,
                 penalty_last_n=penalty_last_n, penalty_repeat=penalty_repeat, penalty_freq=penalty_freq,
                 penalty_present=penalty_present, logit_bias=logit_bias)
    shown = ", ".join(f"{k}={v}" for k, v in given.items() if v != inspect.signature(sampler).parameters[k].default)
    return Sampler(sample, "numpy", "seed", filtered if temp > 0 else None, dtype="float32", history=True,
                   input="logits",
                   name=f"llama.cpp sampler chain ({version('llama-cpp-python')}), {shown or 'defaults'}")


LLAMA_FLAGS = ("-DGGML_NATIVE=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF "
               "-DLLAMA_CURL=OFF -DGGML_OPENMP=OFF")
ENGINE = Engine(
    "llama-cpp", "llama_cpp", ("llama-cpp-python",), ("llama_cpp",),
    f'CMAKE_ARGS="{LLAMA_FLAGS}" pip install -e ".[test,llama-cpp]" (builds llama.cpp: 8 min 21 s, 2 idle cores)',
    sampler, (
        Config("defaults (temp 0.8, top-k 40, top-p 0.95, min-p 0.05)"),
        Config("temperature 0 (greedy)", {"temp": 0.0}),
        Config("temperature 0.7 + top-p 0.9", {"temp": 0.7, "top_p": 0.9}),
        Config("no seed: temperature 0.7 + top-p 0.9", {"temp": 0.7, "top_p": 0.9}, unseeded=True),
        Config("top-k 40 + top-p 0.95 + temperature 0.8", {"temp": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.0}),
        Config("min-p 0.05", {"temp": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.05}),
        Config("repetition 1.1 + presence 0.5 + logit bias", {
            "penalty_repeat": 1.1, "penalty_present": 0.5, "logit_bias": {1: 2.0, 5: -INF}}),
        Config("XTC 0.5 (threshold 0.1)", {"xtc_probability": 0.5, "xtc_threshold": 0.1}),
        Config("typical-p 0.9", {"typ_p": 0.9}),
        Config("top-n-sigma 1.5 + typical-p 0.9", {"top_n_sigma": 1.5, "typ_p": 0.9},
               known="top-n-sigma sets dropped logits to -inf without shrinking the candidate array, so typical-p "
                     "(src/llama-sampler.cpp llama_sampler_typical_apply) takes 0 * log 0 = NaN into the entropy and "
                     "ranks tokens by NaN scores: it keeps tokens the spec drops"),
        Config("top-n-sigma 1.5 alone", {"top_n_sigma": 1.5, "top_k": 0, "top_p": 1.0, "min_p": 0.0},
               known="the standard deviation is accumulated in float (llama_sampler_top_n_sigma_apply): logits more "
                     "than about 1.8e19 apart overflow it to inf, and the filter keeps every token"),
    ), rank=3)

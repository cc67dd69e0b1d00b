"""One vocabulary of parameters for every preset: the registry's common names translated to each
engine's own, its defaults and its off values (the validator's command line uses it)."""

from __future__ import annotations

import inspect

from spec.errors import InvalidParameter
from spec.presets.builders import hf, llama_cpp, mlx_lm, tiny_llm, vllm
from spec.presets.ctranslate2 import ctranslate2
from spec.presets.llama_cpp_server import llama_cpp_server
from spec.presets.mlx_lm_server import mlx_lm_server
from spec.presets.node_llama_cpp import node_llama_cpp
from spec.presets.onnxruntime_genai import onnxruntime_genai
from spec.presets.recommended import reference
from spec.presets.transformers_js import transformers_js
from spec.presets.vllm_server import vllm_server
from spec.transforms import COMMON, REGISTRY, LogitBias, Pipeline, registered

PRESETS = {"hf": hf, "vllm": vllm, "llama_cpp": llama_cpp, "mlx_lm": mlx_lm, "tiny_llm": tiny_llm,
           "onnxruntime_genai": onnxruntime_genai, "ctranslate2": ctranslate2, "transformers_js": transformers_js,
           "node_llama_cpp": node_llama_cpp, "mlx_lm_server": mlx_lm_server, "vllm_server": vllm_server,
           "llama_cpp_server": llama_cpp_server, "reference": reference}

# Presets of servers, each the pipeline of the library it serves (under the request's names and the
# server's defaults): the fingerprint and the tie notes leave them out, as they add no convention of their own.
SERVED = {"mlx_lm_server": "mlx_lm", "vllm_server": "vllm", "llama_cpp_server": "llama_cpp"}
CONVENTIONS = tuple(n for n in PRESETS if n not in SERVED)  # the presets whose conventions a sampler may follow


# The engine's own name for each common parameter; absent: the engine has no such parameter.
_SAME = ("temperature", "top_k", "top_p", "min_p")
ENGINE_NAMES = {
    "hf": {n: n for n in _SAME} | {"logit_bias": "sequence_bias", "repetition_penalty": "repetition_penalty",
                                   "typical_p": "typical_p", "epsilon_cutoff": "epsilon_cutoff",
                                   "eta_cutoff": "eta_cutoff"},
    "vllm": {n: n for n in _SAME} | {n: n for n in ("logit_bias", "repetition_penalty", "presence_penalty",
                                                     "frequency_penalty")},
    "vllm_server": {n: n for n in _SAME} | {n: n for n in ("logit_bias", "repetition_penalty", "presence_penalty",
                                                            "frequency_penalty")},
    "llama_cpp_server": {n: n for n in (*_SAME, "logit_bias", "presence_penalty", "frequency_penalty")}
    | {"repetition_penalty": "repeat_penalty"},
    "llama_cpp": {"temperature": "temp", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p",
                  "logit_bias": "logit_bias", "repetition_penalty": "penalty_repeat",
                  "presence_penalty": "penalty_present", "frequency_penalty": "penalty_freq", "typical_p": "typ_p",
                  "top_n_sigma": "top_n_sigma", "xtc_probability": "xtc_probability"},
    "mlx_lm": {"temperature": "temp", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p",
               "logit_bias": "logit_bias", "repetition_penalty": "repetition_penalty",
               "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty",
               "xtc_probability": "xtc_probability"},
    "mlx_lm_server": {n: n for n in (*_SAME, "logit_bias", "repetition_penalty", "presence_penalty",
                                     "frequency_penalty", "xtc_probability")},
    "tiny_llm": {"temperature": "temp", "top_k": "top_k", "top_p": "top_p"},
    "transformers_js": {n: n for n in ("temperature", "top_k", "top_p", "typical_p", "epsilon_cutoff", "eta_cutoff",
                                       "repetition_penalty")},
    "node_llama_cpp": {"temperature": "temperature", "top_k": "topK", "top_p": "topP", "min_p": "minP",
                       "logit_bias": "tokenBias"},
    "onnxruntime_genai": {n: n for n in ("temperature", "top_k", "top_p", "repetition_penalty")},
    "ctranslate2": {"temperature": "sampling_temperature", "top_k": "sampling_topk", "top_p": "sampling_topp",
                    "repetition_penalty": "repetition_penalty"},
    "reference": {n: n for n in COMMON},
}
# The value that switches a transform off in each engine (used to state "no such filter" explicitly).
DISABLED = {
    "hf": {"top_k": 0, "top_p": 1.0, "min_p": None, "logit_bias": None, "repetition_penalty": 1.0,
           "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0},
    "vllm": {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": 1.0,
             "presence_penalty": 0.0, "frequency_penalty": 0.0},
    "vllm_server": {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": 1.0,
                    "presence_penalty": 0.0, "frequency_penalty": 0.0},
    "llama_cpp_server": {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": 1.0,
                         "presence_penalty": 0.0, "frequency_penalty": 0.0},
    "llama_cpp": {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": 1.0,
                  "presence_penalty": 0.0, "frequency_penalty": 0.0, "typical_p": 1.0, "top_n_sigma": -1.0,
                  "xtc_probability": 0.0},
    "mlx_lm": {"top_k": 0, "top_p": 0.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": None,
               "presence_penalty": None, "frequency_penalty": None, "xtc_probability": 0.0},
    "mlx_lm_server": {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": 0.0,
                      "presence_penalty": 0.0, "frequency_penalty": 0.0, "xtc_probability": 0.0},
    "tiny_llm": {"top_k": None, "top_p": None},
    "transformers_js": {"top_k": 0, "top_p": 1.0, "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0,
                        "repetition_penalty": 1.0},
    "node_llama_cpp": {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "logit_bias": None},
    "onnxruntime_genai": {"top_k": 0, "top_p": 1.0, "repetition_penalty": 1.0},
    "ctranslate2": {"top_k": 0, "top_p": 1.0, "repetition_penalty": 1.0},
    "reference": {n: None for n in COMMON if n != "temperature"},
}


# Engine switches the common parameters need to act at all, set by explicit=True: onnxruntime-genai
# and transformers.js ignore temperature, top_k and top_p (greedy) unless do_sample is on.
SAMPLING = {"onnxruntime_genai": {"do_sample": True}, "transformers_js": {"do_sample": True}}

ALIASES = {"transformers": "hf", "huggingface": "hf", "hugging_face": "hf"}  # engines named as people name them


def canonical(name: str) -> str:
    """'mlx-lm', 'llama.cpp', 'HF', 'transformers' -> the PRESETS key; unknown names raise InvalidParameter."""
    key = name.strip().lower().replace("-", "_").replace(".", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in PRESETS:
        raise InvalidParameter("preset", name, f"one of {', '.join(sorted(PRESETS))} (hf is also 'transformers')")
    return key


def engine_params(preset: str, explicit: bool = False, **common) -> dict:
    """Common parameters (the registry's names: temperature, top_k, top_p, min_p, logit_bias,
    repetition_penalty, ...; None = not given) in the engine's own names. explicit=False leaves
    the ones not given to the engine's defaults (as a user calling the engine would);
    explicit=True switches them off, and sets temperature 1 if not given."""
    preset = canonical(preset)
    unknown = set(common) - set(COMMON)
    if unknown:
        raise InvalidParameter("parameter", sorted(unknown)[0], f"one of {COMMON}")
    names, params = ENGINE_NAMES[preset], {}
    for name in COMMON:
        value = common.get(name)
        if value is None and not explicit:
            continue
        if name not in names:
            if value is None:
                continue
            raise InvalidParameter(name, value, f"not a parameter of {preset}")
        if value is None:
            value = REGISTRY[name].noop if name == "temperature" else DISABLED[preset][name]
        params[names[name]] = value
    return params | SAMPLING.get(preset, {}) if explicit else params


def engine_defaults(preset: str, **given) -> dict:
    """The engine's own defaults that act when these common parameters are given and no others
    (explicit=False): {engine parameter: default} for every one that is not the engine's no-op,
    e.g. Hugging Face's top_k=50, llama.cpp's temp=0.8, top_k=40, top_p=0.95, min_p=0.05. Said out
    loud wherever a preset is built from what a user typed, so none acts unseen."""
    preset = canonical(preset)
    defaults = {k: p.default for k, p in inspect.signature(PRESETS[preset]).parameters.items()
                if p.default is not inspect.Parameter.empty}
    out = {}
    for name, engine_name in ENGINE_NAMES[preset].items():
        if given.get(name) is not None or engine_name not in defaults:
            continue
        off = REGISTRY[name].noop if name == "temperature" else DISABLED[preset].get(name)
        if defaults[engine_name] != off:
            out[engine_name] = defaults[engine_name]
    return out | {k: defaults[k] for k, on in SAMPLING.get(preset, {}).items() if defaults[k] != on}


def common(preset: str, explicit: bool = False, **params) -> Pipeline:
    """The preset's pipeline for common parameters: common("mlx-lm", temperature=0.7, top_p=0.9)."""
    return PRESETS[canonical(preset)](**engine_params(preset, explicit, **params))


def common_params(pipeline: Pipeline) -> dict:
    """The common parameters a pipeline was built from: the inverse of `common`, used to ask what
    every other preset would do with the same settings."""
    out = {name: None for name in COMMON} | {"temperature": REGISTRY["temperature"].noop}
    for step in pipeline.steps:
        out[registered(step).name] = dict(step.value) if isinstance(step, LogitBias) else step.value
    return out


def factory_params(preset: str, **common) -> dict:
    """Every engine parameter the preset knows, for a factory that requires them all (tiny-llm's
    make_sampler(temp, top_p, top_k) has no defaults): the given common parameters, the others at
    the preset's default, which the pipeline assumes for them (Hugging Face's top_k 50, llama.cpp's
    top_k 40, ...), else its disabled value."""
    preset = canonical(preset)
    params = engine_params(preset, **common)
    names, signature = ENGINE_NAMES[preset], inspect.signature(PRESETS[preset]).parameters
    if names["temperature"] not in params:
        params[names["temperature"]] = signature[names["temperature"]].default
    for name, value in DISABLED[preset].items():
        default = signature[names[name]].default if names[name] in signature else inspect.Parameter.empty
        params.setdefault(names[name], value if default is inspect.Parameter.empty else default)
    return params

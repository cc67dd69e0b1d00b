"""One preset per engine: the engine's own parameter names and defaults in, a `Pipeline` out.

Each docstring cites the source the conventions were read from. Parameters an engine ignores
silently are still validated here when they are plainly garbage (negative, NaN), because a
spec that accepts nonsense hides bugs.
"""

from __future__ import annotations

import inspect
import math

from spec.errors import InvalidParameter
from spec.transforms import COMMON, REGISTRY, MinP, Pipeline, Temperature, TopK, TopP


def _check(name, value, ok: bool, allowed: str):
    if isinstance(value, bool) or not isinstance(value, int | float) or not ok:
        raise InvalidParameter(name, value, allowed)


def _finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def hf(temperature: float = 1.0, top_k: int | None = 50, top_p: float | None = 1.0,
       min_p: float | None = None, min_tokens_to_keep: int = 1) -> Pipeline:
    """Hugging Face transformers 5.24.0, `GenerationMixin._get_logits_processor` (generation/utils.py)
    and the warpers in generation/logits_process.py, with do_sample=True.

    Order temperature -> top-k -> top-p -> min-p. Temperature must be > 0 (the warper raises for 0:
    greedy is do_sample=False); top_k = 0 or None disables, larger than V clamps, ties at the cut
    are all kept (`scores < topk(...)[-1]`); top_p = 1 disables, 0 keeps min_tokens_to_keep, masses
    renormalised, positional cut after torch.sort; min-p in probability space after temperature.
    """
    _check("temperature", temperature, _finite(temperature) and temperature > 0,
           "a finite number > 0 (Hugging Face raises for 0: use greedy decoding instead)")
    steps = [] if temperature == 1 else [Temperature(temperature)]
    if top_k is not None:
        _check("top_k", top_k, isinstance(top_k, int) and top_k >= 0, "an integer >= 0 (0 disables)")
        if top_k > 0:
            steps.append(TopK(max(top_k, min_tokens_to_keep), ties="all"))
    if top_p is not None:
        _check("top_p", top_p, _finite(top_p) and 0 <= top_p <= 1, "a number in [0, 1]")
        if top_p < 1:
            steps.append(TopP(top_p, ties="any", min_tokens_to_keep=min_tokens_to_keep))
    if min_p is not None:
        _check("min_p", min_p, _finite(min_p) and 0 <= min_p <= 1, "a number in [0, 1]")
        steps.append(MinP(min_p, min_tokens_to_keep))
    return Pipeline(tuple(steps), "hf")


def vllm(temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0) -> Pipeline:
    """vLLM v1, vllm/v1/sample/sampler.py (the Sampler's documented steps) and
    vllm/v1/sample/ops/topk_topp_sampler.py, read from a public copy; logits cast to float32.

    Order temperature -> min-p -> top-k -> top-p. temperature < 1e-5 is greedy, and values in
    [1e-5, 1e-2) are clamped to 1e-2; top_k 0 or -1 disables, >= V clamps, ties all kept (PyTorch
    path); top_p must be in (0, 1], 1 disables; min-p in probability space after temperature.
    """
    _check("temperature", temperature, _finite(temperature) and temperature >= 0, "a finite number >= 0")
    steps = [Temperature(max(temperature, 1e-2))]
    _check("min_p", min_p, _finite(min_p) and 0 <= min_p <= 1, "a number in [0, 1]")
    if min_p > 0:
        steps.append(MinP(min_p))
    _check("top_k", top_k, isinstance(top_k, int) and top_k >= -1, "an integer >= 1, or 0 / -1 to disable")
    if top_k > 0:
        steps.append(TopK(top_k, ties="all"))
    _check("top_p", top_p, _finite(top_p) and 0 < top_p <= 1, "a number in (0, 1] (vLLM rejects 0)")
    if top_p < 1:
        steps.append(TopP(top_p, ties="any"))
    if temperature < 1e-5:  # greedy: the filters are ignored (after being checked)
        return Pipeline((Temperature(0),), "vllm")
    return Pipeline(tuple(steps), "vllm")


def llama_cpp(temp: float = 0.8, top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05,
              min_keep: int = 0) -> Pipeline:
    """llama.cpp's default sampler chain (common/sampling.cpp, src/llama-sampling.cpp), as measured
    in the team's notes (shared/README.md), not re-read here.

    Order top-k -> top-p -> min-p -> temperature. top_k <= 0 disables, >= V clamps, exactly k
    kept (partial sort: ties at the cut are boundary); top_p >= 1 disables, 0 keeps
    max(1, min_keep); min-p in logit space (l >= max + log m), <= 0 disables; temp <= 0 is greedy.
    """
    _check("temp", temp, _finite(temp), "a finite number (<= 0 means greedy)")
    keep = max(1, min_keep)
    steps = []
    _check("top_k", top_k, isinstance(top_k, int), "an integer (<= 0 disables)")
    if top_k > 0:
        steps.append(TopK(max(top_k, keep), ties="any"))
    _check("top_p", top_p, _finite(top_p) and top_p >= 0, "a number >= 0 (>= 1 disables)")
    if top_p < 1:
        steps.append(TopP(top_p, ties="any", min_tokens_to_keep=keep))
    _check("min_p", min_p, _finite(min_p) and min_p <= 1, "a number <= 1 (<= 0 disables)")
    if min_p > 0:
        steps.append(MinP(min_p, keep))
    if temp <= 0:  # greedy: the filters are ignored (after being checked)
        return Pipeline((Temperature(0),), "llama_cpp")
    steps.append(Temperature(temp))
    return Pipeline(tuple(steps), "llama_cpp")


def mlx_lm(temp: float = 0.0, top_p: float = 0.0, min_p: float = 0.0, min_tokens_to_keep: int = 1,
           top_k: int = 0) -> Pipeline:
    """mlx-lm 0.32.2, mlx_lm/sample_utils.py `make_sampler` (installed package, read here).

    Input is log-probabilities. temp = 0 is greedy. Order top-p (only if 0 < top_p < 1) -> min-p
    (if != 0) -> top-k (if > 0; `apply_top_k` raises unless 0 < k < V) -> categorical(x / temp).
    top-p is a threshold form: every token tied with the smallest kept value is kept (ties="all");
    top-k uses argpartition: exactly k (ties at the cut are boundary); min-p in log space before
    temperature, with min_tokens_to_keep.
    """
    _check("temp", temp, _finite(temp) and temp >= 0, "a finite number >= 0 (0 means greedy)")
    steps = []
    _check("top_p", top_p, _finite(top_p) and 0 <= top_p <= 1, "a number in [0, 1] (0 and 1 disable)")
    if 0 < top_p < 1:
        steps.append(TopP(top_p, ties="all"))
    _check("min_p", min_p, _finite(min_p) and 0 <= min_p <= 1, "a number in [0, 1]")
    if min_p != 0:
        steps.append(MinP(min_p, min_tokens_to_keep))
    _check("top_k", top_k, isinstance(top_k, int) and top_k >= 0, "an integer >= 0 (0 disables; must be < V)")
    if top_k > 0:
        steps.append(TopK(top_k, ties="any", over_vocab="error"))
    if temp == 0:  # greedy: the filters are ignored (after being checked)
        return Pipeline((Temperature(0),), "mlx_lm")
    steps.append(Temperature(temp))
    return Pipeline(tuple(steps), "mlx_lm")


def tiny_llm(temp: float = 0.0, top_p: float | None = None, top_k: int | None = None) -> Pipeline:
    """The tiny-llm course reference sampler (make_sampler in its week-1 sampler), as measured in
    the team's notes (shared/README.md).

    Input is log-probabilities. temp = 0 is greedy. Order top-k -> top-p -> categorical(x / temp).
    top-k keeps exactly k (argpartition), 0 disables, k = V is allowed; top-p uses the ORIGINAL
    (unfiltered) masses, keep iff the exclusive cumulative mass < p; 0 disables.
    """
    _check("temp", temp, _finite(temp) and temp >= 0, "a finite number >= 0 (0 means greedy)")
    steps = []
    if top_k is not None:
        _check("top_k", top_k, isinstance(top_k, int) and top_k >= 0, "an integer >= 0 (0 disables)")
        if top_k > 0:
            steps.append(TopK(top_k, ties="any"))
    if top_p is not None:
        _check("top_p", top_p, _finite(top_p) and 0 <= top_p <= 1, "a number in [0, 1] (0 disables)")
        if 0 < top_p < 1:
            steps.append(TopP(top_p, mass="original", ties="any"))
    if temp == 0:  # greedy: the filters are ignored (after being checked)
        return Pipeline((Temperature(0),), "tiny_llm")
    steps.append(Temperature(temp))
    return Pipeline(tuple(steps), "tiny_llm")


def reference(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
              min_p: float | None = None) -> Pipeline:
    """The convention this project recommends.

    Temperature first (as Hugging Face and vLLM): the filters then act on the distribution that
    is actually sampled, so top_p = 0.9 means 90% of the sampled mass (`temperature-order` shows
    the order matters). Ties are kept whole at every cut (top-k ties="all", top-p ties="all"):
    the keep-set is then a function of the values alone, independent of token order and of any
    partial-sort implementation, and has no boundary tokens from ties. temperature = 0 is greedy.
    """
    _check("temperature", temperature, _finite(temperature) and temperature >= 0, "a finite number >= 0")
    if temperature == 0:
        return Pipeline((Temperature(0),), "reference")
    steps = [] if temperature == 1 else [Temperature(temperature)]
    if top_k is not None:
        _check("top_k", top_k, isinstance(top_k, int) and top_k >= 1, "an integer >= 1 (or None)")
        steps.append(TopK(top_k, ties="all"))
    if top_p is not None:
        _check("top_p", top_p, _finite(top_p) and 0 < top_p <= 1, "a number in (0, 1] (or None)")
        if top_p < 1:
            steps.append(TopP(top_p, ties="all"))
    if min_p is not None:
        _check("min_p", min_p, _finite(min_p) and 0 <= min_p <= 1, "a number in [0, 1] (or None)")
        steps.append(MinP(min_p))
    return Pipeline(tuple(steps), "reference")


PRESETS = {"hf": hf, "vllm": vllm, "llama_cpp": llama_cpp, "mlx_lm": mlx_lm, "tiny_llm": tiny_llm,
           "reference": reference}


# --- one vocabulary of parameters for every preset (the validator's command line uses it) ---------

# The engine's own name for each common parameter; absent: the engine has no such parameter.
ENGINE_NAMES = {
    "hf": {"temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p"},
    "vllm": {"temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p"},
    "llama_cpp": {"temperature": "temp", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p"},
    "mlx_lm": {"temperature": "temp", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p"},
    "tiny_llm": {"temperature": "temp", "top_k": "top_k", "top_p": "top_p"},
    "reference": {"temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p"},
}
# The value that switches a filter off in each engine (used to state "no such filter" explicitly).
DISABLED = {
    "hf": {"top_k": 0, "top_p": 1.0, "min_p": None},
    "vllm": {"top_k": 0, "top_p": 1.0, "min_p": 0.0},
    "llama_cpp": {"top_k": 0, "top_p": 1.0, "min_p": 0.0},
    "mlx_lm": {"top_k": 0, "top_p": 0.0, "min_p": 0.0},
    "tiny_llm": {"top_k": None, "top_p": None},
    "reference": {"top_k": None, "top_p": None, "min_p": None},
}


def canonical(name: str) -> str:
    """'mlx-lm', 'llama.cpp', 'HF' -> the PRESETS key; unknown names raise InvalidParameter."""
    key = name.strip().lower().replace("-", "_").replace(".", "_")
    if key not in PRESETS:
        raise InvalidParameter("preset", name, f"one of {', '.join(sorted(PRESETS))}")
    return key


def engine_params(preset: str, explicit: bool = False, **common) -> dict:
    """Common parameters (temperature, top_k, top_p, min_p; None = not given) in the engine's own
    names. explicit=False leaves the ones not given to the engine's defaults (as a user calling
    the engine would); explicit=True switches them off, and sets temperature 1 if not given."""
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
    return params


def common(preset: str, explicit: bool = False, **params) -> Pipeline:
    """The preset's pipeline for common parameters: common("mlx-lm", temperature=0.7, top_p=0.9)."""
    return PRESETS[canonical(preset)](**engine_params(preset, explicit, **params))


def common_params(pipeline: Pipeline) -> dict:
    """The common parameters a pipeline was built from: the inverse of `common`, used to ask what
    every other preset would do with the same settings."""
    out = {name: None for name in COMMON} | {"temperature": REGISTRY["temperature"].noop}
    for step in pipeline.steps:
        out[step.name] = step.value
    return out


def factory_params(preset: str, **common) -> dict:
    """Every engine parameter the preset knows, for a factory that requires them all (tiny-llm's
    make_sampler(temp, top_p, top_k) has no defaults): the given common parameters, the others at
    the preset's disabled value, and the temperature at the preset's default."""
    preset = canonical(preset)
    params = engine_params(preset, **common)
    names = ENGINE_NAMES[preset]
    if names["temperature"] not in params:
        params[names["temperature"]] = inspect.signature(PRESETS[preset]).parameters[names["temperature"]].default
    for name, value in DISABLED[preset].items():
        params.setdefault(names[name], value)
    return params

"""One preset per engine: the engine's own parameter names and defaults in, a `Pipeline` out.

Each docstring cites the source the conventions were read from. Parameters an engine ignores
silently are still validated here when they are plainly garbage (negative, NaN), because a
spec that accepts nonsense hides bugs.
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
from collections.abc import Callable

from spec.errors import InvalidParameter
from spec.transforms import COMMON, REGISTRY, MinP, Pipeline, Temperature, TopK, TopP, registered

# The engine release each preset models by default (read from the installed package where there
# is one; importlib.metadata was used once to write these, nothing is imported at run time).
ENGINE_VERSIONS = {
    "hf": "transformers 5.24.0",
    "vllm": "vLLM v1 engine (release not recorded: read from a public copy of vllm/v1/sample)",
    "llama_cpp": "llama.cpp master (src/llama-sampler.cpp at ggml-org/llama.cpp@6f7f63ee)",
    "mlx_lm": "mlx-lm 0.32.2",
    "tiny_llm": "tiny-llm week-1 reference sampler (skyzh/tiny-llm, no numbered releases)",
    "reference": "this project's recommendation",
}


def _check(name, value, kind: type, ok: Callable[[float], bool], allowed: str) -> int | float:
    """`value` as a plain Python int (kind=int: any integer, numpy's included) or float (kind=float:
    any real number); bool, NaN, non-numbers and values failing `ok` raise InvalidParameter
    naming the parameter. `ok` only ever sees a real number, so it never raises TypeError."""
    abstract = numbers.Integral if kind is int else numbers.Real
    if isinstance(value, bool) or not isinstance(value, abstract):
        raise InvalidParameter(name, value, allowed)
    try:
        x = kind(value)
    except (OverflowError, ValueError):  # an int too large for a float
        raise InvalidParameter(name, value, allowed) from None
    if (kind is float and math.isnan(x)) or not ok(x):
        raise InvalidParameter(name, value, allowed)
    return x


def _finite(x: float) -> bool:
    return math.isfinite(x)


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


def hf(temperature: float = 1.0, top_k: int | None = 50, top_p: float | None = 1.0,
       min_p: float | None = None, min_tokens_to_keep: int = 1) -> Pipeline:
    """Hugging Face transformers 5.24.0, `GenerationMixin._get_logits_processor` (generation/utils.py)
    and the warpers in generation/logits_process.py, with do_sample=True.

    Order temperature -> top-k -> top-p -> min-p. Temperature must be > 0 (the warper raises for 0:
    greedy is do_sample=False); top_k = 0 or None disables, larger than V clamps, ties at the cut
    are all kept (`scores < topk(...)[-1]`); top_p = 1 disables, 0 keeps min_tokens_to_keep, masses
    renormalised, positional cut after torch.sort; min-p in probability space after temperature.
    min_tokens_to_keep must be an integer >= 1 (the top-p and min-p warpers raise otherwise).
    """
    temperature = _check("temperature", temperature, float, lambda t: _finite(t) and t > 0,
                         "a finite number > 0 (Hugging Face raises for 0: use greedy decoding instead)")
    min_tokens_to_keep = _check("min_tokens_to_keep", min_tokens_to_keep, int, lambda m: m >= 1, "an integer >= 1")
    steps = [] if temperature == 1 else [Temperature(temperature)]
    if top_k is not None:
        top_k = _check("top_k", top_k, int, lambda k: k >= 0, "an integer >= 0 (0 disables)")
        if top_k > 0:
            steps.append(TopK(max(top_k, min_tokens_to_keep), ties="all"))
    if top_p is not None:
        top_p = _check("top_p", top_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1]")
        if top_p < 1:
            steps.append(TopP(top_p, ties="any", min_tokens_to_keep=min_tokens_to_keep))
    if min_p is not None:
        min_p = _check("min_p", min_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1]")
        steps.append(MinP(min_p, min_tokens_to_keep))
    return Pipeline(tuple(steps), "hf")


def vllm(temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0) -> Pipeline:
    """vLLM v1, vllm/v1/sample/sampler.py (the Sampler's documented steps) and
    vllm/v1/sample/ops/topk_topp_sampler.py, read from a public copy; logits cast to float32.

    Order temperature -> min-p -> top-k -> top-p. temperature < 1e-5 is greedy, and values in
    [1e-5, 1e-2) are clamped to 1e-2; top_k 0 or -1 disables, >= V clamps, ties all kept (PyTorch
    path); top_p must be in (0, 1], 1 disables; min-p in probability space after temperature.
    """
    temperature = _check("temperature", temperature, float, lambda t: _finite(t) and t >= 0,
                         "a finite number >= 0")
    steps = [Temperature(max(temperature, 1e-2))]
    min_p = _check("min_p", min_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1]")
    if min_p > 0:
        steps.append(MinP(min_p))
    top_k = _check("top_k", top_k, int, lambda k: k >= -1, "an integer >= 1, or 0 / -1 to disable")
    if top_k > 0:
        steps.append(TopK(top_k, ties="all"))
    top_p = _check("top_p", top_p, float, lambda p: 0 < p <= 1, "a number in (0, 1] (vLLM rejects 0)")
    if top_p < 1:
        steps.append(TopP(top_p, ties="any"))
    if temperature < 1e-5:  # greedy: the filters are ignored (after being checked)
        return Pipeline((Temperature(0),), "vllm")
    return Pipeline(tuple(steps), "vllm")


def llama_cpp(temp: float = 0.8, top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05,
              min_keep: int = 0) -> Pipeline:
    """llama.cpp's default sampler chain: common/sampling.cpp `common_sampler_init` and
    src/llama-sampler.cpp (renamed from src/llama-sampling.cpp), read at ggml-org/llama.cpp@6f7f63ee.

    Order top-k -> top-p -> min-p -> temperature. top_k <= 0 disables, >= V clamps, exactly k
    kept (partial sort: ties at the cut are boundary; min_keep does not apply to top-k:
    `llama_sampler_init_top_k(top_k)`); top_p >= 1 disables, 0 keeps max(1, min_keep); min-p in
    logit space (l >= max + log m), <= 0 disables; min_keep must be >= 0 (it is a size_t).

    temp <= 0 is greedy: `llama_sampler_temp_impl` keeps the first maximum *in the candidate
    array's current order*. top-k (`std::partial_sort`) and top-p (a sort) run first and reorder
    the candidates, and so does min-p when fewer than min_keep tokens pass it (it then sorts), so
    with any of those active an exact tie with the maximum may go to a later token id
    ([2, 2, 1, 0.5, -1] -> token 1): Temperature(0, ties="any"). Otherwise the order is the
    token-id order and the first index wins: Temperature(0).
    """
    temp = _check("temp", temp, float, _finite, "a finite number (<= 0 means greedy)")
    min_keep = _check("min_keep", min_keep, int, lambda m: m >= 0, "an integer >= 0")
    keep = max(1, min_keep)
    steps = []
    top_k = _check("top_k", top_k, int, lambda k: True, "an integer (<= 0 disables)")
    if top_k > 0:
        steps.append(TopK(top_k, ties="any"))
    top_p = _check("top_p", top_p, float, lambda p: _finite(p) and p >= 0, "a number >= 0 (>= 1 disables)")
    if top_p < 1:
        steps.append(TopP(top_p, ties="any", min_tokens_to_keep=keep))
    min_p = _check("min_p", min_p, float, lambda p: _finite(p) and p <= 1, "a number <= 1 (<= 0 disables)")
    if min_p > 0:
        steps.append(MinP(min_p, keep))
    if temp <= 0:  # greedy: the filters are ignored (after being checked), but they may reorder ties
        reordered = top_k > 0 or top_p < 1 or (min_p > 0 and keep > 1)
        return Pipeline((Temperature(0, ties="any" if reordered else "first"),), "llama_cpp")
    steps.append(Temperature(temp))
    return Pipeline(tuple(steps), "llama_cpp")


def mlx_lm(temp: float = 0.0, top_p: float = 0.0, min_p: float = 0.0, min_tokens_to_keep: int = 1,
           top_k: int = 0, *, version: str | None = None) -> Pipeline:
    """mlx-lm 0.32.2, mlx_lm/sample_utils.py `make_sampler` (installed package, read here).

    Input is log-probabilities. temp = 0 is greedy. Order top-p (only if 0 < top_p < 1) -> min-p
    (if != 0) -> top-k (if > 0; `apply_top_k` raises unless 0 < k < V) -> categorical(x / temp).
    top-p is a threshold form in 0.32.2 (`apply_top_p`: drop every token below the value at the
    cut), so every token tied with the smallest kept value is kept (ties="all"); top-k uses
    argpartition: exactly k (ties at the cut are boundary); min-p in log space before
    temperature, with min_tokens_to_keep (an integer >= 1: `apply_min_p` raises otherwise).

    version: the mlx-lm release to model (None: ENGINE_VERSIONS["mlx_lm"]). Only the top-p tie
    convention is modelled per release. Releases before 0.20 are ASSUMED to use the older
    sort-based top-p (as mlx-examples' `top_p_filtering`: sort, cumulative sum, positional cut),
    where a tie group straddling the cut is split by the sort: ties="any". The release that
    introduced the threshold form was not confirmed from mlx-lm's history; 0.20 is the assumption.
    """
    release = _version("mlx_lm", version, "mlx-lm")
    temp = _check("temp", temp, float, lambda t: _finite(t) and t >= 0, "a finite number >= 0 (0 means greedy)")
    min_tokens_to_keep = _check("min_tokens_to_keep", min_tokens_to_keep, int, lambda m: m >= 1, "an integer >= 1")
    steps = []
    top_p = _check("top_p", top_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1] (0 and 1 disable)")
    if 0 < top_p < 1:
        steps.append(TopP(top_p, ties="any" if release is not None and release < (0, 20) else "all"))
    min_p = _check("min_p", min_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1]")
    if min_p != 0:
        steps.append(MinP(min_p, min_tokens_to_keep))
    top_k = _check("top_k", top_k, int, lambda k: k >= 0, "an integer >= 0 (0 disables; must be < V)")
    if top_k > 0:
        steps.append(TopK(top_k, ties="any", over_vocab="error"))
    if temp == 0:  # greedy: the filters are ignored (after being checked)
        return Pipeline((Temperature(0),), "mlx_lm")
    steps.append(Temperature(temp))
    return Pipeline(tuple(steps), "mlx_lm")


def tiny_llm(temp: float = 0.0, top_p: float | None = None, top_k: int | None = None, *,
             version: str | None = None) -> Pipeline:
    """The tiny-llm course reference sampler: `make_sampler` in skyzh/tiny-llm
    src/tiny_llm_ref/sampler.py (read at commit 1078c08).

    Input is log-probabilities. temp = 0 is greedy. Order top-k -> top-p -> categorical(x / temp).
    top-k keeps exactly k (`mx.argpartition(-x, kth=k - 1)`), 0 disables; k = V is allowed
    (kth = V - 1 is valid) but k > V raises (kth out of range): over_vocab="error_above".
    top-p uses the ORIGINAL (unfiltered) masses, keep iff the exclusive cumulative mass < p;
    0 disables.

    version: the tiny-llm revision to model (None: ENGINE_VERSIONS["tiny_llm"]). tiny-llm has no
    numbered releases and one known convention, so a well-formed version is only validated.
    """
    _version("tiny_llm", version, "tiny-llm")
    temp = _check("temp", temp, float, lambda t: _finite(t) and t >= 0, "a finite number >= 0 (0 means greedy)")
    steps = []
    if top_k is not None:
        top_k = _check("top_k", top_k, int, lambda k: k >= 0, "an integer >= 0 (0 disables; at most V)")
        if top_k > 0:
            steps.append(TopK(top_k, ties="any", over_vocab="error_above"))
    if top_p is not None:
        top_p = _check("top_p", top_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1] (0 disables)")
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
    temperature = _check("temperature", temperature, float, lambda t: _finite(t) and t >= 0,
                         "a finite number >= 0")
    steps = [] if temperature in (0, 1) else [Temperature(temperature)]
    if top_k is not None:
        top_k = _check("top_k", top_k, int, lambda k: k >= 1, "an integer >= 1 (or None)")
        steps.append(TopK(top_k, ties="all"))
    if top_p is not None:
        top_p = _check("top_p", top_p, float, lambda p: 0 < p <= 1, "a number in (0, 1] (or None)")
        if top_p < 1:
            steps.append(TopP(top_p, ties="all"))
    if min_p is not None:
        min_p = _check("min_p", min_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1] (or None)")
        steps.append(MinP(min_p))
    if temperature == 0:  # greedy: the filters are ignored (after being checked)
        return Pipeline((Temperature(0),), "reference")
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
        out[registered(step).name] = step.value
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

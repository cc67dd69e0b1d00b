"""One preset per engine: the engine's own parameter names and defaults in, a `Pipeline` out.

Each docstring cites the source the conventions were read from. Parameters an engine ignores
silently are still validated here when they are plainly garbage (negative, NaN), because a
spec that accepts nonsense hides bugs.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import math
import numbers
import re
from collections.abc import Callable

from spec.errors import InvalidParameter
from spec.transforms import (
    COMMON,
    REGISTRY,
    XTC,
    EpsilonCutoff,
    EtaCutoff,
    FrequencyPenalty,
    LogitBias,
    MinP,
    Pipeline,
    PresencePenalty,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopNSigma,
    TopP,
    TypicalP,
    registered,
)

# The Python package and release a preset models, where the engine has numbered releases: the
# release its source was read from and its tests were last run against (tests/constraints.txt pins
# the same one). Another installed release is drift, reported by `drift`, never assumed equal.
MODELLED = {"hf": ("transformers", "5.24.0"), "mlx_lm": ("mlx-lm", "0.32.2")}

# The engine release each preset models by default.
ENGINE_VERSIONS = {
    **{preset: f"{package} {release}" for preset, (package, release) in MODELLED.items()},
    "vllm": "vLLM v1 engine (release not recorded: read from a public copy of vllm/v1/sample)",
    "llama_cpp": "llama.cpp master (src/llama-sampler.cpp at ggml-org/llama.cpp@6f7f63ee)",
    "tiny_llm": "tiny-llm week-1 reference sampler (skyzh/tiny-llm, no numbered releases)",
    "reference": "this project's recommendation",
}


def releases(preset: str) -> tuple[str, str, str | None] | None:
    """(package, the release the preset models, the installed release or None), or None where the
    preset models no numbered release (a custom pipeline, vLLM, llama.cpp, tiny-llm, reference)."""
    try:
        modelled = MODELLED.get(canonical(preset))
    except InvalidParameter:  # a custom pipeline
        return None
    if modelled is None:
        return None
    try:
        return (*modelled, importlib.metadata.version(modelled[0]))
    except importlib.metadata.PackageNotFoundError:
        return (*modelled, None)


def drift(preset: str) -> str | None:
    """One line saying which release the preset models and which one is installed. A difference is
    said, never hidden: the engine may have changed since the preset was written."""
    if (found := releases(preset)) is None:
        return None
    package, release, installed = found
    if installed is None:
        return f"preset {preset} models {package} {release} ({package} is not installed here)"
    if installed == release:
        return f"preset {preset} models {package} {release}, the installed release"
    return (f"preset {preset} models {package} {release}, installed {installed}: DRIFT (the engine may have changed "
            f"since; a failure or a pass may be new in {installed})")


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


def _bias(name: str, value) -> LogitBias | None:
    """A {token: bias} mapping (None or empty: no bias) as a LogitBias step."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParameter(name, value, "a mapping {token id: bias}, or None")
    return LogitBias(value) if value else None


def _penalty(cls, name: str, value, noop: float, counts: str, window, ok, allowed: str, optional: bool = True):
    """A penalty step, or None when the value is the engine's no-op (or None, where the engine
    accepts None)."""
    if value is None and optional:
        return None
    value = _check(name, value, float, ok, allowed)
    return None if value == noop else cls(value, counts=counts, window=window)


def _keeps_argmax(step) -> bool:
    """Filters that always keep the most likely token: greedy may ignore them. Value transforms,
    typical-p (it may drop the most likely token) and XTC (it drops it when it acts) may not."""
    return isinstance(step, TopK | TopP | MinP | TopNSigma | EpsilonCutoff | EtaCutoff | Temperature)


def _greedy(steps, name: str, ties: str = "first") -> Pipeline:
    """The greedy pipeline: the steps that can change the argmax, then Temperature(0)."""
    return Pipeline(tuple(s for s in steps if not _keeps_argmax(s)) + (Temperature(0, ties=ties),), name)


def hf(temperature: float = 1.0, top_k: int | None = 50, top_p: float | None = 1.0,
       min_p: float | None = None, min_tokens_to_keep: int = 1, typical_p: float | None = 1.0,
       epsilon_cutoff: float | None = 0.0, eta_cutoff: float | None = 0.0,
       repetition_penalty: float | None = 1.0, sequence_bias: dict | None = None) -> Pipeline:
    """Hugging Face transformers 5.24.0, `GenerationMixin._get_logits_processor` (generation/utils.py)
    and the processors in generation/logits_process.py, with do_sample=True.

    Order: sequence_bias -> repetition_penalty (the processors, on the raw logits) -> temperature
    -> top-k -> top-p -> min-p -> typical-p -> epsilon -> eta (the warpers).
    Temperature must be > 0 (the warper raises for 0: greedy is do_sample=False); top_k = 0 or None
    disables, larger than V clamps, ties at the cut are all kept (`scores < topk(...)[-1]`);
    top_p = 1 disables, 0 keeps min_tokens_to_keep, masses renormalised, positional cut after
    torch.sort; min-p in probability space after temperature; typical_p in (0, 1] (1 disables,
    ties in typicality kept whole: `sorted_scores > sorted_scores[last_ind]`); epsilon_cutoff and
    eta_cutoff in [0, 1) (0 disables; the warper is only built for 0 < x < 1); every warper keeps
    min_tokens_to_keep (an integer >= 1). repetition_penalty > 0 (1 disables) over every token of
    input_ids, prompt and output, each distinct token once. sequence_bias {(token,): bias}: only
    one-token sequences are modelled (a logit bias); `top_h` and `no_repeat_ngram_size` are not
    modelled.
    """
    temperature = _check("temperature", temperature, float, lambda t: _finite(t) and t > 0,
                         "a finite number > 0 (Hugging Face raises for 0: use greedy decoding instead)")
    min_tokens_to_keep = _check("min_tokens_to_keep", min_tokens_to_keep, int, lambda m: m >= 1, "an integer >= 1")
    steps = []
    if sequence_bias is not None:
        if not isinstance(sequence_bias, dict):
            raise InvalidParameter("sequence_bias", sequence_bias, "a mapping {(token id,): bias}, or None")
        bias = {}
        for key, value in sequence_bias.items():
            ids = tuple(key) if isinstance(key, tuple | list) else (key,)
            if len(ids) != 1:
                raise InvalidParameter("sequence_bias", key, "one-token sequences (longer ones are not modelled)")
            bias[ids[0]] = value
        steps.append(_bias("sequence_bias", bias))
    steps.append(_penalty(RepetitionPenalty, "repetition_penalty", repetition_penalty, 1.0, "all", None,
                          lambda r: _finite(r) and r > 0, "a finite number > 0 (1 disables)"))
    if temperature != 1:
        steps.append(Temperature(temperature))
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
    if typical_p is not None:
        typical_p = _check("typical_p", typical_p, float, lambda p: 0 < p <= 1, "a number in (0, 1] (1 disables)")
        if typical_p < 1:
            steps.append(TypicalP(typical_p, min_tokens_to_keep, ties="all"))
    for name, cls, value in (("epsilon_cutoff", EpsilonCutoff, epsilon_cutoff), ("eta_cutoff", EtaCutoff, eta_cutoff)):
        if value is not None:
            value = _check(name, value, float, lambda e: 0 <= e < 1, "a number in [0, 1) (0 disables)")
            if value > 0:
                steps.append(cls(value, min_tokens_to_keep))
    return Pipeline(tuple(s for s in steps if s is not None), "hf")


def vllm(temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0,
         presence_penalty: float = 0.0, frequency_penalty: float = 0.0, repetition_penalty: float = 1.0,
         logit_bias: dict | None = None) -> Pipeline:
    """vLLM v1, vllm/v1/sample/sampler.py (the Sampler's documented steps),
    vllm/v1/sample/ops/topk_topp_sampler.py and `apply_penalties` (vllm/model_executor/layers/utils.py),
    read from a public copy; logits cast to float32.

    Order: logit_bias -> repetition, frequency and presence penalties -> temperature -> min-p ->
    top-k -> top-p. The repetition penalty (> 0, 1 disables) counts prompt and output tokens; the
    presence and frequency penalties (each in [-2, 2], 0 disables) count the output only, as
    OpenAI's API defines them. temperature < 1e-5 is greedy (the penalties and bias still apply),
    and values in [1e-5, 1e-2) are clamped to 1e-2; top_k 0 or -1 disables, >= V clamps, ties
    all kept (PyTorch path); top_p must be in (0, 1], 1 disables; min-p in probability space
    after temperature.
    """
    temperature = _check("temperature", temperature, float, lambda t: _finite(t) and t >= 0,
                         "a finite number >= 0")
    values = [_bias("logit_bias", logit_bias),
              _penalty(RepetitionPenalty, "repetition_penalty", repetition_penalty, 1.0, "all", None,
                       lambda r: _finite(r) and r > 0, "a finite number > 0 (1 disables)", False),
              _penalty(FrequencyPenalty, "frequency_penalty", frequency_penalty, 0.0, "output", None,
                       lambda f: -2 <= f <= 2, "a number in [-2, 2] (0 disables)", False),
              _penalty(PresencePenalty, "presence_penalty", presence_penalty, 0.0, "output", None,
                       lambda f: -2 <= f <= 2, "a number in [-2, 2] (0 disables)", False)]
    steps = [s for s in values if s is not None] + [Temperature(max(temperature, 1e-2))]
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
        return _greedy(steps, "vllm")
    return Pipeline(tuple(steps), "vllm")


def llama_cpp(temp: float = 0.8, top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05,
              min_keep: int = 0, typ_p: float = 1.0, top_n_sigma: float = -1.0, xtc_probability: float = 0.0,
              xtc_threshold: float = 0.1, penalty_last_n: int = 64, penalty_repeat: float = 1.0,
              penalty_freq: float = 0.0, penalty_present: float = 0.0, logit_bias: dict | None = None) -> Pipeline:
    """llama.cpp's default sampler chain: common/sampling.cpp `common_sampler_init`, common/common.h
    (the default sampler order) and src/llama-sampler.cpp (renamed from src/llama-sampling.cpp),
    read at ggml-org/llama.cpp@6f7f63ee; top-n-sigma as a later master has it (n <= 0 disables,
    sigma over the finite logits only).

    Order: logit_bias -> penalties -> (DRY, not modelled) -> top-n-sigma -> top-k -> typical ->
    top-p -> min-p -> XTC -> temperature. Penalties: repeat (sign-aware, > 0, 1 disables),
    frequency and presence, over the last penalty_last_n accepted tokens (0 disables, -1: the
    whole context), prompt tokens included when the program accepts them (llama-cli does).
    top_k <= 0 disables, >= V clamps, exactly k kept (partial sort: ties at the cut are boundary;
    min_keep does not apply to top-k: `llama_sampler_init_top_k(top_k)`); typ_p >= 1 disables
    (stops at the first cumulative sum > p, in a sorted order: ties="any"); top_p >= 1 disables, 0
    keeps max(1, min_keep); min-p in logit space (l >= max + log m), <= 0 disables; XTC acts with
    probability xtc_probability (<= 0 disables) on tokens with p >= xtc_threshold (> 0.5
    disables), keeps exactly one of them and needs min_keep left; min_keep must be >= 0 (a size_t).

    temp <= 0 is greedy: `llama_sampler_temp_impl` keeps the first maximum *in the candidate
    array's current order*. top-k (`std::partial_sort`) and top-p (a sort) run first and reorder
    the candidates, and so does min-p when fewer than min_keep tokens pass it (it then sorts), so
    with any of those active an exact tie with the maximum may go to a later token id
    ([2, 2, 1, 0.5, -1] -> token 1): Temperature(0, ties="any"). Otherwise the order is the
    token-id order and the first index wins: Temperature(0). Typical-p and XTC may drop the most
    likely token, so they stay in a greedy pipeline.
    """
    temp = _check("temp", temp, float, _finite, "a finite number (<= 0 means greedy)")
    min_keep = _check("min_keep", min_keep, int, lambda m: m >= 0, "an integer >= 0")
    keep = max(1, min_keep)
    last_n = _check("penalty_last_n", penalty_last_n, int, lambda n: n >= -1, "an integer >= -1 (0 disables, -1: all)")
    steps = [_bias("logit_bias", logit_bias)]
    if last_n != 0:
        window = None if last_n == -1 else last_n
        steps += [_penalty(RepetitionPenalty, "penalty_repeat", penalty_repeat, 1.0, "all", window,
                           lambda r: _finite(r) and r > 0, "a finite number > 0 (1 disables)", False),
                  _penalty(FrequencyPenalty, "penalty_freq", penalty_freq, 0.0, "all", window, _finite,
                           "a finite number (0 disables)", False),
                  _penalty(PresencePenalty, "penalty_present", penalty_present, 0.0, "all", window, _finite,
                           "a finite number (0 disables)", False)]
    top_n_sigma = _check("top_n_sigma", top_n_sigma, float, lambda n: n == n, "a number (<= 0 disables)")
    if top_n_sigma > 0:
        steps.append(TopNSigma(top_n_sigma))
    top_k = _check("top_k", top_k, int, lambda k: True, "an integer (<= 0 disables)")
    if top_k > 0:
        steps.append(TopK(top_k, ties="any"))
    typ_p = _check("typ_p", typ_p, float, lambda p: _finite(p) and p >= 0, "a number >= 0 (>= 1 disables)")
    if typ_p < 1:
        steps.append(TypicalP(typ_p, keep, ties="any"))
    top_p = _check("top_p", top_p, float, lambda p: _finite(p) and p >= 0, "a number >= 0 (>= 1 disables)")
    if top_p < 1:
        steps.append(TopP(top_p, ties="any", min_tokens_to_keep=keep))
    min_p = _check("min_p", min_p, float, lambda p: _finite(p) and p <= 1, "a number <= 1 (<= 0 disables)")
    if min_p > 0:
        steps.append(MinP(min_p, keep))
    xtc_probability = _check("xtc_probability", xtc_probability, float, lambda p: p <= 1,
                             "a number <= 1 (<= 0 disables)")
    xtc_threshold = _check("xtc_threshold", xtc_threshold, float, lambda t: t >= 0,
                           "a number >= 0 (> 0.5 disables)")
    if xtc_probability > 0 and xtc_threshold <= 0.5:
        steps.append(XTC(xtc_probability, xtc_threshold, above=">=", ties="any", min_keep=min_keep))
    steps = [s for s in steps if s is not None]
    if temp <= 0:  # greedy: the filters are ignored (after being checked), but they may reorder ties
        reordered = top_k > 0 or top_p < 1 or typ_p < 1 or (min_p > 0 and keep > 1)
        return _greedy(steps, "llama_cpp", "any" if reordered else "first")
    steps.append(Temperature(temp))
    return Pipeline(tuple(steps), "llama_cpp")


def mlx_lm(temp: float = 0.0, top_p: float = 0.0, min_p: float = 0.0, min_tokens_to_keep: int = 1,
           top_k: int = 0, xtc_probability: float = 0.0, xtc_threshold: float = 0.1,
           xtc_special_tokens: list[int] | None = None, *, logit_bias: dict | None = None,
           repetition_penalty: float | None = None, repetition_context_size: int = 20,
           presence_penalty: float | None = None, presence_context_size: int = 20,
           frequency_penalty: float | None = None, frequency_context_size: int = 20,
           version: str | None = None) -> Pipeline:
    """mlx-lm 0.32.2, mlx_lm/sample_utils.py `make_sampler` and `make_logits_processors`
    (installed package, read here), as `generate_step` composes them.

    The logits processors act on the raw logits, in the order logit_bias -> repetition ->
    presence -> frequency, each over the last `*_context_size` tokens of prompt + output (0: the
    whole history, as `tokens[-0:]` is; a penalty of None or 0 is not built). The repetition
    penalty must be >= 0 (`make_repetition_penalty` raises otherwise). Then the sampler gets
    log-probabilities, temp = 0 is greedy (after the processors). Order top-p (only if
    0 < top_p < 1) -> min-p (if != 0) -> XTC (if xtc_probability > 0) -> top-k (if > 0;
    `apply_top_k` raises unless 0 < k < V) -> categorical(x / temp).
    top-p is a threshold form in 0.32.2 (`apply_top_p`: drop every token below the value at the
    cut), so every token tied with the smallest kept value is kept (ties="all"); top-k uses
    argpartition: exactly k (ties at the cut are boundary); min-p in log space before
    temperature, with min_tokens_to_keep (an integer >= 1: `apply_min_p` raises otherwise).
    XTC (`apply_xtc`): threshold in [0, 0.5] and probability in [0, 1] (it raises otherwise);
    tokens with p > threshold, all but those tied with the least likely removed, special
    tokens never; one coin per call, so each row's marginal is the mixture (the coin is shared
    across a batch: that is a batch-independence question, not a marginal one).

    version: the mlx-lm release to model (None: ENGINE_VERSIONS["mlx_lm"]). Only the top-p tie
    convention is modelled per release. Releases before 0.20 are ASSUMED to use the older
    sort-based top-p (as mlx-examples' `top_p_filtering`: sort, cumulative sum, positional cut),
    where a tie group straddling the cut is split by the sort: ties="any". The release that
    introduced the threshold form was not confirmed from mlx-lm's history; 0.20 is the assumption.
    """
    release = _version("mlx_lm", version, "mlx-lm")
    temp = _check("temp", temp, float, lambda t: _finite(t) and t >= 0, "a finite number >= 0 (0 means greedy)")
    min_tokens_to_keep = _check("min_tokens_to_keep", min_tokens_to_keep, int, lambda m: m >= 1, "an integer >= 1")
    steps = [_bias("logit_bias", logit_bias)]
    for cls, name, value, size_name, size, ok, allowed in (
            (RepetitionPenalty, "repetition_penalty", repetition_penalty, "repetition_context_size",
    repetition_context_size, lambda r: _finite(r) and r >= 0, "a finite number >= 0 (0 and 1 disable)"),
            (PresencePenalty, "presence_penalty", presence_penalty, "presence_context_size", presence_context_size,
    _finite, "a finite number (0 disables)"),
            (FrequencyPenalty, "frequency_penalty", frequency_penalty, "frequency_context_size",
    frequency_context_size, _finite, "a finite number (0 disables)")):
        size = _check(size_name, size, int, lambda n: n >= 0, "an integer >= 0 (0: the whole history)")
        if value is not None and _check(name, value, float, ok, allowed) != 0:
            steps.append(_penalty(cls, name, value, 1.0 if cls is RepetitionPenalty else 0.0, "all",
                                  size or None, ok, allowed))
    steps = [s for s in steps if s is not None]
    top_p = _check("top_p", top_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1] (0 and 1 disable)")
    if 0 < top_p < 1:
        steps.append(TopP(top_p, ties="any" if release is not None and release < (0, 20) else "all"))
    min_p = _check("min_p", min_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1]")
    if min_p != 0:
        steps.append(MinP(min_p, min_tokens_to_keep))
    xtc_probability = _check("xtc_probability", xtc_probability, float, lambda p: 0 <= p <= 1, "a number in [0, 1]")
    xtc_threshold = _check("xtc_threshold", xtc_threshold, float, lambda t: 0 <= t <= 0.5, "a number in [0, 0.5]")
    if xtc_special_tokens is not None:
        if not isinstance(xtc_special_tokens, list | tuple):
            raise InvalidParameter("xtc_special_tokens", xtc_special_tokens, "a list of token ids, or None")
        for t in xtc_special_tokens:
            _check("xtc_special_tokens", t, int, lambda i: i >= 0, "a list of token ids (integers >= 0)")
    if xtc_probability > 0:
        steps.append(XTC(xtc_probability, xtc_threshold, special_tokens=tuple(xtc_special_tokens or ())))
    top_k = _check("top_k", top_k, int, lambda k: k >= 0, "an integer >= 0 (0 disables; must be < V)")
    if top_k > 0:
        steps.append(TopK(top_k, ties="any", over_vocab="error"))
    if temp == 0:  # greedy: the sampler is argmax (XTC and the filters are not applied), after the processors
        return Pipeline(tuple(s for s in steps if not s.filters or isinstance(s, LogitBias)) + (Temperature(0),),
                        "mlx_lm")
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
              min_p: float | None = None, *, logit_bias: dict | None = None, repetition_penalty: float | None = None,
              presence_penalty: float | None = None, frequency_penalty: float | None = None,
              typical_p: float | None = None, epsilon_cutoff: float | None = None, eta_cutoff: float | None = None,
              top_n_sigma: float | None = None, xtc_probability: float | None = None,
              xtc_threshold: float = 0.1) -> Pipeline:
    """The convention this project recommends.

    Logit bias and penalties first, on the logits as the model gave them: the repetition penalty
    is not shift-invariant (`penalty-shift`), so it must see logits, not log-probabilities; the
    presence and frequency penalties count the generated output only (OpenAI's definition).
    Then temperature (as Hugging Face and vLLM): the filters then act on the distribution that
    is actually sampled, so top_p = 0.9 means 90% of the sampled mass (`temperature-order` shows
    the order matters). Ties are kept whole at every cut (top-k, top-p and typical-p ties="all"):
    the keep-set is then a function of the values alone, independent of token order and of any
    partial-sort implementation, and has no boundary tokens from ties. XTC acts per row.
    temperature = 0 is greedy (after the bias and penalties).
    """
    temperature = _check("temperature", temperature, float, lambda t: _finite(t) and t >= 0,
                         "a finite number >= 0")
    steps = [_bias("logit_bias", logit_bias),
             _penalty(RepetitionPenalty, "repetition_penalty", repetition_penalty, 1.0, "all", None,
                      lambda r: _finite(r) and r > 0, "a finite number > 0 (or None)"),
             _penalty(PresencePenalty, "presence_penalty", presence_penalty, 0.0, "output", None, _finite,
                      "a finite number (or None)"),
             _penalty(FrequencyPenalty, "frequency_penalty", frequency_penalty, 0.0, "output", None, _finite,
                      "a finite number (or None)")]
    steps = [s for s in steps if s is not None]
    if temperature not in (0, 1):
        steps.append(Temperature(temperature))
    if top_n_sigma is not None:
        steps.append(TopNSigma(_check("top_n_sigma", top_n_sigma, float, lambda n: n > 0, "a number > 0 (or None)")))
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
    if typical_p is not None:
        typical_p = _check("typical_p", typical_p, float, lambda p: 0 < p <= 1, "a number in (0, 1] (or None)")
        steps.append(TypicalP(typical_p, ties="all"))
    for name, cls, value in (("epsilon_cutoff", EpsilonCutoff, epsilon_cutoff), ("eta_cutoff", EtaCutoff, eta_cutoff)):
        if value is not None:
            steps.append(cls(_check(name, value, float, lambda e: 0 <= e < 1, "a number in [0, 1) (or None)")))
    xtc_threshold = _check("xtc_threshold", xtc_threshold, float, lambda t: 0 <= t <= 0.5, "a number in [0, 0.5]")
    if xtc_probability is not None:
        xtc_probability = _check("xtc_probability", xtc_probability, float, lambda p: 0 <= p <= 1,
                                 "a number in [0, 1] (or None)")
        steps.append(XTC(xtc_probability, xtc_threshold))
    if temperature == 0:  # greedy: the filters are ignored (after being checked)
        return _greedy(steps, "reference")
    return Pipeline(tuple(steps), "reference")


PRESETS = {"hf": hf, "vllm": vllm, "llama_cpp": llama_cpp, "mlx_lm": mlx_lm, "tiny_llm": tiny_llm,
           "reference": reference}


# --- one vocabulary of parameters for every preset (the validator's command line uses it) ---------

# The engine's own name for each common parameter; absent: the engine has no such parameter.
_SAME = ("temperature", "top_k", "top_p", "min_p")
ENGINE_NAMES = {
    "hf": {n: n for n in _SAME} | {"logit_bias": "sequence_bias", "repetition_penalty": "repetition_penalty",
                                   "typical_p": "typical_p", "epsilon_cutoff": "epsilon_cutoff",
                                   "eta_cutoff": "eta_cutoff"},
    "vllm": {n: n for n in _SAME} | {n: n for n in ("logit_bias", "repetition_penalty", "presence_penalty",
                                                     "frequency_penalty")},
    "llama_cpp": {"temperature": "temp", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p",
                  "logit_bias": "logit_bias", "repetition_penalty": "penalty_repeat",
                  "presence_penalty": "penalty_present", "frequency_penalty": "penalty_freq", "typical_p": "typ_p",
                  "top_n_sigma": "top_n_sigma", "xtc_probability": "xtc_probability"},
    "mlx_lm": {"temperature": "temp", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p",
               "logit_bias": "logit_bias", "repetition_penalty": "repetition_penalty",
               "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty",
               "xtc_probability": "xtc_probability"},
    "tiny_llm": {"temperature": "temp", "top_k": "top_k", "top_p": "top_p"},
    "reference": {n: n for n in COMMON},
}
# The value that switches a transform off in each engine (used to state "no such filter" explicitly).
DISABLED = {
    "hf": {"top_k": 0, "top_p": 1.0, "min_p": None, "logit_bias": None, "repetition_penalty": 1.0,
           "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0},
    "vllm": {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": 1.0,
             "presence_penalty": 0.0, "frequency_penalty": 0.0},
    "llama_cpp": {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": 1.0,
                  "presence_penalty": 0.0, "frequency_penalty": 0.0, "typical_p": 1.0, "top_n_sigma": -1.0,
                  "xtc_probability": 0.0},
    "mlx_lm": {"top_k": 0, "top_p": 0.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": None,
               "presence_penalty": None, "frequency_penalty": None, "xtc_probability": 0.0},
    "tiny_llm": {"top_k": None, "top_p": None},
    "reference": {n: None for n in COMMON if n != "temperature"},
}


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
    return params


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
    return out


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
    the preset's disabled value, and the temperature at the preset's default."""
    preset = canonical(preset)
    params = engine_params(preset, **common)
    names = ENGINE_NAMES[preset]
    if names["temperature"] not in params:
        params[names["temperature"]] = inspect.signature(PRESETS[preset]).parameters[names["temperature"]].default
    for name, value in DISABLED[preset].items():
        params.setdefault(names[name], value)
    return params

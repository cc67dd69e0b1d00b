"""One builder per engine: the engine's own parameter names and defaults in, a `Pipeline` out,
each docstring citing the source the conventions were read from."""

from __future__ import annotations

from spec.errors import InvalidParameter
from spec.presets.checks import _bias, _check, _finite, _greedy, _penalty
from spec.presets.versions import _version
from spec.transforms import (
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
)


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

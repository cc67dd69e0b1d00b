"""The transformers.js preset: its GenerationConfig names and defaults in, a `Pipeline` out."""

from __future__ import annotations

from spec.errors import InvalidParameter
from spec.presets.checks import _bias, _check, _finite, _greedy, _penalty
from spec.transforms import EpsilonCutoff, EtaCutoff, Pipeline, RepetitionPenalty, Temperature, TopK, TopP, TypicalP


def transformers_js(do_sample: bool = False, temperature: float = 1.0, top_k: int = 50, top_p: float = 1.0,
                    typical_p: float = 1.0, epsilon_cutoff: float = 0.0, eta_cutoff: float = 0.0,
                    repetition_penalty: float | None = 1.0, suppress_tokens: list[int] | None = None) -> Pipeline:
    """transformers.js (npm @huggingface/transformers 4.3.2, read in the installed package's src/):
    what `generate()` samples per step, as its GenerationConfig documents it.

    Defaults (src/generation/configuration_utils.js `GenerationConfig`): do_sample false (greedy),
    temperature 1, top_k 50, top_p 1, typical_p 1, epsilon_cutoff 0, eta_cutoff 0, repetition_penalty 1,
    suppress_tokens null.
    Order (src/models/modeling_utils.js `_get_logits_processor`, then `LogitsSampler.getSampler` in
    src/generation/logits_sampler.js): repetition_penalty (`RepetitionPenaltyLogitsProcessor`: every
    distinct token of prompt + output once, z / r if z >= 0 else z * r; 1 or None disables) ->
    suppress_tokens (-inf) -> greedy when do_sample is false or temperature is 0 (`GreedySampler`:
    maths.js `max`, the first maximum) -> temperature (`TemperatureLogitsWarper`, 1 disables) -> top_k
    (`MultinomialSampler.sample`: `topk` of utils/tensor.js, onnxruntime's TopK, exactly k kept;
    top_k <= 0 or > V keeps all) -> top_p -> typical_p -> epsilon_cutoff -> eta_cutoff (documented by
    GenerationConfig with Hugging Face's meaning and order: top_p's positional cut after a sort,
    typical_p's whole tie groups, the cutoffs for 0 < x < 1) -> softmax (maths.js, on float32
    values) -> `_weightedIndex` (utils/random.js: MT19937, an inverse-CDF scan in top-k order).
    generate() builds no top-p, typical-p, epsilon or eta warper (top-p's lines are commented out in
    `_get_logits_processor`, the others are absent): the engine ignores all four, and the spec says
    what the documentation promises. Precision: float32 logits (generate() casts them), each
    processor's result rounded to float32. The engine accepts a negative temperature silently; the
    spec refuses it.
    """
    if type(do_sample).__name__ not in ("bool", "bool_"):
        raise InvalidParameter("do_sample", do_sample, "True or False")
    temperature = _check("temperature", temperature, float, lambda t: _finite(t) and t >= 0,
                         "a finite number >= 0 (0 means greedy)")
    top_k = _check("top_k", top_k, int, lambda k: k >= 0, "an integer >= 0 (0 disables)")
    top_p = _check("top_p", top_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1] (1 disables)")
    typical_p = _check("typical_p", typical_p, float, lambda p: 0 < p <= 1, "a number in (0, 1] (1 disables)")
    cutoffs = [(cls, _check(name, value, float, lambda e: 0 <= e < 1, "a number in [0, 1) (0 disables)"))
               for cls, name, value in ((EpsilonCutoff, "epsilon_cutoff", epsilon_cutoff),
                                        (EtaCutoff, "eta_cutoff", eta_cutoff))]
    if suppress_tokens is not None and not isinstance(suppress_tokens, list | tuple):
        raise InvalidParameter("suppress_tokens", suppress_tokens, "a list of token ids, or None")
    suppressed = {_check("suppress_tokens", t, int, lambda i: i >= 0, "a list of token ids (integers >= 0)"):
                  float("-inf") for t in suppress_tokens or ()}
    steps = [_penalty(RepetitionPenalty, "repetition_penalty", repetition_penalty, 1.0, "all", None,
                      lambda r: _finite(r) and r > 0, "a finite number > 0 (1 disables)"),
             _bias("suppress_tokens", suppressed or None)]
    steps = [s for s in steps if s is not None]
    if not do_sample or temperature == 0:
        return _greedy(steps, "transformers_js")
    if temperature != 1:
        steps.append(Temperature(temperature))
    if top_k > 0:
        steps.append(TopK(top_k, ties="any"))
    if top_p < 1:
        steps.append(TopP(top_p, ties="any"))
    if typical_p < 1:
        steps.append(TypicalP(typical_p, 1, ties="all"))
    steps += [cls(value, 1) for cls, value in cutoffs if value > 0]
    return Pipeline(tuple(steps), "transformers_js")

"""The onnxruntime-genai preset: its search options (config.h `struct Search`) and defaults in, a
`Pipeline` out."""

from __future__ import annotations

from spec.errors import InvalidParameter
from spec.presets.checks import _check, _finite, _greedy, _penalty
from spec.transforms import Pipeline, RepetitionPenalty, Temperature, TopK, TopP


def _flag(name: str, value) -> bool:
    """A search option that is a bool (pybind11 passes a Python bool as one; numpy's too)."""
    if type(value).__name__ not in ("bool", "bool_"):
        raise InvalidParameter(name, value, "True or False")
    return bool(value)


def onnxruntime_genai(do_sample: bool = False, top_k: int = 50, top_p: float = 0.0, temperature: float = 1.0,
                      repetition_penalty: float = 1.0, batch_size: int = 1) -> Pipeline:
    """onnxruntime-genai's CPU search (what `Generator.generate_next_token` runs), read in
    microsoft/onnxruntime-genai at a0c04eb (0.16.0-dev, the newest public source found here):
    src/config.h `struct Search` (the defaults), src/generators.cpp
    `Generator::InitializeSamplingMethod` (which sampler runs and what it rejects),
    src/standard_decoding_strategy.cpp `RunStandardDecodingStep` (the order), src/search.cpp and
    src/sampling_distribution.h (`ComputeSampledCategorical`, `FindNucleus`,
    `ApplyRepetitionPenaltyToLogits`), src/search.h `ArgMax`; checked against the 0.18.0 wheel (its
    defaults from get_search_options, its errors, greedy's first maximum, the nucleus cut at 64
    and 65 tokens, the penalty over prompt and output).

    Order: repetition penalty (every distinct token of the generator's sequence, prompt and
    output, HF's sign-aware rule; 1 disables) -> then greedy or a sampler. Greedy when
    do_sample is False (the default), top_k == 1 or temperature == 0: the first maximum
    (`ArgMax`, strict >). Otherwise probabilities exp((z - max) * (1 / temperature)) in float32;
    top_k > 1: the k largest by a std::partial_sort (exactly k, ties at the cut: "any"), then, if
    0 < top_p < 1, the shortest prefix of them whose cumulative probability (within the k) reaches
    top_p; top_k 0: `FindNucleus` over the whole row (top_p 0 keeps the most likely token, ties
    "any"; top_p 1 keeps all but a tail below float32 resolution). That nucleus is exact only for
    V <= 64: above, its tail bound keeps extra tokens (the grid's known deviation, see
    spec/engines/onnxruntime_genai.py); this preset is the exact nucleus it aims at. Draw:
    std::discrete_distribution on the kept probabilities with the generator's std::mt19937
    (seeded by random_seed >= 0, else std::random_device), one stream for all the rows of a
    batch. When sampling, top_k > V, top_k < 0 and top_p outside [0, 1] raise (top_k > V: TopK
    over_vocab="error_above"); greedy checks nothing. The engine accepts a negative or infinite
    temperature (it inverts or flattens the distribution) and a repetition penalty <= 0: garbage
    here. min_length and no_repeat_ngram_size (end-of-sequence masking, n-gram bans) are not
    modelled. batch_size (1 to 32, kMaxBatchSize) is how many sequences one generator samples, in
    turn from its one stream: it changes no row's target.
    """
    do_sample = _flag("do_sample", do_sample)
    top_k = _check("top_k", top_k, int, lambda k: k >= 0, "an integer >= 0 (0 and 1: no top-k; 1 means greedy)")
    top_p = _check("top_p", top_p, float, lambda p: 0 <= p <= 1, "a number in [0, 1]")
    _check("batch_size", batch_size, int, lambda b: 1 <= b <= 32, "an integer in [1, 32]")
    temperature = _check("temperature", temperature, float, lambda t: _finite(t) and t >= 0,
                         "a finite number >= 0 (0 means greedy)")
    penalty = _penalty(RepetitionPenalty, "repetition_penalty", repetition_penalty, 1.0, "all", None,
                       lambda r: _finite(r) and r > 0, "a finite number > 0 (1 disables)", False)
    steps = [penalty] if penalty is not None else []
    if not do_sample or top_k == 1 or temperature == 0:
        return _greedy(steps, "onnxruntime_genai")
    steps.append(Temperature(temperature))
    if top_k > 1:
        steps.append(TopK(top_k, ties="any", over_vocab="error_above"))
        if 0 < top_p < 1:
            steps.append(TopP(top_p, ties="any"))
    elif top_p < 1:
        steps.append(TopP(top_p, ties="any"))
    return Pipeline(tuple(steps), "onnxruntime_genai")

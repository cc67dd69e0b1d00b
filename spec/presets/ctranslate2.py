"""CTranslate2's sampler, as `Generator.generate_batch` runs it on the CPU."""

from __future__ import annotations

from spec.errors import InvalidParameter
from spec.presets.checks import _check, _finite, _greedy, _penalty
from spec.transforms import LogitBias, Pipeline, RepetitionPenalty, Temperature, TopK, TopP


def ctranslate2(sampling_topk: int = 1, sampling_topp: float = 1.0, sampling_temperature: float = 1.0,
                repetition_penalty: float = 1.0, suppress_sequences: list | None = None, *,
                inter_threads: int = 1, intra_threads: int = 0, max_batch_size: int = 0) -> Pipeline:
    """CTranslate2 4.8 (OpenNMT/CTranslate2, source read at v4.8.1, run at 4.8.5): src/decoding.cc
    (`make_sampler`, `make_logits_processors`, `GreedySearch::search`, `validate_decoding_options`),
    src/sampling.cc (`RandomSampler::sample`), src/decoding_utils.cc (the processors),
    src/ops/topk_cpu.cc, src/ops/topp_mask_cpu.cc, src/ops/multinomial_cpu.cc, src/random.cc.

    Order: repetition_penalty -> suppress_sequences (the logits processors, on the raw logits) ->
    top-k -> temperature -> top-p -> softmax -> std::discrete_distribution. sampling_topk = 1 (the
    default) or sampling_temperature = 0 is greedy (`BestSampler`: `std::max_element`, the first
    maximum), after the processors. sampling_topk = 0 or V keeps every token, > V raises
    ("greater than the vocabulary size"): over_vocab="error_above"; exactly k kept by a
    `std::partial_sort` (ties at the cut: ties="any"). Temperature multiplies by float(1) / T in
    float32. top-p (`TopPMask`, in (0, 1], else it raises) ranks by the tempered probabilities with
    `std::sort` and keeps a token while the float32 mass before it is < p (ties="any").
    repetition_penalty (> 0, else it raises; 1 disables) is the sign-aware one
    (`penalize_previous_tokens`: score < 0 ? score * penalty : score / penalty), each distinct
    token once (scores gathered before writing), over every token of the sequence after its start
    token: with include_prompt_in_result (the default) the prompt is forced through the decoding
    loop, so prompt[1:] and the output count ("all"; prompt[0], the start token such as <s>, does
    not). suppress_sequences: token-id lists; one-token sequences set the logit to
    numeric_limits<float>::lowest() (probability 0: LogitBias -inf); longer ones are not modelled.
    sampling_temperature < 0 is not refused by the engine (it flips the distribution); here it is.

    inter_threads, intra_threads and max_batch_size only spread the work: none changes what each
    row samples, and the rows of one call must stay independent draws.
    """
    temperature = _check("sampling_temperature", sampling_temperature, float, lambda t: _finite(t) and t >= 0,
                         "a finite number >= 0 (0 means greedy)")
    top_k = _check("sampling_topk", sampling_topk, int, lambda k: k >= 0,
                   "an integer >= 0 (0: every token; 1, the default: greedy)")
    top_p = _check("sampling_topp", sampling_topp, float, lambda p: 0 < p <= 1,
                   "a number in (0, 1] (CTranslate2 raises otherwise)")
    for name, value in (("inter_threads", inter_threads), ("intra_threads", intra_threads),
                        ("max_batch_size", max_batch_size)):
        _check(name, value, int, lambda n, name=name: n >= (1 if name == "inter_threads" else 0),
               "an integer >= 1" if name == "inter_threads" else "an integer >= 0 (0: the engine's default)")
    steps = [_penalty(RepetitionPenalty, "repetition_penalty", repetition_penalty, 1.0, "all", None,
                      lambda r: _finite(r) and r > 0, "a finite number > 0 (1 disables)", False),
             _suppressed(suppress_sequences)]
    steps = [s for s in steps if s is not None]
    if top_k == 1 or temperature == 0:  # BestSampler: the filters are not built
        return _greedy(steps, "ctranslate2")
    if top_k > 0:
        steps.append(TopK(top_k, ties="any", over_vocab="error_above"))
    if temperature != 1:
        steps.append(Temperature(temperature))
    if top_p < 1:
        steps.append(TopP(top_p, ties="any"))
    return Pipeline(tuple(steps), "ctranslate2")


def _suppressed(sequences) -> LogitBias | None:
    """One-token suppress_sequences as a -inf logit bias (SuppressSequences: `_ids`, always disabled)."""
    if sequences is None:
        return None
    allowed = "a list of token-id lists of length 1 (longer sequences are not modelled), or None"
    if not isinstance(sequences, list | tuple):
        raise InvalidParameter("suppress_sequences", sequences, allowed)
    ids = []
    for seq in sequences:
        if not isinstance(seq, list | tuple) or len(seq) != 1:
            raise InvalidParameter("suppress_sequences", sequences, allowed)
        ids.append(_check("suppress_sequences", seq[0], int, lambda t: t >= 0, allowed))
    return LogitBias(dict.fromkeys(ids, float("-inf"))) if ids else None

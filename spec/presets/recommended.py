"""The `reference` preset: the convention this project recommends, which no engine has to match."""

from __future__ import annotations

from spec.presets.checks import _bias, _check, _finite, _greedy, _penalty
from spec.transforms import (
    XTC,
    EpsilonCutoff,
    EtaCutoff,
    FrequencyPenalty,
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

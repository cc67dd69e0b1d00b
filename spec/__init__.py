"""Executable specification of LLM token samplers.

`target(logits, pipeline)` is the exact distribution a correct sampler draws from; a pipeline is
built from transforms (`Temperature`, `TopK`, `TopP`, `MinP`, `LogitBias`, the penalties,
`TypicalP`, `EpsilonCutoff`, `EtaCutoff`, `TopNSigma`, `XTC`: see `spec.transforms.REGISTRY`) or
from an engine preset in `spec.presets`; penalties read a token `History` per row.
`spec.invariants` lists the relations a correct sampler obeys, with the theorems behind them;
`spec.strategies` generates hard logits for property tests. `validate(sampler, pipeline)` (and
`python -m spec.validate`) checks any sampler against the spec.
"""

from spec import presets
from spec.errors import InvalidLogits, InvalidParameter
from spec.exactness import greedy_logprobs_exact
from spec.generation import validate_generation
from spec.target import Target, Tolerance, softmax, target
from spec.transforms import (
    XTC,
    EpsilonCutoff,
    EtaCutoff,
    FrequencyPenalty,
    History,
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
from spec.validator import Report, validate

__all__ = ["XTC", "EpsilonCutoff", "EtaCutoff", "FrequencyPenalty", "History", "InvalidLogits", "InvalidParameter",
           "LogitBias", "MinP", "Pipeline", "PresencePenalty", "RepetitionPenalty", "Report", "Target", "Temperature",
           "Tolerance", "TopK", "TopNSigma", "TopP", "TypicalP", "greedy_logprobs_exact", "presets", "softmax",
           "target", "validate", "validate_generation"]

"""Executable specification of LLM token samplers.

`target(logits, pipeline)` is the exact distribution a correct sampler draws from; a pipeline is
built from transforms (`Temperature`, `TopK`, `TopP`, `MinP`, `LogitBias`, the penalties,
`TypicalP`, `EpsilonCutoff`, `EtaCutoff`, `TopNSigma`, `XTC`: see `spec.transforms.REGISTRY`) or
from an engine preset in `spec.presets`; penalties read a token `History` per row.
`spec.invariants` lists the relations a correct sampler obeys, with the theorems behind them;
`spec.strategies` generates hard logits for property tests. `validate(sampler, pipeline)` (and
`python -m spec.validate`) checks any sampler against the spec, `validate_generation` a generation
loop, `spec.conformance` the real engines (`spec.engines`).

`import spec` loads the spec only: the validator and the engines load on first use of
`spec.validate`, `spec.validate_generation`, `spec.Report` or `spec.conformance`, so a user of the
transforms (or `proofs/`) does not pay for them.
"""

import importlib

from spec import presets
from spec.errors import InvalidLogits, InvalidParameter
from spec.exactness import greedy_logprobs_exact
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

# name -> (module, attribute or None for the module itself): what loads on first use
LAZY = {"validate": ("spec.validator", "validate"), "Report": ("spec.validator", "Report"),
        "validate_generation": ("spec.validator.generation", "validate_generation"),
        "conformance": ("spec.conformance", None), "engines": ("spec.engines", None)}

__all__ = ["XTC", "EpsilonCutoff", "EtaCutoff", "FrequencyPenalty", "History", "InvalidLogits", "InvalidParameter",
           "LogitBias", "MinP", "Pipeline", "PresencePenalty", "RepetitionPenalty", "Report", "Target", "Temperature",
           "Tolerance", "TopK", "TopNSigma", "TopP", "TypicalP", "greedy_logprobs_exact", "presets", "softmax",
           "target", "validate", "validate_generation"]


def __getattr__(name):
    if name not in LAZY:
        raise AttributeError(f"module 'spec' has no attribute {name!r}")
    module, attribute = LAZY[name]
    value = importlib.import_module(module)
    return value if attribute is None else getattr(value, attribute)

"""The transforms a sampling pipeline is made of, and the registry that declares each one once.

A transform is a small immutable value: its parameters, checked on construction, and its spec
rule (`apply`), which acts on one row in float64. Its class also declares what everything else
reads: the common parameter name (also the command-line flag: top_p -> --top-p), the no-op
value, the value that makes every target deterministic, the theorem ids behind its invariants
and the name of its counterpart in `impl.rules`. `REGISTRY` lists them; presets, the
validator, the CLI and impl all read it, and an unregistered transform is refused everywhere.
Every convention the engines disagree on is a field, so a preset is just a choice of fields.

One module per family (`classic`, `penalties`, `cutoffs`, `xtc`) on what they share (`base`);
`pipeline` holds the registry. Every name is importable from here.
"""

from spec.transforms.base import VOCAB_SIZE, Row, Transform
from spec.transforms.classic import HEAD, MinP, Temperature, TopK, TopP
from spec.transforms.cutoffs import EpsilonCutoff, EtaCutoff, TopNSigma, TypicalP
from spec.transforms.penalties import (
    FrequencyPenalty,
    History,
    LogitBias,
    PresencePenalty,
    RepetitionPenalty,
    as_history,
)
from spec.transforms.pipeline import COMMON, REGISTRY, Pipeline, field_names, registered
from spec.transforms.xtc import XTC

__all__ = ["COMMON", "HEAD", "REGISTRY", "VOCAB_SIZE", "XTC", "EpsilonCutoff", "EtaCutoff", "FrequencyPenalty",
           "History", "LogitBias", "MinP", "Pipeline", "PresencePenalty", "RepetitionPenalty", "Row", "Temperature",
           "TopK", "TopNSigma", "TopP", "Transform", "TypicalP", "as_history", "field_names", "registered"]

"""The metamorphic relations a correct sampler obeys, each with the theorem ids (from
`proofs.catalogue`) that justify it. This table is the one place that maps a theorem to the
checks it justifies; `tests/test_spec.py` checks that every cited id exists."""

from __future__ import annotations

from dataclasses import dataclass

from spec.target import log_softmax
from spec.transforms import REGISTRY


@dataclass(frozen=True)
class Invariant:
    id: str
    statement: str
    theorems: tuple[str, ...]  # empty: holds by definition, not by a theorem
    transform: object = None  # rows (B, V) float64, rng -> related rows with the same target
    # In floating point: what rounding can do to the relation, and the theorems that bound it
    # (the validator's same-key tolerances are derived from these).
    rounding: str = ""
    float_theorems: tuple[str, ...] = ()
    needs_shift_invariance: bool = False  # holds only for pipelines whose every step is shift-invariant

    def holds(self, pipeline) -> bool:
        """Whether the relation holds for this pipeline: the shift relations need every step to be
        shift-invariant (a repetition penalty is not: `penalty-shift`)."""
        return not self.needs_shift_invariance or all(type(s).shift_invariant for s in pipeline.steps)


_ROUNDING = ("rounding keeps the order of values and only creates ties (fp-sub-monotone, fp-sub-strict), so "
             "greedy can only move to an earlier tied index (fp-argmax-shift-weak) and not at all when "
             "max(z) <= fl(logsumexp z) < fl(2 max z) (fp-greedy-exact-guard); a same-key draw changes only "
             "when two scores come within the rounding error")
_FLOAT = ("fp-sub-monotone", "fp-sub-strict", "fp-argmax-shift-weak", "fp-greedy-exact-guard")


# The shift theorems every shift-invariant transform declares in the registry.
_NEW_SHIFT = tuple(dict.fromkeys(t for cls in REGISTRY.values() if cls.shift_invariant for t in cls.theorems
                                 if t not in ("temperature-shift", "filters-shift")))


def _shift(rows, rng):
    return rows - rng.uniform(-50, 50, size=(rows.shape[0], 1))


def _logprobs(rows, rng):
    return log_softmax(rows)


INVARIANTS = (
    Invariant("shift", "Subtracting one constant per row leaves the target unchanged (unless the pipeline has a "
              "repetition penalty: penalty-shift).",
              ("softmax-shift", "argmax-shift", "temperature-shift", "filters-shift") + _NEW_SHIFT, _shift, _ROUNDING,
              _FLOAT, True),
    Invariant("logits-vs-logprobs", "Log-probabilities z - logsumexp(z) have the same target as the logits z "
              "(unless the pipeline has a repetition penalty: penalty-shift).",
              ("log-softmax", "softmax-of-logprobs", "greedy-logprobs", "filters-shift") + _NEW_SHIFT, _logprobs,
              _ROUNDING, _FLOAT, True),
    Invariant("same-key-coupling", "With the same random key, a Gumbel-max or inverse-CDF sampler returns the "
              "same token for z and for any per-row shift of z (so draws can be compared one by one).",
              ("gumbel-coupling",)),
    Invariant("batch-rows", "Each row of a batch is sampled as if it were alone.", ()),
    Invariant("batch-same-key", "With the same random key, a row's token does not change when another row of the "
              "batch changes: each row's filters and random numbers are its own.", ()),
    Invariant("permutation", "On a row without ties, permuting the tokens permutes the target.", ()),
    Invariant("temperature-to-zero", "As the temperature goes to 0 the target concentrates on the greedy "
              "(first-index argmax) token, the token greedy decoding returns.", ("temperature-shift",)),
)

BY_ID = {inv.id: inv for inv in INVARIANTS}

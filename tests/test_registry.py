"""The transform registry (spec/transforms/): each transform is declared once, and everything
that needs a transform reads that declaration; an unregistered transform is refused everywhere."""

from dataclasses import dataclass, fields
from typing import ClassVar

import mlx.core as mx
import numpy as np
import pytest

import impl
import spec
from impl import rules as impl_rules
from proofs.catalogue import BY_ID as THEOREMS
from spec import presets
from spec.transforms import REGISTRY, VOCAB_SIZE, Transform
from spec.validator.__main__ import parse
from spec.validator.contract import _variant_list


@pytest.mark.parametrize("cls", REGISTRY.values(), ids=lambda c: c.name)
def test_every_registered_transform_has_a_spec_rule_an_impl_rule_and_proofs(cls):
    assert cls.apply is not Transform.apply, "no spec rule"
    assert callable(getattr(impl_rules, cls.impl, None)), f"impl.rules has no rule {cls.impl!r}"
    assert cls.theorems and all(t in THEOREMS for t in cls.theorems), cls.theorems


@pytest.mark.parametrize("cls", REGISTRY.values(), ids=lambda c: c.name)
def test_every_registered_transform_has_a_cli_flag_listed_in_the_cli_docstring(cls):
    from spec.validator import __main__ as cli

    flag = "--" + cls.name.replace("_", "-")
    value, parsed = {int: ("3", 3), float: ("0.5", 0.5), dict: ("5:-inf,7:2.5", {5: -np.inf, 7: 2.5})}[cls.kind]
    assert getattr(parse(["m:f", flag, value]), cls.name) == parsed
    assert flag in cli.__doc__
    assert cls.param in {f.name for f in fields(cls)}


@pytest.mark.parametrize("cls", REGISTRY.values(), ids=lambda c: c.name)
def test_declared_values_are_valid_parameters(cls):
    """The no-op and greedy values a transform declares are values it accepts."""
    for value in (cls.noop, cls.greedy_at):
        if value is not None and value != VOCAB_SIZE:
            assert cls(value).value == value


def test_presets_and_factory_variants_read_the_registry():
    assert tuple(presets.common_params(presets.reference())) == tuple(REGISTRY)
    labels = [label for label, _, _ in _variant_list({})]
    assert labels == ["temperature = 0", "top_k = 1", "top_k = V", "top_p = 1", "min_p = 0", "logit_bias = {}",
                      "repetition_penalty = 1", "presence_penalty = 0", "frequency_penalty = 0", "typical_p = 1",
                      "epsilon_cutoff = 0", "eta_cutoff = 0", "top_n_sigma = inf", "xtc_probability = 0"]
    assert [label for label, _, _ in _variant_list({"top_p": 0.9, "logit_bias": {1: 2.0}})] == [
        "temperature = 0", "top_k = 1", "top_k = V", "min_p = 0", "repetition_penalty = 1", "presence_penalty = 0",
        "frequency_penalty = 0", "typical_p = 1", "epsilon_cutoff = 0", "eta_cutoff = 0", "top_n_sigma = inf",
        "xtc_probability = 0"]


@dataclass(frozen=True)
class Unregistered(Transform):
    p: float
    name: ClassVar[str] = "unregistered"
    param: ClassVar[str] = "p"
    impl: ClassVar[str] = "unregistered"

    def apply(self, row, history=None):
        pass


def _smuggled() -> spec.Pipeline:
    """A pipeline holding an unregistered step, built past Pipeline's own check."""
    pipeline = spec.Pipeline(())
    object.__setattr__(pipeline, "steps", (Unregistered(0.5),))
    return pipeline


def test_an_unregistered_transform_is_refused_everywhere():
    with pytest.raises(spec.InvalidParameter, match="registered transform"):
        spec.Pipeline((Unregistered(0.5),))
    with pytest.raises(spec.InvalidParameter, match="registered transform"):
        spec.target(np.array([1.0, 0.0]), _smuggled())
    with pytest.raises(spec.InvalidParameter, match="registered transform"):
        impl.filter(mx.array([1.0, 0.0]), _smuggled())
    with pytest.raises(spec.InvalidParameter, match="registered transform"):
        presets.common_params(_smuggled())


def test_a_registered_transform_without_an_impl_rule_is_refused_by_impl(monkeypatch):
    monkeypatch.setitem(REGISTRY, "unregistered", Unregistered)
    pipeline = spec.Pipeline((Unregistered(0.5),))
    with pytest.raises(spec.InvalidParameter, match="impl.rules implements"):
        impl.filter(mx.array([1.0, 0.0]), pipeline)

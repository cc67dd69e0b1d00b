"""Correct samplers that own their randomness and take no key: the most common shape of sampler
people write. Each computes the exact target (spec.target) and draws from it with a generator
of its own, which the validator's key cannot reach: a numpy Generator (at module level, as an
attribute, passed at construction), a torch.Generator, random.Random, an mlx key split inside,
and a generator reseeded from the clock on every call. The validator must call every one of
them CONFORMS (issue: its reproducibility probe once read chance agreement as a fixed key).

Each kind is validated against its own pipeline, given both as a spec.Pipeline (Python API)
and as the CLI's flags. `BROKEN` is the same shapes with a real bug, which must still be caught.
"""

from __future__ import annotations

import importlib
import random
import time
from dataclasses import dataclass

import numpy as np

import spec
from spec import presets
from tests.zoo import pick


@dataclass(frozen=True)
class Setting:
    pipeline: spec.Pipeline
    flags: tuple[str, ...]  # the same pipeline as python -m spec.validate flags


HF_MIN_P = Setting(presets.hf(temperature=1.3, min_p=0.05, top_k=0),
                   ("--preset", "hf", "--temperature", "1.3", "--min-p", "0.05", "--top-k", "0"))
HF_TOP_K_P = Setting(presets.hf(temperature=0.8, top_k=40, top_p=0.9),
                     ("--preset", "hf", "--temperature", "0.8", "--top-k", "40", "--top-p", "0.9"))
LLAMA = Setting(presets.llama_cpp(temp=0.8, top_k=40, top_p=0.9, min_p=0.05),
                ("--preset", "llama.cpp", "--temperature", "0.8", "--top-k", "40", "--top-p", "0.9",
                 "--min-p", "0.05"))


def _probs(logits, setting: Setting) -> np.ndarray:
    """The exact target of each row (computed once per distinct row: the validator tiles copies)."""
    x = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    first: dict[bytes, int] = {}
    where = [first.setdefault(row.tobytes(), len(first)) for row in x]
    rows = x[[where.index(i) for i in range(len(first))]]
    return np.atleast_2d(spec.target(rows, setting.pipeline).probs)[where]


_MODULE_RNG = np.random.default_rng(0)


def module_level(logits):
    """A numpy Generator at module level (HF order, temperature 1.3 then min-p 0.05)."""
    p = _probs(logits, HF_MIN_P)
    return pick(p, _MODULE_RNG.random(len(p)))


class Attribute:
    """A numpy Generator kept as an attribute."""

    def __init__(self, setting: Setting, seed: int = 0):
        self.setting, self.rng = setting, np.random.default_rng(seed)

    def __call__(self, logits):
        p = _probs(logits, self.setting)
        return pick(p, self.rng.random(len(p)))


def constructed(rng: np.random.Generator, setting: Setting):
    """A numpy Generator passed at construction, closed over."""
    def sample(logits):
        p = _probs(logits, setting)
        return pick(p, rng.random(len(p)))
    return sample


class PythonRandom:
    """random.Random, one uniform per row."""

    def __init__(self, setting: Setting, seed: int = 0):
        self.setting, self.rng = setting, random.Random(seed)

    def __call__(self, logits):
        p = _probs(logits, self.setting)
        return pick(p, [self.rng.random() for _ in range(len(p))])


class TorchGenerator:
    """A torch.Generator, drawn with torch.multinomial (torch is optional: the `hf` extra)."""

    def __init__(self, setting: Setting, seed: int = 0):
        import torch
        self.setting, self.torch = setting, torch
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, logits):
        p = self.torch.from_numpy(_probs(logits, self.setting))
        return self.torch.multinomial(p, 1, generator=self.gen)[:, 0].numpy()


class MlxSplitKey:
    """An mlx key the sampler splits itself on every call (mx.random.categorical on log p)."""

    def __init__(self, setting: Setting, seed: int = 0):
        import mlx.core as mx
        self.setting, self.mx, self.key = setting, mx, mx.random.key(seed)

    def __call__(self, logits):
        mx = self.mx
        self.key, sub = mx.random.split(self.key)
        p = _probs(logits, self.setting)
        with np.errstate(divide="ignore"):
            return np.array(mx.random.categorical(mx.array(np.log(p), dtype=mx.float32), key=sub))


class Clock:
    """A generator reseeded from the clock (nanoseconds) on every call."""

    def __init__(self, setting: Setting):
        self.setting = setting

    def __call__(self, logits):
        p = _probs(logits, self.setting)
        return pick(p, np.random.default_rng(time.time_ns()).random(len(p)))


def kinds(seed: int) -> dict:
    """name -> (sampler, setting, CLI path or None), fresh generators seeded by `seed`."""
    return {
        "numpy module-level": (module_level, HF_MIN_P, "tests.zoo_own_rng:module_level"),
        "numpy attribute": (Attribute(HF_TOP_K_P, seed), HF_TOP_K_P, "tests.zoo_own_rng:ATTRIBUTE"),
        "numpy at construction": (constructed(np.random.default_rng(seed), LLAMA), LLAMA,
                                  "tests.zoo_own_rng:CONSTRUCTED"),
        "random.Random": (PythonRandom(HF_MIN_P, seed), HF_MIN_P, "tests.zoo_own_rng:PYTHON_RANDOM"),
        "mlx key split inside": (MlxSplitKey(LLAMA, seed), LLAMA, "tests.zoo_own_rng:MLX_SPLIT"),
        "clock-reseeded": (Clock(HF_TOP_K_P), HF_TOP_K_P, "tests.zoo_own_rng:CLOCK"),
    }


# Module-level instances for the CLI (MODULE:ATTR), fresh in each CLI process.
ATTRIBUTE = Attribute(HF_TOP_K_P)
CONSTRUCTED = constructed(np.random.default_rng(0), LLAMA)
PYTHON_RANDOM = PythonRandom(HF_MIN_P)
MLX_SPLIT = MlxSplitKey(LLAMA)
CLOCK = Clock(HF_TOP_K_P)


def validate_kind(job: tuple[str, int, float]) -> tuple[str, int, bool, str]:
    """spec.validate on one kind at one seed (its generator and the run both seeded by it), quick
    profile: (kind, seed, passed, the report if it failed). A top-level function, for a process pool."""
    name, seed, alpha = job
    sampler, setting, _ = kinds(seed)[name]
    report = spec.validate(sampler, setting.pipeline, profile="quick", seed=seed, alpha=alpha)
    return name, seed, report.passed, "" if report.passed else str(report)


def fresh_report(job: tuple[str, int, float]) -> str:
    """spec.validate, quick profile, of the sampler that `python -m spec.validate PATH` runs: this module
    imported afresh (new module-level generators, as a new CLI process has them), the engines' factories
    loaded as the CLI loads them, PATH's kind's pipeline. The report as JSON, to hold the CLI's against.
    A top-level function, for a process pool."""
    path, seed, alpha = job
    from spec.engines import factories
    factories()
    module = importlib.reload(importlib.import_module("tests.zoo_own_rng"))  # the name the CLI path gives
    [setting] = [s for _, s, p in module.kinds(0).values() if p == path]
    sampler = getattr(module, path.partition(":")[2])
    return spec.validate(sampler, setting.pipeline, profile="quick", seed=seed, alpha=alpha).to_json()

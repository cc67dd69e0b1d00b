"""Put any sampler behind one calling convention, so the validator can test it.

A sampler under test is a callable taking a (B, V) array and returning B token ids. Two optional
capabilities make checks sharper, and are detected or declared:
- a key: a parameter named `key` or `seed` (an int is passed), or `rng` / `generator` (a numpy
  Generator is passed). A sampler without one is made reproducible by seeding the global random
  state of its array library before each call (mlx, numpy or torch).
- white-box: a `filter` attribute, (B, V) array -> the filtered logits, -inf where dropped.

`Sampler` declares these explicitly; `mlx_lm(...)` and `hf(...)` build one from an engine.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spec.errors import InvalidParameter

ARRAYS = ("numpy", "mlx", "torch")


@dataclass
class Sampler:
    """draw: the sampler; array: the array type it takes; key: how it takes randomness ("key",
    "seed", "rng", "generator" keyword, "global" seeding, or None: not reproducible);
    filter: optional white-box access; dtype: the float type of its input; batched=False: the
    sampler takes one (1, V) row at a time (as tiny-llm's does), and is called row by row."""

    draw: Callable
    array: str = "numpy"
    key: str | None = "global"
    filter: Callable | None = None
    dtype: str | None = None
    name: str = ""
    batched: bool = True
    guessed: bool = False  # the array type was guessed from the module: the validator may try others

    def __post_init__(self):
        if self.array not in ARRAYS:
            raise InvalidParameter("array", self.array, f"one of {ARRAYS}")
        if not installed(self.array):
            raise InvalidParameter("array", self.array, f"an array library that is installed ({self.array} is not)")
        self._default_dtype = self.dtype is None
        self.dtype = self.dtype or _default_dtype(self.array)
        self.name = self.name or _name(self.draw)

    def retype(self, array: str):
        """Switch the array type (and a defaulted dtype with it)."""
        self.array = array
        if self._default_dtype:
            self.dtype = _default_dtype(array)

    def to_array(self, rows: np.ndarray):
        """float64 rows -> the sampler's array type and dtype (rounded to nearest)."""
        if self.array == "mlx":
            import mlx.core as mx
            x = mx.array(rows.astype(np.float32)).astype(getattr(mx, self.dtype))
            mx.eval(x)  # mlx is lazy: evaluate here, not in the thread that runs the sampler
            return x
        if self.array == "torch":
            import torch
            return torch.tensor(rows, dtype=torch.float64).to(getattr(torch, self.dtype))
        return rows.astype(self.dtype)

    def as_numpy(self, x) -> np.ndarray:
        if self.array == "mlx":
            import mlx.core as mx
            return np.array(x.astype(mx.float32) if x.dtype == mx.bfloat16 else x).astype(np.float64)
        if self.array == "torch":
            return x.detach().to("cpu").double().numpy()
        return np.array(x, dtype=np.float64)

    @staticmethod
    def host(out):
        """A sampler's output as a numpy array (evaluated), or the object itself if it is not one."""
        module = type(out).__module__
        if module.startswith("mlx"):
            return np.array(out)
        if module.startswith("torch"):
            return out.detach().to("cpu").numpy()
        try:
            arr = np.asarray(out)
        except Exception:  # noqa: BLE001 - garbage is reported by the caller
            return out
        return arr if arr.dtype.kind in "biufc" else out

    def __call__(self, x, key: int | None):
        """One call with randomness from `key` (ignored when key is None)."""
        if self.key == "global" and key is not None:
            _seed_global(self.array, key)  # once: row-by-row calls then draw in sequence
        if self.batched:
            return self._one_call(x, key)
        keys = [None] * x.shape[0] if key is None else np.random.SeedSequence(key).generate_state(x.shape[0]) >> 1
        outs = [self.host(self._one_call(x[i:i + 1], None if k is None else int(k))) for i, k in enumerate(keys)]
        if all(isinstance(o, np.ndarray) for o in outs):
            return np.concatenate([np.ravel(o) for o in outs])
        return outs  # garbage: the validator reports it

    def _one_call(self, x, key):
        if key is None or self.key in (None, "global"):
            return self.draw(x)
        if self.key in ("key", "seed"):
            return self.draw(x, **{self.key: key})
        return self.draw(x, **{self.key: np.random.default_rng(key)})


def _default_dtype(array: str) -> str:
    return "float64" if array == "numpy" else "float32"


def installed(array: str) -> bool:
    return importlib.util.find_spec(array) is not None


def _name(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', type(fn).__name__)}"


def _seed_global(array: str, key: int):
    if array == "mlx":
        import mlx.core as mx
        mx.random.seed(key)
    elif array == "torch":
        import torch
        torch.manual_seed(key)
    else:
        np.random.seed(key % 2**32)


def detect_array(fn) -> str:
    module = getattr(fn, "__module__", None) or type(fn).__module__
    root = module.split(".")[0]
    if root in ("mlx", "mlx_lm", "impl"):
        return "mlx"
    if root in ("torch", "transformers"):
        return "torch"
    return "numpy"


def as_sampler(obj, array: str = "auto") -> Sampler:
    """A Sampler for `obj` (returned as is if it already is one, with `array` applied)."""
    if isinstance(obj, Sampler):
        return obj
    if not callable(obj):
        raise InvalidParameter("sampler", obj, "a callable taking a (B, V) array and returning B token ids")
    if array != "auto" and array not in ARRAYS:
        raise InvalidParameter("array", array, f"'auto' or one of {ARRAYS}")
    try:
        names = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        names = {}
    key = next((k for k in ("key", "seed", "rng", "generator") if k in names), "global")
    white_box = getattr(obj, "filter", None)
    return Sampler(obj, detect_array(obj) if array == "auto" else array, key,
                   white_box if callable(white_box) else None, guessed=array == "auto")


# --- engines ------------------------------------------------------------------------------------

def mlx_lm(temp: float = 0.0, top_p: float = 0.0, min_p: float = 0.0, min_tokens_to_keep: int = 1,
           top_k: int = 0) -> Sampler:
    """mlx-lm's own `make_sampler`, made white-box with its own filters in its own order."""
    from mlx_lm import sample_utils as su

    steps = []
    if 0 < top_p < 1.0:
        steps.append(lambda x: su.apply_top_p(x, top_p))
    if min_p != 0.0:
        steps.append(lambda x: su.apply_min_p(x, min_p, min_tokens_to_keep))
    if top_k > 0:
        steps.append(lambda x: su.apply_top_k(x, top_k))

    def filtered(x):
        for step in steps:
            x = step(x)
        return x

    draw = su.make_sampler(temp=temp, top_p=top_p, min_p=min_p, min_tokens_to_keep=min_tokens_to_keep, top_k=top_k)
    return Sampler(draw, "mlx", "global", filtered if temp != 0 else None,
                   name=f"mlx_lm.sample_utils.make_sampler(temp={temp}, top_p={top_p}, min_p={min_p}, top_k={top_k})")


def hf(processors, name: str = "") -> Sampler:
    """A Hugging Face `LogitsProcessorList` (or any list of warpers) followed by
    `torch.multinomial`, as `generate()` samples; the warpers' output is the white-box view."""
    import torch

    def filtered(scores):
        input_ids = torch.zeros((scores.shape[0], 0), dtype=torch.long)
        for processor in processors:
            scores = processor(input_ids, scores)
        return scores

    def draw(scores, generator=None):
        probs = torch.softmax(filtered(scores).float(), dim=-1)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]

    def keyed(scores, seed: int):
        return draw(scores, torch.Generator().manual_seed(seed))

    return Sampler(keyed, "torch", "seed", filtered, name=name or f"transformers warpers {list(processors)}")


def hf_warpers(temperature: float = 1.0, top_k: int | None = 50, top_p: float | None = 1.0,
               min_p: float | None = None, min_tokens_to_keep: int = 1) -> Sampler:
    """The warpers `generate(do_sample=True)` builds for these parameters (transformers 5.x,
    GenerationMixin._get_logits_processor), as a Sampler: a factory for the `hf` preset."""
    from transformers import generation as g

    warpers = []
    if temperature is not None and temperature != 1.0:
        warpers.append(g.TemperatureLogitsWarper(temperature))
    if top_k is not None and top_k != 0:
        warpers.append(g.TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=min_tokens_to_keep))
    if top_p is not None and top_p < 1.0:
        warpers.append(g.TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=min_tokens_to_keep))
    if min_p is not None:
        warpers.append(g.MinPLogitsWarper(min_p=min_p, min_tokens_to_keep=min_tokens_to_keep))
    return hf(g.LogitsProcessorList(warpers), name=f"transformers warpers(temperature={temperature}, "
              f"top_k={top_k}, top_p={top_p}, min_p={min_p})")

"""Put any sampler behind one calling convention, so the validator can test it.

A sampler under test is a callable taking a (B, V) array and returning B token ids. Two optional
capabilities make checks sharper, and are detected or declared:
- a key: a parameter named `key` or `seed` (an int is passed), or `rng` / `generator` (a numpy
  Generator is passed). A sampler without one is made reproducible by seeding the global random
  state of its array library before each call (mlx, numpy or torch).
- white-box: a `filter` attribute, (B, V) array -> the filtered logits, -inf where dropped (it
  may take `history` and `key` keywords too).
- token history (penalties): a parameter named `history`, given a list with one `spec.History`
  per row of the batch.

`Sampler` declares these explicitly; each engine module of `spec.engines` builds one from its engine.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spec.errors import InvalidParameter
from spec.transforms import History

ARRAYS = ("numpy", "mlx", "torch")


@dataclass
class Sampler:
    """draw: the sampler; array: the array type it takes; key: how it takes randomness ("key",
    "seed", "rng", "generator" keyword, "global" seeding, or None: not reproducible);
    filter: optional white-box access; dtype: the float type of its input; batched=False: the
    sampler takes one (1, V) row at a time (as tiny-llm's does), and is called row by row;
    history: it takes `history=` (one spec.History per row); input: what it expects to be fed
    ("logits" or "logprobs"), used when validate() is not told (None: logits)."""

    draw: Callable
    array: str = "numpy"
    key: str | None = "global"
    filter: Callable | None = None
    dtype: str | None = None
    name: str = ""
    batched: bool = True
    guessed: bool = False  # the array type was guessed from the module: the validator may try others
    history: bool = False
    input: str | None = None
    in_flight: int = 1  # calls in flight at once (2: an mlx sampler returning a lazy array; see calls.py)

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

    def snapshot(self, x) -> bytes:
        """The input's bytes: a call that changes them modified its input in place."""
        if self.array == "mlx":
            import mlx.core as mx
            return np.array(x.astype(mx.float32) if x.dtype == mx.bfloat16 else x).tobytes()
        if self.array == "torch":
            return self.as_numpy(x).tobytes()  # (numpy has no bfloat16)
        return np.ascontiguousarray(x).tobytes()

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

    def __call__(self, x, key: int | None, history: list[History] | None = None):
        """One call with randomness from `key` (ignored when key is None); `history`, one
        History per row (None: nothing seen), is passed only to a sampler that takes it."""
        if self.key == "global" and key is not None:
            _seed_global(self.array, key)  # once: row-by-row calls then draw in sequence
        history = list(history) if history is not None else [History()] * x.shape[0]
        if self.batched:
            return self._one_call(x, key, history)
        keys = [None] * x.shape[0] if key is None else np.random.SeedSequence(key).generate_state(x.shape[0]) >> 1
        outs = [self.host(self._one_call(x[i:i + 1], None if k is None else int(k), history[i:i + 1]))
                for i, k in enumerate(keys)]
        if all(isinstance(o, np.ndarray) for o in outs):
            return np.concatenate([np.ravel(o) for o in outs])
        return outs  # garbage: the validator reports it

    def _one_call(self, x, key, history):
        extra = {"history": history} if self.history else {}
        if key is None or self.key in (None, "global"):
            return self.draw(x, **extra)
        if self.key in ("key", "seed"):
            return self.draw(x, **{self.key: key}, **extra)
        return self.draw(x, **{self.key: np.random.default_rng(key)}, **extra)

    def filtered(self, x, history: list[History] | None = None, key: int | None = None):
        """The white-box view: `filter(x)`, given `history` and `key` if it takes them (a random
        filter, such as XTC's, is seeded by the key: its global random state, or its `key`)."""
        names = _parameters(self.filter)
        extra = {}
        if "history" in names:
            extra["history"] = list(history) if history is not None else [History()] * x.shape[0]
        if key is not None:
            if "key" in names:
                extra["key"] = key
            else:
                _seed_global(self.array, key)
        return self.filter(x, **extra)


def _default_dtype(array: str) -> str:
    return "float64" if array == "numpy" else "float32"


def _parameters(fn) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


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
    names = _parameters(obj)
    key = next((k for k in ("key", "seed", "rng", "generator") if k in names), "global")
    white_box = getattr(obj, "filter", None)
    return Sampler(obj, detect_array(obj) if array == "auto" else array, key,
                   white_box if callable(white_box) else None, guessed=array == "auto", history="history" in names)

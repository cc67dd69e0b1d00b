"""The real engines this project validates, one module each: `mlx_lm`, `transformers`, `vllm`,
`llama_cpp`, `onnxruntime_genai`, `ctranslate2`, `transformers_js`, `node_llama_cpp` (the last two
through the node bridge, `spec.engines.node`). An engine module holds everything about its engine
(how to call its sampler, its version and install line, its grid of configurations with their known
deviations, its generation loops and the small model they run on, its speculative verifier if any)
and ends with
`ENGINE = Engine(...)`. `engines()` finds every such module in this package, so adding an engine is
one new module (and its test file): nothing else changes. `spec.engines.conformance` runs the grids.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from spec.engines.engine import Config, Engine

__all__ = ["Config", "Engine", "endpoints", "engines", "factories"]

NOT_ENGINES = {"engine", "conformance", "node", "served"}  # not engines: node is the bridge, served the HTTP parts


@functools.cache
def engines() -> dict[str, Engine]:
    """{name: Engine} for every engine module here, in listing order (Engine.rank, then name). Importing
    an engine module does not import the engine itself: its package loads when a sampler is built."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in NOT_ENGINES or info.name.startswith("_"):
            continue
        engine = getattr(importlib.import_module(f"{__name__}.{info.name}"), "ENGINE", None)
        if isinstance(engine, Engine):
            found.append(engine)
    return {e.name: e for e in sorted(found, key=lambda e: (e.rank, e.name))}


def factories() -> dict:
    """{"module:function" of an engine's own sampler factory: the engine module's adapter for it}, so
    that `python -m spec.validate mlx_lm.sample_utils:make_sampler` validates what mlx-lm composes."""
    return {path: build for e in engines().values() for path, build in e.factories.items()}


def endpoints() -> dict:
    """{preset: engine module} for the served engines that can point at a running server: with
    `use(url)` and `probe()` (`spec.conformance --endpoint`; `spec.validate --endpoint` on exact
    rows where the module also says EXACT_ROWS), or on the served model's own rows (a module with
    `deployment(url, model, **params)`)."""
    import sys
    out = {}
    for e in engines().values():
        module = sys.modules[e.sampler.__module__]
        if (hasattr(module, "use") and hasattr(module, "probe")) or hasattr(module, "deployment"):
            out[e.preset] = module
    return out


def __getattr__(name):
    if name == "ENGINES":  # the table as a name, as spec.engines.ENGINES has always been
        return engines()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

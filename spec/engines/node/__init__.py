"""The npm engines (transformers.js, node-llama-cpp) run in one node process behind a JSON-lines bridge:
`bridge.py` (Python's side), `bridge.mjs` (node's), `handlers/<engine>.mjs` (one per engine), the exact
npm versions in package.json/package-lock.json. Install them with `python -m spec.engines.node install`
(into spec/engines/node/node_modules, git-ignored). Not an engine module itself (spec.engines.NOT_ENGINES).
`NodeEngine` is an `Engine` whose packages are npm packages: installed and versioned from node_modules."""

from __future__ import annotations

import json
from dataclasses import dataclass

from spec.engines.engine import Engine
from spec.engines.node.bridge import INSTALL, MODULES, installed


@dataclass(frozen=True)
class NodeEngine(Engine):
    """An engine in the node bridge: `distributions` name npm packages; `needs` the Python modules its
    adapter uses besides (gguf, to write node-llama-cpp's model)."""

    def missing(self) -> list[str]:
        return [f"npm {p}" for p in self.distributions if not installed(p)] + super().missing()

    def version(self) -> str:
        return ", ".join(map(npm_version, self.distributions))


def npm_version(package: str) -> str:
    """'name version' of an npm package installed for the bridge (as `version` does for a Python one)."""
    try:
        return f"{package} {json.loads((MODULES / package / 'package.json').read_text())['version']}"
    except (OSError, ValueError, KeyError):
        return f"{package} (not installed: {INSTALL})"

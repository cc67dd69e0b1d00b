"""python -m spec.conformance: mlx-lm's grid conforms (CI runs it), an engine that is not installed
is a skipped row with its install command, a broken engine is a failing row with its check and
counterexample, and usage errors exit 2."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from spec import conformance, engines, presets
from spec.engines import Config, Engine
from spec.validator import adapters
from tests.validating import ALPHA_RUN, ROOT


def test_the_mlx_lm_grid_conforms_but_for_its_shared_xtc_coin(tmp_path):
    grid = engines.MLX_LM.configs
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


def test_an_engine_not_installed_is_a_skipped_row_with_its_install_command(monkeypatch):
    ghost = Engine("ghost", "mlx_lm", ("ghost-engine",), ("no_such_module_here",), "pip install ghost",
                   adapters.mlx_lm, (Config("defaults"),))
    monkeypatch.setitem(conformance.ENGINES, "ghost", ghost)
    rows = conformance.run(["ghost"])
    assert [(r.verdict, r.check) for r in rows] == [("skipped", "not installed: pip install ghost")]
    assert rows[0].version == "not installed (no no_such_module_here)"


def _no_top_p(temp=0.0, top_p=0.0, **params):
    """A broken engine: it ignores top_p."""
    return adapters.mlx_lm(temp=temp, **params)


def test_a_broken_engine_is_a_failing_row_with_its_check_and_counterexample(monkeypatch):
    broken = replace(engines.MLX_LM, name="broken", sampler=_no_top_p,
                     configs=(Config("temperature 0.7 + top-p 0.9", {"temp": 0.7, "top_p": 0.9}),))
    monkeypatch.setitem(conformance.ENGINES, "broken", broken)
    (row,) = conformance.run(["broken"], profile="quick", alpha=1e-6)
    assert row.verdict == "DOES NOT CONFORM" and row.check and row.counterexample
    assert "DOES NOT CONFORM" in conformance.markdown([row])


def test_an_engine_that_rejects_its_configuration_is_an_error_row(monkeypatch):
    picky = replace(engines.MLX_LM, name="picky", configs=(Config("top-k -1", {"temp": 1.0, "top_k": -1}),))
    monkeypatch.setitem(conformance.ENGINES, "picky", picky)
    (row,) = conformance.run(["picky"], profile="quick")
    assert row.verdict == "error" and "top_k" in row.check


@pytest.mark.parametrize("args, message", [
    (["--engines", "nope"], "unknown engine nope"),
    (["--alpha", "2"], "--alpha must be in (0, 1)"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--json", "/no/such/dir/x.json"], "cannot write /no/such/dir/x.json"),
])
def test_usage_errors_exit_2_with_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        conformance.main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_documented_deviation_must_still_fail(monkeypatch):
    """A row marked `known` passes the run only while the engine still deviates: once it conforms
    on the release the preset models, the table is stale and the run says so (exit 1); on another
    installed release it reads "not seen on X (fixed upstream?)", with its evidence, and exit 0."""
    fixed = replace(engines.MLX_LM, name="fixed", configs=(
        Config("greedy", {"temp": 0.0}, known="a deviation that was fixed"),))
    monkeypatch.setitem(conformance.ENGINES, "fixed", fixed)
    (row,) = conformance.run(["fixed"], profile="quick")
    assert row.verdict.startswith("not seen on mlx-lm 0.32.2") and "preset models" in row.verdict
    assert "every check passed" in row.check and "draws" in row.check and not conformance.passes(row)
    monkeypatch.setitem(presets.MODELLED, "mlx_lm", ("mlx-lm", "0.31.0"))  # as if 0.32.2 were a newer release
    (row,) = conformance.run(["fixed"], profile="quick")
    assert row.verdict == f"not seen on {fixed.version()} (fixed upstream?)" and conformance.passes(row)
    broken = replace(engines.MLX_LM, name="broken", sampler=_no_top_p, configs=(
        Config("top-p", {"temp": 0.7, "top_p": 0.9}, known="ignores top_p"),))
    monkeypatch.setitem(conformance.ENGINES, "broken", broken)
    (row,) = conformance.run(["broken"], profile="quick")
    assert row.verdict == "known deviation" and "known: ignores top_p" in row.check and row.counterexample

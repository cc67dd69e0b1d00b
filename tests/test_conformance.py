"""The conformance runner (spec/engines/conformance.py), generic: an engine that is not installed is
a skipped row with its install command, a broken engine is a failing row with its check and
counterexample, a documented deviation must still fail, usage errors exit 2. Each engine's own grid
is tested in its own file (tests/test_engine_<module>.py)."""

import sys
from dataclasses import replace

import pytest

from spec import conformance, presets
from spec.engines import Config, Engine, engines, mlx_lm
from tests.validating import ALPHA_RUN, ROOT

ENGINES = engines()  # the runner's table: a test adds an engine to it with monkeypatch.setitem


def test_an_engine_not_installed_is_a_skipped_row_with_its_install_command(monkeypatch):
    ghost = Engine("ghost", "mlx_lm", ("ghost-engine",), ("no_such_module_here",), "pip install ghost",
                   mlx_lm.sampler, (Config("defaults"),))
    monkeypatch.setitem(ENGINES, "ghost", ghost)
    rows = conformance.run(["ghost"])
    assert [(r.verdict, r.check) for r in rows] == [("skipped", "not installed: pip install ghost")]
    assert rows[0].version == "not installed (no no_such_module_here)"


def _no_top_p(temp=0.0, top_p=0.0, **params):
    """A broken engine: it ignores top_p."""
    return mlx_lm.sampler(temp=temp, **params)


def test_a_broken_engine_is_a_failing_row_with_its_check_and_counterexample(monkeypatch):
    broken = replace(mlx_lm.ENGINE, name="broken", sampler=_no_top_p,
                     configs=(Config("temperature 0.7 + top-p 0.9", {"temp": 0.7, "top_p": 0.9}),))
    monkeypatch.setitem(ENGINES, "broken", broken)
    (row,) = conformance.run(["broken"], profile="quick", alpha=1e-6)
    assert row.verdict == "DOES NOT CONFORM" and row.check and row.counterexample
    assert "DOES NOT CONFORM" in conformance.markdown([row])


def test_an_engine_that_rejects_its_configuration_is_an_error_row(monkeypatch):
    picky = replace(mlx_lm.ENGINE, name="picky", configs=(Config("top-k -1", {"temp": 1.0, "top_k": -1}),))
    monkeypatch.setitem(ENGINES, "picky", picky)
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
    fixed = replace(mlx_lm.ENGINE, name="fixed", configs=(
        Config("greedy", {"temp": 0.0}, known="a deviation that was fixed"),))
    monkeypatch.setitem(ENGINES, "fixed", fixed)
    (row,) = conformance.run(["fixed"], profile="quick")
    assert row.verdict.startswith("not seen on mlx-lm 0.32.2") and "preset models" in row.verdict
    assert "every check passed" in row.check and "draws" in row.check and not conformance.passes(row)
    monkeypatch.setitem(presets.MODELLED, "mlx_lm", ("mlx-lm", "0.31.0"))  # as if 0.32.2 were a newer release
    (row,) = conformance.run(["fixed"], profile="quick")
    assert row.verdict == f"not seen on {fixed.version()} (fixed upstream?)" and conformance.passes(row)
    broken = replace(mlx_lm.ENGINE, name="broken", sampler=_no_top_p, configs=(
        Config("top-p", {"temp": 0.7, "top_p": 0.9}, known="ignores top_p"),))
    monkeypatch.setitem(ENGINES, "broken", broken)
    (row,) = conformance.run(["broken"], profile="quick")
    assert row.verdict == "known deviation" and "known: ignores top_p" in row.check and row.counterexample


def _readme_engine() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\n", readme.index("### Add an engine")) + len("```python\n")
    return readme[start:readme.index("```", start)]


def test_an_engine_is_one_module_the_readme_s_toy_engine_is_found_and_conforms(tmp_path, monkeypatch):
    """The README's smallest engine, saved as a module of spec.engines (here: a folder added to the
    package's path), is found by discovery, listed after the four, and its grid conforms; the same
    text with the temperature left out does not."""
    import spec.engines

    (tmp_path / "numpy_toy.py").write_text(_readme_engine())
    monkeypatch.setattr(spec.engines, "__path__", [*spec.engines.__path__, str(tmp_path)])
    try:
        found = spec.engines.engines.__wrapped__()  # discovery afresh, not the cached table
    finally:
        sys.modules.pop("spec.engines.numpy_toy", None)
    assert list(found) == [*ENGINES, "numpy-toy"]
    toy = found["numpy-toy"]
    monkeypatch.setitem(ENGINES, toy.name, toy)
    rows = conformance.run([toy.name], profile="quick", alpha=ALPHA_RUN * len(toy.configs))
    assert [r.verdict for r in rows] == ["conforms"] * len(toy.configs), conformance.markdown(rows)
    scope = {}
    exec(compile(_readme_engine().replace("z = logits / temperature", "z = logits"), "toy", "exec"), scope)  # noqa: S102
    monkeypatch.setitem(ENGINES, toy.name, replace(scope["ENGINE"], configs=toy.configs[:1]))
    (row,) = conformance.run([toy.name], profile="quick", alpha=ALPHA_RUN)
    assert row.verdict == "DOES NOT CONFORM" and row.counterexample, conformance.markdown([row])

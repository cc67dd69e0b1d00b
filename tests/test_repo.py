"""The foundation: README commands, CI script, packaging and lint."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from proofs.catalogue import THEOREMS

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_has_exactly_two_setup_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("python -m proofs.check")
    assert commands[1].endswith("python -m pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    assert readme_commands()[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_explains_every_theorem():
    text = (ROOT / "README.md").read_text()
    for t in THEOREMS:
        assert f"`{t.id}`" in text


def test_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = meta["project"]
    assert project["name"] == "sampler-proofs" and project["requires-python"] == ">=3.11"
    deps = " ".join(project["dependencies"])
    assert "mlx[cpu]" in deps and "sys_platform == 'linux'" in deps and "sys_platform == 'darwin'" in deps
    assert set(meta["tool"]["setuptools"]["packages"]["find"]["include"]) == {"proofs", "spec", "spec.*", "impl"}


def test_generated_output_is_git_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/transcripts/" in ignored and "/results/" in ignored


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff not installed")
def test_ruff_passes():
    ruff = Path(sys.executable).parent / "ruff"
    run = subprocess.run([str(ruff) if ruff.exists() else "ruff", "check", str(ROOT)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_readme_spec_example_runs_and_shows_the_right_numbers():
    code = re.search(r"```python\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S).group(1)
    scope = {}
    exec(code, scope)
    shown = re.search(r"t.probs .*\[(.+?)\]", code).group(1)
    expected = [float(x) for x in shown.split(",")]
    assert [round(float(p), 4) for p in scope["t"].probs] == expected


def test_readme_validate_snippet_runs_as_written_and_passes():
    """The README's "the same from Python" snippet, run as a user would copy it."""
    blocks = re.findall(r"```python\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)
    code = next(b for b in blocks if "spec.validate(" in b)
    scope = {}
    exec(code, scope)
    assert scope["report"].passed, str(scope["report"])

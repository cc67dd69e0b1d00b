"""The command line (spec/validator/__main__.py, run as python -m spec.validate).

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import json

import pytest
from validating import ALPHA_RUN, ROOT, run_cli

from spec.validator.__main__ import Progress


def test_cli_validates_mlx_lm_as_typed_in_the_issue(tmp_path):
    out = run_cli("mlx_lm.sample_utils:make_sampler", "--factory", "--preset", "mlx-lm", "--temperature", "0.7",
                  "--top-p", "0.9", "--profile", "quick", "--alpha", str(ALPHA_RUN), "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("CONFORMS") and "contract (factory)" in out.stdout
    assert json.loads((tmp_path / "r.json").read_text())["passed"]


def test_cli_exit_1_with_the_minimal_counterexample():
    out = run_cli("spec.examples:top_p_sampler_dropping_the_crossing_token", "--preset", "hf", "--top-k", "0",
                  "--top-p", "0.9")
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout.startswith("DOES NOT CONFORM") and "minimal counterexample" in out.stdout
    readme = (ROOT / "README.md").read_text()
    shown = readme[readme.index("spec.examples:top_p_sampler_dropping_the_crossing_token --preset"):]
    for line in out.stdout.splitlines()[3:]:  # the README shows this very output (timings aside)
        assert line in shown, line


@pytest.mark.parametrize(("args", "words"), [
    (["nosuchmodule:f"], "cannot import module 'nosuchmodule'"),
    (["spec.examples:nothing"], "has no attribute 'nothing'"),
    (["spec.examples"], "expected MODULE:ATTR"),
    (["spec.examples:top_p_sampler", "--preset", "sglang"], "preset='sglang' is not allowed"),
    (["spec.examples:top_p_sampler", "--preset", "hf", "--top-p", "1.5"], "top_p=1.5 is not allowed"),
    (["spec.examples:TOP_P"], "is not callable"),
])
def test_cli_usage_problems_exit_2_with_one_line(args, words):
    out = run_cli(*args)
    assert out.returncode == 2 and words in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_progress_bar_appears_after_a_few_seconds():
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True
    stream = Tty()
    bar = Progress(stream, after=0.0)
    bar("statistics: a case (2,500 draws)")
    bar.done()
    assert "[##########--]" in stream.getvalue() and "statistics" in stream.getvalue()
    quiet = Tty()
    Progress(quiet, after=60.0)("contract")
    assert quiet.getvalue() == ""

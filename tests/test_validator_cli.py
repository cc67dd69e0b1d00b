"""The command line (spec/validator/__main__.py, run as python -m spec.validate).

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py); the suite's
budget is in conftest.py. Each run is seeded: the verdicts are fixed.
"""

import json

import pytest
from validating import ALPHA_RUN, ROOT, run_cli

from spec import presets
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
    for line in out.stdout.splitlines()[3:]:  # the README shows this very output (timings aside) ...
        if not line.startswith("  preset hf models"):  # ... and the release line, which names the installed one
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
    assert "[##########------]" in stream.getvalue() and "statistics" in stream.getvalue()
    for tick in ("batch same-key (64 keys)", "coupling (shift): a case", "an unnamed tick"):  # never backwards
        bar(tick)
    assert stream.getvalue().split("\r")[-1].startswith("[##############--]")
    quiet = Tty()
    Progress(quiet, after=60.0)("contract")
    assert quiet.getvalue() == ""


def test_cli_parses_a_logit_bias_and_engine_only_parameters():
    from spec.validator.__main__ import Usage, engine_only, parse

    assert parse(["m:f", "--logit-bias", "5:-inf, 7:2.5"]).logit_bias == {5: float("-inf"), 7: 2.5}
    args = parse(["m:f", "--param", "xtc_threshold=0.2", "--param", "xtc_special_tokens=1,2"])
    assert engine_only("mlx_lm", args.param) == {"xtc_threshold": 0.2, "xtc_special_tokens": [1, 2]}
    assert engine_only("mlx_lm", [("repetition_context_size", "64"), ("version", "0.19")]) == {
        "repetition_context_size": 64, "version": "0.19"}
    assert engine_only("llama_cpp", [("penalty_last_n", "-1"), ("min_keep", "2")]) == {"penalty_last_n": -1,
                                                                                         "min_keep": 2}
    for pairs, words in [([("xtc_threshold", "abc")], "'abc' is not a number"),
                         ([("xtc_special_tokens", "1,x")], "'x' is not an integer"),
                         ([("nosuch", "1")], "not a parameter of the mlx_lm preset"),
                         ([("temp", "0.7")], "use --temperature")]:
        with pytest.raises(Usage, match=words):
            engine_only("mlx_lm", pairs)


RECEIVED = {}


def recording_factory(**params):
    """A factory that records what the CLI passes it (every engine parameter of the preset)."""
    RECEIVED.clear()
    RECEIVED.update(params)
    from spec.engines import mlx_lm
    return mlx_lm.sampler(**params)


def test_cli_factory_gets_every_engine_parameter_and_the_engine_only_ones():
    import inspect

    from spec import presets
    from spec.validator.__main__ import build, parse

    sampler, pipeline, family, input_kind = build(parse([
        "test_validator_cli:recording_factory", "--factory", "--preset", "mlx-lm", "--temperature", "1.0",
        "--repetition-penalty", "1.3", "--logit-bias", "2:1.5", "--xtc-probability", "0.5",
        "--param", "xtc_threshold=0.2", "--param", "repetition_context_size=8", "--param", "version=0.32"]))
    engine = set(inspect.signature(presets.mlx_lm).parameters) - {"version"}
    assert set(RECEIVED) == engine - {"min_tokens_to_keep", "xtc_special_tokens", "presence_context_size",
                                      "frequency_context_size"} and "version" not in RECEIVED
    assert RECEIVED["xtc_threshold"] == 0.2 and RECEIVED["repetition_context_size"] == 8
    assert RECEIVED["logit_bias"] == {2: 1.5} and RECEIVED["repetition_penalty"] == 1.3
    assert pipeline.steps[1].window == 8 and pipeline.steps[2].threshold == 0.2
    assert input_kind == "logits"  # the processors see raw logits
    assert family.engine["xtc_threshold"] == 0.2 and family.pipeline(**family.params) == pipeline


@pytest.mark.parametrize(("args", "words"), [
    (["--logit-bias", "5"], "expected TOKEN:BIAS pairs"),
    (["--param", "xtc_threshold"], "expected NAME=VALUE"),
    (["--param", "xtc_threshold=abc"], "'abc' is not a number"),
    (["--param", "nosuch=1"], "not a parameter of the mlx_lm preset"),
], ids=["bias", "pair", "value", "name"])
def test_cli_bad_parameters_exit_2_with_one_line(args, words):
    out = run_cli("spec.examples:top_p_sampler", "--preset", "mlx-lm", "--temperature", "0.7", *args)
    assert out.returncode == 2 and words in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


README_XTC = ["mlx_lm.sample_utils:make_sampler", "--factory", "--preset", "mlx-lm", "--temperature", "1.0",
              "--xtc-probability", "0.5", "--param", "xtc_threshold=0.1", "--repetition-penalty", "1.3",
              "--profile", "quick"]


@pytest.mark.slow
def test_cli_validates_mlx_lm_with_xtc_and_a_repetition_penalty_in_one_line():
    """Every tier passes but batch independence: mlx-lm 0.32.2 tosses one XTC coin per call."""
    out = run_cli(*README_XTC, "--alpha", str(ALPHA_RUN))
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout.startswith("DOES NOT CONFORM") and "RepetitionPenalty(theta=1.3" in out.stdout
    assert "FAILED statistics: batch independence" in out.stdout and "minimal counterexample" in out.stdout
    assert "each keep-set one mixture component's support" in out.stdout


def test_the_default_preset_a_tie_at_the_cut_and_engine_defaults_are_said():
    """A Hugging Face-style top-p sampler under the default preset: the report says which preset ran
    and why it is the default, and the failure says the missing token is tied with a kept one and
    which presets drop such ties; under --preset hf, the engine's own top-k 50 is named in the spec line."""
    out = run_cli("spec.examples:top_p_sampler", "--top-p", "0.9", "--profile", "quick")
    assert out.returncode == 1, out.stdout + out.stderr
    head = out.stdout.splitlines()[:6]
    assert any(line.startswith("  preset reference (the default") for line in head), head
    assert "token 4 is tied with token [3] (equal logits)" in out.stdout
    assert ("at these settings hf, vllm, llama_cpp, tiny_llm, onnxruntime_genai, ctranslate2, transformers_js, "
            "node_llama_cpp would drop it (choose with --preset)") in out.stdout
    out = run_cli("spec.examples:top_p_sampler", "--preset", "hf", "--top-p", "0.9", "--profile", "quick")
    assert "[not typed, the engine's own defaults: top_k=50;" in out.stdout.splitlines()[1], out.stdout


def test_help_shows_every_default():
    out = run_cli("--help")
    options = out.stdout[out.stdout.index("\noptions:"):]
    entries = ["  --" + e for e in options.split("\n  --")[1:]]  # one entry per option, with its help
    assert len(entries) > 20
    for entry in entries:
        assert "default" in entry, entry


@pytest.mark.parametrize("preset", sorted(presets.PRESETS))
def test_a_factory_is_called_with_the_parameters_the_pipeline_assumes(preset):
    """With --factory every untyped parameter goes to the factory at the value the spec's pipeline
    assumes for it: an engine default (Hugging Face's top_k 50, llama-cpp-python's server's
    repeat_penalty 1.1) passed as its no-op instead made a correct engine fail."""
    given = {"temperature": 0.7, "top_p": 0.9} if "top_p" in presets.ENGINE_NAMES[preset] else {"temperature": 0.7}
    assumed = presets.PRESETS[preset](**presets.engine_params(preset, **given))
    called = presets.PRESETS[preset](**presets.factory_params(preset, **given))
    assert str(called) == str(assumed)

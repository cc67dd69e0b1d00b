"""spec.validate: the bug zoo is caught black-box by the default profile, correct samplers pass,
bad samplers are reported (never crash the validator), failures shrink, the CLI works.

False alarms: every run of a correct sampler here uses alpha = ALPHA_RUN = 4e-7 / 40, and there
are fewer than 40 such runs, so these tests fail a correct sampler by chance with probability
below 4e-7 (Bonferroni over the runs; the suite's budget is in conftest.py). Each run is seeded:
the verdicts are fixed.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from zoo import BUGGY, CORRECT

import impl
import spec
from proofs.catalogue import BY_ID as THEOREMS
from spec import presets
from spec.validator.__main__ import Progress
from spec.validator import Case, Family, adapters, mismatch_rate
from spec.validator.shrink import shrink

ALPHA_RUN = 4e-7 / 40
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "spec.validate", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


# --- the zoo: every bug caught by the default profile, black-box, with a clear report ----------

@pytest.mark.parametrize("bug", BUGGY, ids=lambda s: s.name)
def test_default_profile_catches_the_bug_black_box(bug):
    report = spec.validate(bug.black_box(), bug.pipeline)
    assert not report.passed, f"{bug.name} was not caught"
    failure = report.failures[0]
    assert failure.message and failure.check and failure.case
    assert failure.check not in ("contract: output", "contract: no hang")  # caught by its defect, not by garbage
    assert str(report).startswith("DOES NOT CONFORM")
    assert json.loads(report.to_json())["passed"] is False
    for theorem in failure.theorems:
        assert theorem in THEOREMS


@pytest.mark.parametrize("sampler", CORRECT, ids=lambda s: s.name)
def test_correct_numpy_samplers_pass(sampler):
    report = spec.validate(sampler.black_box(), sampler.pipeline, alpha=ALPHA_RUN)
    assert report.passed, str(report)


def test_white_box_zoo_is_caught_by_its_keep_set():
    bug = BUGGY[0]  # top-p drops the crossing token
    report = spec.validate(bug.black_box(white_box=True), bug.pipeline)
    failure = report.failures[0]
    assert failure.check == "white-box: keep-set"
    assert "keeps" in failure.counterexample["spec"]


# --- correct engines pass -----------------------------------------------------------------------

MLX_LM_CONFIGS = [dict(temp=0.7, top_p=0.9), dict(temp=1.0, min_p=0.1, top_k=20), dict(temp=0.0)]


@pytest.mark.parametrize("params", MLX_LM_CONFIGS, ids=str)
def test_mlx_lm_make_sampler_conforms_to_the_mlx_lm_preset(params):
    report = spec.validate(adapters.mlx_lm(**params), presets.mlx_lm(**params), input="logprobs", alpha=ALPHA_RUN)
    assert report.passed, str(report)


@pytest.mark.parametrize("pipeline", [presets.mlx_lm(temp=0.7, top_p=0.9), presets.hf(temperature=0.8, top_k=40,
                         top_p=0.9, min_p=0.05), presets.reference(temperature=0)], ids=lambda p: p.name)
def test_impl_conforms(pipeline):
    report = spec.validate(impl.make_sampler(pipeline), pipeline, alpha=ALPHA_RUN)
    assert report.passed, str(report)
    if not pipeline.greedy:  # impl exposes .filter: its keep-set is checked
        assert any(c.startswith("white-box: keep-set") for c in report.checks)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_inputs_pass_with_boundary_tokens_left_out(dtype):
    """In bfloat16 many tokens sit within rounding of a cut: the statistics leave them out and
    test the rest, whose relative probabilities do not depend on the boundary."""
    pipeline = presets.mlx_lm(temp=0.7, top_p=0.9)
    sampler = impl.make_sampler(pipeline)
    report = spec.validate(adapters.Sampler(sampler, "mlx", "key", sampler.filter, dtype=dtype), pipeline,
                           input="logprobs", profile="quick", alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert any(c.startswith("statistics: 10 cases") for c in report.checks)
    if dtype == "bfloat16":
        assert any("leave out" in n for n in report.notes)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_samplers_pass_on_other_seeds(seed):
    runs = [(adapters.mlx_lm(temp=0.7, top_p=0.9), presets.mlx_lm(temp=0.7, top_p=0.9), "logprobs"),
            (impl.make_sampler(presets.hf(top_k=0, top_p=0.8)), presets.hf(top_k=0, top_p=0.8), "logits"),
            (CORRECT[4].black_box(), CORRECT[4].pipeline, "logits")]
    for sampler, pipeline, input_kind in runs:
        report = spec.validate(sampler, pipeline, input=input_kind, profile="quick", seed=seed, alpha=ALPHA_RUN)
        assert report.passed, str(report)


def test_hf_warpers_conform_to_the_hf_preset():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    params = dict(temperature=0.7, top_k=40, top_p=0.9)
    report = spec.validate(adapters.hf_warpers(**params), presets.hf(**params), alpha=ALPHA_RUN)
    assert report.passed, str(report)
    assert report.fingerprint["consistent"] and "hf" in report.fingerprint["consistent"]


# --- a bad sampler is a finding, never a crash of the validator ---------------------------------

def _raises(x):
    raise RuntimeError("kaput")


def _hangs(x):
    time.sleep(60)


def _mutates(x):
    x[:, 0] = 0.0
    return np.zeros(len(x), dtype=np.int64)


@pytest.mark.parametrize(("sampler", "words"), [
    (_raises, "raised RuntimeError: kaput"),
    (_hangs, "no answer within 1 s"),
    (_mutates, "modified in place"),
    (lambda x: np.zeros(len(x)), "token ids must be integers"),
    (lambda x: np.zeros((len(x), 1), dtype=int), "expected (1,)"),
    (lambda x: np.full(len(x), 10**6), "outside [0, 5)"),
    (lambda x: "garbage", "returned str"),
    (lambda x: None, "returned NoneType"),
], ids=["raises", "hangs", "mutates", "floats", "shape", "range", "str", "none"])
def test_bad_samplers_are_reported_as_such(sampler, words):
    report = spec.validate(sampler, presets.reference(), timeout=1)
    assert not report.passed and words in report.failures[0].message
    assert report.failures[0].check.startswith("contract")


def test_nan_rows_returned_silently_are_noted_not_failed():
    """mlx-lm returns a token for a NaN row; the spec has no target there, so it is a note."""
    report = spec.validate(adapters.mlx_lm(temp=0.0), presets.mlx_lm(temp=0.0), input="logprobs", profile="quick")
    assert report.passed and any("NaN" in n for n in report.notes)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(spec.InvalidParameter, match="profile"):
        spec.validate(np.argmax, presets.reference(), profile="fast")
    with pytest.raises(spec.InvalidParameter, match="input"):
        spec.validate(np.argmax, presets.reference(), input="probs")
    with pytest.raises(spec.InvalidParameter, match="alpha"):
        spec.validate(np.argmax, presets.reference(), alpha=0)
    with pytest.raises(spec.InvalidParameter, match="pipeline"):
        spec.validate(np.argmax, "hf")
    with pytest.raises(spec.InvalidParameter, match="sampler"):
        spec.validate(42, presets.reference())


# --- shrinking ------------------------------------------------------------------------------------

def test_a_full_vocabulary_row_shrinks_to_two_tokens():
    """White-box oracle: the filter drops the crossing token. 151,936 tokens -> 2."""
    bug = BUGGY[0]
    row = 0.3 * spec.rows.llm_logits(np.random.default_rng(5), 1, spec.rows.VOCAB)  # a nucleus of many tokens

    def drops_a_kept_token(rows):  # the zoo computes in float64: compare exactly
        t = spec.target(rows, bug.pipeline, tol=spec.Tolerance(0.0, 0.0))
        return bool((t.support & (bug.probs(rows) == 0)).any())

    assert drops_a_kept_token(row)
    small = shrink(row, drops_a_kept_token)
    assert small.shape == (1, 2) and drops_a_kept_token(small)


def test_black_box_failures_come_with_a_minimal_counterexample():
    bug = next(b for b in BUGGY if b.name == "top-k keeps k + 1")
    failure = spec.validate(bug.black_box(), bug.pipeline).failures[0]
    assert failure.counterexample is not None and "fixed-key" in failure.counterexample["how"]
    assert "(V = 4)" in failure.counterexample["row"]  # k = 3 keeps 4 tokens: 4 is the least that shows it
    small = np.array(failure.counterexample["values"])
    assert small.shape == (1, 4)
    assert not spec.target(small, bug.pipeline).allowed[0, np.argmin(small[0])]  # the spec drops the smallest


def test_same_key_failures_shrink_with_the_failing_keys():
    bug = next(b for b in BUGGY if "overflow" in b.name)
    failure = spec.validate(bug.black_box(), bug.pipeline).failures[0]
    assert failure.check == "structure: same-key logits-vs-logprobs"
    assert "(V = 2)" in failure.counterexample["row"] and "fixed keys" in failure.counterexample["how"]


def test_missing_tokens_shrink_with_a_fixed_key_oracle():
    bug = next(b for b in BUGGY if b.name == "min_tokens_to_keep ignored")
    failure = spec.validate(bug.black_box(), bug.pipeline).failures[0]
    assert failure.check.startswith("statistics") and "never drawn" in failure.message
    assert "(V = 2)" in failure.counterexample["row"]


# --- the floating-point theorems set the same-key tolerances (issue 6) --------------------------

def test_same_key_mismatch_bound_follows_the_precision():
    z = np.array([[0.0, 3.0, 1.0, 2.5, 0.2]])
    t = spec.target(z, presets.reference(temperature=0.7))
    f32, _ = mismatch_rate(t, z[0], z[0] - 37.0, "float32", presets.reference(temperature=0.7))
    bf16, _ = mismatch_rate(t, z[0], z[0] - 37.0, "bfloat16", presets.reference(temperature=0.7))
    assert f32 < 1e-3 and bf16 > 0.1


def test_a_shift_dependent_sampler_fails_the_same_key_check_citing_the_theorems():
    """Clipping logits at -30 (a 'numerical safety' step) is invisible on every case row, whose
    values lie above -30, but not after the shift by -37: only the same-key check sees it."""
    def clips_at_minus_30(x, seed):
        z = np.where(np.isfinite(x), np.maximum(x, -30.0), x)
        return CORRECT[3].black_box().draw(z, seed)  # a correct temperature-0.5 sampler, on the clipped row
    report = spec.validate(clips_at_minus_30, presets.hf(temperature=0.5, top_k=0))
    failure = report.failures[0]
    assert failure.check == "structure: same-key shift", str(report)
    for theorem in ("softmax-shift", "gumbel-coupling", "fp-sub-monotone"):
        assert theorem in failure.theorems


def test_greedy_logprobs_check_uses_the_guard_theorem():
    """A greedy sampler that rounds its input to bfloat16 first: on a row whose top two logits
    round together, the logits and the log-probabilities may pick different tokens only as
    fp-argmax-shift-weak allows; the validator accepts exactly that."""
    def greedy_bf16(x):
        return np.array(mx.argmax(mx.array(x).astype(mx.bfloat16), axis=-1))
    report = spec.validate(greedy_bf16, presets.reference(temperature=0), array="numpy")
    assert report.passed, str(report)


# --- fingerprint, power, report -----------------------------------------------------------------

def test_fingerprint_tells_temperature_order_apart():
    params = dict(temp=0.7, top_p=0.9)
    report = spec.validate(adapters.mlx_lm(**params), presets.mlx_lm(**params), input="logprobs", profile="quick",
                           alpha=ALPHA_RUN)
    fp = report.fingerprint
    assert "mlx_lm" in fp["consistent"] and "hf" not in fp["consistent"] and fp["rows"]
    hf_like = impl.make_sampler(presets.hf(temperature=0.7, top_k=0, top_p=0.9))
    fp = spec.validate(hf_like, presets.hf(temperature=0.7, top_k=0, top_p=0.9), profile="quick",
                       alpha=ALPHA_RUN).fingerprint
    assert "hf" in fp["consistent"] and "mlx_lm" not in fp["consistent"]


def test_a_pass_states_its_power_and_alpha_split():
    sampler = CORRECT[3]
    report = spec.validate(sampler.black_box(), sampler.pipeline, profile="quick", alpha=ALPHA_RUN)
    assert report.passed
    text = str(report)
    assert "a pass rules out" in text and "missing token with spec probability >=" in text
    assert "temperature-like deviation with total variation >=" in text
    assert "split by Bonferroni" in report.alpha_split
    data = json.loads(report.to_json())
    assert data["passed"] and data["power"] and data["draws"] > 10_000


def test_cases_are_deterministic():
    from spec.validator import cases
    a, b = cases(3), cases(3)
    assert all(np.array_equal(x.rows, y.rows) for x, y in zip(a, b, strict=True))
    assert all(isinstance(c, Case) for c in a)


# --- the command line --------------------------------------------------------------------------

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


# --- with a factory: greedy, top_k = 1 and no-op parameters ---------------------------------------

def _impl_factory(bug: bool):
    def build(**common):
        if bug and common.get("top_p") == 1.0:  # the classic: top_p = 1 taken as "keep the top token"
            return impl.make_sampler(presets.reference(temperature=0))
        return impl.make_sampler(presets.common("hf", **common))
    return build


@pytest.mark.parametrize("bug", [False, True], ids=["correct", "top_p=1 is greedy"])
def test_factory_variants(bug):
    params = {"temperature": 0.7, "top_k": 0}
    build = _impl_factory(bug)
    family = Family(build, "hf", params)
    report = spec.validate(build(**params), presets.common("hf", **params), family=family, profile="quick",
                           alpha=ALPHA_RUN)
    if bug:
        assert report.failures[0].check == "contract: no-op parameters", str(report)
        assert "top_p = 1" in report.failures[0].message
    else:
        assert report.passed, str(report)
        assert any(c.startswith("contract (factory): top_k = 1, top_p = 1, min_p = 0") for c in report.checks), report.checks


def test_a_one_row_sampler_is_called_row_by_row():
    """tiny-llm's sampler takes one (1, V) row; declared batched=False, it is validated row by row."""
    def one_row(logprobs, key):
        if logprobs.shape[0] != 1:
            raise ValueError("one row at a time")
        return mx.random.categorical(logprobs * (1 / 0.7), key=mx.random.key(key))
    pipeline = presets.tiny_llm(temp=0.7)
    report = spec.validate(adapters.Sampler(one_row, "mlx", "key", batched=False), pipeline, input="logprobs",
                           profile="quick", alpha=ALPHA_RUN)
    assert report.passed, str(report)
    batched = spec.validate(one_row, pipeline, input="logprobs", profile="quick")
    assert "one row at a time" in batched.failures[0].message

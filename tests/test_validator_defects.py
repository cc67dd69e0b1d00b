"""Regression tests, one per defect of the validator found in review (numbered as in the review).

Each test fails on the validator as it was before the split into rooms (HEAD~2:
spec/validator/__init__.py and spec/validate.py). Runs use profile="quick" and small timeouts.

False alarms: every run of a correct sampler uses alpha = ALPHA_RUN (tests/validating.py) and a fixed seed,
as in test_validate.py, so its verdict is fixed.
"""

import os
import re
import threading
import time
from dataclasses import replace
from functools import cache

import mlx.core as mx
import numpy as np
import pytest
from validating import ALPHA_RUN, ROOT, run_cli
from zoo import BUGGY, CORRECT, top_k_keep

import impl
import spec
from spec import presets
from spec.engines import mlx_lm
from spec.validator import Family
from spec.validator.sampler import Sampler


def gumbel_choice(z: np.ndarray, keep: np.ndarray, seed: int) -> np.ndarray:
    """One token per row from softmax(z) restricted to `keep` (Gumbel-max, exact)."""
    g = np.random.default_rng(seed).gumbel(size=z.shape)
    return np.argmax(np.where(keep, z, -np.inf) + g, axis=-1)


@cache
def top_k_keeps_k_plus_1():
    """The zoo bug "top-k keeps k + 1", validated once (quick profile): it fails the support check
    and its failure is shrunk with fixed keys."""
    bug = next(b for b in BUGGY if b.name == "top-k keeps k + 1")
    return spec.validate(bug.black_box(), bug.pipeline, profile="quick")


# --- 1. the fingerprint under realistic parameters (top_k = 50) ------------------------------------

def test_defect_1_fingerprint_with_top_k_50():
    """With top_k >= 12 (HF's default 50) the old fingerprint said the presets "do not tell apart
    (all agree)": mlx-lm rejects top_k >= V, so every short candidate row had a preset without a
    target and was skipped. hf and llama.cpp do differ under these parameters."""
    params = dict(temperature=0.7, top_k=50, top_p=0.9)
    row = np.array([[0.365, 0.294, 0.028, 0.547, -0.736, -0.163, -0.482, 0.599]])
    hf_t = spec.target(row, presets.common("hf", **params))
    llama_t = spec.target(row, presets.common("llama_cpp", **params))
    assert not np.array_equal(hf_t.support, llama_t.support)  # why the fingerprint must tell them apart

    pipeline = presets.hf(**params)
    report = spec.validate(impl.make_sampler(pipeline), pipeline, profile="quick", alpha=ALPHA_RUN, seed=0)
    assert report.passed, str(report)
    fp = report.fingerprint
    assert fp["rows"], fp
    assert "hf" in fp["consistent"], fp
    assert "all agree" not in fp["summary"], fp["summary"]


# --- 2. a factory's greedy variant fails "contract: greedy" -----------------------------------------

def test_defect_2_factory_greedy_failure_is_reported_as_greedy():
    """A --factory sampler wrong only at temperature 0 was reported as "structure: support" with the
    sampler's own pipeline, not as "contract: greedy" with the greedy pipeline it was drawn under."""
    def build(**common):
        if common.get("temperature") == 0:
            return lambda x: np.full(x.shape[0], x.shape[1] - 1, dtype=np.int64)  # always the last token
        return impl.make_sampler(presets.common("reference", **common))

    params = {"temperature": 0.7}
    report = spec.validate(build(**params), presets.common("reference", **params),
                           family=Family(build, "reference", params), profile="quick", alpha=ALPHA_RUN, seed=0)
    assert not report.passed, str(report)
    failure = report.failures[0]
    assert failure.check == "contract: greedy", str(report)
    assert "Temperature(t=0" in failure.case["pipeline"], failure.case


# --- 3. concurrent validations ---------------------------------------------------------------------

def test_defect_3_concurrent_validations_do_not_interfere():
    """All runs shared one worker thread: a hung sampler in one run blocked (and timed out) the calls
    of another run going on at the same time."""
    entered, release = threading.Event(), threading.Event()

    def hangs(x):
        entered.set()
        release.wait(300)  # hangs until the test ends (longer than the other run's call timeout)
        return np.zeros(x.shape[0], dtype=np.int64)

    reports = {}

    def run(name, *args, **kwargs):
        reports[name] = spec.validate(*args, **kwargs)

    correct = CORRECT[0]
    hung = threading.Thread(target=run, args=("hang", hangs, presets.reference()), kwargs=dict(timeout=1))
    ok = threading.Thread(target=run, args=("ok", correct.black_box(), correct.pipeline),
                          kwargs=dict(profile="quick", alpha=ALPHA_RUN, seed=0))
    try:
        hung.start()
        assert entered.wait(30)
        ok.start()
        hung.join(120)
        ok.join(120)
    finally:
        release.set()
    assert not hung.is_alive() and not ok.is_alive()
    assert reports["ok"].passed, str(reports["ok"])
    assert not reports["hang"].passed and reports["hang"].failures[0].check == "contract: no hang", str(reports["hang"])


# --- 4. a sampler that ends the process -------------------------------------------------------------

def test_defect_4_a_sampler_calling_os_exit_does_not_conform(tmp_path):
    """The CLI validated in its own process: a sampler calling os._exit(0) ended it with status 0,
    which reads as "conforms"."""
    (tmp_path / "exits.py").write_text("def sampler(x):\n    import os\n    os._exit(0)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = run_cli("exits:sampler", "--profile", "quick", cwd=tmp_path, env=env, timeout=120)
    assert out.returncode != 0, out.stdout + out.stderr
    assert "CONFORMS" not in out.stdout, out.stdout


# --- 5. usage errors ---------------------------------------------------------------------------------

def _one_line_usage(out):
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "usage:" not in out.stderr, out.stderr


def test_defect_5_usage_errors_exit_2_in_one_line():
    """A negative --seed was accepted, an unwritable --json failed only after the whole validation
    (with a traceback), argparse errors printed a usage block, and timeout=0, -1 or NaN was taken."""
    _one_line_usage(run_cli("spec.examples:top_p_sampler", "--seed", "-1"))
    start = time.monotonic()
    out = run_cli("spec.examples:top_p_sampler", "--json", "/proc/nope/r.json")
    assert time.monotonic() - start < 15, "the --json path was not checked before the validation"
    _one_line_usage(out)
    _one_line_usage(run_cli("spec.examples:top_p_sampler", "--no-such-flag"))
    for bad in (0, -1, float("nan")):
        with pytest.raises(spec.InvalidParameter, match="timeout"):
            spec.validate(np.argmax, presets.reference(), timeout=bad)


# --- 9. shrinking is budgeted and counted -----------------------------------------------------------

def test_defect_9_shrinking_is_budgeted_and_every_call_counted(monkeypatch):
    """Shrinking had no time budget (a slow sampler shrank for many minutes) and its calls were not
    counted in the report."""
    report = top_k_keeps_k_plus_1()
    assert report.failures and report.failures[0].counterexample is not None, str(report)
    assert report.calls >= report.shrink_calls > 0, (report.calls, report.shrink_calls)
    text = str(report)
    assert re.search(r"[\d,]+ sampler calls \([\d,]+ while shrinking\)", text), text.splitlines()[:3]

    from spec.validator import context

    monkeypatch.setitem(context.PROFILES, "quick", replace(context.PROFILES["quick"], shrink_seconds=0.0))
    bug = next(b for b in BUGGY if b.name == "top-k keeps k + 1")
    budgetless = spec.validate(bug.black_box(), bug.pipeline, profile="quick")
    assert not budgetless.passed and budgetless.failures[0].check == "structure: support", str(budgetless)
    assert budgetless.shrink_calls <= 2, budgetless.shrink_calls


# --- 10. B = 1 is always called ---------------------------------------------------------------------

def test_defect_10_a_single_row_is_always_exercised():
    """Every call had B > 1 (a batch probe first, then tiled draws), so a sampler returning a 0-d
    array for one row (np.array(token) instead of shape (1,)) passed."""
    def scalar_for_one_row(x):
        ids = np.argmax(x, axis=-1)
        return np.array(ids[0]) if x.shape[0] == 1 else ids

    report = spec.validate(scalar_for_one_row, presets.reference(temperature=0), profile="quick", alpha=ALPHA_RUN,
                           seed=0)
    assert not report.passed, str(report)
    failure = report.failures[0]
    assert failure.check == "contract: output", str(report)
    assert "for a batch of 1 row" in failure.message, failure.message


# --- 13. realistic parameters keep the probes on ----------------------------------------------------

def test_defect_13_top_k_50_keeps_the_probes():
    """Under mlx-lm with top_k = 50 every probe (V <= 10) was skipped, the batch-rows check among
    them, and "a NaN row is rejected" was claimed although the raise came from top_k >= V."""
    report = spec.validate(mlx_lm.sampler(temp=1.0, top_k=50), presets.mlx_lm(temp=1.0, top_k=50),
                           input="logprobs", profile="quick", alpha=ALPHA_RUN, seed=0)
    assert report.passed, str(report)
    assert any("batch-rows" in c for c in report.checks), report.checks
    skipped = [n for n in report.notes if "skipped" in n and "the spec rejects it" in n]
    assert not skipped, skipped
    # mlx-lm returns a token for a NaN row (test_validate.py): nothing may claim it rejects one.
    assert not any("NaN row is rejected" in c for c in report.checks), report.checks
    assert any("NaN" in n and "instead of raising" in n for n in report.notes), report.notes


# --- 14. row mixing ----------------------------------------------------------------------------------

def _row_0_mask(x, seed):
    """tiny-llm's `logprobs[:, idx] = -inf` pattern: the top-k of row 0 masks every row."""
    z = np.asarray(x, dtype=np.float64)
    return gumbel_choice(z, np.broadcast_to(top_k_keep(z[:1], 2), z.shape), seed)


def _union_mask(x, seed):
    """The union of every row's top-k, applied to every row."""
    z = np.asarray(x, dtype=np.float64)
    return gumbel_choice(z, np.broadcast_to(top_k_keep(z, 2).any(axis=0), z.shape), seed)


@pytest.mark.parametrize("sampler", [_row_0_mask, _union_mask], ids=["row 0's mask", "union of masks"])
def test_defect_14_row_mixing_is_caught(sampler):
    """The old batch case had two rows sharing their top tokens, so a sampler applying the union of
    the rows' masks to every row passed; the new one has rows with opposite top tokens."""
    report = spec.validate(sampler, presets.reference(top_k=2), profile="quick", alpha=ALPHA_RUN, seed=0)
    assert not report.passed, str(report)
    failure = report.failures[0]
    assert failure.check == "structure: support", str(report)
    assert "batch" in failure.message, failure.message


# --- 15. a factory with required positional parameters (tiny-llm) -----------------------------------

TINY_LLM_FACTORY = '''
import numpy as np


def make_sampler(temp, top_p, top_k):
    """tiny-llm's conventions: top-k exactly k (argpartition), top-p over the original masses,
    categorical(x / temp); temp = 0 is greedy."""
    def sample(logprobs, seed):
        x = np.asarray(logprobs, dtype=np.float64)
        if np.isnan(x).any():
            raise ValueError("NaN in the logits")
        if temp == 0:
            return np.argmax(x, axis=-1)
        keep = np.ones(x.shape, dtype=bool)
        if top_k is not None and 0 < top_k < x.shape[1]:
            keep[:] = False
            np.put_along_axis(keep, np.argpartition(-x, top_k - 1, axis=-1)[:, :top_k], True, axis=-1)
        if top_p is not None and 0 < top_p < 1:
            p = np.exp(x - x.max(axis=-1, keepdims=True))
            p /= p.sum(axis=-1, keepdims=True)
            order = np.argsort(-p, axis=-1, kind="stable")
            sorted_p = np.take_along_axis(p, order, -1)
            nucleus = np.zeros(x.shape, dtype=bool)
            np.put_along_axis(nucleus, order, np.cumsum(sorted_p, axis=-1) - sorted_p < top_p, -1)
            keep &= nucleus
        z = np.where(keep, x / temp, -np.inf)
        cdf = np.cumsum(np.exp(z - z.max(axis=-1, keepdims=True)), axis=-1)
        u = (1 - np.random.default_rng(seed).random((x.shape[0], 1))) * cdf[:, -1:]  # in (0, total]
        return np.minimum((cdf < u).sum(axis=-1), x.shape[1] - 1)  # the first token whose cdf reaches u
    return sample
'''


def test_defect_15_tiny_llm_factory_with_required_parameters(tmp_path):
    """The CLI called a factory with the given parameters only, so tiny-llm's
    make_sampler(temp, top_p, top_k) (no defaults) raised TypeError and the run exited 2."""
    (tmp_path / "tiny_factory.py").write_text(TINY_LLM_FACTORY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = run_cli("tiny_factory:make_sampler", "--factory", "--preset", "tiny-llm", "--temperature", "0.7",
                  "--top-k", "3", "--profile", "quick", "--alpha", str(ALPHA_RUN), "--seed", "0", env=env)
    text = out.stdout + out.stderr
    assert out.returncode != 2, text
    assert "raised TypeError" not in text and "required positional argument" not in text, text
    assert out.returncode in (0, 1), text


# --- 16. array auto-detection ------------------------------------------------------------------------

def mlx_greedy(x):
    """A sampler of a user module (not named mlx) that takes mlx arrays."""
    return mx.argmax(x, axis=-1)


def fails_with_every_array(x):
    raise RuntimeError("no array type suits me")


def test_defect_16_array_type_falls_back_and_says_so():
    """The array type was guessed from the sampler's module only: a user's mlx sampler was fed numpy
    arrays and failed, and the failure did not say that --array chooses the type."""
    report = spec.validate(mlx_greedy, presets.reference(temperature=0), array="auto", profile="quick",
                           alpha=ALPHA_RUN, seed=0)
    assert report.passed, str(report)
    assert any("mlx" in n and "--array" in n for n in report.notes), report.notes

    report = spec.validate(fails_with_every_array, presets.reference(temperature=0), array="auto", profile="quick")
    assert not report.passed
    assert "--array" in report.failures[0].message, report.failures[0].message


# --- 17. a raise where the engine raises --------------------------------------------------------------

def test_defect_17_a_raise_where_the_engine_raises_is_not_a_failure():
    """mlx-lm raises for top_k >= V; the validator skipped every probe with V <= top_k instead of
    checking that the sampler raises there as the engine does."""
    report = spec.validate(mlx_lm.sampler(temp=1.0, top_k=4), presets.mlx_lm(temp=1.0, top_k=4), input="logprobs",
                           profile="quick", alpha=ALPHA_RUN, seed=0)
    assert report.passed, str(report)
    assert any("a row the engine rejects" in c for c in report.checks), report.checks


# --- 18. reports -------------------------------------------------------------------------------------

def _hangs_briefly(x):
    time.sleep(5)
    return np.zeros(x.shape[0], dtype=np.int64)


def _wrong_when_top_is_last(bug: str):
    """A one-row sampler, correct for reference(top_k=2) except on rows whose largest logit is the
    last token (of the probes, only row 1 of the batch case): "support" returns token 0 there,
    "statistics" samples at temperature 2 there (inside the support)."""
    def sample(x, seed):
        z = np.asarray(x, dtype=np.float64)
        assert z.shape[0] == 1, "one row at a time"
        keep = top_k_keep(z, 2)
        if np.argmax(z[0]) == z.shape[1] - 1:
            if bug == "support":
                return np.zeros(1, dtype=np.int64)
            z = z / 2.0
        return gumbel_choice(z, keep, seed)
    return Sampler(sample, "numpy", "seed", batched=False, name=f"one row, {bug} bug")


def test_defect_18_reports_say_what_happened():
    """The hang message gave no batch shape; a one-row sampler's failure claimed "each row of a batch
    is sampled as if it were alone" (it was called row by row); a support counterexample printed the
    spec as a list of 40 probabilities."""
    hang = spec.validate(_hangs_briefly, presets.reference(), timeout=0.5)
    assert hang.failures[0].check == "contract: no hang", str(hang)
    assert re.search(r"\(\d+, \d+\) batch", hang.failures[0].message), hang.failures[0].message

    report = top_k_keeps_k_plus_1()
    ce = report.failures[0].counterexample
    assert ce is not None, str(report)
    assert ce["spec"].startswith("support ["), ce["spec"]
    assert re.search(r"\{\d+: [0-9.e-]+(, \d+: [0-9.e-]+)*\}", ce["spec"]), ce["spec"]
    assert "spec:    support [" in str(report), str(report)

    for bug in ("support", "statistics"):
        report = spec.validate(_wrong_when_top_is_last(bug), presets.reference(top_k=2), profile="quick", seed=0)
        assert not report.passed, str(report)
        failure = report.failures[0]
        assert failure.check.startswith("structure" if bug == "support" else "statistics"), str(report)
        assert "batch" in failure.case["case"], failure.case  # the failure is on the batch case
        assert "as if it were alone" not in failure.invariant, (bug, failure.invariant)
        assert "as if it were alone" not in str(report), (bug, str(report))

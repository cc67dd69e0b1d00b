"""Slips exactly at a cut: a `<=` for `<` at top-p, a tie rule at top-k. A row shows them only when a
token sits exactly on the cut in the sampler's arithmetic: the validator adds a tie across every
top-k cut (any k), its exact-sum case puts a top-p cut exactly at 0.5, 0.75 and 0.875 (float64
samplers), and a pass at other settings says that such a slip was out of reach and how to reach it."""

import numpy as np
from validating import ALPHA_RUN, run_cli
from zoo import inverse_cdf

import spec
from spec import examples, presets
from spec.validator.cases import cases


def test_the_top_p_slip_fails_where_the_exact_sum_case_sits_on_the_cut():
    out = run_cli("spec.examples:top_p_075_sampler_keeping_the_token_at_p", "--preset", "hf", "--top-k", "0",
                  "--top-p", "0.75")
    assert out.returncode == 1 and "FAILED structure: support: returned token 2" in out.stdout, out.stdout
    assert "token 2 sits exactly on a cut of this row" in out.stdout


def test_a_pass_says_the_slip_was_out_of_reach_and_which_settings_reach_it():
    report = spec.validate(examples.top_p_sampler, presets.hf(top_k=0, top_p=0.9), profile="quick", alpha=ALPHA_RUN)
    assert report.passed, str(report)
    (line,) = report.unseen
    assert "a slip exactly at the top_p cut" in line and "--top-p 0.5, 0.75 or 0.875" in line
    assert "a pass does not rule out:" in str(report)


def _exactly_k(k):
    """Top-k keeping exactly k (a stable sort: the lowest index wins a tie), then an exact draw."""
    def sample(logits, seed):
        x = np.asarray(logits, dtype=np.float64)
        keep = np.zeros_like(x, dtype=bool)
        np.put_along_axis(keep, np.argsort(-x, axis=-1, kind="stable")[:, :k], True, -1)
        p = np.exp(np.where(keep, x, -np.inf) - x.max(axis=-1, keepdims=True))
        return inverse_cdf(p / p.sum(axis=-1, keepdims=True), np.random.default_rng(seed))
    return sample


def test_a_tie_across_the_top_k_cut_is_a_case_for_any_k_and_tells_the_tie_rules_apart():
    names = [c.name for c in cases(0, presets.hf(top_k=40))]
    assert "a tie across the top-k cut (k = 40)" in names
    report = spec.validate(_exactly_k(40), presets.hf(top_k=40), profile="quick")
    assert not report.passed and report.failures[0].check.startswith("statistics")
    assert "token 40 is tied with token [39]" in report.failures[0].message
    assert ("llama_cpp, mlx_lm, tiny_llm, onnxruntime_genai, ctranslate2, transformers_js, node_llama_cpp would drop it"
            in report.failures[0].message)

"""spec.validator.deployment's partial rows (a server that reports only its top log-probabilities):
a configuration is checked only where the target cannot depend on what the server leaves out, and
refused, with the reason, where it could. Exact (no draws)."""

import numpy as np
import pytest

from spec import presets
from spec.numerics import log_softmax
from spec.validator.deployment import TopRow, completed

MLX = presets.PRESETS["mlx_lm_server"]


def _top(logits, m=11):
    lp = log_softmax(logits)
    top = np.argsort(-lp)[:m]
    return TopRow(tuple(int(i) for i in top), tuple(float(np.float32(lp[i])) for i in top))


ROW = np.random.default_rng(0).normal(0, 3, 1_000)  # its top 11 tokens hold 0.61 of the mass


@pytest.mark.parametrize("params", [dict(temperature=0.0), dict(temperature=1.0, top_k=5),
                                    dict(temperature=0.7, top_p=0.3), dict(temperature=1.0, min_p=0.2)])
def test_a_truncation_inside_the_reported_tokens_is_checked_exactly(params):
    top = _top(ROW)
    row, index = completed(top, MLX(**params))
    assert sorted(index) == sorted(top.ids) and np.isneginf(row[-1])
    # the target on the stand-in row is the target on the true row, token for token
    from spec.target import target
    want = np.asarray(target(ROW, MLX(**params)).probs)
    got = np.asarray(target(row, MLX(**params)).probs)
    assert np.allclose([got[index[t]] for t in top.ids], want[list(top.ids)], atol=1e-6)
    assert got[len(index):].sum() == 0 and want.sum() == pytest.approx(sum(want[list(top.ids)]))


@pytest.mark.parametrize("params, reason", [
    (dict(temperature=1.0), "the rest of the row can be drawn"),
    (dict(temperature=0.7, top_p=0.9), "the rest of the row can be drawn"),  # the nucleus needs 0.9 > 0.61
    (dict(temperature=1.0, top_k=11), "unreported tokens may tie with it"),  # the 11th token is in the support
])
def test_a_target_that_depends_on_the_unreported_rest_is_refused(params, reason):
    with pytest.raises(ValueError, match=reason):
        completed(_top(ROW), MLX(**params))


def test_temperature_before_the_nucleus_depends_on_how_the_rest_is_spread():
    """vLLM tempers before top-p: at temperature 2 a thin rest over a large vocabulary outweighs a
    thick one, so the nucleus is not decided by the top tokens alone, even holding 0.95 of the mass."""
    logits = np.r_[[8.0, 7.5, 7.0], np.zeros(997)]
    top = _top(logits, 3)
    assert sum(np.exp(top.logprobs)) > 0.5
    with pytest.raises(ValueError, match="rest"):
        completed(top, presets.PRESETS["vllm"](temperature=2.0, top_p=0.5))
    completed(top, MLX(temperature=2.0, top_p=0.5))  # mlx-lm cuts before tempering: decided


def test_a_nucleus_cut_within_rounding_of_a_token_is_refused():
    """Top-p 0.5 of a row whose top 11 hold 0.61: with the reported mass off by up to ROUNDING the
    cut can move by a token."""
    with pytest.raises(ValueError, match="the cut falls too close to a token"):
        completed(_top(ROW), MLX(temperature=0.7, top_p=0.5))


def test_vllms_temperature_min_p_top_p_order_is_refused():
    """Tokens just above the min-p cut could hold more tempered mass than either extreme."""
    with pytest.raises(ValueError, match="then min-p or top-k, then top-p"):
        completed(_top(ROW), presets.PRESETS["vllm"](temperature=4.0, min_p=0.15, top_p=0.25))
    completed(_top(ROW), presets.PRESETS["vllm"](temperature=0.7, min_p=0.5))  # no nucleus after: decided


def test_a_transform_that_can_lift_or_read_the_unreported_tokens_is_refused():
    """A logit bias on token 3 acts on a token the server may not have reported, whose logit is then
    unknown."""
    with pytest.raises(ValueError, match="LogitBias cannot be checked"):
        completed(_top(ROW), MLX(temperature=1.0, top_k=5, logit_bias={3: 5.0}))


def test_a_reported_zero_means_nothing_is_unreported():
    top = TopRow((3, 1, 0, 2), (np.log(0.5), np.log(0.3), np.log(0.2), -1e30))  # token 2: probability 0
    row, index = completed(top, MLX(temperature=1.0))
    assert index == {3: 0, 1: 1, 0: 2, 2: 3} and np.isneginf(row[3:]).all()  # -1e30 stands for -inf


def test_garbage_top_log_probabilities_are_refused():
    for bad in (TopRow((1, 1), (-0.1, -0.2)), TopRow((1, 2), (float("nan"), -1.0)), TopRow((1,), (0.5,))):
        with pytest.raises(ValueError, match="distinct tokens"):
            completed(bad, MLX(temperature=1.0))


LLAMA_SERVER = presets.PRESETS["llama_cpp_server"]


def _whole(logits, merged=()):
    """A whole row keyed by text, as llama-cpp-python reports it: every token, but the tokens in
    `merged` share one text, which keeps the last (smallest) value listed; numbered in list order."""
    lp = log_softmax(logits)
    order = [int(i) for i in np.argsort(-lp, kind="stable")]
    keyed = {}
    for i in order:
        keyed["merged" if i in merged else f"t{i}"] = float(np.float32(lp[i]))
    return TopRow(tuple(range(len(keyed))), tuple(keyed.values()), whole=True, rounding=1e-4), list(keyed)


def test_a_whole_row_without_shared_texts_is_checked_exactly_even_with_its_default_chain():
    """llama-cpp-python's defaults (top-k 40, top-p 0.95, min-p 0.05, temperature 0.8) and its
    repeat penalty 1.1, which counts only the output: nothing at the first token."""
    from spec.target import target

    top, texts = _whole(ROW)
    pipeline = LLAMA_SERVER()
    row, index = completed(top, pipeline)
    want = np.asarray(target(ROW, pipeline).probs)
    got = np.asarray(target(row, pipeline).probs)
    assert np.allclose([got[index[n]] for n in range(len(texts))], [want[int(t[1:])] for t in texts], atol=1e-6)


def test_a_whole_row_refuses_a_support_that_reaches_down_to_the_shared_texts_mass():
    logits = np.r_[[6.0, 5.0, 4.0], np.full(997, -2.0)]
    merged = set(range(3, 100))  # 97 tokens of one text, which keeps one value: 1.8% of the mass unreported
    top, _ = _whole(logits, merged)
    assert 0.01 < 1 - np.exp(top.logprobs).sum() < 0.02
    completed(top, LLAMA_SERVER(temperature=0.8, top_k=3))  # the cut above the small tokens: decided
    for k in (0, 5):  # all tokens, or the top 5: tokens 4 and 5 are smaller than the unreported mass
        with pytest.raises(ValueError, match="the rest of the row can be drawn"):
            completed(top, LLAMA_SERVER(temperature=1.0, top_k=k, top_p=1.0, min_p=0.0))


def test_a_shared_text_holding_much_mass_is_refused():
    """0.85 of the mass behind one text: at temperature 0.3 it could be one token outweighing the
    listed ones, so vLLM's nucleus after the temperature could hold it."""
    logits = np.r_[[1.0, 0.9, 0.8], np.zeros(50)]
    top, _ = _whole(logits, set(range(3, 53)))
    assert 1 - np.exp(top.logprobs).sum() > 0.8
    with pytest.raises(ValueError, match="the rest of the row can be drawn"):
        completed(top, presets.PRESETS["vllm"](temperature=0.3, top_p=0.95))


def test_a_listed_token_within_match_of_the_rest_is_refused_in_the_support():
    """Unlisted tokens hold 0.01 in all; a listed token of 0.0105 ranks above them (so the rest is
    not drawn under top-k 4), but a drawn token is matched to its text by value within MATCH, so an
    unlisted token of 0.01 could pass for it: refused. With top-k 3 it is outside: decided."""
    probs = np.array([0.5, 0.3, 0.1695, 0.0105, 1e-6])
    probs[-1] = 1 - 0.01 - probs[:-1].sum()
    top = TopRow(tuple(range(5)), tuple(np.log(probs)), whole=True, rounding=1e-4)
    with pytest.raises(ValueError, match="as small as the unreported rest"):
        completed(top, LLAMA_SERVER(temperature=1.0, top_k=4, top_p=1.0, min_p=0.0))
    completed(top, LLAMA_SERVER(temperature=1.0, top_k=3, top_p=1.0, min_p=0.0))


def test_listed_mass_above_one_is_refused():
    with pytest.raises(ValueError, match="more than all of it"):
        completed(TopRow((0, 1), (np.log(0.7), np.log(0.4)), whole=True, rounding=1e-4), LLAMA_SERVER())


def test_a_penalty_that_counts_the_prompt_is_refused_and_one_that_counts_the_output_is_not():
    from spec.validator.deployment import validate_deployment

    with pytest.raises(ValueError, match="penalty-shift"):
        validate_deployment(None, None, ["x"], MLX(temperature=0.7, repetition_penalty=1.2))
    completed(_whole(ROW)[0], LLAMA_SERVER(repeat_penalty=1.3, presence_penalty=0.5))


def _fake_llama_cpp_python_server(drawn: str, drawn_logprob: float):
    """A stand-in for llama-cpp-python's server (no extra needed): it lists every token's
    log-probability by text, three tokens sharing the text "" keeping the last (smallest) value as
    it does, and answers every draw with the given text and log-probability."""
    from proxy import Proxy

    values = {"a": -0.05, "b": -3.5, "c": -4.5, "": -9.0}  # "" stands for tokens at -7, -8 and -9

    def reply(body):
        if body.get("logprobs", 0) > 0:  # next_row: greedy, every token asked for
            return 200, {"choices": [{"text": "a", "logprobs": {"tokens": ["a"], "token_logprobs": [values["a"]],
                                                                  "top_logprobs": [values]}}]}
        if drawn is None:  # an end-of-generation token: left out of logprobs
            return 200, {"choices": [{"text": "", "finish_reason": "stop",
                                      "logprobs": {"tokens": [], "token_logprobs": [], "top_logprobs": []}}]}
        return 200, {"choices": [{"text": drawn, "logprobs": {"tokens": [drawn], "token_logprobs": [drawn_logprob],
                                                               "top_logprobs": [{drawn: drawn_logprob}]}}]}
    return Proxy("http://127.0.0.1:1", reply=reply, models=["m"])


@pytest.mark.parametrize("drawn, logprob, passes", [
    ("a", -0.05, True),  # greedy draws its token
    ("a", -0.2, True),  # its value computed again, off by more than MATCH, but larger than any unlisted token
    ("b", -3.5, False),  # another listed token
    ("", -7.0, False),  # an unlisted token whose text is shared: its own value is not the listed one
    (None, None, False),  # an end-of-generation token, which the server never lists
])
def test_llama_cpp_python_draws_are_matched_to_their_text_by_value(drawn, logprob, passes):
    """Exact (greedy: no statistics): spec/engines/llama_cpp_server.py's deployment against a fake
    server, through the CLI's path (next_row, completed, validate_deployment)."""
    from spec.engines import llama_cpp_server
    from spec.engines.served.http import EndpointError
    from spec.validator.deployment import validate_deployment

    fake = _fake_llama_cpp_python_server(drawn, logprob)
    try:
        next_row, draw = llama_cpp_server.deployment(fake.url, "m", temperature=0.0)
        top = next_row("x")
        assert top.whole and len(top.ids) == 4 and 1 - np.exp(top.logprobs).sum() > 1e-3  # the rest: -7, -8
        # its default repeat_penalty 1.1 counts the output only: nothing to act on at the first token
        [report] = validate_deployment(next_row, draw, ["x"], LLAMA_SERVER(temperature=0.0), profile="quick")
        with pytest.raises(EndpointError, match="does not serve 'other'"):
            llama_cpp_server.deployment(fake.url, "other")  # the server would answer with its default model
    finally:
        fake.close()
    assert report.passed == passes, str(report)
    if not passes:
        assert "support" in report.failures[0].check or "greedy" in report.failures[0].check, str(report)

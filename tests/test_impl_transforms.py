"""The mlx sampler's logit bias, penalties, typical-p, epsilon / eta cutoffs, top-n-sigma and XTC,
checked against the spec (never against itself): keep-sets, values, draws, batching, errors.

False alarms: the only random verdicts are the Pearson and binomial tests below, seeded; their
budget is ALPHA_FILE = 5e-8 per CI run in all (each test gets an equal share), so with the
9e-7 of the other files (tests/conftest.py) a run raises a false alarm with probability < 1e-6.
"""

import math
from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import impl
import spec
from impl import context, rules
from impl.noise import COIN, coin, row_keys
from spec import History, presets
from spec.strategies import logit_rows
from spec.transforms import Row
from tests.test_impl import pearson

INF = math.inf


def bias(vocab):
    return {0: 1.5, vocab // 2: -INF if vocab > 2 else -0.5, vocab - 1: -2.0}


# Each entry: V -> Pipeline (token ids in logit bias and special tokens depend on the row size).
SINGLE = {
    "logit bias": lambda v: spec.Pipeline((spec.LogitBias(bias(v)),)),
    "repetition": lambda v: spec.Pipeline((spec.RepetitionPenalty(1.8), spec.MinP(0.2))),
    "repetition output, window 3": lambda v: spec.Pipeline((spec.RepetitionPenalty(0.6, counts="output", window=3),
                                                            spec.TopK(4))),
    "presence": lambda v: spec.Pipeline((spec.PresencePenalty(1.5), spec.TopP(0.8))),
    "frequency window 4": lambda v: spec.Pipeline((spec.FrequencyPenalty(0.7, window=4), spec.MinP(0.1))),
    "negative frequency": lambda v: spec.Pipeline((spec.FrequencyPenalty(-0.9, counts="output"), spec.TopK(3))),
    "typical all": lambda v: spec.Pipeline((spec.TypicalP(0.7),)),
    "typical any, keep 2": lambda v: spec.Pipeline((spec.TypicalP(0.4, min_tokens_to_keep=2, ties="any"),)),
    "typical 0": lambda v: spec.Pipeline((spec.TypicalP(0.0),)),
    "epsilon": lambda v: spec.Pipeline((spec.EpsilonCutoff(0.05),)),
    "epsilon keep 3": lambda v: spec.Pipeline((spec.EpsilonCutoff(0.3, min_tokens_to_keep=3),)),
    "eta": lambda v: spec.Pipeline((spec.EtaCutoff(0.1),)),
    "top-n-sigma": lambda v: spec.Pipeline((spec.TopNSigma(1.0),)),
    "top-n-sigma 0.1 after temp": lambda v: spec.Pipeline((spec.Temperature(0.3), spec.TopNSigma(0.1))),
    "xtc": lambda v: spec.Pipeline((spec.XTC(1.0, 0.1),)),
    "xtc >= any, min_keep 2": lambda v: spec.Pipeline((spec.XTC(1.0, 0.05, above=">=", ties="any", min_keep=2),)),
    "xtc threshold 0": lambda v: spec.Pipeline((spec.XTC(1.0, 0.0),)),
    "xtc special": lambda v: spec.Pipeline((spec.XTC(1.0, 0.1, special_tokens=(0, v - 1)),)),
    "top-k then xtc": lambda v: spec.Pipeline((spec.TopK(5), spec.XTC(1.0, 0.1))),
    "top-k then penalties": lambda v: spec.Pipeline((spec.TopK(6), spec.RepetitionPenalty(1.5),
                                                     spec.PresencePenalty(0.8), spec.MinP(0.3))),
}
CHAINS = {
    "mlx_lm": lambda v: presets.mlx_lm(temp=0.7, top_p=0.9, xtc_probability=0.5, repetition_penalty=1.3,
                                       presence_penalty=0.4, frequency_penalty=0.2, logit_bias=bias(v)),
    "hf": lambda v: presets.hf(temperature=0.8, top_k=None, typical_p=0.9, epsilon_cutoff=0.02, eta_cutoff=0.05,
                               repetition_penalty=1.2, sequence_bias=bias(v)),
    "llama_cpp": lambda v: presets.llama_cpp(top_n_sigma=1.5, typ_p=0.9, xtc_probability=0.5, penalty_repeat=1.2,
                                             penalty_freq=0.3, penalty_present=0.4, penalty_last_n=5),
    "vllm": lambda v: presets.vllm(temperature=0.9, top_p=0.95, presence_penalty=0.5, frequency_penalty=0.3,
                                   repetition_penalty=1.2, logit_bias=bias(v)),
    "reference": lambda v: presets.reference(temperature=0.8, typical_p=0.95, top_n_sigma=2.0, xtc_probability=0.5,
                                             repetition_penalty=1.1, presence_penalty=0.3, frequency_penalty=0.2),
    "reference greedy": lambda v: presets.reference(temperature=0, typical_p=0.5, xtc_probability=0.5,
                                                    repetition_penalty=1.4),
}
PIPELINES = {**SINGLE, **CHAINS}


def components(pipeline):
    """Each combination of random steps off (removed) or on (probability 1), with the coin
    counter that decides it: [(acts per random step index, pipeline)]."""
    random = [i for i, s in enumerate(pipeline.steps) if 0 < s.chance < 1]
    out = []
    for mask in range(2 ** len(random)):
        acts = {i: bool(mask >> j & 1) for j, i in enumerate(random)}
        steps = tuple(replace(s, probability=1.0) if acts.get(i) else s
                      for i, s in enumerate(pipeline.steps) if acts.get(i, True))
        out.append((acts, spec.Pipeline(steps, pipeline.name)))
    return out


def branch(pipeline, keys):
    """Which component each row's keys select: the coins of the sampler (per row, per step)."""
    acts = {i: np.array(coin(keys, COIN - i))[:, 0] < s.probability
            for i, s in enumerate(pipeline.steps) if 0 < s.chance < 1}
    return [{i: bool(a[r]) for i, a in acts.items()} for r in range(keys.shape[0])]


@st.composite
def histories(draw, vocab, rows):
    """One History per row: repeated tokens, tokens far back (outside windows), prompt and output."""
    ids = st.integers(0, vocab - 1)
    hot = st.sampled_from(sorted({0, vocab - 1, vocab // 2}))
    token = st.one_of(ids, hot)
    return [History(tuple(draw(st.lists(token, max_size=12))), tuple(draw(st.lists(token, max_size=12))))
            for _ in range(rows)]


@st.composite
def cases(draw):
    rows = draw(st.lists(logit_rows(max_size=48, llm_max_size=20_000), min_size=1, max_size=3))
    vocab = max(r.size for r in rows)
    batch = np.stack([np.pad(r, (0, vocab - r.size), constant_values=-np.inf) for r in rows])
    return batch.astype(np.float32), draw(histories(vocab, len(rows)))


def check_branches(x, pipeline, history, keys, parts, label):
    """Each row's keep-set (greedy: its token) against the target of the component its key selects."""
    if pipeline.greedy:  # no keep-set: the token is the target's (or an allowed near-tie)
        got = np.atleast_1d(np.array(impl.make_sampler(pipeline)(x, key=keys, history=history)))
    else:
        got = np.atleast_2d(np.isfinite(np.array(impl.filter(x, pipeline, history=history, key=keys))))
    for r, acts in enumerate(branch(pipeline, keys)):
        t = next(t for a, t in parts if a == acts)
        if pipeline.greedy:
            assert np.atleast_2d(t.allowed)[r][got[r]], (label, r, acts, got[r])
        else:
            wrong = (got[r] != np.atleast_2d(t.support)[r]) & ~np.atleast_2d(t.boundary)[r]
            assert not wrong.any(), (label, r, acts, np.flatnonzero(wrong)[:10])


def targets_or_none(x, pipeline, history):
    try:
        return spec.target(x, pipeline, history=history)
    except spec.InvalidParameter:  # e.g. a bias that bans every finite token of a row
        return None


# --- keep-sets: the filter equals the spec's support (the component its key selects) -----------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases(), name=st.sampled_from(sorted(PIPELINES)), seed=st.integers(0, 2**32 - 1))
def test_filter_keeps_the_support_of_the_component_its_key_selects(case, name, seed):
    rows, history = case
    pipeline = PIPELINES[name](rows.shape[1])
    x = mx.array(rows)
    keys = row_keys(mx.random.key(seed), rows.shape[0])
    parts = [(acts, targets_or_none(x, p, history)) for acts, p in components(pipeline)]
    if any(t is None for _, t in parts):
        with pytest.raises(spec.InvalidParameter):
            impl.filter(x, pipeline, history=history, key=keys)
        return
    check_branches(x, pipeline, history, keys, parts, name)


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_filter_on_llm_rows_at_full_vocabulary(name):
    """V = 151,936, LLM-like rows, histories of 300 tokens (prompt and output, repeats)."""
    rng = np.random.default_rng(sum(map(ord, name)))
    rows = spec.rows.llm_logits(rng, 2, spec.rows.VOCAB).astype(np.float32)
    top = np.argsort(-rows, axis=-1)[:, :40]
    history = [History(tuple(rng.choice(top[b], 200).tolist()), tuple(rng.choice(top[b], 100).tolist()))
               for b in range(2)]
    pipeline = PIPELINES[name](rows.shape[1])
    x = mx.array(rows)
    for seed in range(3):
        keys = row_keys(mx.random.key(seed), 2)
        parts = [(acts, spec.target(x, p, history=history)) for acts, p in components(pipeline)]
        check_branches(x, pipeline, history, keys, parts, (name, seed))


# --- values: penalties and bias change exactly the tokens the spec changes ----------------------

VALUE_STEPS = {
    "bias": spec.LogitBias({1: 2.5, 4: -1.0, 9: -INF}),
    "repetition": spec.RepetitionPenalty(1.7),
    "repetition < 1, output, window 2": spec.RepetitionPenalty(0.5, counts="output", window=2),
    "presence": spec.PresencePenalty(0.9),
    "presence output": spec.PresencePenalty(-0.4, counts="output"),
    "frequency window 5": spec.FrequencyPenalty(0.6, window=5),
    "frequency": spec.FrequencyPenalty(1.1),
}
HISTORIES = [
    History(),
    History(output=(3, 3, 3, 5)),  # repeated tokens: frequency counts 3
    History(prompt=(1, 2, 2, 7), output=(7, 0)),  # prompt vs output
    History(prompt=(8, 8, 6), output=(1, 1, 1, 1, 1, 1, 9)),  # tokens beyond the windows
]


@pytest.mark.parametrize("name", sorted(VALUE_STEPS))
def test_value_rules_match_the_spec_rule(name):
    step = VALUE_STEPS[name]
    rng = np.random.default_rng(3)
    rows = rng.normal(0, 4, (len(HISTORIES), 10)).astype(np.float32)
    rows[1, 5] = -np.inf
    rows[2, 7] = 0.0
    x = mx.array(rows)
    before = rows.copy()
    call = context.Call(10, tuple(HISTORIES))
    out, ids, unfiltered = getattr(rules, registered_impl(step))(x, None, x, step, call)
    np.testing.assert_array_equal(np.array(x), before)  # not mutated
    for r, history in enumerate(HISTORIES):
        row = Row(rows[r].astype(np.float64), rows[r].astype(np.float64), np.isfinite(rows[r]),
                  np.zeros(10, dtype=bool), spec.Tolerance(0, 0))
        step.apply(row, history)
        np.testing.assert_allclose(np.array(out)[r], row.z, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(np.array(unfiltered)[r], row.unfiltered, rtol=1e-6, atol=1e-6)


def registered_impl(step):
    return spec.transforms.registered(step).impl


def test_history_conventions():
    """Repeats count for frequency, once for presence; windows drop older tokens; counts="output"
    ignores the prompt; a plain sequence is the output."""
    x = mx.zeros(6)
    def scores(step, history):
        return np.array(rules._apply(x[None], (step,), context._call(x[None], True, history, None))[0])[0]
    h = History(prompt=(1, 1, 2), output=(3, 3, 3, 4))
    np.testing.assert_allclose(scores(spec.FrequencyPenalty(1.0), h), [0, -2, -1, -3, -1, 0])
    np.testing.assert_allclose(scores(spec.PresencePenalty(1.0), h), [0, -1, -1, -1, -1, 0])
    np.testing.assert_allclose(scores(spec.FrequencyPenalty(1.0, window=3), h), [0, 0, 0, -2, -1, 0])
    np.testing.assert_allclose(scores(spec.FrequencyPenalty(1.0, counts="output"), h), [0, 0, 0, -3, -1, 0])
    np.testing.assert_allclose(scores(spec.FrequencyPenalty(1.0), [5, 5]), [0, 0, 0, 0, 0, -2])
    np.testing.assert_allclose(scores(spec.PresencePenalty(1.0, window=1), h), [0, 0, 0, 0, -1, 0])


# --- distribution: draws match the spec's target (the exact mixture for XTC) ---------------------

DRAWS = 20_000
DIST_ROW = np.concatenate([[4.0, 3.6, 3.1, 2.2, 1.0], np.linspace(0.5, -3.0, 15)]).astype(np.float32)
DIST_HISTORY = History(prompt=(0, 2, 2, 7), output=(1, 1, 9, 0))
DIST = {name: PIPELINES[name] for name in ("logit bias", "repetition", "presence", "frequency window 4",
                                           "typical all", "typical any, keep 2", "epsilon", "eta", "top-n-sigma",
                                           "mlx_lm", "hf", "llama_cpp", "vllm", "reference")}
DIST |= {"xtc 0.5": lambda v: spec.Pipeline((spec.XTC(0.5, 0.1), spec.Temperature(0.9))),
         "xtc >= any 0.3": lambda v: spec.Pipeline((spec.XTC(0.3, 0.12, above=">=", ties="any"),))}
ALPHA_FILE = 5e-8
ALPHA = ALPHA_FILE / (len(DIST) + 2)  # the Pearson tests and the two binomial tests share the budget


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DIST))
def test_sampled_frequencies_match_the_spec_target(name):
    """20,000 seeded draws of one row with a history; never a token outside the allowed set
    (definitive), then Pearson's chi-square at ALPHA (see the module docstring)."""
    pipeline = DIST[name](DIST_ROW.size)
    keys = mx.random.split(mx.random.key(sum(map(ord, name))), DRAWS)
    sampler, chunk = impl.make_sampler(pipeline), 2000
    tokens = np.concatenate([np.array(sampler(mx.broadcast_to(mx.array(DIST_ROW), (chunk, DIST_ROW.size)),
                                              key=keys[i:i + chunk], history=[DIST_HISTORY] * chunk))
                             for i in range(0, DRAWS, chunk)])
    t = spec.target(mx.array(DIST_ROW), pipeline, history=DIST_HISTORY)
    assert not t.boundary.any()  # the row is chosen so that every decision is clear
    assert t.allowed[tokens].all(), np.unique(tokens[~t.allowed[tokens]])
    counts = np.bincount(tokens, minlength=DIST_ROW.size)
    assert pearson(counts, t.probs) > ALPHA, (counts, (t.probs * DRAWS).round(1))


@pytest.mark.parametrize("probability", [0.5, 0.15])
def test_xtc_coin_frequency_per_row(probability):
    """Over 20,000 keys the filter takes the acting branch with the XTC probability (exact
    binomial test at ALPHA), and each filter's keep-set is one component's support."""
    pipeline = spec.Pipeline((spec.XTC(probability, 0.1),))
    x = mx.broadcast_to(mx.array(DIST_ROW), (DRAWS, DIST_ROW.size))
    kept = np.isfinite(np.array(impl.filter(x, pipeline, key=mx.random.key(11))))
    off = spec.target(mx.array(DIST_ROW), spec.Pipeline(())).support
    on = spec.target(mx.array(DIST_ROW), spec.Pipeline((spec.XTC(1.0, 0.1),))).support
    assert not np.array_equal(on, off)
    is_on = (kept == on).all(-1)
    assert (is_on | (kept == off).all(-1)).all()
    assert stats.binomtest(int(is_on.sum()), DRAWS, probability).pvalue > ALPHA


def test_filter_shows_the_branch_the_sampler_takes():
    """Same key: the sampled token is always in the filter's keep-set, and with XTC acting the
    top token is never drawn (the tokens above the threshold other than the least are gone)."""
    pipeline = spec.Pipeline((spec.XTC(0.5, 0.1),))
    x = mx.broadcast_to(mx.array(DIST_ROW), (4000, DIST_ROW.size))
    keys = row_keys(mx.random.key(5), 4000)
    kept = np.isfinite(np.array(impl.filter(x, pipeline, key=keys)))
    tokens = np.array(impl.make_sampler(pipeline)(x, key=keys))
    assert kept[np.arange(4000), tokens].all()
    acting = ~kept[:, 0]
    assert 0 < acting.sum() < 4000 and (tokens[acting] != 0).all()


def test_xtc_threshold_0_counts_only_probabilities_the_spec_finds_positive():
    """p > 0 as the spec decides it (float64): a token 1e4 below the top has probability 0
    there, so only one token is above the threshold and XTC does not act."""
    x = mx.array([0.0, 1e4, 9999.0])
    pipeline = spec.Pipeline((spec.XTC(1.0, 0.0),))
    kept = np.isfinite(np.array(impl.filter(x, pipeline, key=0)))
    assert kept.tolist() == spec.target(x, pipeline).support.tolist() == [True, False, True]


def test_filter_without_a_key_uses_the_global_state_as_the_sampler_does():
    x = mx.broadcast_to(mx.array(DIST_ROW), (64, DIST_ROW.size))
    pipeline = spec.Pipeline((spec.XTC(0.5, 0.1),))
    mx.random.seed(3)
    first = np.array(impl.filter(x, pipeline))
    mx.random.seed(3)
    np.testing.assert_array_equal(first, np.array(impl.filter(x, pipeline)))


# --- batching, keys, mutation, greedy -----------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_batch_equals_row_by_row_with_the_same_keys(name):
    rng = np.random.default_rng(6)
    rows = rng.normal(0, 2, (5, 300)).astype(np.float32)
    rows[:, :4] += 5
    rows[3, 200:] = -np.inf
    history = [History((1, 2, 3), (3, 3)), History(), History(output=(0, 299, 299)), [7, 7, 8], History((5,))]
    pipeline = PIPELINES[name](300)
    keys = mx.random.split(mx.random.key(9), 5)
    sampler = impl.make_sampler(pipeline)
    batch = np.array(sampler(mx.array(rows), key=keys, history=history))
    single = [sampler(mx.array(rows[b]), key=keys[b], history=history[b]).item() for b in range(5)]
    assert batch.tolist() == single
    kept = np.array(impl.filter(mx.array(rows), pipeline, history=history, key=keys))
    for b in range(5):
        np.testing.assert_array_equal(kept[b], np.array(impl.filter(mx.array(rows[b]), pipeline, history=history[b],
                                                                    key=keys[b])))


@pytest.mark.parametrize("name", ["mlx_lm", "llama_cpp", "reference", "xtc"])
def test_sampler_by_branches_draws_the_tokens_of_the_coins_in_the_rules(name):
    """The sampler reads each row's coins first and runs each group of rows on its branch; the
    tokens equal the plain route: every rule on the whole batch (XTC flipping its coin inside),
    then one race."""
    rng = np.random.default_rng(12)
    rows = rng.normal(0, 2, (256, 3000)).astype(np.float32)
    rows[:, :3] += [7.0, 6.8, 6.5]
    history = [History((1, 2), (2, 5))] * 256
    pipeline = PIPELINES[name](3000)
    keys = row_keys(mx.random.key(4), 256)
    x = mx.array(rows)
    scores, ids = rules._apply(x, pipeline.steps, context._call(x, False, history, keys))
    plain = np.array(impl.gumbel_max(scores, keys, ids))
    np.testing.assert_array_equal(np.array(impl.make_sampler(pipeline)(x, key=keys, history=history)), plain)


def test_xtc_rows_draw_their_own_coins():
    """The coin is per row: in one batch of identical rows both branches occur (mlx-lm draws one
    coin for the whole batch)."""
    x = mx.broadcast_to(mx.array(DIST_ROW), (64, DIST_ROW.size))
    kept = np.isfinite(np.array(impl.filter(x, spec.Pipeline((spec.XTC(0.5, 0.1),)), key=mx.random.key(2))))
    assert 0 < (~kept[:, 0]).sum() < 64


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_inputs_are_not_mutated(name):
    rows = np.random.default_rng(1).normal(0, 3, (3, 64)).astype(np.float32)
    x = mx.array(rows)
    history = [History((1, 2), (2, 63)), History(output=(0, 0)), History()]
    pipeline = PIPELINES[name](64)
    sampler = impl.make_sampler(pipeline)
    mx.eval(sampler(x, key=mx.random.key(0), history=history), impl.filter(x, pipeline, history=history, key=0))
    np.testing.assert_array_equal(np.array(x), rows)
    assert history == [History((1, 2), (2, 63)), History(output=(0, 0)), History()]


def test_greedy_applies_penalties_bias_and_xtc_before_the_argmax():
    x = mx.array([3.0, 2.9, 1.0, 0.5])
    assert impl.make_sampler(presets.mlx_lm(repetition_penalty=2.0))(x, history=[0]).item() == 1
    assert impl.make_sampler(presets.mlx_lm(logit_bias={2: 5.0}))(x).item() == 2
    # typical-p may drop the argmax: the greedy target is the argmax of what survives
    pipeline = presets.reference(temperature=0, typical_p=0.3)
    t = spec.target(x, pipeline)
    assert impl.make_sampler(pipeline)(x, key=0).item() == t.greedy


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda s, x: s(x, history=[[0], [1]]), "history"),  # 2 histories for 3 rows
    (lambda s, x: s(x, history=History(output=(1,))), "history"),  # one History for a batch
    (lambda s, x: s(x, history=[[0], [8], [1]]), "history=8"),  # token outside [0, V)
    (lambda s, x: s(x, history=[[0], [-1], [1]]), "history"),
    (lambda s, x: s(x, history=[[0], "ab", [1]]), "history"),
])
def test_bad_histories_raise_invalid_parameter(call, match):
    s = impl.make_sampler(presets.vllm(presence_penalty=0.5, temperature=0.7))
    with pytest.raises(spec.InvalidParameter, match=match):
        mx.eval(call(s, mx.zeros((3, 8))))
    with pytest.raises(spec.InvalidParameter, match=match):
        call(lambda x, history: impl.filter(x, s.pipeline, history=history), mx.zeros((3, 8)))


@pytest.mark.parametrize("pipeline, match", [
    (presets.mlx_lm(temp=0.7, logit_bias={8: 1.0}), "logit_bias=8"),
    (presets.mlx_lm(temp=0.7, logit_bias={i: -INF for i in range(8)}), "at least one token"),
    (presets.mlx_lm(temp=0.7, xtc_probability=0.5, xtc_special_tokens=[9]), "xtc_special_tokens=9"),
    (presets.mlx_lm(logit_bias={i: -INF for i in range(8)}), "at least one token"),  # greedy
], ids=["bias id", "bias bans all", "special token", "greedy bias bans all"])
def test_bad_token_ids_raise_invalid_parameter(pipeline, match):
    x = mx.zeros((2, 8))
    with pytest.raises(spec.InvalidParameter, match=match):
        spec.target(x, pipeline)
    with pytest.raises(spec.InvalidParameter, match=match):
        mx.eval(impl.make_sampler(pipeline)(x, key=0))
    with pytest.raises(spec.InvalidParameter, match=match):
        impl.filter(x, pipeline, key=0)


@pytest.mark.parametrize("row, message", [([0.0, float("nan"), 1.0], "NaN"), ([0.0, float("inf"), 1.0], r"\+inf"),
                                          ([-INF, -INF, -INF], "every entry is -inf")])
@pytest.mark.parametrize("name", ["mlx_lm", "hf", "llama_cpp", "xtc", "typical all"])
def test_bad_rows_are_rejected(name, row, message):
    pipeline = PIPELINES[name](3)
    x = mx.array([[0.0, 1.0, 2.0], row])
    with pytest.raises(spec.InvalidLogits, match=message):
        mx.eval(impl.make_sampler(pipeline)(x, key=0, history=[[1], [2]]))
    with pytest.raises(spec.InvalidLogits, match=message):
        impl.filter(x, pipeline, history=[[1], [2]], key=0)


def test_a_temperature_before_a_repetition_penalty_matches_the_spec():
    """A custom order (`commute-repetition-temperature`): the penalty sees z / t, not a shifted row."""
    z = np.array([2.0, 1.9, -1.0], dtype=np.float32)
    pipeline = spec.Pipeline((spec.Temperature(0.5), spec.RepetitionPenalty(3.0), spec.TopK(1)))
    kept = np.isfinite(np.array(impl.filter(mx.array(z), pipeline, history=[0])))
    support = spec.target(z, pipeline, history=[0]).support
    assert kept.tolist() == support.tolist() == [False, True, False]

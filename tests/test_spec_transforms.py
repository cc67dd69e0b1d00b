"""The spec rules of the transforms beyond temperature / top-k / top-p / min-p: each rule on hand
examples that follow from the engine's documented formula (cited in spec/transforms/ and
spec/presets/), the token history they read, XTC's exact mixture, and the invariants the proofs
establish (shift invariance where proved, a counterexample where refuted)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spec
from spec import presets, transforms
from spec.transforms import (
    XTC,
    EpsilonCutoff,
    EtaCutoff,
    FrequencyPenalty,
    History,
    LogitBias,
    Pipeline,
    PresencePenalty,
    RepetitionPenalty,
    Temperature,
    TopNSigma,
    TopP,
    TypicalP,
)


def probs_of(z, *steps, history=None):
    return spec.target(np.asarray(z, dtype=float), Pipeline(steps), history=history).probs


def softmax(z):
    z = np.asarray(z, dtype=float)
    w = np.exp(z - z[np.isfinite(z)].max())
    return w / w.sum()


# --- history --------------------------------------------------------------------------------------

def test_history_counts_prompt_and_output_or_the_output_only_within_a_window():
    h = History(prompt=(1, 2, 3), output=(4, 5))
    assert h.seen("all", None) == (1, 2, 3, 4, 5)
    assert h.seen("output", None) == (4, 5)
    assert h.seen("all", 2) == (4, 5) and h.seen("all", 3) == (3, 4, 5) and h.seen("output", 9) == (4, 5)


@pytest.mark.parametrize("bad", [(-1,), (1.5,), ("a",), (True,), 3])
def test_history_rejects_what_is_not_token_ids(bad):
    with pytest.raises(spec.InvalidParameter, match="history"):
        History(output=bad)


def test_a_batch_needs_one_history_per_row_and_ids_inside_the_vocabulary():
    rows = np.zeros((2, 4))
    pipe = Pipeline((PresencePenalty(1.0),))
    with pytest.raises(spec.InvalidParameter, match="one history per row"):
        spec.target(rows, pipe, history=[1, 2])  # ids, not one sequence per row
    with pytest.raises(spec.InvalidParameter, match="one history per row"):
        spec.target(rows, pipe, history=[[1]])
    with pytest.raises(spec.InvalidParameter, match=r"token ids in \[0, 4\)"):
        spec.target(rows, pipe, history=[[1], [4]])
    both = spec.target(rows, pipe, history=[[1], History(prompt=(2,))])
    assert both.probs[0, 1] < both.probs[0, 0] and both.probs[1, 2] < both.probs[1, 0]


# --- penalties and bias -------------------------------------------------------------------------

def test_repetition_penalty_divides_positive_and_multiplies_negative_logits_once_per_token():
    z = [2.0, -1.0, 0.5, 3.0]
    got = probs_of(z, RepetitionPenalty(2.0), history=[0, 1, 1])
    assert np.allclose(got, softmax([1.0, -2.0, 0.5, 3.0]))  # token 1 seen twice: penalised once


def test_repetition_penalty_window_and_counts():
    z = [1.0, 1.0, 1.0]
    h = History(prompt=(0,), output=(1, 2))
    assert np.allclose(probs_of(z, RepetitionPenalty(2.0, window=2), history=h), softmax([1.0, 0.5, 0.5]))
    assert np.allclose(probs_of(z, RepetitionPenalty(2.0, counts="output"), history=h), softmax([1.0, 0.5, 0.5]))
    assert np.allclose(probs_of(z, RepetitionPenalty(2.0), history=h), softmax([0.5, 0.5, 0.5]))


def test_presence_subtracts_once_and_frequency_once_per_occurrence():
    z = [0.0, 0.0, 0.0]
    assert np.allclose(probs_of(z, PresencePenalty(1.0), history=[1, 1, 1]), softmax([0, -1, 0]))
    assert np.allclose(probs_of(z, FrequencyPenalty(1.0), history=[1, 1, 1]), softmax([0, -3, 0]))
    assert np.allclose(probs_of(z, FrequencyPenalty(-0.5), history=[2]), softmax([0, 0, 0.5]))  # negative: encourages


def test_logit_bias_adds_and_minus_inf_bans():
    assert np.allclose(probs_of([0.0, 0.0, 0.0], LogitBias({0: math.log(2), 2: -np.inf})), [2 / 3, 1 / 3, 0])
    assert LogitBias({2: 1, 0: -1}) == LogitBias(((0, -1.0), (2, 1.0)))  # a mapping, stored sorted and hashable
    with pytest.raises(spec.InvalidParameter, match=r"token ids in \[0, 3\)"):
        probs_of([0.0, 0.0, 0.0], LogitBias({3: 1.0}))
    with pytest.raises(spec.InvalidParameter, match="at least one token"):
        probs_of([0.0, 0.0], LogitBias({0: -np.inf, 1: -np.inf}))
    for bad in ({0: np.inf}, {-1: 1.0}, {0: float("nan")}, {"a": 1.0}, 5):
        with pytest.raises(spec.InvalidParameter, match="logit_bias"):
            LogitBias(bad)


def test_the_repetition_penalty_is_not_shift_invariant_and_additive_ones_are():
    """`penalty-shift` is refuted: the same penalty on logits and on log-probabilities gives different
    targets; additive penalties and bias commute with a shift (`commute-bias-shift`)."""
    z = np.array([1.0, 0.5, -2.0])
    logprobs = z - np.log(np.exp(z).sum())
    rep = RepetitionPenalty(1.5)
    assert not np.allclose(probs_of(z, rep, history=[0]), probs_of(logprobs, rep, history=[0]))
    for step in (PresencePenalty(0.7), FrequencyPenalty(0.4), LogitBias({1: 1.3, 2: -np.inf})):
        assert np.allclose(probs_of(z, step, history=[0, 0, 1]), probs_of(logprobs, step, history=[0, 0, 1]))


def test_a_temperature_before_a_repetition_penalty_scales_the_logits_themselves():
    """`commute-repetition-temperature`: temperature then the penalty = the penalty then temperature,
    for z / t. The spec's temperature may subtract the row max only when every later step is
    shift-invariant; here it must not, and a t that overflows z / t is an error, not a guess."""
    z, history = np.array([2.0, 1.0, -0.5, 3.0]), [0, 2]
    first = probs_of(z, Temperature(0.5), RepetitionPenalty(3.0), history=history)
    assert np.allclose(first, probs_of(z, RepetitionPenalty(3.0), Temperature(0.5), history=history), atol=1e-15)
    expected = softmax(np.where([1, 0, 1, 0], np.where(z > 0, z / 3.0, z * 3.0), z) / 0.5)
    assert np.allclose(first, expected, atol=1e-15)
    with pytest.raises(spec.InvalidParameter, match="temperature"):
        probs_of(z, Temperature(1e-308), RepetitionPenalty(3.0), history=history)
    assert probs_of(z, RepetitionPenalty(3.0), Temperature(1e-308), history=history)[3] == 1.0


# --- typical-p, epsilon, eta, top-n-sigma ----------------------------------------------------------

def hf_typical_keep(z, mass, min_keep=1):
    """Hugging Face's TypicalLogitsWarper algorithm, restated in numpy (transformers 5.24.0
    generation/logits_process.py): sort by |-log p - H|, count the cumulative masses < mass, keep
    every token whose score is <= the score at that position."""
    p = softmax(z)
    logp = np.log(p, where=p > 0, out=np.full_like(p, -np.inf))
    entropy = -(p[p > 0] * logp[p > 0]).sum()
    score = np.abs(-logp - entropy)
    order = np.argsort(score, kind="stable")
    last = min(int((np.cumsum(p[order]) < mass).sum()), len(z) - 1)
    keep = score <= score[order][last]
    keep[order[:min_keep]] = True
    return keep


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.integers(-6, 6), min_size=1, max_size=12), st.sampled_from([0.2, 0.5, 0.9, 0.95]))
def test_typical_p_is_the_hugging_face_rule(values, mass):
    z = np.array(values, dtype=float) / 2
    t = spec.target(z, Pipeline((TypicalP(mass),)))
    expected = hf_typical_keep(z, mass)
    assert np.array_equal(t.support | t.boundary, expected | t.boundary) and not (t.support & ~expected).any()


def test_typical_p_keeps_the_crossing_token_and_may_drop_the_most_likely():
    p = np.array([0.4, 0.3, 0.3])
    entropy = -(p * np.log(p)).sum()  # 1.09; surprises 0.92, 1.20, 1.20: tokens 1 and 2 are the most typical
    assert np.abs(-np.log(p) - entropy).argmax() == 0
    t = spec.target(np.log(p), Pipeline((TypicalP(0.5),)))
    assert t.support.tolist() == [False, True, True]  # the tie group crosses 0.5: kept whole, the top dropped
    t = spec.target(np.log(p), Pipeline((TypicalP(0.65),)))
    assert t.support.tolist() == [True, True, True]  # mass before token 0 is 0.6 < 0.65: the crossing stays


def test_epsilon_and_eta_cut_by_probability():
    p = np.array([0.6, 0.3, 0.07, 0.03])
    assert spec.target(np.log(p), Pipeline((EpsilonCutoff(0.05),))).support.tolist() == [True, True, True, False]
    assert spec.target(np.log(p), Pipeline((EpsilonCutoff(0.9, min_tokens_to_keep=2),))).support.tolist() \
        == [True, True, False, False]
    entropy = -(p * np.log(p)).sum()
    eta = min(0.2, math.sqrt(0.2) * math.exp(-entropy))  # 0.166
    assert 0.07 < eta < 0.3
    assert spec.target(np.log(p), Pipeline((EtaCutoff(0.2),))).support.tolist() == [True, True, False, False]


def test_top_n_sigma_keeps_logits_within_n_standard_deviations_of_the_top():
    z = np.array([4.0, 3.0, 0.0, -1.0, -np.inf])
    sigma = np.std(z[:4])  # population standard deviation of the finite logits: 1.87
    t = spec.target(z, Pipeline((TopNSigma(1.0),)))
    assert t.support.tolist() == [True, True, False, False, False] and 4 - sigma < 3
    assert spec.target(z, Pipeline((TopNSigma(2.5),))).support.tolist() == [True, True, True, True, False]


# --- XTC --------------------------------------------------------------------------------------------

def test_xtc_target_is_the_exact_mixture():
    t = spec.target(np.log([0.6, 0.3, 0.1]), Pipeline((XTC(0.5, 0.2),)))
    assert np.allclose(t.probs, [0.3, 0.525, 0.175])
    (w0, off), (w1, on) = t.mixture
    assert (w0, w1) == (0.5, 0.5) and np.allclose(off, [0.6, 0.3, 0.1]) and np.allclose(on, [0, 0.75, 0.25])
    assert t.support.all() and t.greedy == -1


def test_xtc_conventions_strict_or_not_ties_special_tokens_and_min_keep():
    z = np.log([0.5, 0.25, 0.25])  # dyadic: exact comparisons
    acts = lambda step: spec.target(z, Pipeline((step,))).mixture[-1][1]  # noqa: E731 - the branch where XTC acts
    assert np.allclose(acts(XTC(0.5, 0.25)), [0.5, 0.25, 0.25])  # mlx-lm: p > 0.25 only token 0: nothing happens
    on = spec.target(z, Pipeline((XTC(0.5, 0.25, above=">=", ties="any"),)))  # llama.cpp: p >= 0.25, one stays
    # tokens 1 and 2 sit on the threshold: an engine's rounded p may put them below it, and then XTC does
    # not act and token 0 stays, so token 0's removal is boundary too
    assert np.allclose(on.mixture[-1][1], [0, 1, 0]) and on.boundary.tolist() == [True, True, True]
    assert np.allclose(acts(XTC(0.5, 0.25, above=">=")), [0, 0.5, 0.5])  # ties="all": both least likely stay
    assert np.allclose(acts(XTC(0.5, 0.2, special_tokens=[0])), [0.5, 0.25, 0.25])  # token 0 is exempt
    assert np.allclose(acts(XTC(0.5, 0.2, above=">=", ties="any", min_keep=3)), [0.5, 0.25, 0.25])


def test_xtc_probability_one_is_deterministic_and_zero_changes_nothing():
    z = np.log([0.6, 0.3, 0.1])
    assert np.allclose(spec.target(z, Pipeline((XTC(1.0, 0.2),))).probs, [0, 0.75, 0.25])
    assert spec.target(z, Pipeline((XTC(1.0, 0.2),))).mixture == ()
    assert np.allclose(spec.target(z, Pipeline((XTC(0.0, 0.2),))).probs, [0.6, 0.3, 0.1])


# --- invariants the proofs establish ----------------------------------------------------------------

SHIFT_INVARIANT = [TypicalP(0.7), EpsilonCutoff(0.02), EtaCutoff(0.05), TopNSigma(1.5), XTC(0.4, 0.1),
                   LogitBias({0: 2.0}), PresencePenalty(0.5), FrequencyPenalty(0.3)]


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.lists(st.floats(-8, 8), min_size=2, max_size=24), st.floats(-50, 50),
       st.sampled_from(SHIFT_INVARIANT))
def test_proved_shift_invariant_transforms_give_the_same_target_on_log_probabilities(values, c, step):
    """typical-shift, epsilon-shift, eta-shift, top-n-sigma-shift, xtc-shift, commute-bias-shift."""
    z = np.array(values)
    a = spec.target(z, Pipeline((step,)), history=[0, 1, 1])
    b = spec.target(z - c, Pipeline((step,)), history=[0, 1, 1])
    settled = ~(a.boundary | b.boundary)
    assert np.array_equal(a.support & settled, b.support & settled)
    if not (a.boundary.any() or b.boundary.any()):
        assert np.allclose(a.probs, b.probs, atol=1e-9)


def test_top_p_ranks_the_head_first_and_the_whole_row_only_when_needed(monkeypatch):
    rng = np.random.default_rng(5)
    rows = [rng.normal(0, s, 3000) for s in (0.1, 1, 3, 10)] + [np.repeat(rng.normal(0, 1, 30), 100)]
    for z in rows:
        for step in (TopP(0.9), TopP(0.5, ties="all"), TopP(0.99, min_tokens_to_keep=5)):
            fast = spec.target(z, Pipeline((step,)))
            monkeypatch.setattr(transforms, "HEAD", 10**9)
            full = spec.target(z, Pipeline((step,)))
            monkeypatch.undo()
            assert np.array_equal(fast.support, full.support) and np.array_equal(fast.boundary, full.boundary)


# --- presets read every engine parameter ------------------------------------------------------------

def test_presets_put_each_engine_s_transforms_in_its_order():
    names = lambda p: [type(s).__name__ for s in p.steps]  # noqa: E731
    assert names(presets.mlx_lm(temp=0.7, top_p=0.9, xtc_probability=0.5, repetition_penalty=1.3,
                                presence_penalty=0.5, frequency_penalty=0.3, logit_bias={1: 1.0})) == [
        "LogitBias", "RepetitionPenalty", "PresencePenalty", "FrequencyPenalty", "TopP", "XTC", "Temperature"]
    assert names(presets.hf(temperature=0.7, typical_p=0.9, epsilon_cutoff=3e-4, eta_cutoff=1e-3,
                            repetition_penalty=1.2, sequence_bias={(4,): 1.0})) == [
        "LogitBias", "RepetitionPenalty", "Temperature", "TopK", "TypicalP", "EpsilonCutoff", "EtaCutoff"]
    assert names(presets.llama_cpp(typ_p=0.9, top_n_sigma=1.0, xtc_probability=0.2, penalty_repeat=1.1,
                                   penalty_freq=0.1, penalty_present=0.1)) == [
        "RepetitionPenalty", "FrequencyPenalty", "PresencePenalty", "TopNSigma", "TopK", "TypicalP", "TopP", "MinP",
        "XTC", "Temperature"]
    assert names(presets.vllm(temperature=0.5, presence_penalty=0.5, frequency_penalty=0.2, repetition_penalty=1.1,
                              logit_bias={0: 1})) == [
        "LogitBias", "RepetitionPenalty", "FrequencyPenalty", "PresencePenalty", "Temperature"]


def test_presets_encode_each_engine_s_history_conventions():
    vllm = presets.vllm(presence_penalty=0.5, frequency_penalty=0.2, repetition_penalty=1.1)
    assert [getattr(s, "counts", None) for s in vllm.steps[:3]] == ["all", "output", "output"]
    mlx = presets.mlx_lm(temp=1.0, repetition_penalty=1.2, presence_penalty=0.5, presence_context_size=0)
    assert [(s.counts, s.window) for s in mlx.steps[:2]] == [("all", 20), ("all", None)]  # tokens[-0:] is all
    assert presets.mlx_lm(temp=1.0, repetition_penalty=0).steps == (Temperature(1.0),)  # 0 is not built
    llama = presets.llama_cpp(penalty_repeat=1.1, penalty_last_n=-1)
    assert llama.steps[0].window is None
    off = presets.llama_cpp(penalty_repeat=1.1, penalty_last_n=0)
    assert not any(isinstance(s, RepetitionPenalty) for s in off.steps)


def test_greedy_keeps_the_steps_that_can_move_the_argmax():
    greedy = presets.mlx_lm(temp=0, repetition_penalty=3.0, logit_bias={0: -np.inf}, top_p=0.5, xtc_probability=0.5)
    assert [type(s).__name__ for s in greedy.steps] == ["LogitBias", "RepetitionPenalty", "Temperature"]
    assert spec.target(np.array([3.0, 2.0, 1.0]), greedy, history=[1]).greedy == 2  # 0 banned, 1 penalised to 2/3
    llama = presets.llama_cpp(temp=0, typ_p=0.5)  # typical-p may drop the top token even when greedy
    assert [type(s).__name__ for s in llama.steps] == ["TypicalP", "Temperature"]
    t = spec.target(np.log([0.4, 0.3, 0.3]), presets.llama_cpp(temp=0, typ_p=0.5, top_k=0, top_p=1.0, min_p=0.0))
    assert t.greedy == 1 and t.boundary.tolist() == [False, False, True]  # a sort may put 2 first


@pytest.mark.parametrize("make, name", [
    (lambda: presets.mlx_lm(xtc_probability=0.5, xtc_threshold=0.6), "xtc_threshold"),
    (lambda: presets.mlx_lm(repetition_penalty=-1.0), "repetition_penalty"),
    (lambda: presets.mlx_lm(presence_context_size=-1), "presence_context_size"),
    (lambda: presets.mlx_lm(xtc_special_tokens=[-1]), "xtc_special_tokens"),
    (lambda: presets.hf(typical_p=0.0), "typical_p"),
    (lambda: presets.hf(epsilon_cutoff=1.0), "epsilon_cutoff"),
    (lambda: presets.hf(repetition_penalty=0.0), "repetition_penalty"),
    (lambda: presets.hf(sequence_bias={(1, 2): 1.0}), "sequence_bias"),
    (lambda: presets.vllm(presence_penalty=2.5), "presence_penalty"),
    (lambda: presets.vllm(repetition_penalty=0.0), "repetition_penalty"),
    (lambda: presets.llama_cpp(penalty_last_n=-2), "penalty_last_n"),
    (lambda: presets.reference(top_n_sigma=0.0), "top_n_sigma"),
])
def test_engine_ranges_are_enforced(make, name):
    with pytest.raises(spec.InvalidParameter) as e:
        make()
    assert e.value.name == name


# --- boundaries the fidelity check (proofs/fidelity.py) found undeclared -------------------------------

def test_xtc_a_token_on_the_threshold_leaves_every_fate_it_decides_open():
    """p = (1/8, 7/8), threshold 1/8, `>`: exactly, only token 1 is above, XTC does nothing and keeps
    both. float64 puts p0 a hair above 1/8, so the spec's own branch removes token 1; since that rests on
    a comparison within rounding, token 1 must be allowed (boundary), or a correct sampler is failed."""
    t = spec.target(np.log([1.0, 7.0]), Pipeline((XTC(1.0, 0.125, ">"),)))
    assert t.allowed.tolist() == [True, True]
    assert t.support[0]  # kept whichever side of the threshold token 0 is


def test_typical_any_an_exact_tie_across_the_cut_is_boundary():
    """p = (1, 1, 2, 1, 1, 2) / 8: every typicality score is exactly (1/2) log 2, so with ties broken
    by a sort any two-plus tokens reaching the mass may stay; float64 sees the scores of different p as
    a hair apart. Each token of the tie group is allowed either way."""
    t = spec.target(np.log([2.0, 2, 4, 2, 2, 4]), Pipeline((TypicalP(0.5, 2, "any"),)))
    assert t.allowed.all()
    exact = {0, 1, 2}  # the tie broken by index: the mass before token 2 is 1/4 < 1/2, before token 3 it is 1/2
    assert exact <= set(np.flatnonzero(t.allowed)) and set(np.flatnonzero(t.support)) <= set(range(6))

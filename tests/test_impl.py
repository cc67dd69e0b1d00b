"""The mlx reference sampler, checked against the spec (never against itself)."""

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import impl
import spec
from impl import context, cpu, noise, rules
from spec import presets
from spec.rows import NUCLEI, entropy_logits
from spec.strategies import logit_rows, tie_free_rows

PARAMS = {
    "hf": dict(temperature=0.7, top_k=20, top_p=0.9, min_p=0.05),
    "vllm": dict(temperature=0.8, top_k=20, top_p=0.9, min_p=0.05),
    "llama_cpp": dict(temp=0.8, top_k=20, top_p=0.9, min_p=0.05),
    "mlx_lm": dict(temp=0.7, top_p=0.9, min_p=0.05, top_k=20),
    "tiny_llm": dict(temp=0.7, top_p=0.9, top_k=20),
    "reference": dict(temperature=0.7, top_k=20, top_p=0.9, min_p=0.05),
}
SINGLE = {  # one filter at a time, so each rule is checked on its own
    "top-k any": spec.Pipeline((spec.TopK(5, ties="any"),)),
    "top-k all": spec.Pipeline((spec.TopK(5, ties="all"),)),
    "top-p": spec.Pipeline((spec.TopP(0.8),)),
    "top-p original mass": spec.Pipeline((spec.TopK(6), spec.TopP(0.7, mass="original"))),
    "min-p": spec.Pipeline((spec.MinP(0.1, min_tokens_to_keep=2),)),
    "temperature then top-p": spec.Pipeline((spec.Temperature(0.5), spec.TopP(0.9))),
}
PIPELINES = {**{name: presets.PRESETS[name](**kw) for name, kw in PARAMS.items()}, **SINGLE}


def rejects(pipeline, size):
    return any(isinstance(s, spec.TopK) and s.rejects(size) for s in pipeline.steps)


# --- keep-sets: impl.filter equals the spec's support, boundary tokens aside ---------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=logit_rows(llm_max_size=151_936), name=st.sampled_from(sorted(PIPELINES)))
def test_filter_keeps_the_spec_support(row, name):
    pipeline = PIPELINES[name]
    if rejects(pipeline, row.size):
        return
    x = mx.array(row.astype(np.float32))
    kept = np.isfinite(np.array(impl.filter(x, pipeline)))
    t = spec.target(x, pipeline)
    wrong = (kept != t.support) & ~t.boundary
    assert not wrong.any(), (name, np.flatnonzero(wrong)[:10])


def test_filter_does_not_mutate_and_keeps_values():
    x = mx.array(np.log([0.5, 0.25, 0.125, 0.125]).astype(np.float32))
    before = np.array(x)
    out = impl.filter(x, presets.hf(top_k=2))
    np.testing.assert_array_equal(np.array(x), before)
    np.testing.assert_array_equal(np.array(out), [before[0], before[1], -np.inf, -np.inf])


# --- distribution: sampled frequencies match the spec's target ----------------------------------

DRAWS = 20_000
CASES = {  # tie-free rows: with ties an exactly-k rule may pick any of the tied, by design
    "dyadic-like": np.log([0.5, 0.26, 0.13, 0.07, 0.04]),
    "twelve": np.linspace(2.0, -3.5, 12) + 0.01 * np.arange(12) ** 2,
    "with -inf": np.array([1.0, -np.inf, 0.3, -np.inf, -0.4, 0.9]),
    "wide": np.random.default_rng(7).normal(0, 1.5, 40),
    # 12 strong tokens over 20,000 weak ones holding 9% of the mass: exercises the pruned race
    "large": np.concatenate([np.linspace(3.0, 1.0, 12), np.random.default_rng(8).normal(-7.6, 0.3, 20_000)]),
}
DIST_PIPELINES = ["hf", "llama_cpp", "mlx_lm", "tiny_llm", "reference", "top-p", "min-p"]  # presets with top_k 3
ALPHA_PER_TEST = 4e-7 / (len(CASES) * len(DIST_PIPELINES))  # the suite's false-alarm budget: see conftest.py


def pearson(counts: np.ndarray, probs: np.ndarray) -> float:
    """Pearson chi-square p-value, cells with expected count < 20 merged into one."""
    expected = probs * counts.sum()
    big = expected >= 20
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    obs, exp = obs[exp > 0], exp[exp > 0]
    return 1.0 if obs.size < 2 else float(stats.chisquare(obs, exp).pvalue)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", DIST_PIPELINES)
def test_sampled_frequencies_match_the_spec_target(name, case):
    """20,000 seeded draws; never a token outside the allowed set (definitive), then Pearson's
    chi-square at alpha = 4e-7 / 35 per test, so the whole grid of 35 tests raises a false alarm
    in under 4 runs in ten million. Power: a shift of 0.02 probability between two tokens of mass
    0.1 is caught with probability > 0.999 (noncentral chi-square, up to 30 cells)."""
    pipeline = PIPELINES[name] if name in SINGLE else presets.PRESETS[name](**{**PARAMS[name], "top_k": 3})
    row = CASES[case].astype(np.float32)
    keys = mx.random.split(mx.random.key(sum(map(ord, name + case))), DRAWS)
    sampler, chunk = impl.make_sampler(pipeline), 2000
    tokens = np.concatenate([np.array(sampler(mx.broadcast_to(mx.array(row), (chunk, row.size)), key=keys[i:i + chunk]))
                             for i in range(0, DRAWS, chunk)])
    t = spec.target(mx.array(row), pipeline)
    assert t.allowed[tokens].all(), np.unique(tokens[~t.allowed[tokens]])
    counts = np.bincount(tokens, minlength=row.size)
    assert pearson(counts, t.probs) > ALPHA_PER_TEST, (counts, (t.probs * DRAWS).round(1))


def test_uniform_bits_never_reach_0_or_1():
    """The extreme bit patterns map strictly inside (0, 1): the noise is always finite, so no
    token can win with an infinite Gumbel value whatever its logit."""
    u = noise.uniform_from_bits(mx.array([0, 2**32 - 1], dtype=mx.uint32))
    g = np.array(-mx.log(-mx.log(u)))
    assert np.all(np.isfinite(g)) and 0 < float(u[0]) < float(u[1]) < 1
    assert g[0] >= noise.G_LOW - 1e-6 and g[1] <= noise.G_HIGH + 1e-6


def test_noise_bounds_hold_for_every_noise_value():
    """noise_bounds brackets the noise the race uses, g = -log(-log u) as mlx computes it, at
    every one of the 2^23 values u can take (the bits below the 23 used do not matter)."""
    h = mx.arange(2**23, dtype=mx.uint32) << 9
    u = noise.uniform_from_bits(h)
    g = -mx.log(-mx.log(u))
    tail = noise._exponent(1.0 - u)
    lo, hi = (noise._exponent(u) - tail - 1.0) * noise.LN2 - 1e-3, -tail * noise.LN2 + 1e-3
    keys = mx.array([[0, 0]], dtype=mx.uint32)  # _bits is a bijection: the same u reached through hashed ids
    ids = mx.arange(2**16, dtype=mx.uint32)[None]
    lo2, hi2 = noise.noise_bounds(keys, ids)
    g2 = noise.gumbel(keys, ids)
    assert mx.all(lo <= g).item() and mx.all(g <= hi).item()
    assert mx.all(lo2 <= g2).item() and mx.all(g2 <= hi2).item() and float(mx.max(hi2 - lo2)) < 18


@pytest.mark.parametrize("shape", ["peaked", "flat", "two-level", "ties", "wide flat"])
def test_pruned_race_picks_the_same_token_as_the_full_race(shape):
    """The pruned race is not an approximation: on 2,000 keys it returns exactly the token of the
    race over all 20,000 tokens: pruned by score (peaked), by noise bounds (flat, ties, wide
    flat), or in full when a row keeps more candidates than slots."""
    rng = np.random.default_rng(4)
    row = {"peaked": rng.normal(0, 3, 20_000) + np.where(np.arange(20_000) < 20, 15, 0),
           "flat": rng.normal(0, 0.1, 20_000),
           "two-level": np.where(np.arange(20_000) < 9000, 0.0, -19.0) + rng.normal(0, 0.5, 20_000),
           "ties": np.round(rng.normal(0, 1, 20_000)),
           "wide flat": rng.normal(0, 3, 20_000) + 1000}[shape]
    scores = mx.broadcast_to(mx.array(row.astype(np.float32)), (2000, 20_000))
    keys = mx.random.split(mx.random.key(8), 2000)
    ids = mx.broadcast_to(mx.arange(20_000, dtype=mx.uint32), scores.shape)
    full = np.array(mx.argmax(scores + noise.gumbel(keys, ids), -1))
    pruned = np.array(impl.gumbel_max(scores, keys))
    assert np.array_equal(full, pruned)


def test_gumbel_noise_is_standard_gumbel():
    """KS test of 200,000 hashed Gumbel values against the Gumbel CDF, alpha 1e-7 (seeded)."""
    keys = mx.random.split(mx.random.key(3), 4)
    g = np.array(noise.gumbel(keys, mx.broadcast_to(mx.arange(50_000, dtype=mx.uint32), (4, 50_000))))
    assert stats.kstest(g.ravel(), stats.gumbel_r.cdf).pvalue > 1e-7
    assert abs(np.corrcoef(g[0], g[1])[0, 1]) < 0.03  # different keys: unrelated noise


# --- coupling, batching, reproducibility --------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlx_lm", "hf"])
def test_same_key_same_token_for_logits_and_logprobs_gumbel_coupling(name):
    """10,000 keys: the token from logits equals the token from z - logsumexp(z) (float32). In
    float32 a race whose top two scores lie within rounding of each other could flip; for these
    seeded keys none does (measured: 0 of 10,000 for both presets)."""
    rng = np.random.default_rng(11)
    z = rng.normal(0, 3, 2048).astype(np.float32)
    z[rng.choice(2048, 5, replace=False)] += 8
    logits = mx.array(z)
    logprobs = logits - mx.logsumexp(logits)
    keys = mx.random.split(mx.random.key(5), 10_000)
    sampler = impl.make_sampler_from(name, **PARAMS[name])
    a = np.array(sampler(mx.broadcast_to(logits, (10_000, 2048)), key=keys))
    b = np.array(sampler(mx.broadcast_to(logprobs, (10_000, 2048)), key=keys))
    assert np.array_equal(a, b), np.flatnonzero(a != b)


def test_batch_equals_row_by_row_with_the_same_keys():
    rng = np.random.default_rng(2)
    rows = rng.normal(0, 2, (5, 300)).astype(np.float32)
    rows[3, :] = -np.inf
    rows[3, 17] = 0.0  # one finite entry: must come back as 17, whatever the other rows do
    keys = mx.random.split(mx.random.key(9), 5)
    for pipeline in PIPELINES.values():
        sampler = impl.make_sampler(pipeline)
        batch = np.array(sampler(mx.array(rows), key=keys))
        single = [sampler(mx.array(rows[b]), key=keys[b]).item() for b in range(5)]
        assert batch.tolist() == single, pipeline
        assert batch[3] == 17


def test_explicit_key_is_reproducible_and_global_state_is_used_otherwise():
    x = mx.array(np.zeros((4, 1000), dtype=np.float32))
    s = impl.make_sampler(presets.reference())
    k = mx.random.key(1)
    assert np.array_equal(np.array(s(x, key=k)), np.array(s(x, key=k)))
    mx.random.seed(0)
    first = np.array(s(x))
    mx.random.seed(0)
    assert np.array_equal(first, np.array(s(x)))
    assert not np.array_equal(first, np.array(s(x)))  # the state advanced


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@settings(max_examples=25, deadline=None)
@given(row=tie_free_rows(max_size=100), name=st.sampled_from(sorted(PIPELINES)), seed=st.integers(0, 2**30))
def test_tokens_stay_in_the_allowed_set_for_every_dtype(dtype, row, name, seed):
    pipeline = PIPELINES[name]
    if rejects(pipeline, row.size) or np.abs(row[np.isfinite(row)]).max() > 6e4:
        return  # float16 cannot hold the row
    x = mx.array(row).astype(getattr(mx, dtype))
    before = np.array(x.astype(mx.float32))
    tokens = np.array(impl.make_sampler(pipeline)(mx.broadcast_to(x, (64, row.size)),
                                                  key=mx.random.key(seed)))
    assert spec.target(x, pipeline).allowed[tokens].all()
    np.testing.assert_array_equal(np.array(x.astype(mx.float32)), before)  # input not mutated


def test_greedy_is_first_index_argmax():
    x = mx.array([[0.0, 2.0, 2.0, -np.inf], [5.0, 1.0, 5.0, 0.0]])
    assert np.array(impl.make_sampler_from("mlx_lm")(x)).tolist() == [1, 0]


# --- errors before work --------------------------------------------------------------------------

@pytest.mark.parametrize("pipeline", [presets.mlx_lm(), presets.mlx_lm(temp=0.7), presets.hf(top_p=0.9),
                                      presets.reference(min_p=0.1)], ids=["greedy", "temp", "hf", "min-p"])
@pytest.mark.parametrize("row, message", [
    ([0.0, float("nan"), 1.0], "NaN"), ([0.0, float("inf")], r"\+inf"), ([-np.inf, -np.inf], "every entry is -inf"),
])
def test_bad_rows_are_rejected_not_turned_into_token_0(pipeline, row, message):
    x = mx.array([[0.0, 1.0, 2.0][: len(row)], row])
    with pytest.raises(spec.InvalidLogits, match=f"row 1: {message}"):
        mx.eval(impl.make_sampler(pipeline)(x))
    with pytest.raises(spec.InvalidLogits, match=message):
        impl.filter(x, pipeline)


def test_bad_arguments():
    s = impl.make_sampler(presets.reference())
    with pytest.raises(spec.InvalidLogits, match="mx.array"):
        s(np.zeros(4))
    with pytest.raises(spec.InvalidLogits, match="shape"):
        s(mx.zeros((2, 2, 2)))
    with pytest.raises(spec.InvalidLogits, match="dtype"):
        s(mx.zeros(4, dtype=mx.int32))
    with pytest.raises(spec.InvalidParameter, match="key"):
        s(mx.zeros((3, 4)), key=mx.zeros((2, 2), dtype=mx.uint32))
    with pytest.raises(spec.InvalidParameter, match="top_k=4"):
        impl.make_sampler_from("mlx_lm", temp=1.0, top_k=4)(mx.zeros(4))
    with pytest.raises(spec.InvalidParameter, match="top_k=5000"):  # also after top-p gathered its head
        impl.make_sampler_from("mlx_lm", temp=1.0, top_p=0.5, top_k=5000)(mx.arange(4096, dtype=mx.float32))
    with pytest.raises(spec.InvalidParameter, match="preset"):
        impl.make_sampler_from("nope")
    with pytest.raises(spec.InvalidParameter, match="pipeline"):
        impl.make_sampler("hf")


# --- argument checks: InvalidParameter naming the value, never an mlx TypeError ------------------

@pytest.mark.parametrize("name, key", [("mlx-lm", "mlx_lm"), ("llama.cpp", "llama_cpp"), ("HF", "hf"),
                                       (" vLLM ", "vllm"), ("mlx_lm", "mlx_lm")])
def test_make_sampler_from_reads_preset_names_as_the_cli_does(name, key):
    params = {"mlx_lm": dict(temp=0.7), "llama_cpp": dict(temp=0.7), "hf": dict(temperature=0.7),
              "vllm": dict(temperature=0.7)}[key]
    s = impl.make_sampler_from(name, **params)
    assert s.pipeline == presets.PRESETS[key](**params)
    assert s(mx.zeros((2, 8)), key=mx.random.key(0)).shape == (2,)


@pytest.mark.parametrize("preset", ["nope", "", None, 3])
def test_make_sampler_from_rejects_unknown_presets(preset):
    with pytest.raises(spec.InvalidParameter, match=f"preset={preset!r}"):
        impl.make_sampler_from(preset)


BAD_KEYS = {
    "negative": -1, "2**64": 2**64, "2**70": 2**70, "numpy negative": np.int64(-3), "float": 2.5,
    "bool": True, "numpy bool": np.bool_(True), "str": "seed", "list": [1, 2],
    "numpy key": np.array([1, 2], dtype=np.uint32), "float mx key": mx.array([1.0, 2.0]),
    "bool mx key": mx.array([True, False]), "scalar mx key": mx.array(5), "(3,) key": mx.array([1, 2, 3]),
    "(2, 2) keys for 3 rows": mx.zeros((2, 2), dtype=mx.uint32),
}


@pytest.mark.parametrize("pipeline", [presets.reference(temperature=0.7), presets.hf(top_p=0.9)],
                         ids=["fused", "filtered"])
@pytest.mark.parametrize("key", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_bad_keys_raise_invalid_parameter_naming_the_value(pipeline, key):
    s = impl.make_sampler(pipeline)
    with pytest.raises(spec.InvalidParameter) as info:
        s(mx.zeros((3, 8)), key=key)
    assert info.value.name == "key" and info.value.value is key and f"key={key!r}" in str(info.value)
    if isinstance(key, int) and not isinstance(key, bool):
        assert "[0, 2**64)" in str(info.value)


@pytest.mark.parametrize("key", [0, 2**64 - 1, np.uint64(2**64 - 1), np.int32(7), 2**63],
                         ids=["0", "2**64-1", "numpy 2**64-1", "numpy int32", "2**63"])
def test_integer_seeds_in_range_are_the_mlx_key_of_that_seed(key):
    s = impl.make_sampler(presets.reference(temperature=0.7))
    x = mx.array(np.random.default_rng(1).normal(size=(4, 64)).astype(np.float32))
    np.testing.assert_array_equal(np.array(s(x, key=key)), np.array(s(x, key=mx.random.key(int(key)))))


@pytest.mark.parametrize("dtype", [mx.uint32, mx.int32, mx.int64, mx.uint64])
def test_integer_mx_keys_of_shape_2_or_b_2_are_accepted(dtype):
    s = impl.make_sampler(presets.hf(top_p=0.9))
    x = mx.zeros((3, 8))
    keys = mx.random.split(mx.random.key(4), 3)
    np.testing.assert_array_equal(np.array(s(x, key=keys.astype(dtype))), np.array(s(x, key=keys)))
    k = mx.random.key(4)
    np.testing.assert_array_equal(np.array(s(x, key=k.astype(dtype))), np.array(s(x, key=k)))


@pytest.mark.parametrize("pipeline", [None, "hf", presets.hf], ids=["None", "str", "preset function"])
def test_filter_rejects_a_non_pipeline_like_make_sampler(pipeline):
    for call in (lambda: impl.filter(mx.zeros(4), pipeline), lambda: impl.make_sampler(pipeline)):
        with pytest.raises(spec.InvalidParameter) as info:
            call()
        assert info.value.name == "pipeline" and f"pipeline={pipeline!r}" in str(info.value)


@pytest.mark.parametrize("size", NUCLEI)
@pytest.mark.parametrize("mass", ["renormalized", "original"])
def test_top_p_on_the_cpu_keeps_the_spec_support(size, mass):
    """cpu.top_p (the CPU path: the 1,024-value head, then windows of 16,384 and 65,536 values,
    then the sort) keeps the spec's support on entropy-sweep rows whose nucleus is 1 to 50,000
    tokens (for `original`, after a top-k 100,000 pre-filter), boundary tokens aside. (The device
    path, _top_p_mlx, is off by up to 3 tokens at a nucleus of 1,000 here: mlx's float32
    logsumexp and cumsum are running sums.)"""
    z = np.float32(entropy_logits(np.random.default_rng(size), 2, size))
    pipeline = spec.Pipeline((spec.transforms.TopK(100_000),) * (mass == "original")
                             + (spec.transforms.TopP(0.9, mass=mass),))
    x = mx.array(z)
    if mass == "original":
        x = mx.where(x >= mx.sort(x, -1)[:, -100_000:][:, :1], x, -mx.inf)
    scores, ids = cpu.top_p(x, None, x if mass == "renormalized" else mx.array(z), pipeline.steps[-1],
                             rules.HEAD, rules.WINDOWS)
    keep = np.isfinite(np.array(context._full(scores, ids, z.shape[-1])))
    t = spec.target(z.astype(np.float64), pipeline)
    assert np.array_equal(keep | t.boundary, t.support | t.boundary) and keep.any()

"""The executable spec: hand-computed targets, boundary rules, presets, errors, invariants.

Test names carry the clause they check; theorem-backed properties name the theorem id."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spec
from proofs.catalogue import BY_ID
from proofs.transcript import Z3_MEASURED
from spec import presets
from spec.invariants import INVARIANTS
from spec.strategies import logit_rows, tie_free_rows
from spec.target import Tolerance
from tests.validating import ALPHA_RUN, ROOT

EXACT = Tolerance(0.0, 0.0)  # decide every comparison exactly, report no boundary
DYADIC = np.log([0.5, 0.25, 0.125, 0.125])


def probs(pipeline, logits=DYADIC, tol=EXACT):
    return spec.target(logits, pipeline, tol=tol).probs


# --- hand-computed dyadic targets -------------------------------------------------------------

def test_plain_softmax_of_log_probs_returns_the_probs():
    np.testing.assert_allclose(probs(spec.Pipeline()), [0.5, 0.25, 0.125, 0.125], rtol=1e-15)


def test_temperature_half_squares_the_probs():
    np.testing.assert_allclose(probs(spec.Pipeline((spec.Temperature(0.5),))),
                               np.array([16, 4, 1, 1]) / 22, rtol=1e-14)


@pytest.mark.parametrize("k, ties, expected", [
    (1, "all", [1, 0, 0, 0]), (2, "all", [2 / 3, 1 / 3, 0, 0]),
    (3, "all", [0.5, 0.25, 0.125, 0.125]),  # the tie at the cut is kept whole
    (3, "any", [4 / 7, 2 / 7, 1 / 7, 0]),  # exactly 3: lowest index first, the tie is boundary
])
def test_top_k(k, ties, expected):
    np.testing.assert_allclose(probs(spec.Pipeline((spec.TopK(k, ties=ties),))), expected, rtol=1e-14)


def test_top_k_any_reports_the_tied_cut_as_boundary():
    t = spec.target(DYADIC, spec.Pipeline((spec.TopK(3, ties="any"),)), tol=EXACT)
    assert t.boundary.tolist() == [False, False, True, True]
    assert t.allowed.tolist() == [True] * 4


@pytest.mark.parametrize("p, expected", [
    (0.5, [1, 0, 0, 0]),  # mass above token 1 is 0.5, not < 0.5
    (0.6, [2 / 3, 1 / 3, 0, 0]),
    (0.8, [4 / 7, 2 / 7, 1 / 7, 0]),
    (1.0, [0.5, 0.25, 0.125, 0.125]),
])
def test_top_p_keeps_a_token_iff_the_mass_above_it_is_below_p(p, expected):
    z = np.log2([0.5, 0.25, 0.125, 0.125]) * math.log(2)  # exact dyadic logits in float64
    np.testing.assert_allclose(probs(spec.Pipeline((spec.TopP(p),)), z), expected, rtol=1e-14)


def test_top_p_exact_sum_adds_no_token_and_is_reported_as_boundary():
    z = np.log2([0.5, 0.25, 0.125, 0.125]) * math.log(2)
    exact = spec.target(z, spec.Pipeline((spec.TopP(0.75),)), tol=EXACT)
    assert exact.support.tolist() == [True, True, False, False]
    default = spec.target(z, spec.Pipeline((spec.TopP(0.75),)))
    assert default.boundary.tolist() == [False, False, True, False]
    assert spec.target(z, spec.Pipeline((spec.TopP(0.75, ties="all"),))).boundary.tolist() == [
        False, False, True, True]


def test_min_p_keeps_probability_at_least_p_times_the_largest():
    np.testing.assert_allclose(probs(spec.Pipeline((spec.MinP(0.5),))), [2 / 3, 1 / 3, 0, 0], rtol=1e-14)
    np.testing.assert_allclose(probs(spec.Pipeline((spec.MinP(0.51),))), [1, 0, 0, 0], rtol=1e-14)
    t = spec.target(DYADIC, spec.Pipeline((spec.MinP(0.5),)))
    assert t.boundary[1]  # 0.25 == 0.5 * 0.5: an equality, reported


def test_near_ties_within_rounding_are_boundary():
    """Values a few ulps apart may round together in an engine's own precision."""
    z = np.array([1.0, 1.0 - 1e-15, 0.0, -1.0])
    greedy = spec.target(z, presets.reference(temperature=0))
    assert greedy.greedy == 0 and not greedy.boundary.any()  # a later near-tie can never win (fp-argmax-shift-weak)
    earlier = spec.target(z[[1, 0, 2, 3]], presets.reference(temperature=0))
    assert earlier.greedy == 1 and earlier.boundary.tolist() == [True, False, False, False]
    tie = spec.target(np.array([2.0, 2.0, 1.0]), presets.reference(temperature=0))
    assert tie.greedy == 0 and not tie.boundary.any()  # an exact tie: the first index, always
    cut = spec.target(z, spec.Pipeline((spec.TopK(1),)))
    assert cut.support.tolist() == [True, False, False, False] and cut.boundary[1]
    exact = spec.target(z, spec.Pipeline((spec.TopK(1),)), tol=EXACT)
    assert not exact.boundary.any()


def test_a_boundary_at_one_filter_propagates_to_the_next():
    """top-k's cut has a near-tie (token 3, within rounding of token 2). Kept, it lowers the
    renormalised masses enough that top-p keeps token 2 too; dropped, top-p drops token 2. So
    token 2 depends on rounding as well, though top-p alone decides it by a wide margin."""
    z = np.array([3.0, 2.0, 1.0, 1.0 - 1e-15, -5.0])
    t = spec.target(z, spec.Pipeline((spec.TopK(3), spec.TopP(0.9))))
    assert t.support.tolist() == [True, True, False, False, False]
    assert t.boundary.tolist() == [False, False, True, True, False]


def test_min_p_min_tokens_to_keep():
    np.testing.assert_allclose(probs(spec.Pipeline((spec.MinP(0.9, min_tokens_to_keep=2),))),
                               [2 / 3, 1 / 3, 0, 0], rtol=1e-14)


def test_top_p_original_mass_uses_the_unfiltered_row():
    # after top-k 2, renormalised masses are (2/3, 1/3): p = 0.6 keeps both; original masses
    # (1/2, 1/4): the mass above token 1 is 0.5 < 0.6, both kept too; p = 0.5 separates them
    steps = (spec.TopK(2), spec.TopP(0.55, mass="original"))
    np.testing.assert_allclose(probs(spec.Pipeline(steps)), [2 / 3, 1 / 3, 0, 0], rtol=1e-14)
    steps = (spec.TopK(2), spec.TopP(0.7))  # renormalised: mass above token 1 is 2/3 < 0.7
    np.testing.assert_allclose(probs(spec.Pipeline(steps)), [2 / 3, 1 / 3, 0, 0], rtol=1e-14)
    steps = (spec.TopK(2), spec.TopP(0.6))  # renormalised: 2/3 >= 0.6 drops token 1
    np.testing.assert_allclose(probs(spec.Pipeline(steps)), [1, 0, 0, 0], rtol=1e-14)


def test_greedy_is_the_first_index_argmax():
    t = spec.target([1.0, 3.0, 3.0, -np.inf], presets.vllm(temperature=0))
    assert t.greedy == 1 and t.probs.tolist() == [0, 1, 0, 0]
    assert spec.target(DYADIC, presets.reference()).greedy == -1


def test_batch_rows_are_independent():
    rows = np.stack([DYADIC, DYADIC[::-1], np.array([0.0, -np.inf, -np.inf, -np.inf])])
    batch = spec.target(rows, presets.reference(top_k=2))
    for b in range(3):
        one = spec.target(rows[b], presets.reference(top_k=2))
        np.testing.assert_array_equal(batch.probs[b], one.probs)
        np.testing.assert_array_equal(batch.boundary[b], one.boundary)
    assert batch.greedy.tolist() == [-1, -1, 0]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_numpy_dtypes(dtype):
    t = spec.target(DYADIC.astype(dtype), presets.reference())
    np.testing.assert_allclose(t.probs, [0.5, 0.25, 0.125, 0.125], rtol=1e-3)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_mlx_arrays(dtype):
    mx = pytest.importorskip("mlx.core")
    row = mx.array(DYADIC).astype(getattr(mx, dtype))
    t = spec.target(row, presets.reference())
    np.testing.assert_allclose(t.probs, [0.5, 0.25, 0.125, 0.125], rtol=2e-2)
    assert t.tolerance.logit > Tolerance.for_input("float64", 2.1, 4).logit


def test_torch_arrays():
    torch = pytest.importorskip("torch")
    t = spec.target(torch.tensor(DYADIC, dtype=torch.bfloat16), presets.reference())
    np.testing.assert_allclose(t.probs, [0.5, 0.25, 0.125, 0.125], rtol=2e-2)


# --- presets ----------------------------------------------------------------------------------

def test_preset_orders():
    kinds = {name: [type(s).__name__ for s in fn(**kw).steps] for name, fn, kw in [
        ("hf", presets.hf, dict(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)),
        ("vllm", presets.vllm, dict(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)),
        ("llama_cpp", presets.llama_cpp, dict(temp=0.7, top_k=40, top_p=0.9, min_p=0.05)),
        ("mlx_lm", presets.mlx_lm, dict(temp=0.7, top_k=40, top_p=0.9, min_p=0.05)),
        ("tiny_llm", presets.tiny_llm, dict(temp=0.7, top_k=40, top_p=0.9)),
    ]}
    assert kinds == {
        "hf": ["Temperature", "TopK", "TopP", "MinP"],
        "vllm": ["Temperature", "MinP", "TopK", "TopP"],
        "llama_cpp": ["TopK", "TopP", "MinP", "Temperature"],
        "mlx_lm": ["TopP", "MinP", "TopK", "Temperature"],
        "tiny_llm": ["TopK", "TopP", "Temperature"],
    }


def test_preset_conventions():
    assert presets.hf(top_k=3).steps[0].ties == "all"
    assert presets.mlx_lm(temp=1, top_k=3).steps[0] == spec.TopK(3, ties="any", over_vocab="error")
    assert presets.mlx_lm(temp=1, top_p=0.9).steps[0].ties == "all"
    assert presets.tiny_llm(temp=1, top_p=0.9).steps[0].mass == "original"
    assert presets.vllm(temperature=0.005).steps[0] == spec.Temperature(0.01)  # clamped
    assert presets.vllm(temperature=5e-6).greedy
    assert presets.llama_cpp(temp=0).greedy and presets.mlx_lm().greedy and presets.tiny_llm().greedy
    assert presets.hf(top_k=0, top_p=1.0).steps == ()  # both disabled
    assert presets.hf(top_k=2, min_tokens_to_keep=3).steps[0].k == 3
    assert presets.llama_cpp(top_k=0, top_p=1.0, min_p=0.0, temp=1.0).steps == (spec.Temperature(1.0),)


def test_top_k_at_or_above_vocab_clamps_or_errors_per_preset():
    z = np.zeros(4)
    assert spec.target(z, presets.hf(top_k=10)).support.all()
    with pytest.raises(spec.InvalidParameter, match="top_k"):
        spec.target(z, presets.mlx_lm(temp=1.0, top_k=4))


@pytest.mark.parametrize("make, message", [
    (lambda: presets.hf(temperature=0), "temperature=0"),
    (lambda: presets.hf(top_k=-1), "top_k=-1"),
    (lambda: presets.hf(top_p=1.5), "top_p=1.5"),
    (lambda: presets.vllm(top_p=0.0), "top_p=0.0"),
    (lambda: presets.mlx_lm(temp=-1.0), "temp=-1.0"),
    (lambda: presets.mlx_lm(temp=1.0, min_p=1.5), "min_p=1.5"),
    (lambda: presets.reference(temperature=float("nan")), "temperature=nan"),
    (lambda: presets.reference(temperature=float("inf")), "temperature=inf"),
    (lambda: spec.TopK(0), "top_k=0"),
    (lambda: spec.TopP(-0.1), "top_p=-0.1"),
    (lambda: spec.MinP(2), "min_p=2"),
    (lambda: spec.Temperature(-1), "temperature=-1"),
    (lambda: spec.TopK(2, ties="some"), "ties='some'"),
    (lambda: spec.Pipeline(("not a transform",)), "step="),
    (lambda: spec.target([1.0], "hf"), "pipeline="),
])
def test_bad_parameters_raise_invalid_parameter_naming_it(make, message):
    with pytest.raises(spec.InvalidParameter, match=message.replace("(", r"\(")) as e:
        make()
    assert isinstance(e.value, ValueError) and "expected" in str(e.value)


@pytest.mark.parametrize("logits, message", [
    ([1.0, float("nan")], "NaN at index 1"),
    ([[0.0, 1.0], [float("inf"), 0.0]], "row 1: \\+inf at index 0"),
    ([-np.inf, -np.inf], "every entry is -inf"),
    ([], "empty vocabulary"),
    (np.zeros((0, 3)), "empty batch"),
    (np.zeros((2, 2, 2)), "shape"),
    (["a", "b"], "real numbers"),
])
def test_bad_logits_raise_invalid_logits_naming_the_problem(logits, message):
    with pytest.raises(spec.InvalidLogits, match=message):
        spec.target(logits, presets.reference())


# --- properties (Hypothesis) --------------------------------------------------------------------

PIPELINES = st.sampled_from([
    presets.reference(), presets.reference(temperature=0.7, top_k=5, top_p=0.9, min_p=0.05),
    presets.hf(temperature=0.7, top_k=5, top_p=0.9, min_p=0.05), presets.vllm(temperature=1.3, top_k=3, top_p=0.8),
    presets.llama_cpp(), presets.mlx_lm(temp=0.7, top_p=0.9, min_p=0.05, top_k=3),
    presets.tiny_llm(temp=0.7, top_p=0.9, top_k=3), presets.mlx_lm(),
])
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rejects(pipeline, row) -> bool:
    """mlx-lm's preset refuses top_k >= V, tiny-llm's top_k > V; the property tests skip those rows."""
    return any(isinstance(s, spec.TopK) and s.rejects(row.size) for s in pipeline.steps)


@SETTINGS
@given(row=logit_rows(llm_max_size=20_000), pipeline=PIPELINES)
def test_target_is_a_distribution_inside_the_allowed_set(row, pipeline):
    if rejects(pipeline, row):
        return
    t = spec.target(row, pipeline)
    assert math.isclose(t.probs.sum(), 1.0, rel_tol=1e-9)
    assert (t.probs >= 0).all() and not t.support[~np.isfinite(row)].any()
    assert t.support.any()


@SETTINGS
@given(row=logit_rows(llm_max_size=20_000), pipeline=PIPELINES, c=st.floats(-100, 100))
def test_shift_invariance_softmax_shift_argmax_shift_filters_shift(row, pipeline, c):
    """A per-row shift leaves the exact target unchanged up to the boundary tokens."""
    if rejects(pipeline, row):
        return
    a, b = spec.target(row, pipeline), spec.target(row - c, pipeline)
    differ = a.support != b.support
    assert not (differ & ~(a.boundary | b.boundary)).any()
    if not differ.any() and not np.abs(row[np.isfinite(row)]).max() > 1e6:
        np.testing.assert_allclose(a.probs, b.probs, rtol=1e-6, atol=1e-12)


@SETTINGS
@given(row=tie_free_rows(), pipeline=PIPELINES, seed=st.integers(0, 2**32 - 1))
def test_permutation_equivariance_on_tie_free_rows(row, pipeline, seed):
    if rejects(pipeline, row):
        return
    perm = np.random.default_rng(seed).permutation(row.size)
    a, b = spec.target(row, pipeline, tol=EXACT), spec.target(row[perm], pipeline, tol=EXACT)
    np.testing.assert_allclose(a.probs[perm], b.probs, rtol=1e-12, atol=1e-300)


@SETTINGS
@given(row=tie_free_rows())
def test_temperature_to_zero_concentrates_on_greedy_temperature_shift(row):
    greedy = spec.target(row, presets.reference(temperature=0)).greedy
    cold = spec.target(row, presets.reference(temperature=1e-6), tol=EXACT).probs
    finite = np.sort(row[np.isfinite(row)])
    if finite.size > 1 and finite[-1] - finite[-2] > 1e-3:
        assert cold[greedy] > 0.99


def test_every_invariant_cites_existing_theorems():
    for inv in INVARIANTS:
        for theorem_id in inv.theorems + inv.float_theorems:
            assert theorem_id in BY_ID, (inv.id, theorem_id)


@pytest.mark.parametrize("inv", [i for i in INVARIANTS if i.transform], ids=lambda i: i.id)
def test_invariant_transforms_preserve_the_target(inv):
    rng = np.random.default_rng(0)
    rows = rng.normal(0, 3, size=(4, 1000))
    pipeline = presets.reference(temperature=0.8, top_k=50, top_p=0.9, min_p=0.02)
    a, b = spec.target(rows, pipeline), spec.target(inv.transform(rows, rng), pipeline)
    np.testing.assert_array_equal(a.support | a.boundary, b.support | b.boundary)
    np.testing.assert_allclose(a.probs, b.probs, rtol=1e-9, atol=1e-15)


@pytest.mark.slow
def test_full_vocabulary_row_is_fast_enough_to_run():
    row = np.random.default_rng(1).normal(0, 3, 151_936)
    t = spec.target(row, presets.hf(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05))
    assert 1 <= t.support.sum() <= 40


# --- preset parameters: numpy scalars, garbage, versions, engine-specific tie and range rules --------

def test_presets_accept_numpy_scalars_and_store_plain_python_numbers():
    pipeline = presets.hf(temperature=np.float32(0.7), top_k=np.int64(5), top_p=np.float64(0.9),
                          min_p=np.float16(0.05), min_tokens_to_keep=np.int32(2))
    temperature, top_k, top_p, min_p = pipeline.steps
    assert top_k == spec.TopK(5) and type(top_k.k) is int
    assert type(temperature.t) is float and temperature.t == float(np.float32(0.7))
    assert type(top_p.p) is float and type(top_p.min_tokens_to_keep) is int and type(min_p.p) is float
    for step in (presets.vllm(top_k=np.uint8(3)).steps[-1], presets.llama_cpp(temp=1, top_k=np.int16(3)).steps[0],
                 presets.mlx_lm(temp=1, top_k=np.int64(3)).steps[0],
                 presets.tiny_llm(temp=1, top_k=np.int64(3)).steps[0], presets.reference(top_k=np.int64(3)).steps[0]):
        assert step.k == 3 and type(step.k) is int
    assert presets.llama_cpp(temp=1, min_keep=np.int64(2), top_k=0).steps[0].min_tokens_to_keep == 2


def _preset_parameters():
    import inspect
    return [(name, p) for name, fn in presets.PRESETS.items() for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("bad", ["x", True, np.bool_(False), float("nan"), [1], None, 1 + 0j],
                         ids=["str", "bool", "numpy bool", "nan", "list", "None", "complex"])
@pytest.mark.parametrize("preset, param", _preset_parameters(), ids=lambda p: getattr(p, "name", p))
def test_every_preset_parameter_rejects_garbage_with_invalid_parameter(preset, param, bad):
    if bad is None and "None" in str(param.annotation):
        return  # None is a value of that parameter ("not given" / disabled)
    if bad == [1] and "list" in str(param.annotation):
        return  # a list of token ids is a value of that parameter
    if isinstance(bad, bool | np.bool_) and "bool" in str(param.annotation):
        return  # True and False are the values of a yes/no switch (do_sample)
    with pytest.raises(spec.InvalidParameter) as e:  # never a TypeError from comparing 'x' > 0
        presets.PRESETS[preset](**{param.name: bad})
    assert e.value.name == param.name and f"{param.name}=" in str(e.value)


@pytest.mark.parametrize("make, name", [
    (lambda: presets.hf(min_tokens_to_keep=0), "min_tokens_to_keep"),
    (lambda: presets.hf(min_tokens_to_keep=-1, top_k=0), "min_tokens_to_keep"),
    (lambda: presets.hf(top_k=5.0), "top_k"),
    (lambda: presets.vllm(top_k=-2), "top_k"),
    (lambda: presets.vllm(temperature=-0.5), "temperature"),
    (lambda: presets.llama_cpp(min_keep=-5), "min_keep"),
    (lambda: presets.llama_cpp(temp=0, top_p=-0.1), "top_p"),
    (lambda: presets.llama_cpp(min_p=float("inf")), "min_p"),
    (lambda: presets.mlx_lm(min_tokens_to_keep=0), "min_tokens_to_keep"),
    (lambda: presets.mlx_lm(top_k=-1), "top_k"),
    (lambda: presets.tiny_llm(top_k=-1), "top_k"),
    (lambda: presets.tiny_llm(temp=1.0, top_p=1.5), "top_p"),
    (lambda: presets.reference(top_k=0), "top_k"),
    (lambda: presets.reference(temperature=0, top_p=0.0), "top_p"),  # greedy still checks its filters
    (lambda: presets.hf(temperature=10**400), "temperature"),  # an int too large for a float
])
def test_contradictory_parameters_raise_invalid_parameter_naming_the_parameter(make, name):
    with pytest.raises(spec.InvalidParameter) as e:
        make()
    assert e.value.name == name and str(e.value).startswith(f"{name}=") and "expected" in str(e.value)


def test_llama_cpp_greedy_ties_follow_the_sorted_candidate_order():
    # temp <= 0 keeps the first maximum of the candidate array, which top-k / top-p have sorted
    row = [2.0, 2.0, 1.0, 0.5, -1.0]
    assert presets.llama_cpp(temp=0) == spec.Pipeline((spec.Temperature(0, ties="any"),), "llama_cpp")
    assert np.flatnonzero(spec.target(row, presets.llama_cpp(temp=0)).allowed).tolist() == [0, 1]
    assert np.flatnonzero(spec.target(row, presets.llama_cpp(temp=0, top_k=0, top_p=0.5)).allowed).tolist() == [0, 1]
    unsorted = presets.llama_cpp(temp=0, top_k=0, top_p=1.0)  # min-p alone filters in place
    assert unsorted.steps == (spec.Temperature(0),)
    assert np.flatnonzero(spec.target(row, unsorted).allowed).tolist() == [0]
    # min-p sorts when fewer than min_keep tokens pass it
    sorts = presets.llama_cpp(temp=0, top_k=0, top_p=1.0, min_p=0.5, min_keep=3)
    assert np.flatnonzero(spec.target(row, sorts).allowed).tolist() == [0, 1]


def test_llama_cpp_top_k_ignores_min_keep():
    # llama_sampler_init_top_k(top_k) takes no min_keep (src/llama-sampler.cpp)
    assert presets.llama_cpp(temp=1.0, top_k=2, min_keep=5, top_p=1.0, min_p=0.0).steps[0] == spec.TopK(2, ties="any")


def test_mlx_lm_top_p_ties_depend_on_the_version():
    assert presets.mlx_lm(temp=1, top_p=0.9).steps[0].ties == "all"
    for version in ("0.32.2", "mlx-lm 0.32.2", "mlx_lm==0.20.0", "0.20", "1.0"):
        assert presets.mlx_lm(temp=1, top_p=0.9, version=version).steps[0].ties == "all"
    for version in ("0.19", "0.19.3", "v0.18", "mlx-lm 0.19"):
        assert presets.mlx_lm(temp=1, top_p=0.9, version=version).steps[0].ties == "any"
    # the old sort-based form splits a tie group straddling the cut: [0.4, 0.3, 0.3] at p = 0.5
    row = np.log([0.4, 0.3, 0.3])
    old, new = (spec.target(row, presets.mlx_lm(temp=1, top_p=0.5, version=v)) for v in ("0.19", None))
    assert new.support.all() and not new.boundary.any()
    assert old.allowed.all() and old.boundary[1:].all()


@pytest.mark.parametrize("preset", ["mlx_lm", "tiny_llm"])
@pytest.mark.parametrize("version", ["latest", "", "0.x", "1.2.3.4", "tiny 0.1", 19, 0.19])
def test_version_must_be_a_release_string(preset, version):
    with pytest.raises(spec.InvalidParameter, match="version="):
        presets.PRESETS[preset](version=version)


def test_engine_versions_name_every_preset_and_the_pinned_releases():
    """A preset models a fixed release, the one tests/constraints.txt pins: what is installed may
    differ (a user's newer engine), and that is a report line (presets.drift), not a test failure."""
    assert set(presets.ENGINE_VERSIONS) == set(presets.PRESETS)
    pins = dict(line.split("==") for line in (ROOT / "tests" / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for preset, (package, release) in presets.MODELLED.items():
        assert presets.ENGINE_VERSIONS[preset] == f"{package} {release}" and pins[package] == release
    assert "llama-sampler.cpp" in presets.llama_cpp.__doc__ and "0.32.2" in presets.mlx_lm.__doc__
    assert pins["z3-solver"] == Z3_MEASURED  # the proofs' verdicts and rlimit figures (summary.json records both)


def test_drift_between_the_modelled_and_the_installed_release_is_said(monkeypatch):
    import importlib.metadata
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "5.25.0" if name == "transformers" else real(name))
    line = presets.drift("hf")
    assert line.startswith("preset hf models transformers 5.24.0, installed 5.25.0: DRIFT")
    from zoo import CORRECT
    top_p = CORRECT[0]  # a correct numpy top-p sampler under the hf preset (one run at ALPHA_RUN)
    report = spec.validate(top_p.black_box(), top_p.pipeline, profile="quick", alpha=ALPHA_RUN)
    assert report.release == line and f"  {line}" in str(report).splitlines()[:5]
    assert presets.drift("vllm") is None and presets.drift("custom") is None
    assert presets.canonical("transformers") == presets.canonical("Hugging Face") == "hf"  # the engine's name works


def test_tiny_llm_top_k_may_equal_the_vocabulary_but_not_exceed_it():
    z = np.zeros(4)
    step = presets.tiny_llm(temp=1.0, top_k=4).steps[0]
    assert step == spec.TopK(4, ties="any", over_vocab="error_above")
    assert not step.rejects(4) and step.rejects(3)
    assert spec.target(z, presets.tiny_llm(temp=1.0, top_k=4)).support.all()  # argpartition kth = V - 1
    with pytest.raises(spec.InvalidParameter, match=r"top_k=5 .*\[1, 4\]"):
        spec.target(z, presets.tiny_llm(temp=1.0, top_k=5))
    with pytest.raises(spec.InvalidParameter, match=r"top_k=4 .*\[1, 3\]"):  # mlx-lm: k = V raises too
        spec.target(z, presets.mlx_lm(temp=1.0, top_k=4))


# --- temperature scaling is exact or refuses; bad arguments are named ----------------------------

@pytest.mark.parametrize(("row", "temperature", "expected"), [
    ([2.0, 1.0, -1.0], 1e-308, [1.0, 0.0, 0.0]),  # z / t overflows to inf - inf = NaN if scaled naively
    ([1e307, 0.0], 0.01, [1.0, 0.0]),
    ([5.0, 5.0, -3.0], 1e-300, [0.5, 0.5, 0.0]),
])
def test_tiny_temperatures_give_the_exact_limit(row, temperature, expected):
    t = spec.target(np.array(row), presets.hf(temperature=temperature, top_k=0))
    assert t.probs.tolist() == expected


def test_bad_target_and_pipeline_arguments_are_named():
    with pytest.raises(spec.InvalidParameter, match="tol"):
        spec.target(np.array([1.0, 0.0]), presets.reference(), tol=(0, 0))
    with pytest.raises(spec.InvalidParameter, match="tolerance.logit"):
        spec.Tolerance(-1.0, 0.0)
    with pytest.raises(spec.InvalidParameter, match="steps"):
        spec.Pipeline(steps=None)

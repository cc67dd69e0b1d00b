"""Meta-tests of `spec.strategies`: the Hypothesis strategies generate what their docstrings
promise. Invariants are checked with @given, existence of each hard case with `hypothesis.find`;
both run derandomized (conftest.py and FIND below), so the examples are the same on every run."""

import numpy as np
import pytest
from hypothesis import find, given, settings

from spec.rows import VOCAB
from spec.strategies import (
    _well_separated,
    huge_rows,
    llm_like,
    logit_rows,
    low_precision_grid,
    one_finite,
    rows_with_neg_inf,
    tie_free_rows,
    tied_rows,
)

FIND = settings(derandomize=True, database=None, max_examples=2_000)


def finite(row: np.ndarray) -> np.ndarray:
    return row[np.isfinite(row)]


def has_ties(row: np.ndarray) -> bool:
    return np.unique(finite(row)).size < finite(row).size


def assert_valid_row(row, max_size):
    """A 1-D float64 row of 1..max_size entries, a finite one among them, no NaN, no +inf."""
    assert isinstance(row, np.ndarray) and row.ndim == 1 and row.dtype == np.float64
    assert 1 <= row.size <= max_size
    assert np.isfinite(row).any()
    assert not np.isnan(row).any()
    assert not np.isposinf(row).any()


# --- invariants --------------------------------------------------------------------------------

@settings(max_examples=400)
@given(row=logit_rows())
def test_logit_rows_are_valid(row):
    """logit_rows(): every row has a finite entry, and none has a NaN or a +inf."""
    assert_valid_row(row, VOCAB)


@settings(max_examples=200)
@given(row=logit_rows(max_size=8, llm_max_size=100))
def test_logit_rows_respect_the_sizes(row):
    """logit_rows(max_size, llm_max_size): no row is longer than the larger of the two."""
    assert_valid_row(row, 100)


@pytest.mark.parametrize("strategy", [tied_rows, rows_with_neg_inf, one_finite, huge_rows, low_precision_grid],
                         ids=lambda s: s.__name__)
def test_each_component_is_valid_and_respects_max_size(strategy):
    """Each component: valid rows (a finite entry, no NaN, no +inf) of at most max_size entries."""

    @settings(max_examples=150)
    @given(row=strategy(max_size=12))
    def check(row):
        assert_valid_row(row, 12)

    check()


@settings(max_examples=200)
@given(row=low_precision_grid())
def test_low_precision_grid_values_are_float16(row):
    """low_precision_grid(): every value is exactly representable in float16."""
    np.testing.assert_array_equal(row.astype(np.float16).astype(np.float64), row)


@settings(max_examples=300)
@given(row=tie_free_rows())
def test_tie_free_rows_have_no_ties(row):
    """tie_free_rows(): finite values pairwise at least 1e-6 (relative to the largest magnitude)
    apart, so no two are equal, and no two equal after exponentiation unless both underflow."""
    assert_valid_row(row, VOCAB)
    values = np.sort(finite(row))
    scale = max(1.0, float(np.abs(values).max()))
    assert values.size < 2 or np.diff(values).min() > 1e-6 * scale
    weights = np.exp(values - values.max())
    nonzero = weights[weights > 0]
    assert np.unique(nonzero).size == nonzero.size


# --- the hard cases occur ----------------------------------------------------------------------

HARD_CASES = {
    "ties among finite values": has_ties,
    "-inf entries": lambda r: bool(np.isneginf(r).any()),
    "several -inf entries": lambda r: int(np.isneginf(r).sum()) >= 3,
    "a single finite entry in a longer row": lambda r: r.size >= 2 and finite(r).size == 1,
    "magnitudes >= 1e29": lambda r: float(np.abs(finite(r)).max()) >= 1e29,
    "magnitudes >= 1e7 but < 1e9": lambda r: 1e7 <= float(np.abs(finite(r)).max()) < 1e9,
    "non-integer float16 values with over 8 significant bits (not bfloat16)":
        lambda r: bool(((r != np.round(r)) & (np.frexp(r)[0] * 256 != np.round(np.frexp(r)[0] * 256))).any()),
    "a vocabulary over 100,000": lambda r: r.size > 100_000,
}


@pytest.mark.parametrize("case", list(HARD_CASES))
def test_logit_rows_generate_the_hard_case(case):
    """logit_rows() generates each hard case its docstring names (Hypothesis `find`)."""
    row = find(logit_rows(), HARD_CASES[case], settings=FIND)
    assert_valid_row(row, VOCAB)
    assert HARD_CASES[case](row)


def test_low_precision_grid_generates_bfloat16_rows():
    """low_precision_grid() also generates rows on the bfloat16 grid (8 significant bits) that are
    not integers, besides float16 rows with more bits."""

    def bfloat16_non_integer(row):
        mantissa = np.frexp(row)[0] * 256
        return row.size >= 2 and (mantissa == np.round(mantissa)).all() and (row != np.round(row)).any()

    row = find(low_precision_grid(), bfloat16_non_integer, settings=FIND)
    assert bfloat16_non_integer(row)


def test_llm_like_rows_look_like_a_language_model():
    """llm_like(): LLM-shaped rows (a leading token well above a normal body) of any size up to
    max_size, and finite everywhere."""
    row = find(llm_like(), lambda r: r.size > 50_000, settings=FIND)
    assert np.isfinite(row).all()
    body = np.median(row)
    assert row.max() - body > 15  # the leading token is 18-26 above the body (sd 3)
    assert 2 < np.std(row) < 4

    @settings(max_examples=100)
    @given(row=llm_like(max_size=300))
    def check(row):
        assert 2 <= row.size <= 300 and np.isfinite(row).all()

    check()


def test_tie_free_rows_still_have_neg_inf_repeats_and_huge_values():
    """tie_free_rows(): -inf entries may repeat, and huge magnitudes and LLM rows (to 4,096) occur.
    The LLM rows are looked for in their own branch (the same strategy and filter tie_free_rows uses):
    Hypothesis (>= 6.131) biases its draws with constants read from this project's source, so
    whether 2,000 examples of the whole mix reach a 1,000-token row moved with unrelated changes."""
    assert int(np.isneginf(find(tie_free_rows(), lambda r: np.isneginf(r).sum() >= 2, settings=FIND)).sum()) >= 2
    assert np.abs(finite(find(tie_free_rows(), lambda r: np.abs(finite(r)).max() >= 1e29, settings=FIND))).max() >= 1e29
    assert "llm_like(max_size=4096).filter(_well_separated)" in repr(tie_free_rows())
    big = find(llm_like(4096).filter(_well_separated), lambda r: r.size > 1_000, settings=FIND)
    assert big.size > 1_000

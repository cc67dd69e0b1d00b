"""Meta-tests of the validator's shrinker (`spec.validator.shrink.shrink`): delta debugging of
(B, V) rows with a deterministic oracle. Everything here is exact (no randomness but Hypothesis,
which runs derandomized)."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spec.validator.shrink import shrink


class Recorder:
    """An oracle that records every call (a copy of its rows, and its ids)."""

    def __init__(self, fails, with_ids=False):
        self.fails, self.with_ids, self.calls = fails, with_ids, []

    def __call__(self, rows, ids=None):
        assert isinstance(rows, np.ndarray) and rows.ndim == 2
        self.calls.append((rows.copy(), None if ids is None else list(ids)))
        return self.fails(rows, ids) if self.with_ids else self.fails(rows)


def big_and_small(rows):
    """The example oracle: every row has a value > 5 and a value < -5."""
    return bool(((rows > 5).any(axis=1) & (rows < -5).any(axis=1)).all())


def roundings(x: float) -> set[float]:
    """The values the shrinker may replace x with: itself or a rounding to 0, 1 or 3 decimals."""
    return {x} | {round(x, d) + 0.0 for d in (0, 1, 3)}


def is_one_minimal(rows, fails) -> bool:
    """No single column can be removed with the oracle still holding and a finite entry per row."""
    for k in range(rows.shape[1]):
        rest = np.delete(rows, k, axis=1)
        if rest.shape[1] and np.isfinite(rest).any(axis=1).all() and fails(rest):
            return False
    return True


ROW = np.array([[0.3, -1.2, 7.3, 2.2, 4.9, -0.1, 6.6, 1.1, -3.3, -6.8, 0.4, -9.1, 2.5, 3.7, -4.4, 0.9]])


def test_removes_columns_to_a_one_minimal_row():
    """Column removal: the result satisfies the oracle, has 2 columns for 'a value > 5 and a value
    < -5' (the fewest possible) and is 1-minimal: removing any single column breaks the oracle."""
    out = shrink(ROW, big_and_small)
    assert out.shape == (1, 2)
    assert big_and_small(out)
    assert is_one_minimal(out, big_and_small)


def test_values_are_rounded_when_the_oracle_still_holds():
    """Simplification: values become integers (or 1 / 3 decimals) when the oracle still holds."""
    out, ids = shrink(ROW, lambda r, i: big_and_small(r), with_ids=True)
    for k, token in enumerate(ids):
        assert out[0, k] == round(ROW[0, token])  # 7.3 -> 7.0, -6.8 -> -7.0, ...
    assert not np.signbit(shrink(np.array([[-0.3]]), lambda r: True)).any()  # rounds to 0.0, not -0.0


def test_values_are_kept_when_rounding_breaks_the_oracle():
    """Simplification only when the oracle still holds: a value the oracle needs exactly survives
    unchanged, one that may only be rounded to a decimal is rounded to 1 decimal, not to 0."""
    row = np.array([[2.71828, 3.14159, 9.87654, 0.5]])

    def fails(r):
        return (r == 3.14159).any() and (r > 9.8).any() and ((r > 2.65) & (r < 2.95)).any()

    out, ids = shrink(row, lambda r, i: fails(r), with_ids=True)
    assert fails(out)
    assert ids == [0, 1, 2]
    assert out.tolist() == [[2.7, 3.14159, 10.0]]


def test_with_ids_returns_the_original_ids_of_the_kept_columns():
    """with_ids: the oracle gets (rows, ids) with ids naming, in order, the original column of each
    column it gets; the returned ids name the kept columns (custom ids are carried through)."""
    row = np.arange(20.0)[None]
    custom = [100 + 7 * k for k in range(20)]
    oracle = Recorder(lambda r, ids: 121 in ids and 205 in ids, with_ids=True)
    out, ids = shrink(row, oracle, ids=custom, with_ids=True)
    assert ids == [121, 205]
    np.testing.assert_array_equal(out, row[:, [3, 15]])
    for rows, call_ids in oracle.calls:
        assert call_ids == sorted(call_ids) and len(call_ids) == rows.shape[1]
        np.testing.assert_array_equal(rows, row[:, [custom.index(i) for i in call_ids]])
    out_default, ids_default = shrink(row, lambda r, ids: 3 in ids and 15 in ids, with_ids=True)
    assert ids_default == [3, 15]


def test_keeps_a_finite_entry_in_every_row():
    """Validity: the shrinker never removes the last finite entry of a row, even when the oracle
    would accept it, and never calls the oracle on such rows."""
    rows = np.array([[1.5, -np.inf, -np.inf, -np.inf, -np.inf, 0.2],
                     [-np.inf, -np.inf, -np.inf, 2.5, -np.inf, -np.inf]])
    oracle = Recorder(lambda r: True)
    out = shrink(rows, oracle)
    assert np.isfinite(out).any(axis=1).all()
    assert out.shape == (2, 2)  # one finite column per row is needed, and enough
    for call, _ in oracle.calls:
        assert np.isfinite(call).any(axis=1).all()


def test_a_batch_shrinks_its_columns_together():
    """Batches: the same columns are removed from every row (B = 2), the oracle sees (2, k) rows
    that are columns of the input, and the result is 1-minimal for a per-row oracle."""
    rows = np.array([[0.1, 7.2, -1.0, 2.0, 0.0, 1.0, -2.5, 3.0, 0.7, 1.0],
                     [1.0, 0.3, 2.0, -0.4, 1.0, -8.6, 0.2, 0.1, 0.6, 4.4]])

    def fails(r):
        return bool((r[0] > 5).any() and (r[1] < -5).any())

    oracle = Recorder(fails, with_ids=False)
    out, ids = shrink(rows, lambda r, i: oracle(r), with_ids=True)
    assert ids == [1, 5]
    assert out.tolist() == [[7.0, 1.0], [0.0, -9.0]]
    for call, _ in oracle.calls:
        assert call.shape[0] == 2


def test_the_oracle_is_never_called_with_an_empty_row():
    """The oracle always gets at least one column, even when it accepts everything."""
    for width in (1, 2, 3, 8, 33):
        oracle = Recorder(lambda r: True)
        out = shrink(np.linspace(-3.3, 4.4, width)[None], oracle)
        assert out.shape == (1, 1)
        assert all(call.shape[1] >= 1 for call, _ in oracle.calls)


def test_input_is_not_mutated():
    """The rows passed in are left as they were."""
    rows = ROW.copy()
    shrink(rows, big_and_small)
    np.testing.assert_array_equal(rows, ROW)


def test_deterministic():
    """Same input, same oracle: same output and the same sequence of oracle calls."""
    runs = []
    for _ in range(2):
        oracle = Recorder(big_and_small)
        out = shrink(ROW, oracle)
        runs.append((out, oracle.calls))
    (out_a, calls_a), (out_b, calls_b) = runs
    np.testing.assert_array_equal(out_a, out_b)
    assert len(calls_a) == len(calls_b)
    for (a, _), (b, _) in zip(calls_a, calls_b, strict=True):
        np.testing.assert_array_equal(a, b)


entries = st.one_of(st.floats(-12, 12), st.just(-np.inf))


@st.composite
def batches(draw):
    b = draw(st.integers(1, 3))
    v = draw(st.integers(1, 24))
    rows = np.array(draw(st.lists(st.lists(entries, min_size=v, max_size=v), min_size=b, max_size=b)))
    for r in range(b):  # the shrinker's input has a finite entry per row
        if not np.isfinite(rows[r]).any():
            rows[r, draw(st.integers(0, v - 1))] = draw(st.floats(-12, 12))
    return rows


ORACLES = {
    "big and small in every row": big_and_small,
    "some entry > 4": lambda r: bool((r > 4).any()),
    "at least three -inf": lambda r: int(np.isneginf(r).sum()) >= 3,
    "row 0 sums above 10 over finite entries": lambda r: float(r[0][np.isfinite(r[0])].sum()) > 10,
}


@settings(max_examples=300)
@given(rows=batches(), name=st.sampled_from(sorted(ORACLES)))
def test_shrink_properties_on_generated_rows(rows, name):
    """On any rows and oracle: the result satisfies the oracle, keeps a subsequence of the columns
    (values equal to the original or to a rounding of it), a finite entry per row, and the oracle
    was never called on an empty row or one without a finite entry."""
    fails = ORACLES[name]
    assume(fails(rows))
    oracle = Recorder(fails)
    out, ids = shrink(rows, lambda r, i: oracle(r), with_ids=True)
    assert fails(out)
    assert out.shape == (rows.shape[0], len(ids)) and len(ids) >= 1
    assert ids == sorted(set(ids)) and set(ids) <= set(range(rows.shape[1]))
    for b, k in np.ndindex(*out.shape):
        original = float(rows[b, ids[k]])
        assert out[b, k] in roundings(original) or (np.isneginf(original) and np.isneginf(out[b, k]))
    assert np.isfinite(out).any(axis=1).all()
    for call, _ in oracle.calls:
        assert call.shape[0] == rows.shape[0] and call.shape[1] >= 1
        assert np.isfinite(call).any(axis=1).all()
    if name != "row 0 sums above 10 over finite entries":  # rounding cannot make a removal possible
        assert is_one_minimal(out, fails)

"""Hypothesis strategies for logits that hit the hard cases, for reuse in any test suite.

`logit_rows()` mixes: ties (few distinct values), -inf entries, a single finite entry, huge
magnitudes, values on the float16 / bfloat16 grid, and LLM-like rows (a few peaks over a
normal body) up to a vocabulary of 151,936. Every row has at least one finite entry.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from spec.rows import VOCAB, llm_logits


@st.composite
def tied_rows(draw, max_size=64):
    values = draw(st.lists(st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]), min_size=1, max_size=max_size))
    return np.array(values)


@st.composite
def rows_with_neg_inf(draw, max_size=64):
    row = draw(st.lists(st.floats(-20, 20), min_size=1, max_size=max_size))
    mask = draw(st.lists(st.booleans(), min_size=len(row), max_size=len(row)))
    out = np.where(mask, -np.inf, np.array(row))
    out[draw(st.integers(0, len(row) - 1))] = row[0]  # at least one finite entry
    return out


@st.composite
def one_finite(draw, max_size=64):
    size = draw(st.integers(1, max_size))
    out = np.full(size, -np.inf)
    out[draw(st.integers(0, size - 1))] = draw(st.floats(-1e4, 1e4))
    return out


@st.composite
def huge_rows(draw, max_size=32):
    scale = draw(st.sampled_from([1e4, 1e8, 1e30]))
    values = draw(st.lists(st.floats(-1, 1), min_size=1, max_size=max_size))
    return np.array(values) * scale


@st.composite
def low_precision_grid(draw, max_size=64):
    """Values exactly representable in float16 (and, for 'bfloat16', on its coarser grid)."""
    values = np.array(draw(st.lists(st.floats(-30, 30, width=16), min_size=1, max_size=max_size)), dtype=np.float64)
    if draw(st.booleans()):  # bfloat16: keep 8 significant bits
        mantissa, exponent = np.frexp(values)
        values = np.ldexp(np.round(mantissa * 256) / 256, exponent)
    return values


@st.composite
def llm_like(draw, max_size=VOCAB):
    """A language model's row (`spec.rows.llm_logits`) of any size up to max_size."""
    size = draw(st.integers(2, max_size))
    return llm_logits(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), 1, size)[0]


def logit_rows(max_size: int = 64, llm_max_size: int = VOCAB):
    return st.one_of(tied_rows(max_size), rows_with_neg_inf(max_size), one_finite(max_size),
                     huge_rows(max_size), low_precision_grid(max_size), llm_like(llm_max_size))


def _well_separated(row) -> bool:
    finite = np.sort(row[np.isfinite(row)])
    scale = max(1.0, float(np.abs(finite).max()))
    return finite.size < 2 or float(np.diff(finite).min()) > 1e-6 * scale


def tie_free_rows(max_size: int = 64):
    """Rows whose finite values are pairwise at least 1e-6 (relative) apart: no ties, and no
    near-ties that become ties once exponentiated. -inf entries may repeat."""
    return logit_rows(max_size, llm_max_size=4096).filter(_well_separated)

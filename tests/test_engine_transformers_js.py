"""transformers.js (spec/engines/transformers_js.py, through the node bridge): its conformance grid conforms
but for its documented deviations (top_p, typical_p, epsilon_cutoff and eta_cutoff are documented and
ignored by generate()), the logits-table model gives back its rows bit for bit, and a seed reproduces
while no seed does not (the grid's "no seed" row checks across calls and new processes). Skipped without
node or the npm packages (`python -m spec.engines.node install`).

False alarms: the grid's run uses alpha = ALPHA_RUN per row (tests/validating.py counts them)."""

import numpy as np
import pytest

from spec.engines import transformers_js
from spec.engines.node import bridge
from spec.tables import transformers_js as tables
from tests.validating import run_grid

pytestmark = pytest.mark.skipif(not transformers_js.ENGINE.installed(),
                                reason="node or @huggingface/transformers not installed "
                                       "(python -m spec.engines.node install)")


@pytest.fixture(scope="module", autouse=True)
def node():
    yield
    bridge.stop()


def test_the_transformers_js_grid_conforms_but_for_the_documented_parameters_it_ignores():
    run_grid("transformers.js", "@huggingface/transformers 4.")


def test_the_table_model_gives_back_its_rows_bit_for_bit(tmp_path):
    table = np.random.default_rng(7).normal(0, 3, size=(8, 8)).astype(np.float32)
    table[2, [0, 5]] = -np.inf
    directory = str(tables.write(table, tmp_path / "model"))
    for ids in ([2], [0, 1], [5, 7, 3], [2, 2, 6]):
        logits = bridge.call("transformers_js", "forward", model=directory, ids=ids)
        assert logits.dtype == np.float32 and logits.tobytes() == table[ids[-1]].tobytes(), ids


def test_top_p_typical_p_and_the_cutoffs_change_nothing_generate_samples_from():
    rows = np.random.default_rng(1).normal(0, 2, size=(4, 32)).astype(np.float32)
    plain = transformers_js.sampler(do_sample=True, temperature=0.7, top_k=0)
    for extra in ({"top_p": 0.5}, {"typical_p": 0.5}, {"epsilon_cutoff": 0.05}, {"eta_cutoff": 0.01}):
        narrowed = transformers_js.sampler(do_sample=True, temperature=0.7, top_k=0, **extra)
        assert np.array_equal(narrowed.filter(rows), plain.filter(rows))
        assert np.array_equal(narrowed.draw(rows, seed=11), plain.draw(rows, seed=11))


def test_a_seed_reproduces_and_no_seed_does_not():
    rows = np.zeros((64, 50), dtype=np.float32)  # uniform: 64 draws agree by chance with probability 50**-64
    draw = transformers_js.sampler(do_sample=True, top_k=0).draw
    assert np.array_equal(draw(rows, seed=5), draw(rows, seed=5))
    assert not np.array_equal(draw(rows, seed=5), draw(rows, seed=6))
    assert not np.array_equal(draw(rows), draw(rows))

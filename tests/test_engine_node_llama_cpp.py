"""node-llama-cpp (spec/engines/node_llama_cpp.py: its sampler on a GGUF logits-table model through the
node bridge), validated against the node_llama_cpp preset. Skipped without node, the npm package
(`python -m spec.engines.node install`) or the `gguf` Python package.

False alarms: each validation run uses alpha = ALPHA_RUN (counted in tests/validating.py); the
no-seed check's false-alarm bound is exact (spec.validator.unseeded) and at most ALPHA_RUN.
"""

import numpy as np
import pytest
from validating import ALPHA_RUN, run_grid

pytest.importorskip("gguf")
from spec.engines.node import bridge  # noqa: E402

if not bridge.installed("node-llama-cpp"):
    pytest.skip(f"node-llama-cpp is not installed ({bridge.INSTALL})", allow_module_level=True)

from spec import presets  # noqa: E402
from spec.engines import conformance, node_llama_cpp  # noqa: E402
from spec.tables import gguf  # noqa: E402
from spec.validator.generation import validate_generation  # noqa: E402
from spec.validator.unseeded import unseeded  # noqa: E402

GRID = {c.label: c for c in node_llama_cpp.ENGINE.configs}


def test_the_table_model_gives_back_its_rows_bit_for_bit():
    rng = np.random.default_rng(7)
    rows = rng.normal(0, 3, (5, 40)).astype(np.float32)
    rows[0, :3] = [-np.inf, 1e30, -3e38]  # -inf (stored as -1e30) and the float32 extremes
    rows[1] = np.float32(2.0) ** rng.integers(-126, 127, 40)  # every binade
    rows[2, 5:] = -np.inf
    out = node_llama_cpp.sampler(temperature=1.0, topK=0, topP=1.0).filter(rows)  # no filter, temperature 1
    assert out.dtype == np.float32 and np.array_equal(out, rows)


def test_the_table_model_needs_its_byte_tokens_and_unique_pieces():
    pieces, types = gguf.vocabulary(10)
    assert len(set(pieces)) == len(pieces) == 10 + gguf.EXTRA
    assert [pieces[10 + b] for b in (0, 10, 255)] == ["<0x00>", "<0x0A>", "<0xFF>"] and types[10:266] == [6] * 256
    assert gguf.hidden_size(5) == 16 and gguf.hidden_size(16) == 16 and gguf.hidden_size(17) == 64
    with pytest.raises(ValueError, match="NaN"):
        gguf.stored(np.array([[0.0, np.nan]]))


def test_with_no_seed_node_llama_cpp_repeats_its_draws_within_a_second():
    """Its documented deviation: with no seed the seed is the wall-clock second, so two calls in
    one second draw the same tokens. Six calls (about 0.1 s each) span fewer than 5 seconds, so
    two of them share one (the check's false-alarm bound is exact and <= ALPHA_RUN)."""
    config = GRID["no seed: temperature 0.7 + top-p 0.9"]
    pipeline = presets.PRESETS["node_llama_cpp"](**config.params)
    report = unseeded(node_llama_cpp.sampler(**config.params), pipeline, alpha=ALPHA_RUN, calls=6)
    assert config.known and [f.check for f in report.failures] == ["unseeded: fresh draws per call"], report.failures


def test_a_seed_fixes_the_draws_with_or_without_parallel_sequences():
    """The handler seeds each batch of draws from the key; node-llama-cpp then reproduces them, and
    four sequences decoded in one batch with four samplers at once draw what one sequence draws."""
    rows = np.tile(np.log([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]]), (3000, 1))
    one = node_llama_cpp.sampler(temperature=1.0, topK=0, topP=1.0)
    four = node_llama_cpp.sampler(temperature=1.0, topK=0, topP=1.0, sequences=4)
    a = one.draw(rows, seed=11)
    assert np.array_equal(a, one.draw(rows, seed=11)) and np.array_equal(a, four.draw(rows, seed=11))
    assert not np.array_equal(a, one.draw(rows, seed=12))


def test_its_generation_loop_samples_the_joint_of_two_tokens():
    """evaluateWithMetadata end to end on the table model (what conformance's loop rows cannot run
    yet: they take the loop's log-probabilities as processed, and this loop reports the final ones)."""
    params = {"temperature": 0.8, "topP": 0.9, "repeatPenalty": {"penalty": 1.3}, "tokenBias": {4: 1.5}}
    loop, next_logits = node_llama_cpp.generation("evaluate", **params)
    report = validate_generation(loop, next_logits, conformance.PROMPT, presets.PRESETS["node_llama_cpp"](**params),
                                 yields="final", profile="quick", alpha=ALPHA_RUN)
    assert report.passed, report.failures


def test_in_its_generation_loop_xtc_couples_consecutive_tokens():
    """The XTC row's known deviation, end to end: token n's draw and token n + 1's XTC coin come from
    the same generator word, so the joint of two generated tokens is off (found at p ~ 1e-39)."""
    params = {"temperature": 1.0, "xtc": node_llama_cpp.XTC}
    loop, next_logits = node_llama_cpp.generation("evaluate", **params)
    report = validate_generation(loop, next_logits, conformance.PROMPT, presets.PRESETS["node_llama_cpp"](**params),
                                 yields="none", profile="quick", alpha=ALPHA_RUN)
    assert GRID["XTC 0.5 (threshold 0.1)"].known and [f.check for f in report.failures] == ["generation: statistics"]


@pytest.mark.slow
def test_the_conformance_grid_of_node_llama_cpp_conforms_but_for_its_documented_deviations():
    """About 5 minutes at the quick profile on 2 busy cores (node-llama-cpp samples each draw in its
    own async worker: about 0.2 ms a draw), so it is marked slow."""
    run_grid("node-llama-cpp", "node-llama-cpp 3.")

"""onnxruntime-genai (spec/engines/onnxruntime_genai.py): its grid conforms to the onnxruntime_genai preset but
for its documented deviation (the pure-nucleus path keeps extra tokens above 64 tokens), the unseeded row
included (fresh draws per call and per new process); the ONNX logits-table model (spec/tables/onnx.py)
gives back its rows bit for bit through the engine, KV cache included; the engine's generation loop with a
repetition penalty samples the spec's joint, and not the joint of a penalty that counts only the output.
CI runs this file on every landing (about a minute). Skipped without onnxruntime-genai
(pip install onnxruntime-genai: no torch).

False alarms: each validation run that must pass uses alpha = ALPHA_RUN (counted in tests/validating.py);
the grid gets ALPHA_RUN per row.
"""

import numpy as np
import pytest

import spec
from spec import presets
from spec.tables import onnx as tables
from spec.transforms import Pipeline, RepetitionPenalty, Temperature, TopK
from spec.validator.generation import validate_generation
from tests.validating import ALPHA_RUN, run_grid

og = pytest.importorskip("onnxruntime_genai")

from spec.engines import onnxruntime_genai as ort  # noqa: E402


def test_the_onnxruntime_genai_grid_conforms_but_for_its_nucleus_bound():
    configs, rows = run_grid("onnxruntime-genai", "onnxruntime-genai 0.")
    nucleus = next(r for r, c in zip(rows, configs, strict=True) if c.known)
    assert nucleus.check.startswith("structure: support")
    assert any(c.unseeded for c in configs) and any(c.loop for c in configs)


def _draws(vocab: int, row: np.ndarray, runs: int, **options) -> np.ndarray:
    """`runs` seeded draws of the engine's search on one row (32 rows per generator)."""
    draw = ort.sampler(**options)
    return draw.draw(np.tile(row.astype(np.float32), (runs, 1)), seed=7)


def test_the_pure_nucleus_is_exact_up_to_64_tokens_and_keeps_extra_tokens_above():
    """FindNucleus (src/sampling_distribution.h) computes the exact cut only for V <= 64. Logits 3 and
    0, the rest -inf: the nucleus at top_p 0.9 is the first token alone (p = 0.953), which the engine
    keeps alone at V = 64; at V = 65 its bound (V - 1) * p_0 on the tail does not stop it there, and
    it keeps the second token too (p = 0.047: 320 draws miss it with probability 2e-7)."""
    options = dict(do_sample=True, top_k=0, top_p=0.9)
    for vocab, outside in ((64, False), (65, True)):
        row = np.full(vocab, -np.inf)
        row[:2] = 3.0, 0.0
        assert np.flatnonzero(spec.target(row, presets.onnxruntime_genai(**options)).support).tolist() == [0]
        tokens = _draws(vocab, row, 320, **options)
        assert (tokens != 0).any() == outside, (vocab, np.bincount(tokens))


def test_the_onnx_table_model_gives_back_its_rows_bit_for_bit(tmp_path):
    """Tokens 0-9 and a pad token 10 (-inf in every row) that no prompt ends with."""
    rng = np.random.default_rng(3)
    table = rng.normal(0.0, 3.0, (11, 11)).astype(np.float32)
    table[:, 10] = -np.inf
    table[2, 5], table[4, :4] = -np.inf, [-0.0, 1e-45, 3.4e38, -1e30]  # -inf, a subnormal, the extremes
    model = og.Model(str(tables.write(table, tmp_path / "table", pad=10)))
    for t in range(10):  # after a prompt ending in t: row t; after one greedy step: the row of that token
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=8)
        generator = og.Generator(model, params)
        generator.append_tokens(np.array([9, 3, t], dtype=np.int32))
        first = generator.get_logits().reshape(-1)
        assert first.tobytes() == table[t].tobytes()
        generator.generate_next_token()  # through the pass-through KV cache
        assert generator.get_logits().reshape(-1).tobytes() == table[int(generator.get_next_tokens()[0])].tobytes()
    generator = og.Generator(model, og.GeneratorParams(model))  # a prompt ending in the pad token:
    generator.append_tokens(np.array([7, 10], dtype=np.int32))  # the logits of its last other token
    assert generator.get_logits().reshape(-1).tobytes() == table[7].tobytes()
    wide = rng.normal(size=(3, 16)).astype(np.float32)  # fewer rows than tokens: row t mod 3
    model = og.Model(str(tables.write(wide, tmp_path / "wide")))
    generator = og.Generator(model, og.GeneratorParams(model))
    generator.append_tokens(np.array([13], dtype=np.int32))
    assert generator.get_logits().reshape(-1).tobytes() == wide[1].tobytes()


def test_the_generate_loop_penalises_prompt_and_output_tokens():
    """The loop's repetition penalty is applied inside generate_next_token, out of sight, so the loop
    is checked on its tokens alone (yields="none"): the first two follow the preset's joint (the
    penalty over prompt and output), and not the joint of a penalty that counts only the output."""
    params = dict(do_sample=True, temperature=0.9, top_k=5, repetition_penalty=1.8)
    model, next_logits = ort.table_model()
    loop = ort.loop(model, **params)
    report = validate_generation(loop, next_logits, [1, 2, 3, 2], presets.onnxruntime_genai(**params),
                                 yields="none", profile="quick", alpha=ALPHA_RUN, seed=4)
    assert report.passed, str(report)
    output_only = Pipeline((RepetitionPenalty(1.8, counts="output"), Temperature(0.9), TopK(5, ties="any")))
    report = validate_generation(loop, next_logits, [1, 2, 3, 2], output_only, yields="none", profile="quick",
                                 alpha=ALPHA_RUN, seed=4)
    assert not report.passed and report.failures[0].check in ("generation: support", "generation: statistics")

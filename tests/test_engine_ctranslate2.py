"""CTranslate2 (spec/engines/ctranslate2.py): its sampler, run by Generator.generate_batch on the
logits-table model (spec/tables/ctranslate2.py), validated against the ctranslate2 preset over the
conformance grid; the table model's exactness; and how its one process-wide seed behaves
(src/random.cc, v4.8.1): no seed draws differently across calls and processes, a seed reproduces a
fresh Generator, re-seeding a Generator that has sampled changes nothing, and parallel workers
share one random stream.
Skipped without the ctranslate2 package (pip, no torch). CI runs this file on every landing.

False alarms: the grid run uses alpha = ALPHA_RUN per row (counted in tests/validating.py); every
other check here compares runs of 16 draws uniform over 1,024 tokens, which a correct engine makes
equal (or unequal where they must be equal) with probability <= 1,024^-8 = 8e-25.
"""

import subprocess
import sys
import tempfile
import threading

import numpy as np
import pytest
from validating import ROOT, run_grid

ct2 = pytest.importorskip("ctranslate2")

from spec.engines import ctranslate2 as engine  # noqa: E402
from spec.tables import ctranslate2 as table_model  # noqa: E402

V = 1_024  # a flat row over V tokens: 16 draws repeat by chance with probability 1,024^-16


def test_the_conformance_grid_of_ctranslate2_conforms_but_for_its_documented_deviation():
    run_grid("ctranslate2", "ctranslate2 4.")


def test_the_table_model_gives_each_row_bit_for_bit_after_its_token():
    rng = np.random.default_rng(1)
    for rows in (np.log([[0.5, 0.25, 0.125, 0.0625, 0.0625], [0.1, 0.45, 0.05, 0.4, 1.0]]),
                 rng.normal(0, 30, (3, 151_936))):
        rows = rows.astype(np.float32)
        rows[-1, -1] = -np.inf  # stored as MASKED
        with tempfile.TemporaryDirectory() as d:
            generator = ct2.Generator(table_model.write(rows, d), intra_threads=1)
            # each row after its own token, and after a longer prefix (only the last token counts)
            out = np.array(generator.forward_batch([[i] for i in range(len(rows))] + [[2, 1, 0]]))
        stored = np.where(np.isneginf(rows), table_model.MASKED, rows)
        assert all(np.array_equal(out[i, 0], stored[i]) for i in range(len(rows)))
        assert np.array_equal(out[-1, 2], stored[0])


@pytest.fixture(scope="module")
def flat():
    with tempfile.TemporaryDirectory() as d:
        yield table_model.write(np.zeros((1, V), np.float32), d)


def draws(generator, n=16, **options):
    """n tokens from the flat row, one per row of one generate_batch call."""
    results = generator.generate_batch([["t0"]] * n, max_length=1, sampling_topk=0, return_end_token=True, **options)
    return [r.sequences_ids[0][1] for r in results]


def fresh(flat, seed, **kw):
    ct2.set_random_seed(seed)
    return ct2.Generator(flat, intra_threads=1, **kw)


def test_a_seed_reproduces_a_fresh_generator_and_no_seed_does_not(flat):
    assert draws(fresh(flat, 7)) == draws(fresh(flat, 7))
    assert draws(fresh(flat, 7)) != draws(fresh(flat, 8))
    unseeded = [draws(fresh(flat, engine.UNSEEDED)) for _ in range(2)]  # std::random_device per thread
    assert unseeded[0] != unseeded[1]


def test_no_seed_draws_differ_across_processes(flat):
    code = ("import sys, ctranslate2 as c; g = c.Generator(sys.argv[1], intra_threads=1); "
            "print([r.sequences_ids[0][1] for r in g.generate_batch([['t0']] * 16, max_length=1, sampling_topk=0)])")
    outs = [subprocess.run([sys.executable, "-c", code, flat], capture_output=True, text=True, timeout=60, cwd=ROOT)
            for _ in range(2)]
    assert all(o.returncode == 0 for o in outs), outs[0].stderr
    assert outs[0].stdout != outs[1].stdout


def test_re_seeding_a_generator_that_has_sampled_changes_nothing(flat):
    """src/random.cc: `static thread_local std::mt19937 generator(get_random_seed())` reads the seed
    once per thread, at its first draw; set_random_seed later does not reach that thread."""
    generator = fresh(flat, 7)
    first = draws(generator)
    ct2.set_random_seed(7)
    assert draws(generator) != first  # the same seed, but the worker's generator just runs on


def test_parallel_workers_draw_the_same_random_numbers(flat):
    """The grid's known deviation shown directly: two workers (inter_threads=2) each take a
    sub-batch of 8 equal rows (max_batch_size=8) and draw the same tokens, which a correct engine
    does with probability 1,024^-8. Which worker takes which sub-batch is a race (on a loaded
    machine one worker can take both), so the step callback, called on the worker's own thread,
    holds the first worker until a second thread has arrived: each sub-batch is then drawn by its
    own worker, every time."""
    threads, arrived = set(), threading.Condition()

    def hold_until_two_workers(step):
        with arrived:
            threads.add(threading.get_ident())
            arrived.notify_all()
            arrived.wait_for(lambda: len(threads) >= 2, timeout=120)
        return False  # go on decoding

    tokens = draws(fresh(flat, 1, inter_threads=2), max_batch_size=8, callback=hold_until_two_workers)
    assert len(threads) == 2
    assert tokens[:8] == tokens[8:]


def test_two_rows_ending_their_histories_with_one_token_are_refused():
    rows = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]], np.float32)
    with pytest.raises(ValueError, match="token 1"):
        engine._layout(rows, [(0, 1), (2, 1)])
    table, rows_of, prompts = engine._layout(rows, [(0, 1), ()])
    assert prompts == [[engine.START, 0, 1], [0]] and rows_of[1] == 0 and rows_of[0] == 1 and len(table) == 2

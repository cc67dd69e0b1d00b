"""What a rule may read besides the scores, and how value rules change named tokens.

Why a module of its own: every rule has the signature rule(x, ids, unfiltered, step, call), and
`Call` is that `call`: the vocabulary size, one `spec.History` per row, one key per row and the
step's index. Penalties and logit bias touch only the tokens they name, a gather and a scatter
into a new array (`_on_tokens`, `_penalize`), with the counted tokens shared by the penalties of
one call (`_counted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mlx.core as mx
import numpy as np

from spec.errors import InvalidParameter
from spec.target import histories
from spec.transforms import History


@dataclass(frozen=True)
class Call:
    """What a rule may read besides the scores: the row's vocabulary size, one History per row,
    one key per row ((B, 2) uint32; None when no step is random and nothing is drawn), and the
    index of the running step in its pipeline (XTC's coin counter)."""

    vocab: int
    histories: tuple[History, ...]
    keys: mx.array | None = None
    index: int = 0
    counted: dict = field(default_factory=dict)  # (counts, window) -> _counted's arrays, for this call


def _call(x: mx.array, single: bool, history, keys) -> Call:
    return Call(x.shape[-1], tuple(histories(history, x.shape[0], single)), keys)


def _wide():
    """float64 where mlx has it (the CPU), for sums whose float32 error would exceed the spec's
    tolerance (the standard deviation of top-n-sigma, the entropy of eta)."""
    return mx.float64 if mx.default_device() == mx.cpu else mx.float32


def _full(x, ids, vocab: int):
    """Gathered candidates back on the whole row (dropped tokens -inf)."""
    if ids is None:
        return x
    return mx.put_along_axis(mx.full((x.shape[0], vocab), -mx.inf, dtype=x.dtype), ids.astype(mx.int32), x, -1)


def _on_tokens(x, ids, unfiltered, call: Call, change):
    """Apply a value change (a new array, never in place) to the scores and the unfiltered
    scores, as the spec's `_change` does; the scores come back on the whole row."""
    same = ids is None and unfiltered is x
    x = change(_full(x, ids, call.vocab))
    return x, None, (x if same else change(unfiltered))


def _counted(call: Call, counts: str, window):
    """(ids (B, m) int32, occurrences (B, m) float32) of the tokens a penalty counts in each row,
    each id once. Short rows are padded with a copy of their first entry (the same token written
    twice with the same value), empty rows with token 0 and 0 occurrences (left unchanged).
    None when no row has seen anything."""
    if (counts, window) in call.counted:  # several penalties of one engine count the same tokens
        return call.counted[counts, window]
    rows, done = [], {}
    for h in call.histories:
        if id(h) not in done:  # a batch often repeats one History object
            ids, occurrences = np.unique(np.asarray(h.seen(counts, window), dtype=np.int64), return_counts=True)
            if ids.size and ids[-1] >= call.vocab:
                raise InvalidParameter("history", int(ids[-1]),
                                       f"token ids in [0, {call.vocab}) (the row's vocabulary)")
            done[id(h)] = ids, occurrences
        rows.append(done[id(h)])
    width = max(ids.size for ids, _ in rows)
    if width == 0:
        call.counted[counts, window] = None
        return None
    idx = np.zeros((len(rows), width), dtype=np.int32)
    occ = np.zeros((len(rows), width), dtype=np.float32)
    for b, (ids, occurrences) in enumerate(rows):
        if ids.size:
            idx[b], occ[b] = ids[0], occurrences[0]
            idx[b, : ids.size], occ[b, : ids.size] = ids, occurrences
    call.counted[counts, window] = mx.array(idx), mx.array(occ)
    return call.counted[counts, window]


def _penalize(x, ids, unfiltered, call: Call, step, rule):
    """Replace the score g of each counted token by rule(g, occurrences)."""
    counted = _counted(call, step.counts, step.window)
    if counted is None:
        return x, ids, unfiltered
    idx, occ = counted

    def change(z):
        g = mx.take_along_axis(z, idx, -1)
        return mx.put_along_axis(z, idx, mx.where(occ > 0, rule(g, occ), g), -1)

    return _on_tokens(x, ids, unfiltered, call, change)


"""A fast mlx sampler for every spec pipeline.

    sampler = impl.make_sampler(spec.presets.mlx_lm(temp=0.7, top_p=0.9))
    token = sampler(logits)            # (B, V) -> (B,), (V,) -> (); logits or log-probabilities
    token = sampler(logits, key=k, history=[spec.History(prompt, output), ...])  # one history per row

Design, in one screen:
- Work in float32 (float16 / bfloat16 inputs are upcast, as engines do); never mutate the input.
- Validate with one row-max reduction the work needs anyway: mlx's max propagates NaN, so NaN,
  +inf and all -inf rows are caught and nothing is returned for them (greedy reads the value at
  the argmax instead, which NaN always wins).
- Filters keep the spec's rules (keep iff the mass strictly above is < p, z >= max + log m, the
  k largest) without full sorts where they can: top-k gathers its k candidates once and every
  later step works on those; top-p looks for its crossing among the 1024 largest values (then,
  on the CPU, among 16,384 and 65,536) and sorts the whole row only when the crossing is not
  there. On the CPU, top-p and greedy work on zero-copy numpy views: numpy's sort, exp and
  argmax are vectorised there and mlx's are not.
- The draw is Gumbel-max, argmax(s + g): exactly shift-invariant (`gumbel-coupling`: the same key
  gives the same token for logits and log-probabilities) and it needs no exp and no
  normalisation. The noise of token i is a counter-based hash of (row key, i), so it depends on
  the token id alone: batch shape, candidate gathering and fast paths never change a token's
  noise, and a batch equals row-by-row calls with the same keys. Only tokens that can win race
  (`pruned_race`): on a confident row those within the noise's range of the top score, on a
  flat row those whose noise bounds, read from the hash bits without a log, reach the best
  lower bound (about e^2 tokens).
- Every transform is one small pure rule named by its registry entry's `impl`:
  rule(x, ids, unfiltered, step, call) -> (x, ids, unfiltered), where `call` carries what a rule
  may read besides the scores: the vocabulary size, one `spec.History` per row and one key per
  row. Penalties and logit bias touch only the tokens they name (a gather and a scatter into a
  new array); XTC's coin is drawn per row from that row's key (the Gumbel hash at a counter no
  token id uses), so rows are independent and `filter(..., key=k)` shows the branch the
  sampler with key k takes.

Where each part lives: `impl.checks` (the input checks), `impl.noise` (the counter-based hash,
the keys, the coins and the noise bounds), `impl.race` (the pruned Gumbel-max race),
`impl.context` (`Call`, what a rule may read), `impl.rules` (one rule per transform, and
`_apply`), `impl.cpu` (the numpy fast paths), and here the fused sampler and `filter`.
"""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx
import numpy as np

import impl.cpu as cpu
from impl.checks import _as_batch, _check_pipeline, _check_rows
from impl.context import Call, _call, _full
from impl.noise import COIN, coin, row_keys
from impl.race import CANDIDATES, _bounded, _can_win, _near_top, _race, gumbel_max, race_among
from impl.rules import _apply
from spec.errors import InvalidParameter
from spec.presets import PRESETS, canonical
from spec.transforms import (
    XTC,
    EpsilonCutoff,
    EtaCutoff,
    FrequencyPenalty,
    LogitBias,
    MinP,
    Pipeline,
    PresencePenalty,
    RepetitionPenalty,
    Temperature,
    TopNSigma,
    TypicalP,
)


def _needs_keys(pipeline: Pipeline) -> bool:
    return any(0 < s.chance < 1 or isinstance(s, XTC) for s in pipeline.steps)


def filter(logits: mx.array, pipeline: Pipeline, history=None, key=None) -> mx.array:
    """The input logits with every token the pipeline removes set to -inf (float32).

    history: as spec.target takes it (for a batch, one per row). key: as the sampler takes it;
    with random steps (XTC) the keep-set is the branch the sampler with this key takes (None: the
    global mlx random state decides, as it does for the sampler)."""
    _check_pipeline(pipeline)
    x, single = _as_batch(logits)
    _check_rows(mx.max(x, -1))
    keys = row_keys(key, x.shape[0]) if _needs_keys(pipeline) else None
    scores, ids = _apply(x, pipeline.steps, _call(x, single, history, keys))
    kept = mx.isfinite(_full(scores, ids, x.shape[-1]))
    out = mx.where(kept, x, -mx.inf)
    return out[0] if single else out


# --- samplers ----------------------------------------------------------------------------------

def _greedy(x: mx.array) -> mx.array:
    """First-index argmax, rejecting bad rows by the value at the argmax (NaN wins it). On the
    CPU device numpy's vectorised argmax over a zero-copy view (`cpu.greedy`) is about 10x
    faster than mx.argmax (20 us against 220 us at V = 151,936); both take the first maximum."""
    if mx.default_device() == mx.cpu:
        token, values = cpu.greedy(x)
        _check_rows(values)
        return mx.array(token)
    token = mx.argmax(x, -1)
    _check_rows(mx.take_along_axis(x, token[:, None], -1)[:, 0])
    return token


_VALUES = LogitBias | RepetitionPenalty | PresencePenalty | FrequencyPenalty  # touch named tokens only
_FUSED = Temperature | MinP | XTC | TopNSigma | EpsilonCutoff | EtaCutoff | TypicalP  # no data-dependent branch


def _split(pipeline: Pipeline) -> int:
    """How many leading steps only change named tokens' values (bias, penalties): they run
    eagerly (their index arrays change shape every call), the rest may be one compiled graph."""
    n = 0
    while n < len(pipeline.steps) and isinstance(pipeline.steps[n], _VALUES):
        n += 1
    return n


def _fusable(steps) -> bool:
    """Rules with no data-dependent branching (no .item()): one compiled graph does them all."""
    return all(isinstance(s, _FUSED) for s in steps)


def make_sampler(pipeline: Pipeline):
    """A sampler for `pipeline`: logits (B, V) or (V,) -> token ids (B,) or (), uint32.

    `key`: an mx.random.key for reproducible draws (split into one key per row), or (B, 2) keys,
    or None for the global mlx random state. `history`: the tokens the penalties read, as
    spec.target takes it (for a (B, V) batch a list of B spec.History or token-id sequences).
    """
    _check_pipeline(pipeline)
    cut = _split(pipeline)
    prefix, rest = pipeline.steps[:cut], pipeline.steps[cut:]
    plain_greedy = pipeline.greedy and all(isinstance(s, Temperature) for s in pipeline.steps)
    random = _needs_keys(pipeline)

    def scored(x, keys, flat: bool):
        """The fusable steps in one graph, with what the race needs next: the scores, the tokens
        that can win (by score alone, or with flat=True by noise bounds), how many lie near the
        top, and the input's row max, which validates the row (mlx's max propagates NaN)."""
        scores = _apply(x, rest, Call(x.shape[-1], (), keys), cut)[0]
        top = mx.max(scores, -1, keepdims=True)
        near = _near_top(scores, top)
        alive = _can_win(scores, top, keys, mx.broadcast_to(mx.arange(x.shape[-1], dtype=mx.uint32), x.shape)) \
            if flat else near
        return scores, alive, mx.sum(near, -1), mx.max(x, -1)

    fused = {flat: mx.compile(lambda x, keys, flat=flat: scored(x, keys, flat)) for flat in (False, True)}
    # Which graph to run: consecutive steps of a generation are alike, so the last call's rows
    # decide (a wrong guess costs one more pass, never another token: both masks hold every
    # token that can win).
    last = {"flat": False}

    @mx.compile
    def small(x, keys):
        """Rows of at most CANDIDATES tokens: the whole race in the same graph."""
        scores = _apply(x, rest, Call(x.shape[-1], (), keys), cut)[0]
        return _race(scores, mx.arange(x.shape[-1], dtype=mx.uint32)[None], keys), mx.max(x, -1)

    coins = [i for i, s in enumerate(pipeline.steps) if 0 < s.chance < 1]  # XTC with probability < 1
    branches = {}

    def branch(fires: tuple) -> callable:
        """The sampler of one combination of coins: a step whose coin fires acts for sure
        (probability 1), one whose coin does not is left out."""
        if fires not in branches:
            on = dict(zip(coins, fires, strict=True))
            steps = tuple(replace(s, probability=1.0) if on.get(i) else s
                          for i, s in enumerate(pipeline.steps) if on.get(i, True))
            branches[fires] = make_sampler(Pipeline(steps, pipeline.name))
        return branches[fires]

    def by_coins(x, keys, call):
        """Random steps: each row's coins are a function of its key alone, so they are read
        first, and each group of rows whose coins agree runs the pipeline of that branch (rows
        where XTC does not fire skip it and keep the pruned race). The same tokens as running
        the coins inside the rules: the noise depends on (row key, token id) only."""
        fires = np.array(mx.concatenate([coin(keys, COIN - i) < pipeline.steps[i].probability for i in coins], -1))
        patterns = sorted({tuple(bool(f) for f in row) for row in fires})
        if len(patterns) == 1:
            return branch(patterns[0])(x, keys, list(call.histories))
        _check_rows(mx.max(x, -1))  # here, so that an error names the row of the caller's batch
        token = np.zeros(x.shape[0], dtype=np.uint32)
        for pattern in patterns:
            rows = np.flatnonzero((fires == np.array(pattern)).all(-1))
            where = mx.array(rows.astype(np.int32))
            token[rows] = np.array(branch(pattern)(x[where], keys[where], [call.histories[r] for r in rows]))
        return mx.array(token)

    def sample(logits: mx.array, key=None, history=None) -> mx.array:
        x, single = _as_batch(logits)
        if coins and not pipeline.greedy:
            keys = row_keys(key, x.shape[0])
            token = by_coins(x, keys, _call(x, single, history, keys))
            return token[0] if single else token
        if plain_greedy:
            _call(x, single, history, None)  # the history is still checked
            token = _greedy(x)
            return token[0] if single else token
        keys = row_keys(key, x.shape[0]) if random or not pipeline.greedy else None
        call = _call(x, single, history, keys)
        if prefix or pipeline.greedy or not _fusable(rest):
            _check_rows(mx.max(x, -1))
            x = _apply(x, prefix, call)[0]  # value steps only: the scores stay on the whole row
        if pipeline.greedy:
            scores, ids = _apply(x, rest, call, cut)
            token = _greedy(_full(scores, ids, x.shape[-1]))
        elif _fusable(rest) and x.shape[-1] <= CANDIDATES:
            token, row_max = small(x, keys)
            _check_rows(row_max)  # evaluated with the draw; nothing is returned for a bad row
        elif _fusable(rest):
            scores, alive, near, row_max = fused[last["flat"]](x, keys)
            mx.eval(scores, alive, near, row_max)
            _check_rows(row_max)
            flat = bool((np.asarray(near) > CANDIDATES).any()) if mx.default_device() == mx.cpu else \
                mx.any(near > CANDIDATES).item()
            if flat and not last["flat"]:
                alive = _bounded(scores, mx.max(scores, -1, keepdims=True), keys)
            last["flat"] = flat
            token = race_among(scores, keys, alive)
        else:
            scores, ids = _apply(x, rest, call, cut)
            token = gumbel_max(scores, keys, ids)
        return token[0] if single else token

    def white_box(logits: mx.array, history=None, key=None) -> mx.array:
        """filter(logits, pipeline, history, key): the keep-set the sampler with this key uses."""
        return filter(logits, pipeline, history, key)

    sample.pipeline = pipeline
    sample.filter = white_box  # white-box access for spec.validate
    return sample


def make_sampler_from(preset: str, **engine_params):
    """make_sampler(spec.presets.<preset>(**engine_params)), e.g. make_sampler_from("mlx-lm", temp=0.7);
    preset names are read as spec.presets.canonical reads them ("mlx-lm", "llama.cpp", "HF")."""
    if not isinstance(preset, str):
        raise InvalidParameter("preset", preset, f"one of {', '.join(sorted(PRESETS))}")
    return make_sampler(PRESETS[canonical(preset)](**engine_params))


# re-export for one release (issue 24): the names impl.sampler held before the split (the rules'
# home is now impl.rules, the noise's impl.noise)
from impl.noise import G_HIGH, G_LOW, LN2, SEEDS, gumbel, noise_bounds, uniform_from_bits  # noqa: E402, F401
from impl.race import pruned_race  # noqa: E402, F401
from impl.rules import (  # noqa: E402, F401
    HEAD,
    LOG_TINY,
    TINY_THRESHOLD,
    WINDOWS,
    epsilon_cutoff,
    eta_cutoff,
    frequency_penalty,
    logit_bias,
    min_p,
    presence_penalty,
    repetition_penalty,
    temperature,
    top_k,
    top_n_sigma,
    top_p,
    typical_p,
    xtc,
)

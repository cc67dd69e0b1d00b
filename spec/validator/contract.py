"""Tier 1, the contract: B token ids in [0, V) for one row and for a batch, the input left
unchanged, no raise and no hang on a valid row; whether a key makes the sampler reproducible; a
NaN row; a row the engine itself rejects; with a factory, greedy, top_k = 1 and no-op settings."""

from __future__ import annotations

import math
from contextlib import closing
from dataclasses import replace

import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.presets import ENGINE_NAMES, canonical, engine_defaults
from spec.target import target
from spec.transforms import REGISTRY, VOCAB_SIZE
from spec.validator.cases import Case, rejected_row
from spec.validator.context import Capabilities, Context, Finding, fail
from spec.validator.report import Check
from spec.validator.sampler import ARRAYS, as_sampler, installed

HOW = {"key": "its `key` argument", "seed": "its `seed` argument", "rng": "a numpy Generator",
       "generator": "a seeded generator", "global": "seeding its array library's global random state"}


def contract(ctx: Context) -> Capabilities:
    ctx.tick("contract")
    single = next(c for c in ctx.cases if not c.batch)
    batch = next((c for c in ctx.cases if c.batch), None)
    key = ctx.key()
    first = _first_call(ctx, single, key)
    shapes = "one row"
    if batch is not None:
        fed = ctx.feed(batch.rows)
        ctx.calls.call(ctx.sampler.to_array(fed), *fed.shape, key, batch.name, history=batch.history())
        shapes += f" and a batch of {fed.shape[0]}"
    caps = Capabilities(reproducible=_reproducible(ctx, single, key, first))
    if ctx.sampler.key is None:
        ctx.report.skipped.append("same-key checks and fixed-key shrinking: the sampler takes no key")
    ctx.report.checks.append(f"contract: output shape, dtype and range for {shapes}; input not mutated; "
                             "no raise or hang")
    _nan_row(ctx)
    _rejected_row(ctx)
    if ctx.family:
        caps = variants(ctx, caps)
    return caps


def _first_call(ctx: Context, case: Case, key: int):
    """The first call, with one row. If the sampler raises and its array type was only guessed
    from its module, the other installed array types are tried before the raise is a finding."""
    fed = ctx.feed(case.rows)
    try:
        return ctx.calls.call(ctx.sampler.to_array(fed), *fed.shape, key, case.name, history=case.history())
    except Finding as found:
        if found.failure.check != Check.RAISES.value or not ctx.sampler.guessed:
            raise
        tried = ctx.sampler.array
        for array in (a for a in ARRAYS if a != tried and installed(a)):
            ctx.sampler.retype(array)
            try:
                out = ctx.calls.call(ctx.sampler.to_array(fed), *fed.shape, key, case.name, history=case.history())
            except Finding:
                continue
            ctx.report.notes.append(f"the sampler raised with {tried} arrays and works with {array} arrays: "
                                    f"validated with {array} (pass --array {array} to say so)")
            return out
        ctx.sampler.retype(tried)
        found.failure.message += (f"; it was called with {tried} arrays (guessed from its module): if it takes "
                                  f"another array type, pass --array ({', '.join(ARRAYS)})")
        raise


PROBE_COPIES = (64, 4096)  # the fewest and the most copies of a row the reproducibility probe draws per call


def _reproducible(ctx: Context, case: Case, key: int, first) -> bool:
    """Whether a key fixes the sampler's draws, decided with a stated error. A sampler that keeps
    its own random state (a numpy Generator, a torch.Generator, random.Random, a key it splits, the
    clock) ignores the key; two of its draws of one row agree with probability q = sum_i p_i^2 (for
    a mixture, at most its largest component's). So the probe takes the case whose target has the
    smallest q and draws m copies twice under one key, m such that q^m <= ctx.alpha_probe: a
    sampler that ignores its key is called reproducible with at most that probability. Each
    same-key check also re-runs its own input under its own keys before it fails (`unkeyed`)."""
    if ctx.sampler.key is None:
        return False
    how = HOW[ctx.sampler.key]
    if (probe := _probe_case(ctx)) is None:
        ctx.report.skipped.append(f"the key ({how}) is not probed: every case's target is deterministic, so only "
                                  "the deterministic same-key checks run (they need no key)")
        return False
    widest, q = probe
    m = max(PROBE_COPIES[0], math.ceil(math.log(ctx.alpha_probe) / math.log(q)))
    if m > min(PROBE_COPIES[1], 2**22 // widest.rows.shape[1]):
        ctx.report.skipped.append(f"same-key checks and fixed-key shrinking: whether {how} fixes the draws cannot be "
                                  f"decided at alpha {ctx.alpha_probe:.2g}: the least predictable case's target "
                                  f"repeats a draw with probability {q:.4g}")
        return False
    big, seen = ctx.feed(widest.rows), widest.history(m)
    tiled = np.tile(big, (m, 1))
    a = ctx.calls.call(ctx.sampler.to_array(tiled), m, big.shape[1], key, "reproducibility", history=seen)
    b = ctx.calls.call(ctx.sampler.to_array(tiled), m, big.shape[1], key, "reproducibility", history=seen)
    fed = ctx.feed(case.rows)
    again = ctx.calls.call(ctx.sampler.to_array(fed), *fed.shape, key, case.name, history=case.history())
    chance = f"{q:.3g}^{m} = {q ** m:.2g} <= {ctx.alpha_probe:.2g}"
    if np.array_equal(a, b) and np.array_equal(first, again):
        ctx.report.checks.append(f"contract: reproducible with {how}: two calls under one key drew the same {m} "
                                 f"copies of '{widest.name}' (a sampler that ignores its key does that with "
                                 f"probability {chance}); fixed keys for the same-key checks and for shrinking")
        return True
    ctx.report.skipped.append(f"same-key checks and fixed-key shrinking: the sampler is not reproducible with {how} "
                              f"(two calls under one key differ in {int((a != b).sum())} of {m} draws of "
                              f"'{widest.name}'): it keeps its own random state, which is correct, but these checks "
                              "need a key that fixes its draws")
    return False


def _probe_case(ctx: Context) -> tuple[Case, float] | None:
    """The single-row case (V <= 8192) whose target repeats a draw least often, and that chance
    q = sum_i p_i^2 (with random steps, the largest over the mixture's components, which bounds
    every pair of components too: sum_i p_i r_i <= max(sum p_i^2, sum r_i^2)); None when every
    such case is deterministic."""
    best = None
    for c in ctx.cases:
        if c.batch or c.rows.shape[1] > 8192:
            continue
        t = ctx.spec(ctx.feed(c.rows), c)
        parts = [p for _, p in t.mixture] or [t.probs]
        q = max(float(np.sum(np.atleast_2d(p)[0] ** 2)) for p in parts)
        if q < 1 - 1e-12 and (best is None or q < best[1]):
            best = (c, q)
    return best


def unkeyed(ctx: Context, calls: list, first: list, what: str) -> bool:
    """A same-key check's control, before it fails: `calls` again (the same inputs under the same
    keys, as `Calls.stream` takes them) must give `first` again. If not, the sampler is not
    reproducible after all (its draws moved with time or with its own state): the check is skipped
    with that reason, never failed, and the run goes on without fixed keys. True: skipped."""
    with closing(ctx.calls.stream(calls)) as results:
        again = [ids for _, ids in results]
    moved = sum(int((np.ravel(x) != np.ravel(y)).sum()) for x, y in zip(first, again, strict=True))
    if not moved:
        return False
    ctx.report.skipped.append(f"{what}: not reproducible: re-run under the same keys, the same inputs drew other "
                              f"tokens ({moved} of {sum(np.size(x) for x in first)} draws moved), so its mismatches "
                              "say nothing; later same-key checks and fixed-key shrinking are skipped too")
    return True


def _may_raise(ctx: Context, row: np.ndarray, what: str):
    """One call on a row where raising is a correct answer: (output, exception); a hang fails."""
    x = ctx.sampler.to_array(row)
    try:
        return ctx.calls.raw(lambda: ctx.sampler.host(ctx.sampler(x, ctx.key())))
    except TimeoutError:
        fail(Check.HANG, "a sampler returns or raises", (), f"hung on {what}, shape {row.shape}",
             {"case": what, "row": row[0]})


def _nan_row(ctx: Context):
    """A NaN row has no target. Raising is right; returning a token is noted (mlx-lm, for one,
    returns the NaN's index), not failed: the spec cannot say which token is wrong."""
    row = np.full((1, max(4, ctx.cases[0].rows.shape[1])), -np.inf)
    row[0, :4] = [0.5, np.nan, 1.0, 0.0]
    out, error = _may_raise(ctx, row, "a row with a NaN")
    if error is None:
        ctx.report.notes.append(f"given a row with a NaN ({row[0, :4].tolist()}, V = {row.shape[1]}) the sampler "
                                f"returned {np.ravel(out).tolist()} instead of raising an error")
    else:
        ctx.report.checks.append(f"contract: a NaN row is rejected ({type(error).__name__})")


def _rejected_row(ctx: Context):
    """Where the modelled engine raises for a parameter on a row (mlx-lm: top_k >= V), a raise is
    the engine's behaviour, not a failure; returning a token instead is noted."""
    row = rejected_row(ctx.pipeline)
    if row is None:
        return
    out, error = _may_raise(ctx, ctx.feed(row), "a row the engine rejects")
    if error is None:
        ctx.report.notes.append(f"on a row of V = {row.shape[1]} tokens, which the engine rejects for these "
                                f"parameters, the sampler returned {np.ravel(out).tolist()} instead of raising")
    else:
        ctx.report.checks.append(f"contract: a row the engine rejects (V = {row.shape[1]}) raises "
                                 f"({type(error).__name__}), as the engine does")


def _variant_list(preset_params: dict) -> list[tuple[str, dict, bool]]:
    """(label, change, is a no-op) for every registered transform: its greedy value and its no-op."""
    def text(value):
        return value if isinstance(value, str) else "{}" if isinstance(value, dict) else f"{value:g}"

    out = []
    for cls in REGISTRY.values():
        if cls.greedy_at is not None:
            out.append((f"{cls.name} = {text(cls.greedy_at)}", {cls.name: cls.greedy_at}, False))
        if cls.name not in preset_params and cls.name != "temperature":
            noop = {} if cls.kind is dict else cls.noop  # the engines take a bias as a mapping
            out.append((f"{cls.name} = {text(noop)}", {cls.name: noop}, True))
    return out


def variants(ctx: Context, caps: Capabilities) -> Capabilities:
    """Greedy, top_k = 1 and the no-op parameters the preset has, built by the factory (with the
    run's engine-only parameters): deterministic targets must give the greedy token; a no-op must
    give the same tokens as without it (same keys; with random steps such as XTC, whose coins a
    no-op may consume differently, its draws are checked against the support instead)."""
    fam = ctx.family
    base = {k: v for k, v in fam.params.items() if v is not None}
    probes = [c for c in ctx.cases if c.probe and not c.batch]
    has = ENGINE_NAMES[canonical(fam.preset)]
    random = any(0 < s.chance < 1 for s in ctx.pipeline.steps)
    acting = engine_defaults(fam.preset, **base)  # untyped, yet not at its no-op (llama.cpp's top_k 40, ...)
    tried = []
    for label, change, noop in _variant_list(base):
        if not set(change) <= set(has):
            continue
        noop = noop and not any(has[name] in acting for name in change)  # else the variant changes the setting
        pipes, why = {}, ""
        for c in probes:
            params = {k: (c.rows.shape[1] if v == VOCAB_SIZE else v) for k, v in {**base, **change}.items()}
            try:
                pipes[c.name] = (params, fam.pipeline(**params))
                target(ctx.feed(c.rows), pipes[c.name][1], history=c.history())
            except (InvalidParameter, InvalidLogits) as e:
                why = str(e)
                break
        if why:
            ctx.report.skipped.append(f"factory variant {label}: the {fam.preset} preset rejects it ({why})")
            continue
        for c in probes:
            params, pipe = pipes[c.name]
            try:
                variant = as_sampler(fam.build(**params), ctx.sampler.array)
            except Exception as e:  # noqa: BLE001
                fail(Check.FACTORY, f"{label} is a valid parameter of {fam.preset}", (),
                     f"the factory raised {type(e).__name__} for {params}: {e}", {"case": c.name})
            variant.dtype, variant.batched = ctx.sampler.dtype, ctx.sampler.batched
            x = variant.to_array(ctx.feed(c.rows))
            t, base_t = target(x, pipe, history=c.history()), target(x, ctx.pipeline, history=c.history())
            same = np.array_equal(t.support, base_t.support) and np.allclose(t.probs, base_t.probs)
            if t.greedy >= 0 or not (noop and same) or random:
                ctx.calls.draw(replace(c, name=f"{c.name}, {label}"), 64, variant, pipe, independent=False)
            elif caps.reproducible and not _same_tokens(ctx, c, variant, label):
                caps = replace(caps, reproducible=False)
        tried.append(label)
    if tried:
        ctx.report.checks.append(f"contract (factory): {', '.join(tried)} on {len(probes)} probes")
    return caps


def _same_tokens(ctx: Context, case: Case, variant, label: str) -> bool:
    """The no-op variant draws the same tokens as the sampler under the same key; False when the
    control (`unkeyed`) shows the sampler is not reproducible after all."""
    fed = np.tile(ctx.feed(case.rows), (256, 1))
    key = ctx.key()
    seen = case.history(256)
    x = ctx.sampler.to_array(fed)
    a = ctx.calls.call(x, 256, fed.shape[1], key, case.name, history=seen)
    b = ctx.calls.call(variant.to_array(fed), 256, fed.shape[1], key, case.name, variant, history=seen)
    t = ctx.spec(ctx.sampler.to_array(fed[:1]), case)
    differ = (a != b) & ~t.boundary[0, a] & ~t.boundary[0, b]
    if differ.any():
        if unkeyed(ctx, [(x, 256, fed.shape[1], key, case.name, seen, None)], [a], f"factory variant {label}"):
            return False
        fail(Check.NOOP, f"{label} changes nothing", (),
             f"with the same key, {int(differ.sum())} of 256 draws differ once {label} is set",
             {"case": case.name, "key": key, "row": case.rows[0]})
    return True

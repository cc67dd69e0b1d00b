"""Tier 1, the contract: B token ids in [0, V) for one row and for a batch, the input left
unchanged, no raise and no hang on a valid row; whether a key makes the sampler reproducible; a
NaN row; a row the engine itself rejects; with a factory, greedy, top_k = 1 and no-op settings."""

from __future__ import annotations

import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.presets import common
from spec.target import target
from spec.transforms import REGISTRY, VOCAB_SIZE
from spec.validator.adapters import ARRAYS, as_sampler, installed
from spec.validator.cases import Case, rejected_row
from spec.validator.context import Capabilities, Context, Finding, fail
from spec.validator.report import Check

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
        ctx.calls.call(ctx.sampler.to_array(fed), *fed.shape, key, batch.name)
        shapes += f" and a batch of {fed.shape[0]}"
    caps = Capabilities(reproducible=_reproducible(ctx, single, key, first))
    if caps.reproducible:
        ctx.report.checks.append(f"contract: reproducible with {HOW[ctx.sampler.key]} (fixed keys for the "
                                 "same-key checks and for shrinking)")
    else:
        ctx.report.skipped.append("same-key coupling and fixed-key shrinking: the sampler is not reproducible "
                                  "with a key")
    ctx.report.checks.append(f"contract: output shape, dtype and range for {shapes}; input not mutated; "
                             "no raise or hang")
    _nan_row(ctx)
    _rejected_row(ctx)
    if ctx.family:
        variants(ctx, caps)
    return caps


def _first_call(ctx: Context, case: Case, key: int):
    """The first call, with one row. If the sampler raises and its array type was only guessed
    from its module, the other installed array types are tried before the raise is a finding."""
    fed = ctx.feed(case.rows)
    try:
        return ctx.calls.call(ctx.sampler.to_array(fed), *fed.shape, key, case.name)
    except Finding as found:
        if found.failure.check != Check.RAISES.value or not ctx.sampler.guessed:
            raise
        tried = ctx.sampler.array
        for array in (a for a in ARRAYS if a != tried and installed(a)):
            ctx.sampler.retype(array)
            try:
                out = ctx.calls.call(ctx.sampler.to_array(fed), *fed.shape, key, case.name)
            except Finding:
                continue
            ctx.report.notes.append(f"the sampler raised with {tried} arrays and works with {array} arrays: "
                                    f"validated with {array} (pass --array {array} to say so)")
            return out
        ctx.sampler.retype(tried)
        found.failure.message += (f"; it was called with {tried} arrays (guessed from its module): if it takes "
                                  f"another array type, pass --array ({', '.join(ARRAYS)})")
        raise


def _reproducible(ctx: Context, case: Case, key: int, first) -> bool:
    if ctx.sampler.key is None:
        return False
    big = ctx.feed(max((c for c in ctx.cases if c.rows.shape[1] <= 8192 and not c.batch),
                       key=lambda c: c.rows.shape[1]).rows)
    tiled = np.tile(big, (64, 1))
    a = ctx.calls.call(ctx.sampler.to_array(tiled), 64, big.shape[1], key, "reproducibility")
    b = ctx.calls.call(ctx.sampler.to_array(tiled), 64, big.shape[1], key, "reproducibility")
    fed = ctx.feed(case.rows)
    again = ctx.calls.call(ctx.sampler.to_array(fed), *fed.shape, key, case.name)
    return bool(np.array_equal(a, b) and np.array_equal(first, again))


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
        return value if isinstance(value, str) else f"{value:g}"

    out = []
    for cls in REGISTRY.values():
        if cls.greedy_at is not None:
            out.append((f"{cls.name} = {text(cls.greedy_at)}", {cls.name: cls.greedy_at}, False))
        if cls.name not in preset_params and cls.name != "temperature":
            out.append((f"{cls.name} = {text(cls.noop)}", {cls.name: cls.noop}, True))
    return out


def variants(ctx: Context, caps: Capabilities):
    """Greedy, top_k = 1 and the no-op parameters, built by the factory: deterministic targets
    must give the greedy token; a no-op must give the same tokens as without it (same keys)."""
    fam = ctx.family
    base = {k: v for k, v in fam.params.items() if v is not None}
    probes = [c for c in ctx.cases if c.probe and not c.batch]
    tried = []
    for label, change, noop in _variant_list(base):
        pipes, why = {}, ""
        for c in probes:
            params = {k: (c.rows.shape[1] if v == VOCAB_SIZE else v) for k, v in {**base, **change}.items()}
            try:
                pipes[c.name] = (params, common(fam.preset, **params))
                target(ctx.feed(c.rows), pipes[c.name][1])
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
            t, base_t = target(x, pipe), target(x, ctx.pipeline)
            same = np.array_equal(t.support, base_t.support) and np.allclose(t.probs, base_t.probs)
            if t.greedy >= 0 or not (noop and same):
                ctx.calls.draw(Case(f"{c.name}, {label}", c.rows), 64, variant, pipe)
            elif caps.reproducible:
                _same_tokens(ctx, c, variant, label)
        tried.append(label)
    if tried:
        ctx.report.checks.append(f"contract (factory): {', '.join(tried)} on {len(probes)} probes")


def _same_tokens(ctx: Context, case: Case, variant, label: str):
    fed = np.tile(ctx.feed(case.rows), (256, 1))
    key = ctx.key()
    a = ctx.calls.call(ctx.sampler.to_array(fed), 256, fed.shape[1], key, case.name)
    b = ctx.calls.call(variant.to_array(fed), 256, fed.shape[1], key, case.name, variant)
    t = ctx.spec(ctx.sampler.to_array(fed[:1]), case)
    differ = (a != b) & ~t.boundary[0, a] & ~t.boundary[0, b]
    if differ.any():
        fail(Check.NOOP, f"{label} changes nothing", (),
             f"with the same key, {int(differ.sum())} of 256 draws differ once {label} is set",
             {"case": case.name, "key": key, "row": case.rows[0]})

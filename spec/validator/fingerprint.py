"""Which engine presets, given the same parameters, the sampler's draws are consistent with."""

from __future__ import annotations

import numpy as np

from spec.errors import InvalidLogits, InvalidParameter
from spec.presets import CONVENTIONS, common, common_params
from spec.target import target
from spec.validator.cases import Case, min_width, pad
from spec.validator.context import Context, Finding


def fingerprint(ctx: Context, draws: int = 2_000, floor: float = 0.02) -> dict:
    """Rows are picked (seeded) where the presets' targets differ; on each, a preset is ruled out
    if a draw falls outside its support, or if a token it gives probability >= 2% never shows up
    in `draws` draws (a correct sampler does that with probability < 0.98^2000 = 3e-18). A preset
    that rejects a row (mlx-lm: top_k >= V) is left out on that row only. A server's preset
    (presets.SERVED) is its library's pipeline, so only the library is listed."""
    ctx.tick("fingerprint")
    params = common_params(ctx.pipeline)
    pipes = {}
    for name in CONVENTIONS:
        try:
            pipes[name] = common(name, explicit=True, **params)
        except InvalidParameter:
            continue
    width = max([min_width(p) for p in pipes.values()] + [0])
    rng = np.random.default_rng([ctx.seed, 0xF1])
    candidates = [c.rows for c in ctx.cases if c.probe and not c.batch]
    candidates += [rng.normal(0, s, (1, int(rng.integers(4, 12)))) for s in (0.5, 1.0, 2.0) for _ in range(12)]
    chosen, classes = [], {frozenset(pipes)}
    for rows in candidates:
        rows = pad(rows, width)
        x = ctx.sampler.to_array(ctx.feed(rows))
        targets = {}
        for n, p in pipes.items():
            try:
                targets[n] = target(x, p)
            except (InvalidParameter, InvalidLogits):
                continue
        if not targets or any(t.boundary.any() for t in targets.values()):
            continue
        sig = {n: (tuple(t.support.ravel()), tuple(np.round(t.probs, 3).ravel())) for n, t in targets.items()}
        split = {frozenset(n for n in group if sig.get(n) == s) for group in classes
                 for s in {sig.get(m) for m in group}}
        if len(split) > len(classes):
            chosen.append((rows, targets))
            classes = split
        if len(chosen) == 6:
            break
    consistent = set(pipes)
    for rows, targets in chosen:
        try:
            counts = ctx.calls.draw(Case("fingerprint row", rows), draws, check=False)
        except InvalidParameter:  # the spec under test rejects this row
            continue
        except Finding:
            consistent = set()
            break
        seen = counts[0] > 0
        for name, t in targets.items():
            if (seen & ~t.allowed).any() or (t.support & (t.probs >= floor) & ~seen).any():
                consistent.discard(name)
    groups = [sorted(g) for g in classes]
    if not consistent:
        summary = "consistent with none of the presets " + ", ".join(sorted(pipes))
    elif not chosen:
        summary = (f"the parameters {', '.join(f'{k}={v}' for k, v in params.items() if v is not None)} do not tell "
                   f"the presets apart ({', '.join(sorted(pipes))} all agree)")
    else:
        orders = sorted({pipes[n].order for n in consistent})
        summary = (f"consistent with {', '.join(sorted(consistent))} (order: {'; '.join(orders)}); ruled out: "
                   f"{', '.join(sorted(set(pipes) - consistent)) or 'none'}")
    return {"consistent": sorted(consistent), "presets": sorted(pipes), "indistinguishable_groups": groups,
            "rows": [r[0].round(4).tolist() for r, _ in chosen], "draws_per_row": draws, "summary": summary}

"""python -m impl.bench: our sampler against mlx-lm's make_sampler, same configuration (the
mlx_lm preset), same inputs, in one process, alternating, at V = 151,936 for B = 1 and B = 8.

Inputs are log-probabilities, what mlx-lm hands its sampler: LLM-like rows
(`spec.rows.llm_logits`: one token far ahead, a confident step), a flat row (normal body only),
and the entropy sweep (`spec.rows.entropy_logits`): normal rows scaled so that top-p 0.9 keeps
exactly 1, 10, 100, 1,000, 10,000 or 50,000 tokens, from a confident step to an uncertain one.
Prints medians and mlx-lm / ours; writes results/impl-bench.json.

Rows with logits processors (penalties, logit bias) time mlx-lm as its generate_step runs them:
`logits[:, -1, :]`, each of `make_logits_processors(...)` on (tokens, logits), then
`logits - logsumexp(logits)` and its `make_sampler(...)`; ours gets the same `logits[:, -1, :]`
and the same tokens as a spec.History per row (256 tokens: a 200-token prompt and 56 generated,
repeats included; both count the last 20, mlx-lm's default context size).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import mlx.core as mx
import numpy as np

from impl import make_sampler_from
from spec.rows import NUCLEI, entropy_logits, llm_logits
from spec.rows import VOCAB as V
from spec.transforms import History

CONFIGS = {
    "greedy": {},
    "temperature 0.7": dict(temp=0.7),
    "top-k 40": dict(temp=1.0, top_k=40),
    "top-p 0.9": dict(temp=1.0, top_p=0.9),
    "min-p 0.05": dict(temp=1.0, min_p=0.05),
    "top-k 40 + top-p 0.9 + temp 0.7": dict(temp=0.7, top_k=40, top_p=0.9),
    "xtc 0.5 (threshold 0.1)": dict(temp=1.0, xtc_probability=0.5, xtc_threshold=0.1),
}
SWEEP = {  # the entropy sweep's configurations (temperature 1 except the chain: the nucleus sizes hold)
    "greedy": {},
    "temperature 1": dict(temp=1.0),
    "top-k 40": dict(temp=1.0, top_k=40),
    "top-p 0.9": dict(temp=1.0, top_p=0.9),
    "min-p 0.05": dict(temp=1.0, min_p=0.05),
    "top-k 40 + top-p 0.9 + temp 0.7": dict(temp=0.7, top_k=40, top_p=0.9),
}
BIAS = {int(t): float(b) for t, b in zip(np.random.default_rng(0).choice(V, 16, replace=False), np.linspace(-5, 5, 16),
                                         strict=True)}
PROCESSED = {  # (sampler parameters, logits-processor parameters): both go to our mlx_lm preset
    "penalties + top-p 0.9 + temp 0.7": (dict(temp=0.7, top_p=0.9),
                                         dict(repetition_penalty=1.3, presence_penalty=0.4, frequency_penalty=0.2)),
    "repetition penalty + temp 0.7": (dict(temp=0.7), dict(repetition_penalty=1.3)),
    "logit bias (16 tokens) + temp 1": (dict(temp=1.0), dict(logit_bias=BIAS)),
}


def logprobs(rows: int, seed: int, flat: bool = False, nucleus: int | None = None) -> mx.array:
    rng = np.random.default_rng(seed)
    if nucleus is not None:
        z = entropy_logits(rng, rows, nucleus, V)
    else:
        z = rng.normal(0, 3, (rows, V)) if flat else llm_logits(rng, rows, V)
    x = mx.array(z.astype(np.float32))
    return x - mx.logsumexp(x, axis=-1, keepdims=True)


def timed(fn, x) -> float:
    start = time.perf_counter()
    mx.eval(fn(x))
    return time.perf_counter() - start


def tokens(seed: int) -> tuple[History, mx.array]:
    """A 200-token prompt and 56 generated tokens, drawn with repeats from 400 ids."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(V, 400, replace=False)[rng.zipf(1.5, 256) % 400]
    return History(tuple(ids[:200].tolist()), tuple(ids[200:].tolist())), mx.array(ids.astype(np.int32))


def mlx_lm_step(sampler, processors, token_ids):
    """What mlx-lm's generate_step does with the model's (B, 1, V) output."""
    def step(out):
        logits = out[:, -1, :]
        for processor in processors:
            logits = processor(token_ids, logits)
        return sampler(logits - mx.logsumexp(logits, axis=-1, keepdims=True))
    return step


def compare(batch, name, params, processors, inputs, repeats, mlx_lm_make_sampler, make_logits_processors) -> dict:
    """Median time of mlx-lm's sampler and ours on the same inputs, alternating who goes first."""
    mx.eval(inputs)
    theirs, ours = mlx_lm_make_sampler(**params), make_sampler_from("mlx_lm", **params, **processors)
    if processors:  # as generate_step: (B, 1, V) model output in, the processors, then the sampler
        history, token_ids = tokens(batch)
        theirs = mlx_lm_step(theirs, make_logits_processors(**processors), token_ids)
        ours = (lambda sampler, rows: lambda out: sampler(out[:, -1, :], history=rows))(ours, [history] * batch)
        inputs = [x[:, None, :] for x in inputs]
        mx.eval(inputs)
    for fn in (theirs, ours):  # warm up (compilation, allocation)
        timed(fn, inputs[0])
    t_theirs, t_ours = [], []
    for i in range(repeats):
        x = inputs[i % len(inputs)]
        if i % 2:
            t_theirs.append(timed(theirs, x))
            t_ours.append(timed(ours, x))
        else:
            t_ours.append(timed(ours, x))
            t_theirs.append(timed(theirs, x))
    a, b = statistics.median(t_theirs) * 1e3, statistics.median(t_ours) * 1e3
    print(f"{name:34} {batch:2} {a:10.2f} {b:8.2f} {a / b:6.2f}", flush=True)
    return {"config": name, "batch": batch, "mlx_lm_ms": round(a, 3), "ours_ms": round(b, 3), "ratio": round(a / b, 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m impl.bench", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=100, help="timed calls per configuration (default: 100)")
    p.add_argument("--sweep-repeats", type=int, default=30, help="timed calls per entropy-sweep point (default: 30)")
    p.add_argument("--out", type=Path, default=Path("results"), help="where the JSON goes (default: results)")
    args = p.parse_args(argv)
    from mlx_lm.sample_utils import make_logits_processors
    from mlx_lm.sample_utils import make_sampler as mlx_lm_make_sampler

    results = []
    cases = [(batch, name, params, {}, False) for batch in (1, 8) for name, params in CONFIGS.items()]
    cases.append((1, "top-p 0.9, flat row", CONFIGS["top-p 0.9"], {}, True))
    cases += [(batch, name, params, processors, False) for batch in (1, 8)
              for name, (params, processors) in PROCESSED.items()]
    print(f"V = {V:,}, median of {args.repeats} calls each, alternating; ratio = mlx-lm time / our time")
    print(f"{'configuration':34} {'B':>2} {'mlx-lm ms':>10} {'ours ms':>8} {'ratio':>6}")
    for batch, name, params, processors, flat in cases:
        inputs = [logprobs(batch, seed, flat) for seed in range(4)]
        results.append(compare(batch, name, params, processors, inputs, args.repeats, mlx_lm_make_sampler,
                               make_logits_processors))
    sweep = []
    print(f"\nentropy sweep: rows whose top-p 0.9 nucleus holds N tokens, median of {args.sweep_repeats} calls")
    print(f"{'configuration':34} {'B':>2} {'mlx-lm ms':>10} {'ours ms':>8} {'ratio':>6}")
    for batch in (1, 8):
        for size in NUCLEI:
            inputs = [logprobs(batch, seed, nucleus=size) for seed in range(3)]
            for name, params in SWEEP.items():
                row = compare(batch, f"N = {size:,}: {name}", params, {}, inputs, args.sweep_repeats,
                              mlx_lm_make_sampler, make_logits_processors)
                sweep.append({**row, "config": name, "nucleus": size})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "impl-bench.json").write_text(json.dumps({"vocab": V, "runs": results, "sweep": sweep}, indent=2)
                                              + "\n")
    print("\nentropy sweep, mlx-lm / ours (B = 1 | B = 8):")
    print(f"{'nucleus':>8} " + " ".join(f"{name[:18]:>18}" for name in SWEEP))
    for size in NUCLEI:
        cells = [" | ".join(f"{r['ratio']:.2f}" for r in sweep if r["nucleus"] == size and r["config"] == name)
                 for name in SWEEP]
        print(f"{size:>8,} " + " ".join(f"{c:>18}" for c in cells))
    print(f"written: {args.out / 'impl-bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

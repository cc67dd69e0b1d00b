"""python -m impl.bench: our sampler against mlx-lm's make_sampler, same configuration (the
mlx_lm preset), same inputs, in one process, alternating, at V = 151,936 for B = 1 and B = 8.

Inputs are LLM-like log-probabilities (`spec.rows.llm_logits`), what mlx-lm hands its sampler.
A last line shows the worst case for our top-p, a flat row (normal body only), where the crossing
is not among the 1024 largest values and we sort the whole row as mlx-lm does. Prints medians and
mlx-lm / ours; writes results/impl-bench.json.
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
from spec.rows import VOCAB as V
from spec.rows import llm_logits

CONFIGS = {
    "greedy": {},
    "temperature 0.7": dict(temp=0.7),
    "top-k 40": dict(temp=1.0, top_k=40),
    "top-p 0.9": dict(temp=1.0, top_p=0.9),
    "min-p 0.05": dict(temp=1.0, min_p=0.05),
    "top-k 40 + top-p 0.9 + temp 0.7": dict(temp=0.7, top_k=40, top_p=0.9),
}


def logprobs(rows: int, seed: int, flat: bool = False) -> mx.array:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (rows, V)) if flat else llm_logits(rng, rows, V)
    x = mx.array(z.astype(np.float32))
    return x - mx.logsumexp(x, axis=-1, keepdims=True)


def timed(fn, x) -> float:
    start = time.perf_counter()
    mx.eval(fn(x))
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m impl.bench", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path("results"))
    args = p.parse_args(argv)
    from mlx_lm.sample_utils import make_sampler as mlx_lm_make_sampler

    results = []
    cases = [(batch, name, params, False) for batch in (1, 8) for name, params in CONFIGS.items()]
    cases.append((1, "top-p 0.9, flat row (worst case)", CONFIGS["top-p 0.9"], True))
    print(f"V = {V:,}, median of {args.repeats} calls each, alternating; ratio = mlx-lm time / our time")
    print(f"{'configuration':34} {'B':>2} {'mlx-lm ms':>10} {'ours ms':>8} {'ratio':>6}")
    for batch, name, params, flat in cases:
        inputs = [logprobs(batch, seed, flat) for seed in range(4)]
        mx.eval(inputs)
        theirs, ours = mlx_lm_make_sampler(**params), make_sampler_from("mlx_lm", **params)
        for fn in (theirs, ours):  # warm up (compilation, allocation)
            timed(fn, inputs[0])
        t_theirs, t_ours = [], []
        for i in range(args.repeats):  # alternate, and alternate who goes first
            x = inputs[i % len(inputs)]
            if i % 2:
                t_theirs.append(timed(theirs, x))
                t_ours.append(timed(ours, x))
            else:
                t_ours.append(timed(ours, x))
                t_theirs.append(timed(theirs, x))
        a, b = statistics.median(t_theirs) * 1e3, statistics.median(t_ours) * 1e3
        results.append({"config": name, "batch": batch, "mlx_lm_ms": round(a, 3), "ours_ms": round(b, 3),
                        "ratio": round(a / b, 2)})
        print(f"{name:34} {batch:2} {a:10.2f} {b:8.2f} {a / b:6.2f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "impl-bench.json").write_text(json.dumps({"vocab": V, "runs": results}, indent=2) + "\n")
    print(f"written: {args.out / 'impl-bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

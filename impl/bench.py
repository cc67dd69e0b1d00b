"""python -m impl.bench: our sampler against mlx-lm's make_sampler, same configuration (the
mlx_lm preset), same inputs, in one process, alternating, at V = 151,936 for B = 1 and B = 8.

Inputs are LLM-like log-probabilities (`spec.rows.llm_logits`), what mlx-lm hands its sampler.
A last line shows the worst case for our top-p, a flat row (normal body only), where the crossing
is not among the 1024 largest values and we sort the whole row as mlx-lm does. Prints medians and
mlx-lm / ours; writes results/impl-bench.json.

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
from spec.rows import VOCAB as V
from spec.rows import llm_logits
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
BIAS = {int(t): float(b) for t, b in zip(np.random.default_rng(0).choice(V, 16, replace=False), np.linspace(-5, 5, 16),
                                         strict=True)}
PROCESSED = {  # (sampler parameters, logits-processor parameters): both go to our mlx_lm preset
    "penalties + top-p 0.9 + temp 0.7": (dict(temp=0.7, top_p=0.9),
                                         dict(repetition_penalty=1.3, presence_penalty=0.4, frequency_penalty=0.2)),
    "repetition penalty + temp 0.7": (dict(temp=0.7), dict(repetition_penalty=1.3)),
    "logit bias (16 tokens) + temp 1": (dict(temp=1.0), dict(logit_bias=BIAS)),
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m impl.bench", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path("results"))
    args = p.parse_args(argv)
    from mlx_lm.sample_utils import make_logits_processors
    from mlx_lm.sample_utils import make_sampler as mlx_lm_make_sampler

    results = []
    cases = [(batch, name, params, {}, False) for batch in (1, 8) for name, params in CONFIGS.items()]
    cases.append((1, "top-p 0.9, flat row (worst case)", CONFIGS["top-p 0.9"], {}, True))
    cases += [(batch, name, params, processors, False) for batch in (1, 8)
              for name, (params, processors) in PROCESSED.items()]
    print(f"V = {V:,}, median of {args.repeats} calls each, alternating; ratio = mlx-lm time / our time")
    print(f"{'configuration':34} {'B':>2} {'mlx-lm ms':>10} {'ours ms':>8} {'ratio':>6}")
    for batch, name, params, processors, flat in cases:
        inputs = [logprobs(batch, seed, flat) for seed in range(4)]
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

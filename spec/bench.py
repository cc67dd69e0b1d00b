"""python -m spec.bench: how long spec.target takes on one full-vocabulary row (V = 151,936).

spec.target runs inside validation loops, so it has to be cheap: the target is well under 50 ms
per row for a full chain. Prints medians per configuration and writes results/spec-bench.json.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

from spec import presets, target
from spec.rows import VOCAB as V
from spec.rows import llm_logits

CONFIGS = {
    "hf full chain (T 0.7, top-k 40, top-p 0.9, min-p 0.05)":
        presets.hf(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05),
    "mlx_lm full chain (temp 0.7, top-p 0.9, min-p 0.05, top-k 40)":
        presets.mlx_lm(temp=0.7, top_p=0.9, min_p=0.05, top_k=40),
    "reference top-p 0.9 only": presets.reference(top_p=0.9),
    "temperature 0.7 only": presets.reference(temperature=0.7),
    "greedy": presets.reference(temperature=0),
}


def main(repeats: int = 15) -> int:
    rng = np.random.default_rng(0)
    rows = list(llm_logits(rng, repeats))
    results = {}
    print(f"spec.target, one row of V = {V:,} float64 logits, median of {repeats}:")
    for name, pipeline in CONFIGS.items():
        target(rows[0], pipeline)  # warm up
        times = []
        for row in rows:
            start = time.perf_counter()
            target(row, pipeline)
            times.append(time.perf_counter() - start)
        results[name] = round(statistics.median(times) * 1000, 2)
        print(f"  {name:64} {results[name]:7.2f} ms")
    out = Path("results")
    out.mkdir(exist_ok=True)
    (out / "spec-bench.json").write_text(json.dumps({"vocab": V, "median_ms": results}, indent=2) + "\n")
    print(f"written: {out / 'spec-bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

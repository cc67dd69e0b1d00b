"""python -m spec.bench: how long spec.target takes on one full-vocabulary row (V = 151,936), and
how long spec.validate takes to validate mlx-lm's top-p 0.9 sampler, per profile.

spec.target runs inside validation loops, so it has to be cheap: the target is well under 50 ms
per row for a full chain. Validation targets: quick under 30 s, default under 3 minutes. Prints
the figures and writes results/spec-bench.json.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

from spec import History, presets, target
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
    "mlx_lm everything (bias, 3 penalties over 1,000 tokens, top-p, min-p, XTC 0.5, top-k)":
        presets.mlx_lm(temp=0.7, top_p=0.9, min_p=0.05, top_k=40, xtc_probability=0.5, logit_bias={1: 2.0, 5: -np.inf},
                       repetition_penalty=1.3, presence_penalty=0.5, frequency_penalty=0.3,
                       repetition_context_size=1000, presence_context_size=1000, frequency_context_size=1000),
    "llama_cpp everything (penalties over 1,000, top-n-sigma, typical, XTC 0.3)":
        presets.llama_cpp(typ_p=0.9, top_n_sigma=2.0, xtc_probability=0.3, penalty_repeat=1.1, penalty_freq=0.1,
                          penalty_present=0.2, penalty_last_n=1000),
    "hf everything (repetition, typical, epsilon, eta, top-p, min-p)":
        presets.hf(temperature=0.7, top_p=0.9, min_p=0.05, typical_p=0.9, epsilon_cutoff=3e-4, eta_cutoff=1e-3,
                   repetition_penalty=1.2),
}
HISTORY_TOKENS = 1000  # the penalties see a history of this many tokens (500 prompt, 500 output)


def validation(profiles=("quick", "default")) -> dict:
    """Wall time of spec.validate on mlx-lm's make_sampler(temp=0.7, top_p=0.9), its cases up to
    V = 151,936, and the share of it spent inside the sampler (the peer: what the draws alone cost);
    then the same run with one call in flight (in_flight=1) instead of the adapter's two."""
    from spec import validate
    from spec.engines import mlx_lm

    def run(profile, in_flight):
        sampler = mlx_lm.sampler(temp=0.7, top_p=0.9)
        sampler.in_flight = in_flight
        return validate(sampler, presets.mlx_lm(temp=0.7, top_p=0.9), input="logprobs", profile=profile)

    out = {}
    print("spec.validate, mlx-lm make_sampler(temp=0.7, top_p=0.9), preset mlx_lm, log-probability input:")
    for profile in profiles:
        report, alone = run(profile, 2), run(profile, 1)
        out[profile] = {"passed": report.passed, "seconds": round(report.seconds, 1),
                        "sampler_seconds": round(report.sampler_seconds, 1), "draws": report.draws,
                        "one_in_flight_seconds": round(alone.seconds, 1), "rules_out": report.power}
        print(f"  {profile:8} {'pass' if report.passed else 'FAIL'}  {report.seconds:6.1f} s wall, "
              f"{report.sampler_seconds:6.1f} s inside mlx-lm's sampler "
              f"(validator overhead x{report.seconds / max(report.sampler_seconds, 1e-9):.2f}), "
              f"{report.draws:,} draws; one call in flight {alone.seconds:.1f} s "
              f"(x{alone.seconds / report.seconds:.2f})")
        for line in report.power:
            print(f"           rules out: {line}")
    return out


def main(repeats: int = 15) -> int:
    rng = np.random.default_rng(0)
    rows = list(llm_logits(rng, repeats))
    seen = rng.integers(0, V, HISTORY_TOKENS)
    history = History(prompt=tuple(seen[: HISTORY_TOKENS // 2]), output=tuple(seen[HISTORY_TOKENS // 2:]))
    results = {}
    print(f"spec.target, one row of V = {V:,} float64 logits, a history of {HISTORY_TOKENS:,} tokens, "
          f"median of {repeats}:")
    for name, pipeline in CONFIGS.items():
        target(rows[0], pipeline, history=history)  # warm up
        times = []
        for row in rows:
            start = time.perf_counter()
            target(row, pipeline, history=history)
            times.append(time.perf_counter() - start)
        results[name] = round(statistics.median(times) * 1000, 2)
        print(f"  {name:86} {results[name]:7.2f} ms")
    validate_results = validation()
    out = Path("results")
    out.mkdir(exist_ok=True)
    (out / "spec-bench.json").write_text(json.dumps({"vocab": V, "median_ms": results, "validate": validate_results},
                                                    indent=2) + "\n")
    print(f"written: {out / 'spec-bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

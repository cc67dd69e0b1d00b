"""Measure the validator's false-alarm rate on correct samplers (not part of CI): every kind of
correct sampler, many seeds each, at the run's stated alpha; prints the observed false alarms
against the expected number (runs x alpha).

    python tests/false_alarms.py [--seeds 200] [--profile quick] [--alpha 1e-6] [--cli 100] [--cli-all]
                                 [--cli-default 20]

Kinds: the samplers that own their randomness (tests/zoo_own_rng.py: numpy Generator at module
level, as an attribute, at construction; random.Random; an mlx key split inside; the clock; a
torch.Generator when torch is installed) and the zoo's keyed correct samplers (tests/zoo.py
CORRECT, with a `seed` argument). --cli N also runs the CLI on the issue's sampler (a numpy
Generator at module level, temperature 1.3 then min-p 0.05; with --cli-all, on every own-generator
kind) at seeds 1..N with the quick profile, and --cli-default M on the issue's sampler at seeds
1..M with the default profile. Two processes at a time.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import zoo_own_rng  # noqa: E402


def _keyed(job):
    """A zoo CORRECT sampler (keyed by its `seed` argument) at one seed."""
    from zoo import CORRECT

    import spec
    index, seed, profile, alpha = job
    s = CORRECT[index]
    report = spec.validate(s.black_box(), s.pipeline, profile=profile, seed=seed, alpha=alpha)
    return f"keyed: {s.name}", seed, report.passed, "" if report.passed else str(report)


def _own(job):
    import spec
    name, seed, profile, alpha = job
    if name == "torch.Generator":
        setting = zoo_own_rng.HF_TOP_K_P
        sampler = zoo_own_rng.TorchGenerator(setting, seed)
    else:
        sampler, setting, _ = zoo_own_rng.kinds(seed)[name]
    report = spec.validate(sampler, setting.pipeline, profile=profile, seed=seed, alpha=alpha)
    return f"own: {name}", seed, report.passed, "" if report.passed else str(report)


def _cli(kinds, seeds, profile: str, alpha: float) -> list[tuple[str, int, bool, str]]:
    """The CLI on each own-generator kind at each seed, two runs at a time."""
    jobs = [(kind, s) for kind in kinds for s in seeds]
    out = []
    for pair in (jobs[i:i + 2] for i in range(0, len(jobs), 2)):
        procs = []
        for kind, s in pair:
            _, setting, path = zoo_own_rng.kinds(0)[kind]
            procs.append((kind, s, subprocess.Popen(
                [sys.executable, "-m", "spec.validate", path, *setting.flags, "--profile", profile, "--seed", str(s),
                 "--alpha", str(alpha)], cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
        for kind, s, p in procs:
            stdout, stderr = p.communicate()
            out.append((f"CLI {profile}: {kind}", s, p.returncode == 0, stdout + stderr))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=200, help="seeds per kind through the Python API (0: none)")
    ap.add_argument("--profile", default="quick", choices=("quick", "default", "thorough"))
    ap.add_argument("--alpha", type=float, default=1e-6, help="each run's stated false-alarm rate")
    ap.add_argument("--cli", type=int, default=0, help="CLI runs (quick) of the issue's sampler, seeds 1..N")
    ap.add_argument("--cli-default", type=int, default=0, help="CLI runs (default profile), seeds 1..M")
    ap.add_argument("--cli-all", action="store_true", help="--cli on every own-generator kind, not only the issue's")
    args = ap.parse_args(argv)
    from zoo import CORRECT
    own = list(zoo_own_rng.kinds(0)) + (["torch.Generator"] if importlib.util.find_spec("torch") else [])
    seeds = range(1, args.seeds + 1)
    start = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(_own, [(k, s, args.profile, args.alpha) for k in own for s in seeds]))
        results += list(pool.map(_keyed, [(i, s, args.profile, args.alpha) for i in range(len(CORRECT))
                                          for s in seeds]))
    issue = ["numpy module-level"]  # the sampler the false alarm was reported on
    results += _cli(list(zoo_own_rng.kinds(0)) if args.cli_all else issue, range(1, args.cli + 1), "quick",
                    args.alpha) if args.cli else []
    results += _cli(issue, range(1, args.cli_default + 1), "default", args.alpha) if args.cli_default else []
    took = time.perf_counter() - start
    kinds = dict.fromkeys(name for name, *_ in results)
    print("| kind | runs | false alarms | expected (runs x alpha) |\n|---|---|---|---|")
    for kind in kinds:
        mine = [r for r in results if r[0] == kind]
        print(f"| {kind} | {len(mine)} | {sum(not r[2] for r in mine)} | {len(mine) * args.alpha:.2g} |")
    alarms = [r for r in results if not r[2]]
    print(f"\n{len(results)} runs ({args.profile} profile through the API, alpha {args.alpha:g} each): "
          f"{len(alarms)} false alarms, {len(results) * args.alpha:.2g} expected; {took:.0f} s")
    for name, seed, _, text in alarms[:3]:
        print(f"\n--- {name}, seed {seed}:\n{text}")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())

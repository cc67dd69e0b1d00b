"""Stress the clean-exit guarantee (not part of CI): run the full test suite and the validator
CLI many times in fresh processes and count aborts and unexpected exit statuses.

    python tests/stress_exit.py [--suite 5] [--cli 30] [--busy] [--cause 12]

--busy runs a CPU-heavy job alongside (one process per core spinning numpy matrix products), as
on a shared CI machine. Every CLI run has an expected status: a conforming sampler 0, a broken
one 1, a hanging one 1 (reported as a hang within its time limit). An abort (a negative status,
or "terminate called" on stderr) is always a failure of this project.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The cause, reproduced without this project: helper threads that ran mlx work and ended. With
# RELEASE=1 each thread releases its mlx streams before it ends, as spec.validator.calls does.
CAUSE = """
import os, threading, mlx.core as mx
def work():
    mx.eval(mx.random.categorical(mx.zeros((4, 1000))))
    if os.environ.get("RELEASE") == "1":
        mx.synchronize()
        mx.clear_streams()
for _ in range(5):
    t = threading.Thread(target=work)
    t.start()
    t.join()
mx.eval(mx.random.categorical(mx.zeros((4, 1000))))
"""
HANGING = "import time\n\ndef sampler(x):\n    time.sleep(600)\n"
CLI_RUNS = [  # (arguments, expected exit status)
    (["mlx_lm.sample_utils:make_sampler", "--factory", "--preset", "mlx-lm", "--temperature", "0.7", "--top-p", "0.9",
      "--profile", "quick"], 0),
    (["spec.examples:top_p_sampler_dropping_the_crossing_token", "--preset", "hf", "--top-k", "0", "--top-p", "0.9",
      "--profile", "quick"], 1),
    (["hangs:sampler", "--profile", "quick", "--timeout", "2"], 1),
]


def _spin(stop):
    import numpy as np
    a = np.random.default_rng(0).normal(size=(300, 300))
    while not stop.is_set():
        a = np.tanh(a @ a)


def run(cmd, env, timeout=3600):
    start = time.monotonic()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    aborted = out.returncode < 0 or "terminate called" in out.stderr
    return out, aborted, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=int, default=5, help="full test-suite runs (default: 5)")
    parser.add_argument("--cli", type=int, default=30,
                        help="validator CLI runs, cycling through 3 samplers (default: 30)")
    parser.add_argument("--busy", action="store_true", help="a CPU-heavy job alongside (default: off)")
    parser.add_argument("--cause", type=int, default=0, metavar="N",
                        help="first run the cause's reproduction N times without and N times with the release "
                             "(default: 0)")
    args = parser.parse_args()
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
                for _ in range((os.cpu_count() or 2) if args.busy else 0)]
    for p in spinners:
        p.start()
    bad = 0
    for release in ("0", "1") if args.cause else ():
        aborts = sum(run([sys.executable, "-c", CAUSE], {**os.environ, "RELEASE": release})[1]
                     for _ in range(args.cause))
        print(f"cause: threads that used mlx and ended {'with' if release == '1' else 'without'} "
              f"mx.clear_streams(): {aborts} of {args.cause} processes aborted at exit", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "hangs.py").write_text(HANGING)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, str(ROOT)])}
        for i in range(args.suite):
            out, aborted, seconds = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], env)
            last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
            ok = out.returncode == 0 and not aborted
            bad += not ok
            print(f"suite {i + 1}: status {out.returncode}{' ABORT' if aborted else ''}, {seconds:.0f} s: {last}",
                  flush=True)
        for i in range(args.cli):
            cli_args, expected = CLI_RUNS[i % len(CLI_RUNS)]
            out, aborted, seconds = run([sys.executable, "-m", "spec.validate", *cli_args], env)
            ok = out.returncode == expected and not aborted
            bad += not ok
            print(f"cli {i + 1} ({cli_args[0]}): status {out.returncode} (expected {expected})"
                  f"{' ABORT' if aborted else ''}, {seconds:.0f} s", flush=True)
    stop.set()
    for p in spinners:
        p.join(5)
    print(f"{bad} unexpected of {args.suite + args.cli} runs ({'busy' if args.busy else 'idle'} machine)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m proofs.bench: how the bounded argmax-shift proof scales with n, per encoding.

For each encoding, n doubles from 16 until a proof takes longer than --limit seconds, then
bisects between the last success and the first failure (--at N runs the given sizes only). Prints a
table, writes results/proofs-bench.json. Every figure is z3 on SMT-LIB text written directly, under
a resource limit (--rlimit, z3 units, counted the same on a busy or an idle machine) and a wall-clock
limit; a proof counts when the premises alone are sat (non-vacuity), every negated claim or lemma is
unsat, and premises check plus proof took at most --limit seconds. The `rlimit` column is the units
z3 used (its `(get-info :rlimit)`), summed over the queries of one proof; --rlimit bounds each
(check-sat), so max-split's scoped step of n checks is bounded by (n + 1) * rlimit.

Encodings: ite-chain, declarative, one-hot (proofs/encodings.py) in one query each; one-hot+lemma:
max(z - c) = max(z) - c first, then the claim; one-hot+max-split (`encodings.max_split`): the same
one-hot theorem, with the per-index facts y_i = max(y) iff z_i = max(z) checked one per scope.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from proofs.encodings import ENCODINGS, MAX_LEMMA, NO_FLATTEN, max_split, split_is_honest, split_script
from proofs.smt import RLIMIT, z3_binary, z3_version

SPLIT = "one-hot+max-split"
ALL = [*ENCODINGS, "one-hot+lemma", SPLIT]


def _plain(decls: str, facts, goal: str) -> str:
    return "\n".join([decls, *(f"(assert {p})" for p in facts), f"(assert (not {goal}))", "(check-sat)"])


def plan(encoding: str, n: int, **mutant) -> tuple[str, list[tuple[str, str, list[str]]]]:
    """(premises-alone script, [(step name, script, the answers it must give, in order)]).
    Scripts are SMT-LIB without (set-logic); `mutant` goes to `max_split` (tests)."""
    if encoding == SPLIT:
        decls, premises, claim, steps = max_split(n, **mutant)
        assert split_is_honest(premises, claim, steps), "a step uses a fact that is not yet proved"
        pre = "\n".join([NO_FLATTEN, decls, *(f"(assert {p})" for p in premises), "(check-sat)"])
        return pre, [(s.name, *split_script(decls, s)) for s in steps]
    base = "one-hot" if encoding == "one-hot+lemma" else encoding
    decls, premises, claim = ENCODINGS[base](n)
    pre = "\n".join([decls, *(f"(assert {p})" for p in premises), "(check-sat)"])
    if encoding == "one-hot+lemma":
        return pre, [("max", _plain(decls, premises, MAX_LEMMA), ["unsat"]),
                     ("claim", _plain(decls, [*premises, MAX_LEMMA], claim), ["unsat"])]
    return pre, [("claim", _plain(decls, premises, claim), ["unsat"])]


def run_z3(script: str, timeout: float, rlimit: int) -> tuple[list[str], float, int]:
    """Answers of every (check-sat) in order, wall seconds, resource units z3 used. A run killed by
    the wall clock, or stopped by z3's own timeout, ends its answers with "timeout"."""
    text = f"(set-logic ALL)\n{script}\n(get-info :rlimit)\n"
    cmd = [z3_binary(), "-in", f"-T:{max(1, math.ceil(timeout))}", f"rlimit={int(rlimit)}"]
    start = time.perf_counter()
    try:
        out = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=timeout + 2).stdout
    except subprocess.TimeoutExpired:
        return ["timeout"], time.perf_counter() - start, -1
    seconds = time.perf_counter() - start
    answers = [ln.strip() for ln in out.splitlines() if ln.strip() in ("sat", "unsat", "unknown", "timeout")]
    used = re.search(r":rlimit (\d+)", out)
    if not answers or (out.strip() and not used and "timeout" not in out):
        answers.append("error: " + out.strip()[:300])
    return answers, seconds, int(used.group(1)) if used else -1


def attempt(encoding: str, n: int, limit: float, rlimit: int = RLIMIT, **mutant) -> dict:
    t0 = time.perf_counter()
    pre, steps = plan(encoding, n, **mutant)
    build = time.perf_counter() - t0
    answers, pre_s, used = run_z3(pre, limit, rlimit)
    row = {"encoding": encoding, "n": n, "proved": False, "answer": "",
           "premises": answers[0], "build_s": round(build, 3), "premises_s": round(pre_s, 3),
           "solve_s": 0.0, "rlimit": max(used, 0), "steps": []}
    if answers != ["sat"]:
        row["answer"] = f"premises {answers[0]}"
        return row
    solve_s, status = 0.0, "unsat"
    for name, script, expect in steps:
        # rlimit bounds each (check-sat): a scoped step of k checks is bounded by k * rlimit in all
        answers, seconds, used = run_z3(script, max(limit - pre_s - solve_s, 0.1), rlimit)
        solve_s += seconds
        row["rlimit"] += max(used, 0)
        row["rlimit_known"] = row.get("rlimit_known", True) and used >= 0  # not known when z3 was stopped
        bad = [a for a, e in zip(answers, expect, strict=False) if a != e]
        row["steps"].append({"step": name, "checks": len(expect), "unsat": answers.count("unsat"),
                             "seconds": round(seconds, 3), "rlimit": used})
        if bad or len(answers) != len(expect):
            status = (bad[0] if bad != ["unsat"] else f"{name}: facts unsat") if bad else \
                f"{len(answers)} of {len(expect)} answers"
            if status == "unknown" and used >= rlimit:
                status = "resource limit"
            break
    row.update(answer=status, solve_s=round(solve_s, 3),
               proved=status == "unsat" and build + pre_s + solve_s <= limit)
    return row


def _show(row: dict, log) -> None:
    print(f"  {row['encoding']:17} n={row['n']:5}  {'proved' if row['proved'] else row['answer']:8} "
          f"build {row['build_s']:5.2f} s  premises {row['premises_s']:5.2f} s  proof {row['solve_s']:6.2f} s  "
          f"rlimit {'' if row.get('rlimit_known', True) else '>'}{row['rlimit']:>11,}", file=log, flush=True)


def scale(encoding: str, limit: float, cap: int, log, rlimit: int = RLIMIT) -> tuple[list[dict], int]:
    rows, best, n, fail = [], 0, 16, None
    while n <= cap:
        row = attempt(encoding, n, limit, rlimit)
        rows.append(row)
        _show(row, log)
        if not row["proved"]:
            fail = n
            break
        best, n = n, n * 2
    for _ in range(3 if fail else 0):  # bisect between best and fail
        mid = (best + fail) // 2
        if mid in (best, fail):
            break
        row = attempt(encoding, mid, limit, rlimit)
        rows.append(row)
        _show(row, log)
        best, fail = (mid, fail) if row["proved"] else (best, mid)
    return rows, best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m proofs.bench", description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=float, default=10.0, help="seconds allowed per proof (default 10)")
    p.add_argument("--cap", type=int, default=4096, help="largest n tried (default 4096)")
    p.add_argument("--at", type=int, nargs="+",
                   help="run these n only (no doubling, no bisection; default: double, then bisect)")
    p.add_argument("--rlimit", type=float, default=RLIMIT, help=f"z3 resource units per query (default {RLIMIT:.0e})")
    p.add_argument("--encodings", nargs="+", default=ALL, choices=ALL, help="which encodings (default: all)")
    p.add_argument("--out", type=Path, default=Path("results"), help="where the JSON goes (default: results)")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"z3: {z3_version()}; load average {load:.2f} on {os.cpu_count()} cores at start", flush=True)
    table, rows = [], []
    for encoding in args.encodings:
        if args.at:
            got = [attempt(encoding, n, args.limit, int(args.rlimit)) for n in args.at]
            for row in got:
                _show(row, sys.stdout)
            best = max([r["n"] for r in got if r["proved"]], default=0)
        else:
            got, best = scale(encoding, args.limit, args.cap, sys.stdout, int(args.rlimit))
        rows += got
        proved = [r for r in got if r["proved"] and r["n"] == best]
        table.append((encoding, best, proved[-1] if proved else None))
    what = "largest n proved" + (f" among {args.at}" if args.at else f" (n <= {args.cap})")
    print(f"\n{what} within {args.limit:g} s (premises check + proof; z3 binary, SMT-LIB text written directly):")
    for encoding, best, row in table:
        cap = " (the cap)" if not args.at and best == args.cap else ""
        fig = (f"  {row['build_s'] + row['premises_s'] + row['solve_s']:6.2f} s  rlimit {row['rlimit']:>11,}"
               if row else "")
        print(f"  {encoding:17} {best:5}{cap}{fig}")
    load_end = os.getloadavg()[0]
    print(f"load average {load_end:.2f} at the end (other jobs share the cores: wall-clock figures vary)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "proofs-bench.json").write_text(json.dumps(
        {"limit_s": args.limit, "rlimit": int(args.rlimit), "z3": z3_version(), "load": [load, load_end],
         "largest_n": {e: b for e, b, _ in table}, "runs": rows}, indent=2) + "\n")
    print(f"written: {args.out / 'proofs-bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

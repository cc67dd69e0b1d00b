"""python -m proofs.bench: how the bounded argmax-shift proof scales with n, per encoding.

For each encoding, n doubles from 16 until a proof takes longer than --limit seconds, then
bisects between the last success and the first failure. Prints a table, writes results/ files.
Every figure is "negated claim answered unsat" by z3 on SMT-LIB text written directly.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from proofs.encodings import ENCODINGS, MAX_LEMMA
from proofs.smt import Query, solve, z3_version


def queries(encoding: str, n: int) -> list[Query]:
    """The queries of one bounded proof; "one-hot+lemma" proves max(z - c) = max(z) - c first."""
    base = "one-hot" if encoding == "one-hot+lemma" else encoding
    decls, premises, claim = ENCODINGS[base](n)
    steps = [(MAX_LEMMA, premises), (claim, [*premises, MAX_LEMMA])] if base != encoding else [(claim, premises)]
    return [Query(f"{encoding}-n{n}-{i}", f"bench {encoding} n={n}",
                  "\n".join([decls, *(f"(assert {p})" for p in prem), f"(assert (not {goal}))"]),
                  "unsat", "negation") for i, (goal, prem) in enumerate(steps)]


def attempt(encoding: str, n: int, limit: float) -> dict:
    t0 = time.perf_counter()
    qs = queries(encoding, n)
    build = time.perf_counter() - t0
    solve_s, status = 0.0, "unsat"
    for q in qs:
        answer = solve(q, max(limit - solve_s, 0.1))
        solve_s += answer.seconds
        if answer.status != "unsat":
            status = answer.status
            break
    proved = status == "unsat" and build + solve_s <= limit
    return {"encoding": encoding, "n": n, "proved": proved, "answer": status,
            "build_s": round(build, 3), "solve_s": round(solve_s, 3)}


def scale(encoding: str, limit: float, cap: int, log) -> tuple[list[dict], int]:
    rows, best, n, fail = [], 0, 16, None
    while n <= cap:
        row = attempt(encoding, n, limit)
        rows.append(row)
        print(f"  {encoding:14} n={n:5}  {'proved' if row['proved'] else row['answer']:8} "
              f"build {row['build_s']:6.2f} s  solve {row['solve_s']:6.2f} s", file=log, flush=True)
        if not row["proved"]:
            fail = n
            break
        best, n = n, n * 2
    for _ in range(3 if fail else 0):  # bisect between best and fail
        mid = (best + fail) // 2
        if mid in (best, fail):
            break
        row = attempt(encoding, mid, limit)
        rows.append(row)
        print(f"  {encoding:14} n={mid:5}  {'proved' if row['proved'] else row['answer']:8} "
              f"build {row['build_s']:6.2f} s  solve {row['solve_s']:6.2f} s", file=log, flush=True)
        best, fail = (mid, fail) if row["proved"] else (best, mid)
    return rows, best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m proofs.bench", description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=float, default=10.0, help="seconds allowed per proof (default 10)")
    p.add_argument("--cap", type=int, default=4096, help="largest n tried (default 4096)")
    p.add_argument("--encodings", nargs="+", default=[*ENCODINGS, "one-hot+lemma"],
                   choices=[*ENCODINGS, "one-hot+lemma"])
    p.add_argument("--out", type=Path, default=Path("results"))
    args = p.parse_args(argv)
    import sys
    table, rows = [], []
    for encoding in args.encodings:
        got, best = scale(encoding, args.limit, args.cap, sys.stdout)
        rows += got
        table.append((encoding, best))
    print(f"\nlargest n proved within {args.limit:g} s (z3 binary, SMT-LIB text written directly):")
    for encoding, best in table:
        print(f"  {encoding:14} {best}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "proofs-bench.json").write_text(json.dumps(
        {"limit_s": args.limit, "z3": z3_version(), "largest_n": dict(table), "runs": rows}, indent=2) + "\n")
    print(f"written: {args.out / 'proofs-bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

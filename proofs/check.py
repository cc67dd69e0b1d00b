"""python -m proofs.check: run every theorem, print verdicts, write transcripts.

Exit status: 0 iff every theorem reaches its expected verdict (and, with --cross-check, the second
solver contradicts z3 on no query), 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from proofs import crosscheck
from proofs.catalogue import BY_ID, THEOREMS
from proofs.core import INCONCLUSIVE, Context, verdict
from proofs.crosscheck import Usage  # the one Usage class (see there why it lives in crosscheck)
from proofs.smt import RLIMIT
from proofs.transcript import Result, write, z3_drift

MAX_N = 2**16  # a bounded argmax-shift query declares n reals: far past the default 1024 none can finish
MAX_RLIMIT = 2**32 - 1  # z3 reads rlimit as an unsigned 32-bit number
MAX_TIMEOUT = 4_294_967  # seconds: z3 takes its timeout in milliseconds, as an unsigned 32-bit number
LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump or traceback
        raise Usage(message)


def positive(kind, most):
    """An argparse type: a finite `kind` number with 0 < value <= most (so neither nan nor inf)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number: {text!r}")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        if not value <= most:
            raise argparse.ArgumentTypeError(f"must be at most {most}: {text!r}")
        return value
    return parse


def writable(out: Path) -> None:
    """Create the transcript folder and write (and remove) a probe file in it, so that an --out that
    cannot hold transcripts is a usage error now, not a traceback after every theorem has run."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-probe-"):
            pass
    except OSError as e:
        reason = "not a folder" if out.exists() and not out.is_dir() else e.strerror or str(e)
        raise Usage(f"argument --out: cannot write transcripts to {str(out)!r}: {reason}") from None


def parse_args(argv):
    p = Parser(prog="python -m proofs.check", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("transcripts"), help="transcript folder (default: transcripts)")
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these theorem ids (default: every theorem)")
    p.add_argument("--list", action="store_true", help="list the theorem ids and exit")
    p.add_argument("--max-n", type=positive(int, MAX_N), default=1024,
                   help=f"largest power of two for the bounded argmax-shift proofs (default 1024, at most {MAX_N})")
    p.add_argument("--rlimit", type=positive(int, MAX_RLIMIT), default=RLIMIT,
                   help=f"z3 resource units per query: what bounds solver work, the same on a busy or an idle "
                        f"machine (default {RLIMIT:.0e}, about 10 minutes of z3 here)")
    p.add_argument("--timeout", type=positive(float, MAX_TIMEOUT), default=1800.0,
                   help=f"wall-clock seconds per solver query, a safety net above the resource limit "
                        f"(default 1800, at most {MAX_TIMEOUT})")
    p.add_argument("--json", action="store_true",
                   help="print summary.json to stdout (default: the console summary only)")
    p.add_argument("--full", action="store_true",
                   help="also the slow float32 floating-point proofs and the exhaustive 16-bit enumeration "
                        "(default: off)")
    p.add_argument("--cross-check", choices=crosscheck.SOLVERS,
                   help="re-check every .smt2 file with cvc5, or the floating-point ones with bitwuzla (default: none)")
    args = p.parse_args(argv)
    unknown = [i for i in args.only or [] if i not in BY_ID]
    if unknown:
        raise Usage(f"unknown theorem id {unknown[0]!r} (see --list)")
    return args


def run(theorem, max_n, timeout, full=False, rlimit=RLIMIT) -> Result:
    ctx = Context(max_n=max_n, timeout=timeout, full=full, rlimit=rlimit)
    start = time.perf_counter()
    try:
        theorem.run(ctx)
    except Exception as e:  # noqa: BLE001 - a degenerate row or a mutant must end in a verdict, not a traceback
        where = traceback.extract_tb(e.__traceback__)[-1]
        ctx.step("the checker raised an error", "error", INCONCLUSIVE,
                 f"`{type(e).__name__}: {e}` in {Path(where.filename).name}:{where.lineno} ({where.name}). The steps "
                 "after it did not run, so nothing is concluded: **not proved**.", time.perf_counter() - start)
    scope = theorem.scope_of(ctx)
    return Result(theorem, verdict(ctx.steps, scope), ctx.steps, ctx.counterexample, time.perf_counter() - start,
                  scope)


def why_not(result: Result, args) -> str:
    """For a theorem not proved: which limit stopped the solver, and the flag that raises it."""
    limits = {s.answer.status for s in result.steps if s.answer is not None}
    if not result.verdict.startswith("not proved") or not limits & {"resource limit", "timeout"}:
        return ""
    if "resource limit" in limits:
        return f"  (resource limit of {args.rlimit:,} units; try --rlimit)"
    return f"  (timeout after {args.timeout:g} s; try --timeout)"


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
        if args.cross_check:
            crosscheck.require(args.cross_check)
        if not args.list:
            writable(args.out)
    except Usage as e:  # one line, even when argparse echoes an argument holding a line break
        print(f"proofs.check: error: {str(e).translate(LINE_BREAKS)}", file=sys.stderr)
        return 2
    if args.list:
        default = Context()  # the scope of a default run (--full widens some)
        for t in THEOREMS:
            print(f"{t.id:31} expected {t.expected_verdict(t.scope_of(default)):30} {t.title}")
        return 0
    chosen = [BY_ID[i] for i in dict.fromkeys(args.only)] if args.only else list(THEOREMS)
    log = sys.stderr if args.json else sys.stdout
    results = []
    for number, theorem in enumerate(chosen, 1):
        r = run(theorem, args.max_n, args.timeout, args.full, args.rlimit)
        results.append(r)
        mark = "ok" if r.ok else "UNEXPECTED"
        print(f"[{number:2}/{len(chosen)}] {theorem.id:31} {r.verdict:18} (expected {r.expected:18}) "
              f"{r.seconds:6.2f} s  {mark}{why_not(r, args)}", file=log, flush=True)
        if r.counterexample:
            print(f"        counterexample: {r.counterexample.strip().splitlines()[0]}", file=log, flush=True)
    data = write(args.out, results, args.cross_check)
    failed = [r.theorem.id for r in results if not r.ok]
    width = max(len("verdict"), *(len(r.expected) for r in results), *(len(r.verdict) for r in results))
    print(f"\n{'theorem':31} {'expected':{width}} {'verdict':{width}} seconds", file=log)
    for r in results:
        print(f"{r.theorem.id:31} {r.expected:{width}} {r.verdict:{width}} {r.seconds:7.2f}", file=log)
    total = sum(r.seconds for r in results)
    print(f"\n{len(results) - len(failed)}/{len(results)} theorems as expected in {total:.1f} s; "
          f"transcripts in {args.out}/index.md", file=log)
    if drift := z3_drift():
        print(drift, file=log)
    if args.cross_check:
        disagreements = crosscheck.run(args.out, min(args.timeout, 120.0), log, args.cross_check)
        data["cross_check"] = disagreements
        (args.out / "summary.json").write_text(json.dumps(data, indent=2) + "\n")  # where the trusted base points
        failed += [f"{args.cross_check}:{d}" for d in disagreements["disagree"]]
    if args.json:
        print(json.dumps(data, indent=2))
    if failed:
        print(f"not as expected: {', '.join(failed)}", file=log)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `python -m proofs.check | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)

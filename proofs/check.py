"""python -m proofs.check: run every theorem, print verdicts, write transcripts.

Exit status: 0 iff every theorem reaches its expected verdict (and, with --cross-check, the second
solver contradicts z3 on no query), 1 otherwise, 2 on a usage error.

With coqc on the PATH, the Coq layer (proofs.coq_layer) compiles proofs/coq/ once per run, beside the z3
work: a theorem with a Coq statement then expects the kernel's verdict (`proved for every n (Coq kernel)`),
and a Coq statement that fails its kernel check fails the run (also for a refuted theorem, whose verdict
rests on its exact witness). Without coqc, one line says how to install it and the run is as before.
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
from dataclasses import replace
from pathlib import Path

from proofs import coq_layer, crosscheck
from proofs.catalogue import BY_ID, THEOREMS, kernel_scope
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
                   help="also the slow float32 floating-point proofs, the exhaustive 16-bit enumeration and, "
                        "with coqc, the Coq files checked with --full (the interval witnesses; default: off)")
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


def with_coq(result: Result, report, statements: list, deferred: bool = False) -> Result:
    """The result with its Coq step, and the verdict and expectation that step brings (proofs.core.verdict).
    report: the Coq layer's (None without coqc); statements: the theorem's annotated Coq statements;
    deferred: they are in a FULL_ONLY file and this run is not --full."""
    step = coq_layer.step(result.theorem.id, report, statements, deferred)
    if step is None:
        return result
    kernel = "" if report is None or deferred else kernel_for(result.theorem.id, statements)
    steps = [*result.steps, step]
    scope = "witness" if result.theorem.expected == "refuted" else kernel_scope(result.theorem.id)
    coq = coq_layer.record(result.theorem.id, report, statements, scope, step.status)
    return replace(result, steps=steps, verdict=verdict(steps, result.scope, kernel), kernel=kernel, coq=coq)


def kernel_for(theorem_id: str, statements: list) -> str:
    """The verdict a kernel check of the theorem's Coq statements earns ("" when it has none)."""
    return coq_layer.kernel_verdict(statements, kernel_scope(theorem_id)) if statements else ""


def coq_statements(ids) -> dict[str, list]:
    """The annotated Coq statements of each theorem id (read from proofs/coq/, nothing compiled)."""
    found: dict[str, list] = {}
    for s in coq_layer.annotated():
        if s.id in ids:
            found.setdefault(s.id, []).append(s)
    return found


def why_not(result: Result, args) -> str:
    """For a theorem not proved: which limit stopped the solver, and the flag that raises it."""
    limits = {s.answer.status for s in result.steps if s.answer is not None}
    if not result.verdict.startswith("not proved") or not limits & {"resource limit", "timeout"}:
        return ""
    if "resource limit" in limits:
        return f"  (resource limit of {args.rlimit:,} units; try --rlimit)"
    return f"  (timeout after {args.timeout:g} s; try --timeout)"


def coq_report(future):
    """The Coq layer's report, waiting for it; None without coqc. An error in the layer itself is a report
    that checks nothing and says why."""
    if future is None:
        return None
    try:
        return future.result()
    except Exception as e:  # noqa: BLE001 - a bug in the layer must fail the Coq steps, not the run
        return coq_layer.Report("?", problems=[f"the Coq layer raised {type(e).__name__}: {e}"])


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
        kernel = coq_statements(BY_ID) if coq_layer.coqc() else {}  # with coqc, a Coq proof sets the expectation
        for t in THEOREMS:
            expected = t.expected_verdict(t.scope_of(default), kernel_for(t.id, kernel.get(t.id, [])))
            print(f"{t.id:31} expected {expected:30} {t.title}")
        return 0
    chosen = [BY_ID[i] for i in dict.fromkeys(args.only)] if args.only else list(THEOREMS)
    log = sys.stderr if args.json else sys.stdout
    statements = coq_statements({t.id for t in chosen})
    deferred = set() if args.full else {i for i, found in statements.items() if any(s.full_only for s in found)}
    coq = coq_layer.start(set(statements) - deferred) if set(statements) - deferred else None  # beside the z3 work
    if coq_layer.coqc() is None:
        print(coq_layer.summary(None), file=log, flush=True)
    results, pending, report = [], [], None

    def show(ready):  # the progress lines of the theorems whose Coq step is known
        for number, r in ready:
            r = with_coq(r, report, statements.get(r.theorem.id, []), r.theorem.id in deferred)
            results.append(r)
            mark = "ok" if r.ok else "UNEXPECTED"
            print(f"[{number:2}/{len(chosen)}] {r.theorem.id:31} {r.verdict:18} (expected {r.expected:18}) "
                  f"{r.seconds:6.2f} s  {mark}{why_not(r, args)}", file=log, flush=True)
            if r.counterexample:
                print(f"        counterexample: {r.counterexample.strip().splitlines()[0]}", file=log, flush=True)
        ready.clear()

    for number, theorem in enumerate(chosen, 1):
        pending.append((number, run(theorem, args.max_n, args.timeout, args.full, args.rlimit)))
        if coq is None or coq.done():
            report = coq_report(coq)
            show(pending)
    report = coq_report(coq)
    show(pending)
    if report is not None:
        print(coq_layer.summary(report), file=log)
    data = write(args.out, results, args.cross_check, report)
    failed = [r.theorem.id for r in results if not r.ok]
    if report is not None:  # a Coq file's annotation that counts for no theorem is a mistake to fix
        unknown = sorted({s.id for s in coq_layer.annotated()} - set(BY_ID)) if not args.only else []
        failed += [f"coq:{problem}" for problem in report.problems] + [f"coq:unknown theorem id {i}" for i in unknown]
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

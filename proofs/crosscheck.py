"""--cross-check cvc5: re-run every emitted .smt2 file with cvc5 (an optional extra) and compare
its answer with the status the file records. An opposite answer is a failure; cvc5 answering
`unknown`, running out of time or failing on a file (an error: a parse error, an unsupported
logic) is reported as undecided, by kind and by theorem: it confirms nothing, refutes nothing,
and is never counted as agreement. cvc5 is compared with z3's answer, not with the file's
expected status: for the control theorem the two differ on purpose.

Also a worker: `python -m proofs.crosscheck FILE` prints cvc5's answer for one file, so each file
runs in its own process under a hard wall-clock limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


class Usage(Exception):
    """A usage error: proofs.check prints it on one line and exits 2 before running any theorem.

    It lives here, not in proofs.check, so that there is exactly one such class: under
    `python -m proofs.check` that module runs as __main__, and `from proofs.check import Usage`
    would load it a second time, with a second, different Usage class that main never catches.
    """


def require():
    try:
        import cvc5  # noqa: F401
    except ImportError:
        raise Usage("--cross-check cvc5 needs the cvc5 package: pip install 'sampler-proofs[cvc5]'") from None


DECIDED = ("sat", "unsat")


def answer(path: Path, timeout: float) -> str:
    """cvc5's answer: sat, unsat, `unknown (REASON)`, timeout, or `error: ...`."""
    try:
        run = subprocess.run([sys.executable, "-m", "proofs.crosscheck", str(path), str(timeout)],
                             capture_output=True, text=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return "timeout"
    lines = run.stdout.strip().splitlines()
    if lines and lines[0].split()[0] in (*DECIDED, "unknown"):
        return lines[0].strip()
    return "error: " + (run.stderr.strip().splitlines() or lines or ["no output"])[-1]


def kind(got: str) -> str:
    """The kind of an undecided answer: unknown, timeout or error."""
    return got.split()[0].rstrip(":")


def run(out: Path, timeout: float, log) -> dict:
    """Compare cvc5 with z3 on every query of the run recorded in out/summary.json. Only an answer
    both solvers decided (sat or unsat) counts: equal is agreement, opposite a disagreement; every
    other answer is undecided (cvc5's answer kept in `undecided_why`)."""
    start = time.perf_counter()
    result = {"agree": [], "disagree": [], "undecided": [], "undecided_why": {}}
    summary = json.loads((out / "summary.json").read_text())
    queries = [(s["query"], s["answer"]) for t in summary["theorems"] for s in t["steps"] if "query" in s]
    answers = {}  # file text -> cvc5's answer: both ordered ids of a commuting pair write the same files
    for name, z3_said in queries:
        text = (out / name).read_text()
        if text not in answers:
            answers[text] = answer(out / name, timeout)
        got = answers[text]
        if got in DECIDED and z3_said in DECIDED:
            bucket = "agree" if got == z3_said else "disagree"
        else:  # cvc5 (or z3) did not decide: nothing to compare
            bucket = "undecided"
            result["undecided_why"][name] = got
        result[bucket].append(name)
        if bucket != "agree":
            print(f"cvc5 {bucket}: {name}: z3 said {z3_said}, cvc5 says {got}", file=log, flush=True)
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(f"cvc5 cross-check ({timeout:g} s per query, {len(answers)} distinct files, "
          f"{result['seconds']:.0f} s in all): {len(result['agree'])} agree, {len(result['disagree'])} disagree, "
          f"{len(result['undecided'])} undecided of {len(queries)} queries", file=log)
    if result["undecided"]:
        kinds = Counter(kind(got) for got in result["undecided_why"].values())
        theorems = Counter(Path(name).parent.name for name in result["undecided"])
        print(f"  undecided = NOT checked by cvc5 (not counted as agreement): "
              f"{', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; by theorem: "
              f"{', '.join(f'{t} {n}' for t, n in theorems.items())}", file=log)
    return result


def _worker(path: str, timeout: float):
    import cvc5
    solver = cvc5.Solver()
    solver.setOption("tlimit-per", str(int(timeout * 1000)))
    text = Path(path).read_text()
    # Experimental options only where a file needs them: arrays-exp makes cvc5 time out on some
    # unsat queries that it answers in 0.1 s without it (argmax-shift first-max.exists.negation).
    if "(as const" in text:
        solver.setOption("arrays-exp", "true")  # constant arrays in some non-vacuity witnesses
    solver.setOption("mbqi", "true")  # model-based instantiation: lets cvc5 answer sat with quantifiers
    if "FloatingPoint" in text or "(_ FP" in text or "Float16" in text:
        solver.setOption("fp-exp", "true")  # float16 and bfloat16 formats (cvc5 supports only 32/64 by default)
    parser = cvc5.InputParser(solver)
    parser.setFileInput(cvc5.InputLanguage.SMT_LIB_2_6, path)
    symbols = parser.getSymbolManager()
    while not (command := parser.nextCommand()).isNull():
        output = command.invoke(solver, symbols)
        if output.strip():
            print(output.strip())


if __name__ == "__main__":
    _worker(sys.argv[1], float(sys.argv[2]))

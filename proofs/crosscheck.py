"""--cross-check cvc5: re-run every emitted .smt2 file with cvc5 (an optional extra) and compare
its answer with the status the file records. An opposite answer is a failure; cvc5 answering
`unknown` or running out of time is reported as undecided (it confirms nothing, refutes nothing).
cvc5 is compared with z3's answer, not with the file's expected status: for the control theorem
the two differ on purpose.

Also a worker: `python -m proofs.crosscheck FILE` prints cvc5's answer for one file, so each file
runs in its own process under a hard wall-clock limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
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


def answer(path: Path, timeout: float) -> str:
    try:
        run = subprocess.run([sys.executable, "-m", "proofs.crosscheck", str(path), str(timeout)],
                             capture_output=True, text=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return "timeout"
    words = run.stdout.split()
    return words[0] if words else "error: " + (run.stderr.strip().splitlines() or ["no output"])[-1]


def run(out: Path, timeout: float, log) -> dict:
    """Compare cvc5 with z3 on every query of the run recorded in out/summary.json."""
    result = {"agree": [], "disagree": [], "undecided": []}
    summary = json.loads((out / "summary.json").read_text())
    queries = [(s["query"], s["answer"]) for t in summary["theorems"] for s in t["steps"] if "query" in s]
    for name, z3_said in queries:
        got = answer(out / name, timeout)
        bucket = "agree" if got == z3_said else "disagree" if got in ("sat", "unsat") else "undecided"
        result[bucket].append(name)
        if bucket != "agree":
            print(f"cvc5 {bucket}: {name}: z3 said {z3_said}, cvc5 says {got}", file=log)
    print(f"cvc5 cross-check: {len(result['agree'])} agree, {len(result['disagree'])} disagree, "
          f"{len(result['undecided'])} undecided (unknown or timeout) of {len(queries)} queries", file=log)
    return result


def _worker(path: str, timeout: float):
    import cvc5
    solver = cvc5.Solver()
    solver.setOption("tlimit-per", str(int(timeout * 1000)))
    solver.setOption("arrays-exp", "true")  # constant arrays in some non-vacuity witnesses
    solver.setOption("mbqi", "true")  # model-based instantiation: lets cvc5 answer sat with quantifiers
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

"""--cross-check cvc5 | bitwuzla: re-run the emitted .smt2 files with a second solver (an optional
extra) and compare its answer with z3's. cvc5 re-runs every file; Bitwuzla (bit-vectors, floating
point, arrays, uninterpreted functions, quantifiers: no integers or reals) re-runs the files without
an Int or Real sort, which are the floating-point queries, and reports every other file as
undecided, "unsupported by bitwuzla (reals/integers)". An opposite answer is a failure; the solver
answering `unknown`, running out of time, failing on a file (an error: a parse error, an
unsupported logic or format) or not supporting it is reported as undecided, by kind and by
theorem: it confirms nothing, refutes nothing, and is never counted as agreement. The second
solver is compared with z3's answer, not with the file's expected status: for the control theorem
the two differ on purpose.

Also a worker: `python -m proofs.crosscheck FILE TIMEOUT [SOLVER]` prints the solver's answer for
one file, so each file runs in its own process under a hard wall-clock limit.
"""

from __future__ import annotations

import json
import re
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


SOLVERS = ("cvc5", "bitwuzla")  # each the name of its package and of its extra in pyproject.toml


def require(solver: str = "cvc5"):
    try:
        __import__(solver)
    except ImportError:
        raise Usage(f"--cross-check {solver} needs the {solver} package: "
                    f"pip install 'sampler-proofs[{solver}]'") from None


DECIDED = ("sat", "unsat")
UNSUPPORTED = "unsupported by bitwuzla (reals/integers)"
# An Int or Real sort (a declaration, an array index, a function signature), outside comments: a whole
# SMT-LIB symbol, so neither `Real` in `is-Real` nor a real literal such as 0.5 inside to_fp counts.
SYMBOL_CHARS = r"[\w~!@$%^&*+=<>.?/-]"
INT_OR_REAL = re.compile(rf"(?<!{SYMBOL_CHARS})(Int|Real)(?!{SYMBOL_CHARS})")


def bitwuzla_supports(text: str) -> bool:
    """Whether Bitwuzla's logics cover a file: bit-vectors, floating point, arrays, uninterpreted
    functions and quantifiers over them, but no Int or Real sort."""
    code = "\n".join(line.split(";", 1)[0] for line in text.splitlines())
    return not INT_OR_REAL.search(code)


def answer(path: Path, timeout: float, solver: str = "cvc5") -> str:
    """The solver's answer: sat, unsat, `unknown (REASON)`, timeout, `error: ...`, or (Bitwuzla on a
    file with integers or reals, not run) UNSUPPORTED."""
    if solver == "bitwuzla" and not bitwuzla_supports(path.read_text()):
        return UNSUPPORTED
    try:
        run = subprocess.run([sys.executable, "-m", "proofs.crosscheck", str(path), str(timeout), solver],
                             capture_output=True, text=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return "timeout"
    lines = run.stdout.strip().splitlines()
    if lines and lines[0].split()[0] in (*DECIDED, "unknown"):
        return lines[0].strip()
    return "error: " + (run.stderr.strip().splitlines() or lines or ["no output"])[-1]


def kind(got: str) -> str:
    """The kind of an undecided answer: unknown, timeout, error or unsupported."""
    return got.split()[0].rstrip(":")


def run(out: Path, timeout: float, log, solver: str = "cvc5") -> dict:
    """Compare `solver` with z3 on every query of the run recorded in out/summary.json. Only an
    answer both solvers decided (sat or unsat) counts: equal is agreement, opposite a disagreement;
    every other answer is undecided (the solver's answer kept in `undecided_why`)."""
    start = time.perf_counter()
    result = {"solver": solver, "agree": [], "disagree": [], "undecided": [], "undecided_why": {}}
    summary = json.loads((out / "summary.json").read_text())
    queries = [(s["query"], s["answer"]) for t in summary["theorems"] for s in t["steps"] if "query" in s]
    answers = {}  # file text -> the solver's answer: both ordered ids of a commuting pair write the same files
    for name, z3_said in queries:
        text = (out / name).read_text()
        if text not in answers:
            answers[text] = answer(out / name, timeout, solver)
        got = answers[text]
        if got in DECIDED and z3_said in DECIDED:
            bucket = "agree" if got == z3_said else "disagree"
        else:  # the solver (or z3) did not decide: nothing to compare
            bucket = "undecided"
            result["undecided_why"][name] = got
        result[bucket].append(name)
        if bucket != "agree" and got != UNSUPPORTED:  # the unsupported only by theorem, below (hundreds)
            print(f"{solver} {bucket}: {name}: z3 said {z3_said}, {solver} says {got}", file=log, flush=True)
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(f"{solver} cross-check ({timeout:g} s per query, {len(answers)} distinct files, "
          f"{result['seconds']:.0f} s in all): {len(result['agree'])} agree, {len(result['disagree'])} disagree, "
          f"{len(result['undecided'])} undecided of {len(queries)} queries", file=log)
    if result["undecided"]:
        kinds = Counter(kind(got) for got in result["undecided_why"].values())
        theorems = Counter(Path(name).parent.name for name in result["undecided"])
        print(f"  undecided = NOT checked by {solver} (not counted as agreement): "
              f"{', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; by theorem: "
              f"{', '.join(f'{t} {n}' for t, n in theorems.items())}", file=log)
    return result


def _cvc5(path: str, timeout: float):
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


STATUS = re.compile(r"\(set-info\s+:status\s+\w+\s*\)")


def _bitwuzla(path: str, timeout: float):
    import bitwuzla
    options = bitwuzla.Options()
    options.set(bitwuzla.Option.TIME_LIMIT_PER, int(timeout * 1000))  # per check-sat: then `unknown`
    terms = bitwuzla.TermManager()
    parser = bitwuzla.Parser(terms, options)  # prints each check-sat's answer to stdout
    # The caller compares with z3: drop the file's expected status, which Bitwuzla would turn into an
    # error whenever its answer differs (the control theorem's expected status differs on purpose).
    text = STATUS.sub("", Path(path).read_text())
    try:
        parser.parse(text, parse_file=False)
    except bitwuzla.BitwuzlaException as e:  # e.g. a format its build rejects (bfloat16): on one line
        sys.exit(" ".join(str(e).split()))


if __name__ == "__main__":
    worker = {"cvc5": _cvc5, "bitwuzla": _bitwuzla}[sys.argv[3] if len(sys.argv) > 3 else "cvc5"]
    worker(sys.argv[1], float(sys.argv[2]))

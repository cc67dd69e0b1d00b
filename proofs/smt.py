"""SMT-LIB 2 queries, run by the z3 binary in a subprocess under a resource limit.

Verdicts must not depend on how busy the machine is, so solver work is bounded by z3's `rlimit`
(a count of solver operations, the same on a busy or an idle machine): a query that exceeds it is
`resource limit`, whatever the wall clock says. The wall-clock limit is only a safety net, set
well above the time the resource limit takes (z3 counted about 3.3 million units per second of
CPU here, so the default 2e9 units take about 10 minutes; the safety net defaults to 30 minutes).

Why text and a subprocess: the text we solve is the `.smt2` file a reader re-runs with any solver;
writing text is far cheaper than building z3 Python objects at large n; and a subprocess can be
killed when z3 does not honour its own timeout (seen on this machine).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class Query:
    """One self-contained SMT-LIB problem and the answer a correct solver must give."""

    name: str  # file stem, unique within its theorem
    purpose: str  # one line: what the expected answer establishes
    body: str  # declarations and assertions, no (check-sat)
    expect: str  # the answer a correct solver gives: "unsat" or "sat", recorded in the file
    role: str  # negation (claim + premises negated) | premises (non-vacuity) | search (witness)
    show: tuple[str, ...] = ()  # constants whose model values we read back

    def script(self) -> str:
        """The `.smt2` file: expected status recorded, ending in (check-sat)."""
        purpose = "\n".join(f"; {line}" for line in self.purpose.splitlines())
        return (
            f"{purpose}\n; expected answer: {self.expect}\n"
            f"(set-info :status {self.expect})\n(set-logic ALL)\n{self.body.strip()}\n(check-sat)\n"
        )


@dataclass(frozen=True)
class Answer:
    status: str  # sat | unsat | unknown | resource limit | timeout | error
    seconds: float
    values: dict = field(default_factory=dict)  # name -> Fraction | bool | str
    detail: str = ""


def real(x) -> str:
    """An exact SMT-LIB Real literal for an int or Fraction."""
    x = Fraction(x)
    mag = f"{abs(x.numerator)}.0" if x.denominator == 1 else (
        f"(/ {abs(x.numerator)}.0 {x.denominator}.0)")
    return f"(- {mag})" if x < 0 else mag


def z3_binary() -> str:
    """The z3 executable shipped by the z3-solver wheel (next to this interpreter), else PATH."""
    here = Path(sys.executable).parent / "z3"
    found = str(here) if here.exists() else shutil.which("z3")
    if not found:
        raise RuntimeError("z3 executable not found: install the z3-solver package (pip install z3-solver)")
    return found


def z3_version() -> str:
    out = subprocess.run([z3_binary(), "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


RLIMIT = 2_000_000_000  # default z3 resource units per query


def solve(query: Query, timeout: float, rlimit: int = RLIMIT) -> Answer:
    """Run z3 on the query with at most `rlimit` resource units; the process is killed after
    `timeout` seconds of wall clock (the safety net)."""
    text = query.script() + "(get-info :reason-unknown)\n"
    if query.show:
        text += f"(get-value ({' '.join(query.show)}))\n"
    cmd = [z3_binary(), "-in", f"-T:{math.ceil(timeout)}", f"rlimit={int(rlimit)}"]
    start = time.perf_counter()
    try:
        run = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=timeout + 2)
    except subprocess.TimeoutExpired:
        return Answer("timeout", time.perf_counter() - start, detail=f"killed after {timeout:g} s")
    seconds = time.perf_counter() - start
    lines = run.stdout.strip().splitlines()
    status = lines[0].strip() if lines else ""
    if status == "timeout" or "timeout" in run.stdout[:200]:
        return Answer("timeout", seconds, detail=f"z3 gave up after {timeout:g} s")
    if status not in ("sat", "unsat", "unknown"):
        return Answer("error", seconds, detail=(run.stdout + run.stderr).strip()[:2000])
    # z3 reports an answer that differs from (set-info :status ...) as an error line; the
    # difference itself is what the caller judges, so drop that line before reading the model.
    rest = [ln for ln in lines[1:] if "check annotation" not in ln]
    reason = next((ln for ln in rest if ln.startswith("(:reason-unknown")), "")
    rest = [ln for ln in rest if not ln.startswith("(:reason-unknown")]
    if status == "unknown" and ("canceled" in reason or "resource" in reason):
        return Answer("resource limit", seconds, detail=f"z3 used its {int(rlimit):,} resource units ({reason})")
    values = parse_values("\n".join(rest)) if status == "sat" and query.show else {}
    return Answer(status, seconds, values)


# --- reading (get-value ...) output -------------------------------------------------------------

def _tokens(text: str):
    return re.findall(r"\(|\)|[^\s()]+", text)


def _parse(tokens: list[str], pos: int = 0):
    if tokens[pos] != "(":
        return tokens[pos], pos + 1
    items, pos = [], pos + 1
    while tokens[pos] != ")":
        item, pos = _parse(tokens, pos)
        items.append(item)
    return items, pos + 1


def _value(expr):
    """An SMT-LIB numeral/boolean term as Fraction/bool; anything else stays a parsed s-expression
    (nested lists of strings, e.g. a floating-point literal (fp #b0 #x7f #b0000000))."""
    if isinstance(expr, str):
        if expr in ("true", "false"):
            return expr == "true"
        try:
            return Fraction(expr)
        except ValueError:
            return expr
    if len(expr) == 2 and expr[0] == "-":
        inner = _value(expr[1])
        return -inner if isinstance(inner, Fraction) else expr
    if len(expr) == 3 and expr[0] == "/":
        num, den = _value(expr[1]), _value(expr[2])
        if isinstance(num, Fraction) and isinstance(den, Fraction):
            return num / den
    return expr


def parse_values(text: str) -> dict:
    tokens = _tokens(text)
    if not tokens:
        return {}
    pairs, _ = _parse(tokens)
    return {name: _value(val) for name, val in pairs}

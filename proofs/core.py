"""What a theorem is, what a proof step records, and how steps decide a verdict.

Verdicts, each earned by its steps:
- `proved`: every step holds and a solver, SymPy or an exact computation checked each one. When the
  theorem is checked on bounded rows or some float formats only, the scope is part of the word:
  `proved for n <= 6`, `proved for bfloat16, float16`; nothing bounded reads as unbounded.
- `proved (modulo N paper steps)`: the same, except N steps argued on paper.
- `refuted`: a counterexample re-checked outside z3 (exact rationals, or intervals that decide every
  comparison) is printed with the verdict. A z3 model alone is not enough: a `sat` whose model no
  exact step confirms reads `not proved (z3 model not confirmed)`.
- `not proved (encoding does not match the spec)`: a rule as the solver sees it, evaluated on concrete
  rows, keeps other tokens than spec.target does (a fidelity step failed), so its proof would be
  about another rule.
- `not proved`: anything else (a solver `unknown`, resource limit or timeout, SymPy not reaching 0,
  contradictory premises). An inconclusive step always wins, so a timeout can never read as `proved`.
A step that was not run (float32 without --full) is listed as such and supports nothing.

The Coq step (method `coq`, proofs.coq_layer) is the one step that widens a scope: when the other steps give
`proved` (for any scope) and every Coq statement of the theorem is kernel-checked with the allowed trusted
base, the verdict is the kernel's, `proved for every n (Coq kernel)` (or `... every binary format (Coq
kernel, Flocq)`; a paper step of the other proof no longer matters: the kernel checked the whole claim).
It decides nothing else. A failed Coq step leaves the verdict the other steps earn (a
bounded `proved for n <= 6` stays exactly that, and so differs from the expected every-n verdict: the run
reports it); it never makes a theorem `refuted` or `not proved`, and a kernel proof does not override a
solver step that was inconclusive (an inconclusive step still wins).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from proofs.smt import RLIMIT, Answer, Query, solve

HOLDS, COUNTEREXAMPLE, INCONCLUSIVE, NOT_RUN = "holds", "counterexample", "inconclusive", "not run"
COQ = "coq"  # the method of a Coq step: the Coq kernel checked a theorem's annotated statements
MISMATCH = "mismatch"  # a fidelity step: the encoded rule keeps other tokens than spec.target
NOT_CONFIRMED = "not proved (z3 model not confirmed)"
NOT_FAITHFUL = "not proved (encoding does not match the spec)"


@dataclass
class Step:
    title: str
    method: str  # sympy | z3 | exact | fidelity | format | paper | sanity | coq | not run
    status: str  # holds | counterexample | inconclusive | mismatch | not run
    detail: str = ""  # Markdown
    query: Query | None = None
    answer: Answer | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Theorem:
    id: str
    title: str
    claim: str  # plain words
    latex: str
    assumptions: tuple[str, ...]
    method: str
    expected: str  # proved | refuted
    run: Callable[[Context], None]
    meaning: str = ""  # what it means for someone writing a sampler
    control: bool = False  # a deliberately false claim that shows the checker can fail
    scope: str | Callable[[Context], str] = ""  # bounded checks: "n <= 6", or a function of the run's options

    def scope_of(self, ctx: Context) -> str:
        return self.scope(ctx) if callable(self.scope) else self.scope

    def expected_verdict(self, scope: str, kernel: str = "") -> str:
        """The verdict this theorem should reach in a run whose scope is `scope`; `kernel` is the verdict a
        kernel check earns in a run with coqc (`proved for every n (Coq kernel)`), "" without Coq."""
        return kernel if kernel and self.expected.startswith("proved") else scoped(self.expected, scope)


@dataclass
class Context:
    """Options of one run plus the steps a theorem's proof has recorded so far."""

    max_n: int = 1024
    timeout: float = 1800.0  # wall-clock safety net per query (seconds)
    rlimit: int = RLIMIT  # z3 resource units per query: what actually bounds solver work
    full: bool = False  # --full: also the slow float32 floating-point proofs
    steps: list[Step] = field(default_factory=list)
    counterexample: str = ""  # Markdown, for the transcript
    witness: dict = field(default_factory=dict)  # the exact witness values, for the sanity checks

    def step(self, title, method, status, detail="", seconds=0.0) -> Step:
        s = Step(title, method, status, detail, seconds=seconds)
        self.steps.append(s)
        return s

    def z3_batch(self, jobs: list[tuple[Query, str]]) -> list[Step]:
        """Solve independent queries in parallel (one z3 process per core), steps kept in order."""
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            answers = list(pool.map(lambda job: solve(job[0], self.timeout, self.rlimit), jobs))
        return [self._record(q, title, a) for (q, title), a in zip(jobs, answers, strict=True)]

    def z3(self, query: Query, title: str) -> Step:
        """Solve a query; the step's status follows from its role and z3's answer alone.

        negation: unsat holds, sat is a counterexample to the claim.
        premises: sat holds; unsat means the premises contradict each other, which makes any
        proof from them vacuous, so it is inconclusive. search: sat holds (a witness to re-check).
        Anything else (unknown, resource limit, timeout, error) is inconclusive.
        """
        return self._record(query, title, solve(query, self.timeout, self.rlimit))

    def _record(self, query: Query, title: str, answer) -> Step:
        wanted = {"negation": "unsat", "premises": "sat", "search": "sat"}[query.role]
        if answer.status == wanted:
            status = HOLDS
        elif query.role == "negation" and answer.status == "sat":
            status = COUNTEREXAMPLE
        else:
            status = INCONCLUSIVE
        s = Step(title, "z3", status, query=query, answer=answer, seconds=answer.seconds)
        self.steps.append(s)
        return s

    def proof(self, name: str, what: str, decls: str, premises: list[str], claim: str,
              show: tuple[str, ...] = (), witness: tuple[str, ...] = (), false_claim=False) -> list[Step]:
        """The two queries of one Z3 proof: premises with the negated claim must be unsat, and
        the premises alone must be sat (otherwise the unsat would prove nothing). `witness`
        pins some constants for the sat check where z3 cannot build a model of quantified
        premises itself: a model of premises + witness is a model of the premises.
        false_claim: the claim is known to be false (a control), so the file records `sat`."""
        asserts = "\n".join(f"(assert {p})" for p in premises)
        neg = Query(f"{name}.negation", f"{what}\nThe premises together with the NEGATED claim: "
                    "unsat means the claim follows from the premises.", f"{decls}\n{asserts}\n"
                    f"(assert (not {claim}))", "sat" if false_claim else "unsat", "negation", show)
        pre = Query(f"{name}.premises", f"Non-vacuity check for: {what}\nThe premises alone: sat "
                    "means they are consistent, so the proof is not vacuous.",
                    "\n".join([decls, asserts, *(f"(assert {w})" for w in witness)]), "sat", "premises")
        return self.z3_batch([(neg, what), (pre, f"premises of: {what} are satisfiable")])


def scoped(word: str, scope: str) -> str:
    """`proved` with its scope when bounded: `proved for n <= 6`, `proved for n <= 6 (modulo 1 paper step)`."""
    if not scope or not word.startswith("proved"):
        return word
    return word.replace("proved", f"proved for {scope}", 1)


def verdict(steps: list[Step], scope: str = "", kernel: str = "") -> str:
    """The verdict the steps earn; `kernel`: the verdict a kernel-checked Coq step earns (see the module's
    docstring for when it applies)."""
    coq = [s for s in steps if s.method == COQ]
    earned = _verdict([s for s in steps if s.method != COQ], scope)
    if kernel and coq and earned.startswith("proved") and all(s.status == HOLDS for s in coq):
        return kernel
    return earned


def _verdict(steps: list[Step], scope: str) -> str:
    if not steps or any(s.status == MISMATCH for s in steps):
        return NOT_FAITHFUL if steps else "not proved"
    if any(s.status == INCONCLUSIVE for s in steps):
        return "not proved"
    if any(s.status == COUNTEREXAMPLE for s in steps):
        # only a witness re-checked outside the solver refutes: a z3 model may satisfy an encoding
        # that says something else than the claim (uninterpreted exp, a wrong format, a typo)
        confirmed = any(s.status == COUNTEREXAMPLE and s.method == "exact" for s in steps)
        return "refuted" if confirmed else NOT_CONFIRMED
    paper = paper_steps(steps)
    return scoped(f"proved (modulo {paper} paper step{'s' * (paper > 1)})" if paper else "proved", scope)


def paper_steps(steps: list[Step]) -> int:
    """Steps argued on paper, not checked by a solver or an exact computation."""
    return sum(s.method == "paper" for s in steps)

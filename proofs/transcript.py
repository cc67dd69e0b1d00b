"""Human-readable transcripts: one Markdown file per theorem, one .smt2 file per Z3 query,
index.md and summary.json. Everything above the "Run" block is deterministic, so two runs diff
cleanly; times and versions live only in that block (and under "run" in summary.json)."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path

import sympy

from proofs.core import Step, Theorem, paper_steps
from proofs.smt import z3_version


@dataclass
class Result:
    theorem: Theorem
    verdict: str
    steps: list[Step]
    counterexample: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.verdict == self.theorem.expected


def query_path(theorem_id: str, step: Step) -> str:
    return f"smt2/{theorem_id}/{step.query.name}.smt2"


def versions() -> dict:
    return {"z3": z3_version(), "sympy": sympy.__version__, "python": platform.python_version(),
            "platform": platform.platform()}


def render_steps(result: Result) -> list[str]:
    out, table = [], []

    def flush():
        if table:
            out.append("| # | what is checked | query | expected | z3 | result |\n|---|---|---|---|---|---|\n"
                       + "\n".join(table))
            table.clear()

    for number, step in enumerate(result.steps, 1):
        if step.method == "z3":
            path = query_path(result.theorem.id, step)
            table.append(f"| {number} | {step.title} | [`{Path(path).name}`]({path}) | "
                         f"`{step.query.expect}` | `{step.answer.status}` | {step.status} |")
            continue
        flush()
        label = {"sympy": "SymPy", "paper": "on paper", "exact": "exact arithmetic", "not run": "not run",
                 "sanity": "numeric"}[step.method]
        title = step.title if f"({label})" in step.title else f"{step.title} ({label})"
        out.append(f"### {number}. {title}: {step.status}\n\n{step.detail}")
    flush()
    return out


def render(result: Result, run: dict) -> str:
    t = result.theorem
    lines = [
        f"# `{t.id}`: {t.title}", "",
        f"**Verdict: {result.verdict}** (expected: {t.expected})"
        + (" - control: a deliberately false claim" if t.control else ""),
        "", "## Claim", "", t.claim, "", f"$$\n{t.latex}\n$$", "",
        "## Assumptions", "", *[f"- {a}" for a in t.assumptions], "",
        *(["Every Z3 proof below also checks that its premises alone are satisfiable (the "
           "`.premises` queries), so no proof rests on contradictory assumptions.", ""]
          if any(s.query and s.query.name.endswith(".premises") for s in result.steps) else []),
        "## Method", "", t.method, "",
        "A Z3 step holds when z3 gives the expected answer: `unsat` for the premises with the negated "
        "claim, `sat` for the premises alone or for a counterexample search. `unknown` or a timeout "
        "never counts as proved.", "",
        "## What it means for a sampler", "", t.meaning, "",
        "## Steps", "", "\n\n".join(render_steps(result)), "",
    ]
    if result.counterexample:
        lines += ["## Counterexample", "", result.counterexample.strip(), ""]
    lines += ["## Run (timing and versions; these vary between runs)", "",
              f"- total: {result.seconds:.2f} s",
              *[f"- {k}: {v}" for k, v in run.items()],
              "- step times (s): " + ", ".join(f"{i}: {s.seconds:.3f}" for i, s in enumerate(result.steps, 1)),
              ""]
    return "\n".join(lines)


def summary(results: list[Result], run: dict) -> dict:
    return {
        "theorems": [{
            "id": r.theorem.id, "title": r.theorem.title, "expected": r.theorem.expected,
            "verdict": r.verdict, "ok": r.ok, "control": r.theorem.control, "paper_steps": paper_steps(r.steps),
            "steps": [{"title": s.title, "method": s.method, "status": s.status,
                       **({"query": query_path(r.theorem.id, s), "expect": s.query.expect,
                           "answer": s.answer.status} if s.query else {})} for s in r.steps],
            "counterexample": r.counterexample.strip(),
        } for r in results],
        "all_ok": all(r.ok for r in results),
        "run": {**run, "seconds": {r.theorem.id: round(r.seconds, 3) for r in results}},
    }


def write(out: Path, results: list[Result]) -> dict:
    run = versions()
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        for s in r.steps:
            if s.query:
                path = out / query_path(r.theorem.id, s)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(s.query.script())
        (out / f"{r.theorem.id}.md").write_text(render(r, run))
    index = ["# Proof transcripts", "",
             "| theorem | claim | expected | verdict | as expected |", "|---|---|---|---|---|"]
    index += [f"| [`{r.theorem.id}`]({r.theorem.id}.md) | {r.theorem.title} | {r.theorem.expected} | "
              f"{r.verdict} | {'yes' if r.ok else '**NO**'} |" for r in results]
    index += ["", "## Run (timing and versions; these vary between runs)", "",
              *[f"- {k}: {v}" for k, v in run.items()],
              *[f"- `{r.theorem.id}`: {r.seconds:.2f} s" for r in results], ""]
    (out / "index.md").write_text("\n".join(index))
    data = summary(results, run)
    (out / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    return data

"""Human-readable transcripts: one Markdown file per theorem, one .smt2 file per Z3 query,
index.md and summary.json. Everything above the "Run" block is deterministic, so two runs diff
cleanly; times live only in that block (and under "run" in summary.json). The "Trusted base" block
just before it names what every verdict assumes rather than checks, with the versions read at run
time (the same on one machine; under "run" / "trusted_base" in summary.json)."""

from __future__ import annotations

import importlib.metadata
import json
import platform
from dataclasses import dataclass
from pathlib import Path

import sympy

from proofs import coq_layer
from proofs.core import COQ, COUNTEREXAMPLE, INCONCLUSIVE, MISMATCH, NOT_RUN, Step, Theorem, paper_steps
from proofs.smt import z3_version


@dataclass
class Result:
    theorem: Theorem
    verdict: str
    steps: list[Step]
    counterexample: str
    seconds: float
    scope: str = ""  # what the run checked when bounded ("n <= 6", "bfloat16, float16"); "" for every n
    kernel: str = ""  # the verdict a Coq kernel check earns ("proved for every n (Coq kernel)"); "" without Coq
    coq: dict | None = None  # the Coq statements, their Print Assumptions and coqc's version (summary.json)

    @property
    def expected(self) -> str:
        return self.theorem.expected_verdict(self.scope, self.kernel)

    @property
    def ok(self) -> bool:
        """The expected verdict, and no failed Coq step (a refuted theorem keeps its verdict when its Coq
        witness fails, so the failure must count here)."""
        return self.verdict == self.expected and not any(s.method == COQ and s.status == INCONCLUSIVE
                                                         for s in self.steps)


def query_path(theorem_id: str, step: Step) -> str:
    return f"smt2/{theorem_id}/{step.query.name}.smt2"


# The z3-solver release every verdict and rlimit figure in the README was measured with; the
# README's commands install it (tests/constraints.txt pins the same one, and a test checks they agree).
Z3_MEASURED = "5.4.1.0"


def versions() -> dict:
    return {"z3": z3_version(), "z3-solver": _package("z3-solver"), "z3-solver measured": Z3_MEASURED,
            "sympy": sympy.__version__, "python": platform.python_version(), "platform": platform.platform()}


def z3_drift() -> str:
    """A line when the installed z3-solver is not the release the verdicts were measured with
    (a resource limit is counted in z3's own units, which a release may change), else ''."""
    installed = _package("z3-solver")
    if installed == Z3_MEASURED:
        return ""
    return (f"note: z3-solver {installed} is installed; the verdicts and --rlimit figures were measured with "
            f"{Z3_MEASURED} (pip install -e . -c tests/constraints.txt installs it)")


def _package(name: str) -> str | None:
    """The installed version of a distribution, read now; None if it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def trusted_base(cross_check: str | None = None, coqc: str | None = None) -> list[dict]:
    """What a verdict assumes rather than checks: each component with its version, read at run time,
    and the assumption. cross_check: the second solver the .smt2 files were re-run with, when the caller
    knows (None: the transcript says where to find whether it ran). coqc: the version of the coqc that
    checked the Coq statements (None: no Coq layer in this run)."""
    z3 = f"{z3_version()} (z3-solver {_package('z3-solver')})"
    py = f"Python {platform.python_version()} ({platform.python_implementation()})"
    cvc5 = _package("cvc5")
    if cross_check == "cvc5":
        cvc5_use = ("Every .smt2 file was re-run with cvc5 in this run; a query both solvers answer alike rests on "
                    "two independent implementations (summary.json `cross_check` lists any disagreement).")
    else:
        cvc5_use = ("A second solver only with `python -m proofs.check --cross-check cvc5`, which re-runs every "
                    ".smt2 file after the transcripts are written (whether it ran, and what it found, is in "
                    "summary.json `cross_check`); otherwise every solver answer rests on z3 alone.")
    bitwuzla = []
    if cross_check == "bitwuzla":
        cvc5_use = "Not run: this run's second solver was Bitwuzla (below); `--cross-check cvc5` re-runs every file."
        version = _package("bitwuzla")
        bitwuzla = [("Bitwuzla (second SMT solver, floating-point queries only)",
                     f"bitwuzla {version}" if version else "not installed",
                     "Only the floating-point .smt2 files (no Int or Real sort) were re-run with Bitwuzla in this "
                     "run, in the formats its build accepts (bitwuzla 0.10.0's PyPI wheel rejects bfloat16: those "
                     "files are undecided); a query both solvers answer alike rests on two independent "
                     "implementations of the IEEE rounding model. Every query over reals or integers, and every "
                     "floating-point query Bitwuzla did not decide, rests on z3 alone (summary.json `cross_check` "
                     "lists each undecided query and any disagreement).")]
    if coqc:
        coq = [("Coq kernel (coqc), with Flocq and Interval", f"coqc {coqc}",
                "A Coq step holds when coqc compiles the annotated statement and `Print Assumptions` lists only the "
                "standard library's real-number axioms (ClassicalDedekindReals.sig_forall_dec, sig_not_dec, "
                "FunctionalExtensionality.functional_extensionality_dep, Classical_Prop.classic) and the kernel's "
                "primitive integers and floats (which the Interval tactic computes with); its files contain no "
                "`Admitted`, `admit` or axiom declaration. Coq's kernel type-checks every proof term; that each Coq "
                "definition is the spec's rule is reviewed and tested (the fidelity tests), not proved.")]
    elif coq_layer.coqc() is None:
        coq = [("Coq kernel (coqc)", "not installed",
                f"Not run: coqc is not on the PATH (`{coq_layer.INSTALL_HINT}`), so no verdict here rests on a "
                "Coq proof.")]
    else:
        coq = [("Coq kernel (coqc)", "not run", "No theorem of this run has a Coq statement, so no verdict here "
                "rests on a Coq proof.")]
    base = [
        *coq,
        ("z3 (SMT solver)", z3,
         "Its `unsat` answers are taken as correct: the decision procedures for linear and nonlinear real "
         "arithmetic, integers, arrays and uninterpreted functions, and quantifier instantiation. Nothing "
         "re-checks an `unsat` (z3 emits no proof object here); a `sat` witness is re-checked in exact arithmetic."),
        ("z3's floating-point theory (IEEE rounding model)", z3,
         "The SMT-LIB FloatingPoint theory as z3 bit-blasts it (fp.sub, fp.add with RNE) is taken to be IEEE 754 "
         "round-to-nearest-even in the formats the queries declare (proofs.floating.FORMATS: bfloat16 (8, 8), "
         "float16 (5, 11), float32 (8, 24)). Witnesses are re-checked against numpy / mlx; the `unsat` answers "
         "(fp-sub-monotone, the guard's lemmas) rest on this model, with the solver-free 16-bit enumeration "
         "(--full) as a second opinion."),
        ("cvc5 (second SMT solver)", f"cvc5 {cvc5}" if cvc5 else "not installed", cvc5_use),
        *bitwuzla,
        ("SymPy (symbolic simplifier)", f"sympy {sympy.__version__}",
         "A SymPy step holds when simplify / expand / cancel reduce the difference of the two sides to exactly 0, "
         "and its assumption system (real, positive, `is_positive` of a sum) is taken as correct."),
        ("Python's exact rationals (fractions.Fraction)", py,
         "Exact rational arithmetic for every witness re-check, the exact rules (proofs.rules) and our "
         "round-to-nearest-even (proofs.floating.round_to)."),
        ("numpy (float16 / float32 re-checks)", f"numpy {_package('numpy')}",
         "The float16 and float32 formats (finfo) and arithmetic that witnesses must survive in a round trip, and "
         "the float sanity checks."),
        ("mlx (bfloat16 re-checks)", f"mlx {_package('mlx')}" if _package("mlx") else "not installed",
         "The bfloat16 format (finfo) and arithmetic, where numpy has none."),
        *([("ml_dtypes", f"ml_dtypes {_package('ml_dtypes')}", "Installed; the proofs do not use it.")]
          if _package("ml_dtypes") else []),
        ("mpmath (sanity checks, logsumexp bracket)", f"mpmath {_package('mpmath')}",
         "The 50-digit sanity checks (evidence, not proof), and the interval arithmetic (outward rounding, 120 "
         "bits) that brackets logsumexp for the certified log-probability witnesses."),
        ("premises asserted as axioms", "none (mathematics: proofs.encodings.induction, the exp laws in proofs.order)",
         "Instances of the induction schema over the integers, and instances of the laws of exp (positive, "
         "increasing, exp(a + b) = exp(a) exp(b)), are asserted, not derived: each is true by the principle of "
         "induction or of exp, as argued where it is written. Each proof's premises query rules out "
         "contradictory premises, not false ones."),
        ("the encodings", "this repository",
         "Each encoded sampler rule is evaluated on about 250 concrete rows (ties and exact boundaries included) and "
         "compared with spec.target's keep-set: the `fidelity` steps (proofs/fidelity.py, exact arithmetic). That "
         "the rest of each .smt2 file (premises, lemmas, the claim's connectives) says what its claim says in words "
         "is reviewed, not checked; tests/test_proofs_mutants.py shows the checker rejects deliberately wrong "
         "statements and encodings."),
    ]
    return [{"component": c, "version": v, "assumed": a} for c, v, a in base]


def render_trusted_base(base: list[dict]) -> list[str]:
    return ["## Trusted base", "",
            "What every verdict here assumes rather than checks (versions read at run time):", "",
            "| component | version | assumed, not checked |", "|---|---|---|",
            *[f"| {b['component']} | {b['version']} | {b['assumed']} |" for b in base], ""]


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
                 "sanity": "numeric", "fidelity": "encoding vs spec.target", "format": "declared float format",
                 "error": "checker error", "coq": "Coq kernel"}[step.method]
        title = step.title if f"({label})" in step.title else f"{step.title} ({label})"
        out.append(f"### {number}. {title}: {step.status}\n\n{step.detail}")
    flush()
    return out


def render(result: Result, run: dict, base: list[dict] | None = None) -> str:
    t = result.theorem
    lines = [
        f"# `{t.id}`: {t.title}", "",
        f"**Verdict: {result.verdict}** (expected: {result.expected})"
        + (" - control: a deliberately false claim" if t.control else ""),
        "", "## Claim", "", t.claim, "", f"$$\n{t.latex}\n$$", "",
        *([f"**As checked: for {result.scope} only.** The claim above is stated in general; this run checks it "
           f"for {result.scope}, and the verdict says so.", ""] if result.scope else []),
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
    lines += render_trusted_base(trusted_base() if base is None else base)
    lines += ["## Run (timing and versions; these vary between runs)", "",
              f"- total: {result.seconds:.2f} s",
              *[f"- {k}: {v}" for k, v in run.items()],
              "- step times (s): " + ", ".join(f"{i}: {s.seconds:.3f}" for i, s in enumerate(result.steps, 1)),
              ""]
    return "\n".join(lines)


CHECKERS = {"z3": "z3", "sympy": "SymPy", "exact": "exact arithmetic", COQ: "Coq kernel"}


def checkers(r: Result) -> list[dict]:
    """Each checker a theorem's steps used, the scope it covers and what it found (all its steps hold, or
    the first of: inconclusive, mismatch, counterexample, not run)."""
    out = []
    for method, name in CHECKERS.items():
        statuses = {s.status for s in r.steps if s.method == method}
        if not statuses:
            continue
        status = next((s for s in (INCONCLUSIVE, MISMATCH, COUNTEREXAMPLE) if s in statuses),
                      NOT_RUN if statuses == {NOT_RUN} else "holds")
        scope = r.coq["scope"] if method == COQ and r.coq else r.scope or "unbounded"
        out.append({"checker": name, "scope": scope, "status": status})
    return out


def summary(results: list[Result], run: dict) -> dict:
    return {
        "theorems": [{
            "id": r.theorem.id, "title": r.theorem.title, "expected": r.expected,
            "verdict": r.verdict, "scope": r.scope or "unbounded", "ok": r.ok, "control": r.theorem.control,
            "paper_steps": paper_steps(r.steps),
            "steps": [{"title": s.title, "method": s.method, "status": s.status,
                       **({"query": query_path(r.theorem.id, s), "expect": s.query.expect,
                           "answer": s.answer.status} if s.query else {})} for s in r.steps],
            "counterexample": r.counterexample.strip(),
            "checkers": checkers(r),
            "coq": r.coq,
        } for r in results],
        "all_ok": all(r.ok for r in results),
        "run": {**run, "seconds": {r.theorem.id: round(r.seconds, 3) for r in results}},
    }


def coq_seconds(coq) -> dict:
    """The Coq layer's wall-clock seconds: each file's compile and the whole layer (summary.json `run`)."""
    return {**{f"{name}.v": round(f.seconds, 2) for name, f in coq.files.items()}, "total": round(coq.seconds, 2)}


def write(out: Path, results: list[Result], cross_check: str | None = None, coq=None) -> dict:
    """coq: the Coq layer's report (proofs.coq_layer.Report), None when it did not run."""
    run = versions() | ({"coqc": coq.version, "coq seconds": coq_seconds(coq)} if coq else {})
    base = trusted_base(cross_check, coq.version if coq else None)
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        for s in r.steps:
            if s.query:
                path = out / query_path(r.theorem.id, s)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(s.query.script())
        (out / f"{r.theorem.id}.md").write_text(render(r, run, base))
    index = ["# Proof transcripts", "",
             "| theorem | claim | expected | verdict | as expected |", "|---|---|---|---|---|"]
    index += [f"| [`{r.theorem.id}`]({r.theorem.id}.md) | {r.theorem.title} | {r.expected} | "
              f"{r.verdict} | {'yes' if r.ok else '**NO**'} |" for r in results]
    index += ["", *render_trusted_base(base)]
    index += ["## Run (timing and versions; these vary between runs)", "",
              *[f"- {k}: {v}" for k, v in run.items()],
              *[f"- `{r.theorem.id}`: {r.seconds:.2f} s" for r in results], ""]
    (out / "index.md").write_text("\n".join(index))
    data = summary(results, {**run, "trusted_base": base})
    data["coq_build"] = None if coq is None else {
        "coqc_version": coq.version, "files": {f"{name}.v": f.status for name, f in coq.files.items()},
        "statements": len(coq.outcomes), "kernel_checked": coq.checked(), "problems": coq.problems}
    (out / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    return data

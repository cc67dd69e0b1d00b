"""The Coq layer: compile proofs/coq/ with coqc and check each annotated theorem's trusted base.

A Coq file marks a statement that proves (or, for a refuted claim, refutes by a witness) a theorem of
the catalogue with `(* theorem: <id> *)` on the line right above its `Theorem` / `Lemma`. An id counts
as kernel-checked only when every statement carrying it

- compiles (the files in proofs/coq/ORDER in that order, each after the ones it Requires; the files
  not listed after them), in a build folder outside the source tree, under a wall-clock limit; a file
  that Requires one that failed is not compiled;
- comes from a file with no `Admitted`, `admit`, axiom declaration or switched-off kernel check
  (a textual check, comments stripped: an unused `Admitted` lemma is still not allowed);
- has `Print Assumptions` list nothing beyond ALLOWED_AXIOMS.

Nothing here decides a verdict: proofs.core.verdict does, from the Coq step this module builds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

from proofs.core import COQ, HOLDS, INCONCLUSIVE, NOT_RUN, Step

COQ_DIR = Path(__file__).parent / "coq"
LIBRARY = "SamplerProofs"  # the logical name of proofs/coq (coqc -Q proofs/coq SamplerProofs)
INSTALL_HINT = "apt-get install coq libcoq-flocq libcoq-interval"
NICE = 5  # coqc yields the cores to the z3 work it runs beside: z3's queries are the run's critical path
BUILD_TIMEOUT = 1800.0  # wall-clock seconds for the whole build (a hang guard: about 60 s on 2 idle cores, 4 min
# beside two busy processes under nice), as generous as the z3 queries' own wall-clock net
CHECK_TIMEOUT = 900.0  # wall-clock seconds for the Print Assumptions run (a hang guard too)
MARK = "coq_layer_mark_"

# The trusted base a kernel-checked statement may rest on, as Coq 8.16.1 names it in `Print Assumptions`
# (measured: Rplus_comm, lra, field, sqrt, exp and Flocq's sterbenz / round_le / Bminus_correct).
# The standard library's real numbers are built on the first three (Coq.Reals.ClassicalDedekindReals,
# Coq.Logic.FunctionalExtensionality); the excluded middle comes with the library's ln (Coq.Reals.Rpower)
# and with Flocq.
REAL_AXIOMS = (
    "ClassicalDedekindReals.sig_forall_dec",
    "ClassicalDedekindReals.sig_not_dec",
    "FunctionalExtensionality.functional_extensionality_dep",
    "Classical_Prop.classic",
)


def _qualified(module: str, names: str) -> tuple[str, ...]:
    return tuple(f"{module}.{name}" for name in names.split())


# The kernel's primitive 63-bit integers and binary64 floats: each `Primitive` the kernel computes with
# and each `Axiom` of the standard library that specifies it (Coq.Floats.PrimFloat / FloatAxioms,
# Coq.Numbers.Cyclic.Int63.PrimInt63 / Uint63 / Sint63, Coq 8.16.1). The Interval tactic (exp and ln on
# concrete numbers) proves its bounds by computing with them, so every `interval` proof lists some.
KERNEL_PRIMITIVES = (
    *_qualified("PrimFloat", "float classify abs sqrt opp eqb ltb leb compare Leibniz.eqb mul add sub div of_uint63 "
                "normfr_mantissa frshiftexp ldshiftexp next_up next_down"),
    *_qualified("FloatAxioms", "Prim2SF_valid SF2Prim_Prim2SF Prim2SF_SF2Prim opp_spec abs_spec eqb_spec ltb_spec "
                "leb_spec compare_spec Leibniz.eqb_spec classify_spec mul_spec add_spec sub_spec div_spec sqrt_spec "
                "of_uint63_spec normfr_mantissa_spec frshiftexp_spec ldshiftexp_spec next_up_spec next_down_spec"),
    *_qualified("PrimInt63", "int lsl lsr land lor lxor asr add sub mul mulc div mod divs mods eqb ltb leb ltsb lesb "
                "addc addcarryc subc subcarryc diveucl diveucl_21 addmuldiv compare compares head0 tail0"),
    *_qualified("Uint63", "of_to_Z lsl_spec lsr_spec land_spec lor_spec lxor_spec add_spec sub_spec mul_spec "
                "mulc_spec div_spec mod_spec eqb_correct eqb_refl ltb_spec leb_spec compare_def_spec head0_spec "
                "tail0_spec addc_def_spec addcarryc_def_spec subc_def_spec subcarryc_def_spec diveucl_def_spec "
                "diveucl_21_spec addmuldiv_def_spec"),
    *_qualified("Sint63", "asr_spec div_spec mod_spec ltb_spec leb_spec compare_spec"),
)
ALLOWED_AXIOMS = frozenset(REAL_AXIOMS + KERNEL_PRIMITIVES)
# Print Assumptions names an axiom by its shortest unambiguous name; ours always carry their file's name
# (the check never Imports them), so a project file named like one of these modules could pose as one.
TRUSTED_MODULES = frozenset(name.split(".")[0] for name in ALLOWED_AXIOMS)

# What a file may not contain (comments stripped), whether or not a theorem uses it.
FORBIDDEN = (
    (re.compile(r"\bAdmitted\b"), "`Admitted`"),
    (re.compile(r"\badmit\b"), "`admit`"),
    (re.compile(r"\bAdmit\s+Obligations\b"), "`Admit Obligations`"),
    (re.compile(r"\b(?:Axioms?|Parameters?|Conjecture)\b"), "an axiom declaration"),
    (re.compile(r"\bUnset\s+(?:Guard|Positivity|Universe)\s+Checking\b|\bbypass_check\b"),
     "a kernel check switched off"),
)
KEYWORDS = "Theorem|Lemma|Corollary|Proposition|Fact|Remark|Example"
# A file whose first comment says this holds proofs too slow for every run (the `interval` witnesses of
# the refuted commute-* cells: about a minute of CPU): `python -m proofs.check --full` and
# tests/test_coq_layer.py check them; a default run lists their Coq steps as not run.
FULL_ONLY = "checked with --full"
ANNOTATION = re.compile(r"^\s*\(\*\s*theorem:\s*([A-Za-z0-9_.-]+)\s*\*\)\s*$")
DECLARATION = re.compile(rf"^\s*(?:(?:Local|Global)\s+)?(?:{KEYWORDS})\s+([A-Za-z_][\w']*)")


# --- reading the sources ---------------------------------------------------------------------------

def strip_comments(text: str) -> str:
    """The text with every (nested) comment blanked out, newlines kept, so offsets and line numbers stay.
    As Coq's lexer does, a string literal is read inside a comment too (`"*)"` there closes nothing), and
    outside one it is kept (a `(*` inside it opens no comment)."""
    out, depth, i, in_string = [], 0, 0, False

    def emit(chunk):
        out.append("".join("\n" if c == "\n" else " " for c in chunk) if depth else chunk)

    while i < len(text):
        two = text[i:i + 2]
        if in_string:
            step = 2 if two == '""' else 1
            in_string = step == 2 or text[i] != '"'
            emit(text[i:i + step])
            i += step
        elif two == "(*" or (depth and two == "*)"):
            out.append("  ")
            depth += 1 if two == "(*" else -1
            i += 2
        else:
            in_string = text[i] == '"'
            emit(text[i])
            i += 1
    return "".join(out)


def sentence_end(code: str, start: int) -> int:
    """The index just past the `.` that ends the sentence beginning at `start` (a `.` followed by blank
    space or the end of the text, outside string literals); len(code) when there is none."""
    in_string = False
    for i in range(start, len(code)):
        if code[i] == '"':
            in_string = not in_string
        elif not in_string and code[i] == "." and (i + 1 == len(code) or code[i + 1].isspace()) \
                and code[i - 1] != ".":
            return i + 1
    return len(code)


@dataclass(frozen=True)
class Statement:
    """One annotated Coq statement."""

    id: str  # the catalogue's theorem id
    name: str  # qualified within its library: Softmax.softmax_shift (Module path included, sections not)
    file: str  # Softmax.v
    line: int
    text: str  # from `Theorem` to the `.` that ends the statement
    flocq: bool  # its file requires Flocq
    in_section: bool = False  # stated inside a Section: its text omits the section's Context / Hypothesis
    full_only: bool = False  # its file is marked FULL_ONLY: checked by `--full` runs and by the tests, not by default

    @property
    def qualified(self) -> str:
        return f"{LIBRARY}.{self.name}"


def _scope_at(code: str, offset: int) -> tuple[list[str], bool]:
    """The Module path open at `offset` (Sections are transparent for names; Module aliases open nothing),
    and whether a Section is open there."""
    stack: list[tuple[str, str]] = []
    for m in re.finditer(r"(?<![\w'.])(Module(?:\s+Type)?|Section|End)\s+([A-Za-z_][\w']*)([^.]*)\.(?=\s|$)",
                         code[:offset]):
        kind, name, rest = m.group(1), m.group(2), m.group(3)
        if kind == "End":
            while stack and stack.pop()[1] != name:
                pass
        elif ":=" not in rest:
            stack.append((kind.split()[0], name))
    return [name for kind, name in stack if kind == "Module"], any(kind == "Section" for kind, _ in stack)


def statements_of(path: Path) -> tuple[list[Statement], list[str]]:
    """The annotated statements of one .v file, and the annotations that no Theorem / Lemma follows."""
    text = path.read_text()
    code = strip_comments(text)
    flocq = bool(re.search(r"\bFlocq\b", code))
    full_only = FULL_ONLY in text[:text.find("*)") + 2]  # said in the file's first comment
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    found, dangling = [], []
    for number, line in enumerate(lines):
        annotation = ANNOTATION.match(line)
        if not annotation:
            continue
        declared = DECLARATION.match(code[offsets[number + 1]:offsets[number + 2]]) if number + 1 < len(lines) else None
        if not declared:
            dangling.append(f"{path.name}:{number + 1}: `(* theorem: {annotation.group(1)} *)` is not right above a "
                            f"{KEYWORDS.replace('|', ' / ')}")
            continue
        start = offsets[number + 1] + len(code[offsets[number + 1]:]) - len(code[offsets[number + 1]:].lstrip())
        statement = "\n".join(ln.rstrip() for ln in code[start:sentence_end(code, start)].splitlines())
        modules, in_section = _scope_at(code, start)
        name = ".".join([path.stem, *modules, declared.group(1)])
        found.append(Statement(annotation.group(1), name, path.name, number + 2, statement, flocq, in_section,
                               full_only))
    return found, dangling


def forbidden(path: Path) -> list[str]:
    """What the file contains that no counted proof may use (comments stripped), with line numbers."""
    code = strip_comments(path.read_text())
    return [f"{what} at {path.name}:{code.count(chr(10), 0, m.start()) + 1}"
            for pattern, what in FORBIDDEN for m in pattern.finditer(code)]


def requires(path: Path, stems: set[str]) -> set[str]:
    """The project files (stems) this file Requires."""
    code = strip_comments(path.read_text())
    found = set()
    for m in re.finditer(r"(?<![\w'.])(?:From\s+([\w.]+)\s+)?Require\b", code):
        sentence = code[m.end():sentence_end(code, m.end())].rstrip(".")
        for token in sentence.split():
            short = token.removeprefix(f"{LIBRARY}.")
            if short in stems and (m.group(1) in (None, LIBRARY) or token.startswith(f"{LIBRARY}.")):
                found.add(short)
    return found


def build_order(directory: Path) -> list[str]:
    """The stems of every .v file in build order: ORDER's files in its order, then the others by name, each
    moved after the project files it Requires."""
    stems = {p.stem for p in directory.glob("*.v")}
    order_file = directory / "ORDER"
    listed = []
    if order_file.exists():
        listed = [ln.strip().removesuffix(".v") for ln in order_file.read_text().splitlines()
                  if ln.strip() and not ln.strip().startswith("#")]
    base = [s for s in listed if s in stems] + sorted(stems - set(listed))
    deps = {s: requires(directory / f"{s}.v", stems) - {s} for s in stems}
    out: list[str] = []

    def visit(stem, seen=()):
        if stem in out or stem in seen:
            return
        for dep in sorted(deps[stem], key=base.index):
            visit(dep, (*seen, stem))
        out.append(stem)

    for stem in base:
        visit(stem)
    return out


def annotated(directory: Path | None = None) -> list[Statement]:
    """Every annotated statement under `directory` (default proofs/coq; static: nothing is compiled)."""
    return [s for p in sorted((directory or COQ_DIR).glob("*.v")) for s in statements_of(p)[0]]


# --- running coqc ----------------------------------------------------------------------------------

def coqc() -> str | None:
    return shutil.which("coqc")


def coqc_version(binary: str) -> str:
    """`8.16.1` from `The Coq Proof Assistant, version 8.16.1`; the first line when it does not parse."""
    run = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    first = (run.stdout or run.stderr).strip().splitlines()[0] if (run.stdout or run.stderr).strip() else "?"
    m = re.search(r"version\s+(\S+)", first)
    return m.group(1) if m else first


@dataclass
class FileBuild:
    status: str  # compiled | failed | skipped
    seconds: float = 0.0
    error: str = ""


@dataclass
class Outcome:
    """The Coq layer's answer for one annotated statement."""

    statement: Statement
    ok: bool
    assumptions: str = ""  # Print Assumptions output, entries sorted by name
    problem: str = ""  # why it is not kernel-checked, "" when it is
    group: int = 1  # > 1: the assumptions printed are those of that many statements together (their union)
    kernel_type: str = ""  # for a statement in a Section: its type as the kernel has it (`Check`), context included


@dataclass
class Report:
    version: str  # coqc's
    files: dict[str, FileBuild] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # annotations without a statement
    seconds: float = 0.0

    def for_id(self, theorem_id: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.statement.id == theorem_id]

    def checked(self) -> int:
        return sum(o.ok for o in self.outcomes)


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    """Return code (None on timeout) and the combined output."""
    try:
        niced = ["nice", "-n", str(NICE), *cmd] if shutil.which("nice") else cmd  # not preexec_fn: threads run
        run = subprocess.run(niced, cwd=cwd, capture_output=True, text=True, timeout=max(timeout, 1.0))
    except subprocess.TimeoutExpired:
        return None, f"killed after {timeout:.0f} s of wall clock"
    return run.returncode, (run.stdout + run.stderr).strip()


def compile_files(binary: str, build: Path, stems: list[str], timeout: float, jobs: int = 2) -> dict[str, FileBuild]:
    """Compile `stems` inside `build`, each once the files it Requires are done, `jobs` at a time (the
    five witness files are independent of each other: two cores halve their wall time). A file that
    Requires a file that did not compile is skipped (coqc would only say so less clearly); any other
    file is compiled, whatever failed before it in ORDER: coqc itself decides whether it stands without
    the failed one. Returns the results in `stems` order."""
    stems_all = {p.stem for p in build.glob("*.v")}
    deps = {stem: requires(build / f"{stem}.v", stems_all) - {stem} for stem in stems}
    results: dict[str, FileBuild] = {}
    deadline = time.monotonic() + timeout

    def compile_one(stem: str) -> FileBuild:
        start = time.monotonic()
        code, output = _run([binary, "-q", "-Q", ".", LIBRARY, f"{stem}.v"], build, deadline - start)
        seconds = time.monotonic() - start
        return FileBuild("compiled", seconds) if code == 0 else \
            FileBuild("failed", seconds, output[-3000:] or f"coqc exited with status {code}")

    waiting, running = list(stems), {}
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="coqc") as pool:
        while waiting or running:
            for stem in list(waiting):  # in order: start what is ready (or skip what cannot build)
                pending = {d for d in deps[stem] if d in stems and d not in results}
                broken = sorted(d for d in deps[stem] if results.get(d, FileBuild("skipped")).status != "compiled"
                                and d not in pending)
                if broken:
                    names = ", ".join(f"{b}.v" for b in broken)
                    results[stem] = FileBuild("skipped", error=f"not compiled: it Requires {names}, which did not "
                                                               "compile")
                    waiting.remove(stem)
                elif not pending and len(running) < jobs:
                    running[pool.submit(compile_one, stem)] = stem
                    waiting.remove(stem)
            if not running:
                for stem in waiting:  # nothing can start: the rest Require each other in a circle
                    results[stem] = FileBuild("skipped", error="not compiled: its Requires form a circle")
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                results[running.pop(future)] = future.result()
    return {stem: results[stem] for stem in stems}


def sorted_assumptions(output: str) -> tuple[str, list[str], str]:
    """Print Assumptions output -> (the text with axiom entries sorted by name, the axiom names, a problem
    or ""). Anything but `Closed under the global context` or an `Axioms:` list is a problem (for example
    the sections Coq prints for a definition that assumes guard checking off)."""
    lines = output.strip().splitlines()
    if lines == ["Closed under the global context"]:
        return lines[0], [], ""
    if not lines or lines[0] != "Axioms:":
        return output.strip(), [], f"unexpected Print Assumptions output: {output.strip()[:200]!r}"
    entries: list[list[str]] = []
    for line in lines[1:]:
        if line[:1].isspace() and entries:
            entries[-1].append(line)
        elif re.match(r"^[A-Za-z_][\w'.]*(\s+:.*)?$", line):
            entries.append([line])
        else:
            return output.strip(), [], f"unexpected Print Assumptions line: {line!r}"
    entries.sort(key=lambda e: e[0].split()[0])
    return "\n".join(["Axioms:", *("\n".join(e) for e in entries)]), [e[0].split()[0] for e in entries], ""


def _require(statements: list[Statement]) -> str:
    return f"From {LIBRARY} Require {' '.join(sorted({s.file.removesuffix('.v') for s in statements}))}."


def shared_assumptions(binary: str, build: Path, statements: list[Statement],
                       timeout: float) -> tuple[str | None, dict[Statement, str]]:
    """`Print Assumptions` of one term that pairs every statement: the union of their trusted bases, in one
    pass over the library (a Print Assumptions per statement re-walks the real-number library each time,
    about 0.7 s of CPU each); None when Coq does not accept that term. Then, after it, the kernel's
    statement (`Check`) of each statement stated inside a Section, whose source text omits the Section's
    context; {} when that part fails."""
    term = "tt"
    for s in reversed(statements):
        term = f"(@{s.qualified}, {term})"
    checks = [s for s in statements if s.in_section]
    lines = [_require(statements), f"Definition coq_layer_all := {term}.", "Print Assumptions coq_layer_all.",
             f"Definition {MARK}all := tt. Print {MARK}all.", "Require Import Coq.Reals.Reals. Open Scope R_scope.",
             *(f"Check @{s.qualified}. Definition {MARK}{k} := tt. Print {MARK}{k}." for k, s in enumerate(checks))]
    check = build / "CoqLayerShared.v"
    check.write_text("\n".join(lines) + "\n")
    code, output = _run([binary, "-q", "-Q", ".", LIBRARY, check.name], build, timeout)
    pieces = re.split(rf"^{MARK}(\w+) = tt\n\s+: unit$", output, flags=re.M)
    before = dict(zip(pieces[1::2], (p.strip() for p in pieces[0::2]), strict=False))  # a mark: the text before it
    types = {s: _type_of(before[str(k)]) for k, s in enumerate(checks) if str(k) in before}
    return before.get("all"), types


def _type_of(checked: str) -> str:
    """The type from `Check` output (`name` then `     : type` over indented lines), unindented."""
    lines = checked.split("\n")[1:]
    width = len(re.match(r"\s*:\s*", lines[0]).group()) if lines and re.match(r"\s*:", lines[0]) else 0
    return "\n".join(ln[width:] if ln[:width].isspace() or ln is lines[0] else ln.strip() for ln in lines)


def print_assumptions(binary: str, build: Path, statements: list[Statement], timeout: float) -> dict[Statement, str]:
    """One generated file Requires every module and prints the assumptions of each statement; returns each
    statement's output, or an error starting with `error:`. A statement Coq cannot resolve is recorded
    and the file re-run without it."""
    left, results = list(statements), {}
    deadline = time.monotonic() + timeout
    while left:
        lines = [_require(left)]
        where = {}
        for k, s in enumerate(left):
            where[len(lines) + 1] = s
            lines += [f"Print Assumptions {s.qualified}.", f"Definition {MARK}{k} := tt. Print {MARK}{k}."]
        check = build / "CoqLayerAssumptions.v"
        check.write_text("\n".join(lines) + "\n")
        code, output = _run([binary, "-q", "-Q", ".", LIBRARY, check.name], build, deadline - time.monotonic())
        chunks = re.split(rf"^{MARK}(\d+) = tt\n\s+: unit$", output, flags=re.M)
        done = [int(k) for k in chunks[1::2]]
        for k, text in zip(done, chunks[0::2], strict=False):
            results[left[k]] = text.strip()
        if code == 0:
            break
        failing = re.search(r'line (\d+), characters', output)
        culprit = where.get(int(failing.group(1))) if failing else None
        error = output.split("Error:", 1)[-1].strip() if code is not None else output
        if culprit is None:  # the file as a whole failed (or timed out): every statement left fails
            for s in left:
                results.setdefault(s, f"error: {error[:2000]}")
            break
        results[culprit] = f"error: {error[:2000]}"
        left = [s for s in left if s not in results]
    return results


def check(directory: Path | None = None, ids: set[str] | None = None, binary: str | None = None,
          timeout: float = BUILD_TIMEOUT) -> Report | None:
    """Compile what the statements of `ids` (default: every id) need, in `directory` (default proofs/coq),
    and check their trusted base. None when coqc is not on the PATH. Everything is read from one snapshot
    of the folder (a build folder of copies), so a file edited meanwhile cannot mix two versions."""
    directory = directory or COQ_DIR
    binary = binary or coqc()
    if binary is None:
        return None
    start = time.monotonic()
    report = Report(coqc_version(binary))
    shown = "proofs/coq" if directory == COQ_DIR else str(directory)
    with tempfile.TemporaryDirectory(prefix="coq-layer-") as tmp:
        build = Path(tmp)
        for path in sorted(directory.glob("*.v")) + [directory / "ORDER"] * (directory / "ORDER").exists():
            shutil.copy(path, build / path.name)
        statements = []
        for path in sorted(build.glob("*.v")):
            found, dangling = statements_of(path)
            statements += [s for s in found if ids is None or s.id in ids]
            report.problems += dangling
        report.files = compile_files(binary, build, needed(build, statements), timeout)
        for f in report.files.values():
            f.error = f.error.replace('File "./', f'File "{shown}/')
        textual = {p.stem: forbidden(p) + ([f"a file name that shadows the standard library's {p.stem}"]
                                            if p.stem in TRUSTED_MODULES else []) for p in build.glob("*.v")}
        compiled = [s for s in statements if report.files[s.file.removesuffix(".v")].status == "compiled"
                    and not textual[s.file.removesuffix(".v")]]
        printed = trusted_bases(binary, build, compiled)
    report.outcomes = [outcome(s, report.files[s.file.removesuffix(".v")], textual[s.file.removesuffix(".v")], printed)
                       for s in statements]
    report.seconds = time.monotonic() - start
    return report


def needed(build: Path, statements: list[Statement]) -> list[str]:
    """The files to compile, in build order: those of the statements and what they Require (a Require this
    misses makes coqc fail, loudly, rather than pass)."""
    stems = {p.stem for p in build.glob("*.v")}
    out = _closure({s.file.removesuffix(".v") for s in statements},
                   {st: requires(build / f"{st}.v", stems) for st in stems})
    return [s for s in build_order(build) if s in out]


def trusted_bases(binary: str, build: Path, compiled: list[Statement]) -> dict[Statement, tuple[str, int, str]]:
    """Each statement's Print Assumptions output, the size of the group it was printed with, and its kernel
    statement when it is stated in a Section (else ""). A group
    (the statements of files that use the Interval tactic, and the others, so that a proof without it is
    not shown Interval's primitives) is printed together when its union is within the allowed base (then
    each statement's base is too); otherwise each of its statements gets its own, to name the culprits."""
    groups: dict[bool, list[Statement]] = {}
    for s in compiled:
        uses = bool(re.search(r"\bInterval\b", strip_comments((build / s.file).read_text())))
        groups.setdefault(uses, []).append(s)
    out = {}
    for group in groups.values():
        shared, types = shared_assumptions(binary, build, group, CHECK_TIMEOUT)
        if shared is not None and not judge(group[0], shared).problem:
            out |= {s: (shared, len(group), types.get(s, "")) for s in group}
        else:
            each = print_assumptions(binary, build, group, CHECK_TIMEOUT)
            out |= {s: (text, 1, types.get(s, "")) for s, text in each.items()}
    return out


def outcome(s: Statement, built: FileBuild, textual: list[str], printed: dict[Statement, tuple]) -> Outcome:
    if built.status != "compiled":
        return Outcome(s, False, problem=f"{s.file} {built.status}:\n{built.error}")
    if textual:
        return Outcome(s, False, problem=f"{s.file} contains " + "; ".join(textual))
    text, group, kernel_type = printed.get(s, ("error: no Print Assumptions output", 1, ""))
    return replace(judge(s, text), group=group, kernel_type=kernel_type)


def judge(statement: Statement, output: str) -> Outcome:
    """One statement's Print Assumptions output against ALLOWED_AXIOMS."""
    if output.startswith("error:"):
        error = output.removeprefix("error:").strip()
        return Outcome(statement, False, problem=f"Print Assumptions {statement.qualified} failed: {error}")
    text, names, problem = sorted_assumptions(output)
    extra = [n for n in names if n not in ALLOWED_AXIOMS]
    if extra:
        problem = f"assumes {', '.join(extra)}, outside the allowed trusted base"
    return Outcome(statement, not problem, text, problem)


def _closure(start: set[str], deps: dict[str, set[str]]) -> set[str]:
    out, todo = set(), list(start)
    while todo:
        s = todo.pop()
        if s not in out and s in deps:
            out.add(s)
            todo += deps[s]
    return out


# --- what a theorem's transcript and verdict get ----------------------------------------------------

def kernel_verdict(statements: list[Statement], every: str = "every n") -> str:
    """The verdict a kernel check of these statements earns: `proved for every n (Coq kernel)`, or with
    Flocq `proved for every binary format (Coq kernel, Flocq)` (`every` names the scope)."""
    flocq = any(s.flocq for s in statements)
    return f"proved for {every} (Coq kernel{', Flocq' if flocq else ''})"


def step(theorem_id: str, report: Report | None, statements: list[Statement], deferred: bool = False) -> Step | None:
    """The Coq step of one theorem: holds when every annotated statement is kernel-checked with the allowed
    trusted base; inconclusive when one is not; not run without coqc, or when `deferred` (a FULL_ONLY file
    in a run without --full). None when no statement carries the id."""
    if not statements:
        return None
    if report is None or deferred:
        shown = "\n\n".join(_statement_md(s) for s in statements)
        why = (f"its proof is in a file {FULL_ONLY} (`python -m proofs.check --full`; tests/test_coq_layer.py "
               "checks it in CI)" if deferred else f"`coqc` is not installed (`{INSTALL_HINT}`)")
        return Step(_title(statements), COQ, NOT_RUN, f"Not checked in this run: {why}.\n\n{shown}")
    outcomes = report.for_id(theorem_id)
    ok = all(o.ok for o in outcomes) and len(outcomes) == len(statements)
    parts = [f"coqc {report.version}; {sum(o.ok for o in outcomes)} of {len(statements)} kernel-checked "
             "with the allowed trusted base (the standard library's real-number axioms; the kernel's primitive "
             "integers and floats)."]
    if len(outcomes) < len(statements):
        parts.append("**Not kernel-checked:** " + ("; ".join(report.problems) or "the Coq layer has no result for "
                                                   "some statement"))
    for o in outcomes:
        failure = "" if o.ok else f"\n\n**Not kernel-checked:**\n\n```\n{o.problem}\n```"
        kernel = (f"\n\nStated inside a Section; as the kernel has it, the Section's context included "
                  f"(`Check @{o.statement.qualified}`):\n\n```coq\n{o.kernel_type}\n```" if o.kernel_type else "")
        parts.append(_statement_md(o.statement) + kernel + failure)
        if o.assumptions:
            parts.append(f"{assumptions_title(o)} (entries sorted by name):\n\n```\n{o.assumptions}\n```")
    return Step(_title(statements), COQ, HOLDS if ok else INCONCLUSIVE, "\n\n".join(parts),
                seconds=sum(report.files[f].seconds for f in {o.statement.file.removesuffix('.v') for o in outcomes}
                            if f in report.files))


def record(theorem_id: str, report: Report | None, statements: list[Statement], scope: str, status: str) -> dict:
    """summary.json's `coq` entry of one theorem."""
    outcomes = {o.statement: o for o in report.for_id(theorem_id)} if report else {}
    return {"scope": scope, "status": status, "coqc_version": report.version if report else None,
            "statements": [{"name": s.qualified, "file": f"proofs/coq/{s.file}", "line": s.line, "text": s.text,
                            **({"kernel_statement": outcomes[s].kernel_type}
                               if s in outcomes and outcomes[s].kernel_type else {}),
                            "kernel_checked": s in outcomes and outcomes[s].ok,
                            **({"problem": outcomes[s].problem} if s in outcomes and outcomes[s].problem else {})}
                           for s in statements],
            "assumptions": "\n\n".join(dict.fromkeys(f"{assumptions_title(o)}:\n{o.assumptions}"
                                                       for o in outcomes.values() if o.assumptions))}


def assumptions_title(outcome: Outcome) -> str:
    if outcome.group > 1:
        return (f"`Print Assumptions` of a term pairing {outcome.group} statements checked in this run (the union of "
                f"their trusted bases, so `{outcome.statement.qualified}` assumes at most these)")
    return f"`Print Assumptions {outcome.statement.qualified}`"


def _title(statements: list[Statement]) -> str:
    return f"the Coq statement{'s' * (len(statements) > 1)} (Coq kernel)"


def _statement_md(s: Statement) -> str:
    return f"`{s.qualified}` (proofs/coq/{s.file}, line {s.line}):\n\n```coq\n{s.text}\n```"


def start(ids: set[str] | None = None) -> Future | None:
    """check() in a background thread (coqc runs in a subprocess, so the z3 work goes on beside it);
    None when coqc is not on the PATH."""
    if coqc() is None:
        return None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="coq-layer")
    future = pool.submit(check, None, ids)
    pool.shutdown(wait=False)
    return future


def summary(report: Report | None) -> str:
    """One console line about the Coq layer."""
    if report is None:
        return f"coq: coqc is not on the PATH, so no Coq kernel checks in this run (install: {INSTALL_HINT})"
    built = sum(f.status == "compiled" for f in report.files.values())
    failed = [name for name, f in report.files.items() if f.status != "compiled"]
    return (f"coq: coqc {report.version}, {built}/{len(report.files)} files compiled"
            + (f" (not: {', '.join(f'{n}.v' for n in failed)})" if failed else "")
            + f", {report.checked()}/{len(report.outcomes)} annotated statements kernel-checked "
              f"with the allowed trusted base in {report.seconds:.1f} s")


# --- the mutation harness (issue 25, point 5) ------------------------------------------------------

def mutant_caught(mutate, directory: Path | None = None, ids: set[str] | None = None,
                  fidelity=None) -> tuple[bool, str]:
    """Apply `mutate` (a function of a copy of the Coq folder, default proofs/coq, that edits it in place and
    returns a description of the edit, or None when it does not apply) and run the layer on the copy
    (only what the statements of `ids` need, default all). Caught when the layer rejects a statement of
    the mutant (coqc fails, or the trusted-base checks do), or when `fidelity` (a function of the mutated
    folder returning a description of a disagreement with the spec, "" for none) finds one. That means
    something only when the original passes both (the caller checks that once).
    Returns (caught, what was mutated and how it was caught)."""
    with tempfile.TemporaryDirectory(prefix="coq-mutant-") as tmp:
        copy = Path(tmp) / "coq"
        shutil.copytree(directory or COQ_DIR, copy, ignore=shutil.ignore_patterns("*.vo*", "*.glob", ".*.aux"))
        what = mutate(copy)
        if what is None:
            raise ValueError("the mutation does not apply to this folder")
        report = check(copy, ids)
        if report is None:
            raise RuntimeError(f"coqc is not on the PATH ({INSTALL_HINT})")
        failing = [o for o in report.outcomes if not o.ok]
        if failing:
            return True, f"{what}; rejected by the Coq layer: {failing[0].problem.splitlines()[0]}"
        disagreement = fidelity(copy) if fidelity else ""
    return bool(disagreement), f"{what}; " + (f"the fidelity test disagrees: {disagreement}" if disagreement
                                              else "not caught")


def textual(file: str, old: str, new: str):
    """A mutation for mutant_caught: the first `old` in `file` becomes `new` (does not apply when absent)."""
    def mutate(directory: Path) -> str | None:
        path = directory / file
        text = path.read_text() if path.exists() else ""
        if old not in text:
            return None
        path.write_text(text.replace(old, new, 1))
        return f"{file}: {old!r} -> {new!r}"
    return mutate


def admit_first_proof(directory: Path) -> str | None:
    """Mutant: the first `Qed.` that closes an annotated statement's proof becomes `Admitted.`."""
    for path in sorted(directory.glob("*.v")):
        text = path.read_text()
        for s in statements_of(path)[0]:
            at = text.find("Qed.", _line_offset(text, s.line))
            if at >= 0:
                path.write_text(text[:at] + "Admitted." + text[at + 4:])
                return f"{path.name}: the proof of {s.name} ends in Admitted"
    return None


def extra_axiom(directory: Path) -> str | None:
    """Mutant: an `Axiom` proving False, added to the first file with an annotated statement and used there."""
    for path in sorted(directory.glob("*.v")):
        found = statements_of(path)[0]
        if found:
            text = path.read_text()
            at = _line_offset(text, found[0].line - 1)  # the annotation line
            path.write_text(text[:at] + "Axiom coq_layer_mutant : False.\n" + text[at:])
            return f"{path.name}: Axiom coq_layer_mutant : False, above {found[0].name}"
    return None


def _line_offset(text: str, line: int) -> int:
    """The offset of the start of 1-based `line`."""
    return sum(len(ln) for ln in text.splitlines(keepends=True)[:line - 1])

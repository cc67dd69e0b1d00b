"""The repository's rooms (issue 24), checked on the source itself: no circle of imports anywhere in
proofs/, spec/ and impl/ (imports inside functions count), no module in spec/ or impl/ over 450
lines and no class over 200, the validator imports no engine, `import spec` loads the spec only, and
each engine module has its own test file."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from spec.engines import engines

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("proofs", "spec", "impl")
MAX_MODULE_LINES, MAX_CLASS_LINES = 450, 200


def modules() -> dict[str, Path]:
    """{dotted name: file} for every module of the three packages (a package is its __init__)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict) -> set[str]:
    """The project modules `name` imports anywhere in its file, function bodies included. `from p
    import x` is an edge to p.x when that is a module, else to p (whose __init__ defines x)."""
    def owner(dotted: str) -> str:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {owner(a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else owner(base) for a in node.names}
    return {m for m in found if m and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each a circle of imports."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on.discard(component[-1])
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_the_cycle_finder_finds_a_circle_through_a_function_level_import(tmp_path):
    """The checker itself: two modules importing each other, one inside a function, are a circle."""
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from a import g\n")
    known = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    assert cycles({n: imports(n, p, known) for n, p in known.items()}) == [["a", "b"]]


def test_no_circle_of_imports_in_proofs_spec_or_impl():
    found = cycles(graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_module_over_450_lines_in_spec_or_impl_and_no_class_over_200():
    too_long = []
    for name, path in modules().items():
        source = path.read_text()
        if name.split(".")[0] in ("spec", "impl") and source.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                lines = node.end_lineno - node.lineno + 1
                too_long.append(f"{path.relative_to(ROOT)}: class {node.name}, {lines} lines")
    assert not too_long, too_long


def test_the_validator_imports_no_engine():
    g = graph()
    leaks = {m: sorted(d for d in g[m] if d.startswith("spec.engines"))
             for m in g if m.startswith("spec.validator")}
    assert not {m: d for m, d in leaks.items() if d}


@pytest.mark.parametrize("module", ["spec", "spec.transforms", "spec.target", "proofs.commute_interval"])
def test_importing_the_spec_loads_neither_the_validator_nor_the_engines(module):
    code = (f"import sys, {module}; print(sorted(m for m in sys.modules "
            "if m.startswith(('spec.validator', 'spec.engines', 'mlx_lm', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_validator_and_the_engines_load_on_first_use():
    code = ("import json, sys, spec; f = spec.validate; g = spec.validate_generation; c = spec.conformance.main; "
            "print(json.dumps([list(spec.engines.ENGINES), 'spec.validator' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    listed, loaded = json.loads(out.stdout)
    assert listed[:4] == ["mlx-lm", "transformers", "vllm", "llama-cpp"] and loaded, out.stderr


def test_each_engine_module_has_its_own_test_file():
    for engine in engines().values():
        module = engine.sampler.__module__.rpartition(".")[2]
        assert (ROOT / "tests" / f"test_engine_{module}.py").exists(), f"{engine.name}: no test_engine_{module}.py"

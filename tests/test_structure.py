"""Layout rules a reader relies on: no import cycles inside the package (lazy imports inside
functions count too: they still tie the modules together), and each report section in its
own module, found by name."""

from __future__ import annotations

import ast
from pathlib import Path

import auditor

PACKAGE = Path(auditor.__file__).parent


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports (anywhere in its body)."""
    top = package_dir.name
    files = {}
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[module] |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                if not base.startswith(top):
                    continue
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    graph[module].add(target if target in files else base)
    return {m: {t for t in targets if t in files and t != m} for m, targets in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_lazy_import_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from pkg.sub.b import g\n")
    (pkg / "sub" / "b.py").write_text("from .a import f\n")
    (pkg / "sub" / "c.py").write_text("from pkg.sub import a\n")
    assert cycles(import_graph(pkg)) == [["pkg.sub.a", "pkg.sub.b"]]


def test_the_package_has_no_import_cycles():
    graph = import_graph(PACKAGE)
    assert "auditor.modeling.tiny" in graph["auditor.modeling.factory"]
    assert cycles(graph) == []


def test_every_report_section_is_a_module_named_after_it():
    from auditor.reporting import sections

    for name in sections.ORDER:
        module = sections.load(name)
        assert module.__name__ == f"auditor.reporting.sections.{name}"
        assert callable(module.build)
    on_disk = {p.stem for p in (PACKAGE / "reporting" / "sections").glob("*.py")} - {"__init__"}
    assert on_disk == set(sections.ORDER)

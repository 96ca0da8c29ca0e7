"""The package's shape: no import cycles anywhere in archdsl (function-level imports
included), no ``assert`` standing in for a user-facing check, and ``python -m archdsl``."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "archdsl"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, source: str, known: set[str], is_package: bool = False) -> set[str]:
    """The archdsl modules that module ``name`` (text ``source``) imports anywhere in its
    body (top level, inside functions, under ``if TYPE_CHECKING``): ``from pkg import sub``
    counts as ``pkg.sub`` when ``sub`` is a module, else as ``pkg``. Relative imports are
    resolved against the package."""
    package = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in known else base)
    return {m for m in out if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path.read_text(), set(mods), path.name == "__init__.py")
            for name, path in mods.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, …, a]``, or None (iterative DFS, three colours)."""
    colour = dict.fromkeys(graph, 0)   # 0 new, 1 on the stack, 2 done
    for root in sorted(graph):
        if colour[root]:
            continue
        stack, path = [(root, iter(sorted(graph[root])))], [root]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour[child] == 1:
                return path[path.index(child):] + [child]
            elif colour[child] == 0:
                colour[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_no_import_cycles():
    graph = _graph()
    # imports inside functions count too (cli.main imports archdsl.errors in _main)
    assert "archdsl.errors" in graph["archdsl.cli.main"]
    assert "archdsl.cli.options" in graph["archdsl.cli.core_cmd"]
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    """The detector itself: a function-level import closing a loop is reported."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    known = set(_modules())
    code = "def main():\n    from archdsl.cli.main import main\n    from . import options\n"
    assert _imports("archdsl.cli.fake", code, known) == {"archdsl.cli.main", "archdsl.cli.options"}
    assert _imports("archdsl.lowering", "from .weights import WeightMismatch\n", known,
                    is_package=True) == {"archdsl.lowering.weights"}


def test_no_assert_in_the_package():
    """A check on user input must raise ArchError (``python -O`` strips asserts)."""
    found = [f"{p.relative_to(ROOT)}:{n.lineno}" for p in _modules().values()
             for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.Assert)]
    assert not found, f"assert statements in archdsl: {found}"


def test_python_m_archdsl(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "archdsl", "check", "resnet20"], cwd=tmp_path,
                        capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert ok.returncode == 0 and ok.stdout.startswith("ok  resnet20"), ok.stderr
    bad = subprocess.run([sys.executable, "-m", "archdsl", "check", "no-such-net"], cwd=tmp_path,
                         capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert bad.returncode == 2 and "error:" in bad.stderr and "Traceback" not in bad.stderr

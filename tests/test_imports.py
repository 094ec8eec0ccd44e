"""No import cycle among the package's modules: a static graph check and a fresh import of every module.

The static check reads every module of ``channelae/`` and ``channels/`` (installed as ``channelae.channels``),
collects its imports of project modules (top-level and function-level alike: a lazy import inside a function
still ties the two modules together) and looks for strongly connected components (Tarjan). The dynamic check
imports each module first, in a clean module table, in one subprocess: an order-dependent cycle shows up there
as an ImportError of a partially initialised module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROOTS = {"channelae": ROOT / "channelae", "channelae.channels": ROOT / "channels"}


def project_modules() -> dict[str, Path]:
    """Dotted name → file for every module of the package (``channels/`` named as ``channelae.channels``)."""
    mods: dict[str, Path] = {}
    for prefix, root in ROOTS.items():
        for f in sorted(root.rglob("*.py")):
            parts = list(f.with_suffix("").relative_to(root).parts)
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join([prefix, *parts])] = f
    return mods


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module → project modules it imports (a package's own ``__init__`` is not an edge of its submodules)."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                r = resolve(t)
                if r and r != m and not (mods[r].name == "__init__.py" and m.startswith(r + ".")):
                    graph[m].add(r)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_static_import_cycle() -> None:
    mods = project_modules()
    assert {"channelae.results", "channelae.plots", "channelae.plots.style", "channelae.channels"} <= set(mods)
    graph = import_graph(mods)
    assert cycles(graph) == []
    # the layering of the results readers: plots and report sit on results; nothing below reaches up
    assert "channelae.results" in graph["channelae.report"] and "channelae.results" in graph["channelae.plots"]
    upward = {"channelae.report", "channelae.experiments", "channelae.simulate", "channelae.cli"}
    for m in mods:
        if m.startswith("channelae.plots") or m == "channelae.results":
            assert not graph[m] & upward, (m, graph[m] & upward)


_IMPORT_EACH = """
import importlib, json, sys, traceback
names = json.loads(sys.argv[1])
keep = set(sys.modules)
failed = {}
for name in names:
    for m in [m for m in sys.modules if m not in keep and (m == "channelae" or m.startswith("channelae."))]:
        del sys.modules[m]
    try:
        importlib.import_module(name)
    except Exception:
        failed[name] = traceback.format_exc(limit=3)
print(json.dumps(failed))
"""


def test_every_module_imports_first_in_a_clean_interpreter() -> None:
    names = sorted(project_modules())
    proc = subprocess.run([sys.executable, "-c", _IMPORT_EACH, json.dumps(names)], capture_output=True, text=True,
                          check=False,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    failed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert failed == {}, "\n".join(f"{k}:\n{v}" for k, v in failed.items())

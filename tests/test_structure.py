"""The package's shape: no import cycles, and sampling and evaluation stand apart from the training loop."""

import ast
import subprocess
import sys
from pathlib import Path

import ganforge

PACKAGE = Path(ganforge.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the ganforge modules it imports anywhere in its file (function-level imports included)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import sub` depends on the module pkg.sub; `from pkg import name` on pkg itself
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_imports_and_finds_a_planted_cycle():
    graph = import_graph()
    assert "ganforge.runs" in graph["ganforge.training.loop"]
    assert "ganforge.families.base" in graph["ganforge.families.gan"]
    planted = {k: set(v) for k, v in graph.items()}
    planted["ganforge.runs"].add("ganforge.training.loop")
    assert find_cycle(planted) is not None


def test_no_import_cycles_anywhere_in_the_package():
    assert find_cycle(import_graph()) is None


def test_sampling_and_evaluation_never_load_the_training_loop():
    code = ("import sys, ganforge.sampling, ganforge.evaluating, ganforge.runs, ganforge.cli; "
            "print(sorted(m for m in sys.modules if m.startswith('ganforge.training.loop')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    graph = import_graph()
    reach, todo = set(), ["ganforge.sampling", "ganforge.evaluating"]
    while todo:
        for nxt in graph[todo.pop()] - reach:
            reach.add(nxt)
            todo.append(nxt)
    assert "ganforge.training.loop" not in reach and "ganforge.training.monitor" not in reach


# -- what the Generator made possible: tools that know abilities, not family names ---------------------------

RUN_TOOLS = ("ganforge.runs", "ganforge.checkpoint", "ganforge.generator", "ganforge.sampling", "ganforge.exploring",
             "ganforge.exporting", "ganforge.translating", "ganforge.predicting", "ganforge.reporting",
             "ganforge.evaluating", "ganforge.projecting", "ganforge.projection")


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), set()) - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def outside_families() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "families" not in p.relative_to(PACKAGE).parts]


def family_name_branches(source: str) -> list[int]:
    """Lines comparing something's `.family` (cfg.model.family) with a name, or probing it with hasattr."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            named = any(isinstance(s, ast.Attribute) and s.attr == "family" for s in sides)
            literal = any(isinstance(s, ast.Constant) and isinstance(s.value, str)
                          or isinstance(s, (ast.Tuple, ast.List, ast.Set)) for s in sides)
            if named and literal:
                lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr":
            target = ast.unparse(node.args[0])
            if "family" in target or target in ("g", "generator", "self.generator", "self.g"):
                lines.append(node.lineno)
    return lines


def test_the_branch_finder_sees_a_planted_branch():
    assert family_name_branches("if cfg.model.family == 'gan':\n    pass\n") == [1]
    assert family_name_branches("x = cfg.model.family in ('gan', 'aae')\n") == [1]
    assert family_name_branches("ok = hasattr(family, 'encode')\n") == [1]
    assert family_name_branches("ok = isinstance(g, Encodes)\n") == []


def test_no_module_outside_families_asks_a_familys_name_or_probes_it():
    found = {str(p.relative_to(PACKAGE)): lines for p in outside_families()
             if (lines := family_name_branches(p.read_text()))}
    assert found == {}


def test_run_tools_never_import_training():
    graph = import_graph()
    for tool in RUN_TOOLS:
        if tool in graph:
            assert not {m for m in reachable(graph, tool) if m.startswith("ganforge.training")}, tool
    for module in graph:
        if module.startswith("ganforge.metrics"):
            assert not {m for m in reachable(graph, module) if m.startswith("ganforge.training")}, module


def test_no_import_cycles_between_packages():
    """Modules collapsed to their package (ganforge.metrics, ganforge.training, ...): still no cycle."""
    def package(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) > 2 or (PACKAGE / parts[-1]).is_dir() else module

    graph: dict[str, set[str]] = {}
    for module, edges in import_graph().items():
        graph.setdefault(package(module), set()).update(package(e) for e in edges if package(e) != package(module))
    assert find_cycle(graph) is None

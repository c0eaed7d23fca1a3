"""One write path (issue 14): read from the source (AST), so a new service cannot slip past it.

- No service under registry/services/ commits a session or builds an ``IdempotencyKey`` row: it
  writes through ``unit_of_work.FileChange``, which commits once. The exceptions, each for a reason:
  ``unit_of_work`` itself; ``jobs`` (the queue's bookkeeping: a job is committed before the queue
  hears of it, claimed by one conditional UPDATE and marked done/failed apart from the handler's
  work, which is a FileChange of its own); ``evaluations`` (the engine FileChange calls: the
  set-based nightly run and the drain of re-scoring marks commit batch by batch so that an
  interrupted run keeps what it finished; they write derived scores, never a record of a file).
- The services import each other at module level only, without a circle (the lazy imports that
  hid records → evaluations → certificates → documents → records are gone).
"""
from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "registry" / "services"
MAY_COMMIT = {"unit_of_work.py", "jobs.py", "evaluations.py"}
MAY_BUILD_KEYS = {"unit_of_work.py"}


def _offences(source: str, filename: str) -> list[str]:
    """Each ``<something>.commit()`` call and each ``IdempotencyKey(...)`` built in the source."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "commit" and filename not in MAY_COMMIT:
            found.append(f"{filename}:{node.lineno} calls {ast.unparse(func)}()")
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name == "IdempotencyKey" and filename not in MAY_BUILD_KEYS:
            found.append(f"{filename}:{node.lineno} builds an IdempotencyKey")
    return found


def test_the_check_sees_a_commit_and_a_hand_built_key():
    source = ("def f(session, key):\n"
              "    session.add(IdempotencyKey(key=key))\n"
              "    db.session.commit()\n")
    assert sorted(_offences(source, "accounts.py")) == ["accounts.py:2 builds an IdempotencyKey",
                                                        "accounts.py:3 calls db.session.commit()"]
    assert _offences(source, "unit_of_work.py") == []


def test_no_service_commits_or_builds_idempotency_rows_outside_the_unit_of_work():
    offences = [o for path in sorted(SERVICES.glob("*.py")) for o in _offences(path.read_text(), path.name)]
    assert offences == [], "write through registry.services.unit_of_work.FileChange:\n" + "\n".join(offences)


def _service_imports(tree: ast.Module, module: str):
    """(service module imported, at module level?) for each import of a registry.services module."""
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "registry.services":
                names = [a.name for a in node.names]
            elif node.module.startswith("registry.services."):
                names = [node.module.split(".")[2]]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[2] for a in node.names if a.name.startswith("registry.services.")]
        for name in names:
            if (SERVICES / f"{name}.py").exists() and name != module:
                yield name, id(node) in top


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    graph, lazy = {}, []
    for path in sorted(SERVICES.glob("*.py")):
        tree = ast.parse(path.read_text(), path.name)
        graph[path.stem] = set()
        for name, at_top in _service_imports(tree, path.stem):
            if at_top:
                graph[path.stem].add(name)
            else:
                lazy.append(f"{path.stem} imports {name} inside a function")
    return graph, lazy


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_the_old_circle():
    old = {"records": {"evaluations"}, "evaluations": {"certificates"}, "certificates": {"documents"},
           "documents": {"records"}}
    assert _cycle(old) == ["certificates", "documents", "records", "evaluations", "certificates"]
    assert _cycle({"records": {"unit_of_work"}, "unit_of_work": {"evaluations"}, "evaluations": set()}) is None


def test_the_services_import_each_other_at_module_level_without_a_circle():
    graph, lazy = _graph()
    assert lazy == [], "a lazy import hides a circle; find a layering instead:\n" + "\n".join(lazy)
    assert _cycle(graph) is None, f"import circle among the services: {' → '.join(_cycle(graph))}"


def test_the_old_circle_is_gone():
    graph, _ = _graph()
    assert "evaluations" in graph["unit_of_work"] and "unit_of_work" not in graph["evaluations"]
    assert "documents" not in graph["certificates"] and "certificates" not in graph["evaluations"]
    assert "records" not in graph["documents"]

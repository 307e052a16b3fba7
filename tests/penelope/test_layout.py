"""The layout holds: imports run content → newsletters → mailing, no module imports itself
back through others, the project package has no models, and no module grows past 700 lines.

Imports are read from the source (every ``import`` and ``from … import``, including those
inside functions), so a deferred import cannot hide a circle or a import against the flow.
"""

import ast
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["penelope", "cms", "interviews", "newsletters", "mailing"]

# What each package may import of the others: the content base (cms), the interview
# series on top of it, newsletters composed of content, mailing sending newsletters, and
# the project package wiring everything.
ALLOWED = {
    "cms": set(),
    "interviews": {"cms"},
    "newsletters": {"cms", "interviews"},
    "mailing": {"cms", "interviews", "newsletters"},
    "penelope": {"cms", "interviews", "newsletters", "mailing"},
}
MAX_LINES = 700


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The first-party modules ``name`` imports, resolved to the most specific module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
                break
    return targets


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_imports_run_one_way():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if (src := module.split(".")[0]) != (dst := target.split(".")[0])
        and dst not in ALLOWED[src]
    )
    assert wrong == []


def test_no_import_circle():
    edges = graph()
    # Tarjan's strongly connected components: any component of two or more is a circle.
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert circles == []


def test_the_project_package_holds_no_models():
    assert list(apps.get_app_config("penelope").get_models()) == []
    assert not (ROOT / "penelope" / "models.py").exists()


def test_no_module_is_over_700_lines():
    long = {
        name: count
        for name, path in modules().items()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}

"""The core stays platform-free: nothing under bot/ imports adapters or chat SDKs."""

import ast
from pathlib import Path

import bot

FORBIDDEN = ("adapters", "slack_bolt", "slack_sdk", "discord")


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_core_never_imports_platforms() -> None:
    core = Path(bot.__file__).parent
    sources = sorted(core.rglob("*.py"))
    assert len(sources) > 10
    offenders = {
        f"{path.relative_to(core)}: {module}"
        for path in sources
        for module in _imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    }
    assert offenders == set()


def _core_modules() -> dict[str, Path]:
    """Every module under bot/, by dotted name."""
    core = Path(bot.__file__).parent
    modules: dict[str, Path] = {}
    for path in core.rglob("*.py"):
        parts = ("bot", *path.relative_to(core).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _runtime_imports(path: Path, known: set[str]) -> set[str]:
    """The bot modules ``path`` imports when it runs (``TYPE_CHECKING`` blocks excluded)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    guarded = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found.update(name for name in names if name in known)
    return found


def test_core_modules_import_no_cycle() -> None:
    modules = _core_modules()
    graph = {name: _runtime_imports(path, set(modules)) - {name} for name, path in modules.items()}
    # A package importing its own submodules (bot.store re-exporting) is not a cycle.
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, "import cycle: " + " -> ".join([*visiting, name])
        visiting.append(name)
        for imported in sorted(graph[name]):
            visit(imported)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert len(done) == len(modules) > 10


def test_the_store_never_imports_a_source() -> None:
    """Storage is below the arXiv sources: the data it keeps is in bot.models."""
    modules = _core_modules()
    store = {name: path for name, path in modules.items() if name.startswith("bot.store")}
    assert len(store) > 3
    offenders = {
        f"{name}: {imported}"
        for name, path in store.items()
        for imported in _imported_modules(path)
        if imported == "bot.sources" or imported.startswith("bot.sources.")
    }
    assert offenders == set()

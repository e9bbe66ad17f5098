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

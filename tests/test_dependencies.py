"""Every third-party module the bot imports is a dependency it declares in pyproject.toml,
so an install from the package alone has everything (none arrives only as a dependency
of a dependency)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN = {"bot", "adapters"}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert found is not None, requirement
        names.add(_normalized(found[0]))
    return names


def _imported_top_level_modules() -> dict[str, str]:
    """Third-party top-level modules imported by bot/ and adapters/, with one importer."""
    found: dict[str, str] = {}
    for package in sorted(OWN):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in OWN and top not in sys.stdlib_module_names:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_direct_import_is_a_declared_dependency() -> None:
    declared = _declared()
    distributions = packages_distributions()
    imported = _imported_top_level_modules()
    assert {"aiohttp", "platformdirs", "yarl", "urllib3"} <= imported.keys()
    undeclared = {
        f"{module} (imported by {importer}; from {distributions.get(module)})"
        for module, importer in imported.items()
        if not {_normalized(d) for d in distributions.get(module, [module])} & declared
    }
    assert undeclared == set()

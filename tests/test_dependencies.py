"""Every package the code imports is declared, and the lock file the image installs agrees with
the pins in pyproject.toml."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "models", "corpora", "storage")


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _declared(extras: tuple[str, ...] = ()) -> dict[str, Requirement]:
    project = _project()
    lines = project["dependencies"] + [line for extra in extras
                                       for line in project["optional-dependencies"][extra]]
    return {canonicalize_name(req.name): req for req in map(Requirement, lines)}


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}


def test_every_imported_package_is_declared() -> None:
    distributions = packages_distributions()
    declared = set(_declared())
    undeclared = {
        module: sorted(distributions.get(module, ["?"]))
        for module in _imported_top_level_modules()
        if not {canonicalize_name(name) for name in distributions.get(module, [])} & declared
    }
    assert undeclared == {}, "imported but not in [project.dependencies]"


def test_the_lock_file_pins_what_pyproject_pins() -> None:
    locked = {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$",
                                        (REPO / "requirements.lock").read_text(), re.MULTILINE)
    }
    for name, requirement in _declared().items():
        assert name in locked, f"{name} is missing from requirements.lock: run `make lock`"
        assert requirement.specifier.contains(locked[name]), (
            f"requirements.lock has {name}=={locked[name]}, pyproject.toml wants "
            f"{requirement.specifier}: run `make lock`")


def test_every_locked_package_carries_a_hash() -> None:
    entries = re.split(r"\n(?=[A-Za-z0-9])", (REPO / "requirements.lock").read_text().split("\n", 2)[2])
    assert len(entries) > 50
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry)

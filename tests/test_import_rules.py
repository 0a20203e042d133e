"""The dependency rules of ARCHITECTURE.md, checked on the source and on what imports load."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> prefixes of modules it must never import
RULES: dict[str, tuple[str, ...]] = {
    "inboop_tui/domain": ("inboop_tui", "relay", "textual", "sqlalchemy", "httpx", "rich"),
    "inboop_tui/store": (
        "textual",
        "inboop_tui.screens",
        "inboop_tui.widgets",
        "inboop_tui.app",
        "inboop_tui.sync",
    ),
    "inboop_tui/sync": ("textual", "inboop_tui.screens", "inboop_tui.widgets", "inboop_tui.app"),
    "relay": ("inboop_tui", "textual"),
}
ALLOWED = {"inboop_tui/domain": ("inboop_tui.domain", "relay.protocol")}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize("package", sorted(RULES))
def test_source_imports_follow_the_rules(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package} has no Python files"
    broken = []
    for file in files:
        for module in imports_of(file):
            allowed = any(_matches(module, ok) for ok in ALLOWED.get(package, ()))
            if not allowed and any(_matches(module, banned) for banned in RULES[package]):
                broken.append(f"{file.relative_to(ROOT)} imports {module}")
    assert broken == []


def test_rule_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from textual.app import App\nimport inboop_tui.screens.inbox\n")
    assert {"textual.app", "inboop_tui.screens.inbox"} <= imports_of(bad)


@pytest.mark.parametrize(
    ("module", "banned"),
    [
        ("relay.protocol", ("inboop_tui", "textual", "sqlalchemy", "fastapi")),
        ("relay.app", ("inboop_tui", "textual")),
        ("inboop_tui.domain", ("textual", "sqlalchemy", "httpx")),
        ("inboop_tui.store", ("textual",)),
        ("inboop_tui.sync", ("textual",)),
    ],
)
def test_loaded_modules_follow_the_rules(module: str, banned: tuple[str, ...]) -> None:
    code = f"import importlib, json, sys; importlib.import_module({module!r}); print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout
    )
    offenders = [m for m in loaded if any(_matches(m, b) for b in banned)]
    assert offenders == []

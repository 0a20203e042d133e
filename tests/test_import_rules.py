"""The dependency rules of ARCHITECTURE.md, checked on the source and on what imports load."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inboop_tui.store.replica import Replica
from inboop_tui.store.rows import DEFAULT_VIEW
from tests.app_support import demo_replica

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
        "relay",
    ),
    "inboop_tui/sync": ("textual", "inboop_tui.screens", "inboop_tui.widgets", "inboop_tui.app"),
    "relay": ("inboop_tui", "textual"),
}
ALLOWED = {
    "inboop_tui/domain": ("inboop_tui.domain", "relay.protocol"),
    # The wire format, and the lookups by keys (relay.store.keys: SQLAlchemy expressions only).
    "inboop_tui/store": ("relay.protocol", "relay.store.keys"),
}


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


# What the app's start leaves to its warm-up (``InboopApp.warm_up``): SQLAlchemy and the
# replica's statements (the first screen is read on the driver's connections), the wire format's
# models (pydantic), the other screens, the sync, the export, pictures, HTTP.
LATER = (
    "sqlalchemy",
    "inboop_tui.store.db",
    "inboop_tui.store.queries",
    "inboop_tui.store.diagnostics",
    "inboop_tui.store.tables",
    "pydantic",
    "relay.protocol.events",
    "inboop_tui.store.actions",
    "inboop_tui.store.selling_queries",
    "inboop_tui.screens.leads",
    "inboop_tui.screens.orders",
    "inboop_tui.screens.payments",
    "inboop_tui.screens.diagnostics",
    "inboop_tui.sync.engine",
    "inboop_tui.store.export",
    "httpx",
    "PIL",
)

START = """
import asyncio, gc, json, sys
from pathlib import Path
gc.disable()  # as `inboop` starts the app
from inboop_tui.app import create_app
from inboop_tui.store.paths import Paths
from inboop_tui.store.replica_file import open_replica_file
from inboop_tui.widgets.conversation_list import ConversationList

LATER = json.loads(sys.argv[2])
seen = {}

async def main():
    root = Path(sys.argv[1])
    app = create_app(Paths(root, root), open_replica_file(root / "replica.db"), live=False)
    async with app.run_test() as pilot:
        listing = app.screen.query_one(ConversationList)
        seen["imported"] = [m for m in LATER if m in sys.modules]
        while not (listing.count and listing.row(0) is not None):  # its first rows, read
            await asyncio.sleep(0.001)
        seen["counted"] = [m for m in LATER if m in sys.modules]
        seen["rows"] = [listing.row(i).id for i in range(listing.count)]
        for _ in range(50):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                break
            await asyncio.sleep(0.02)
        seen["warmed"] = [m for m in LATER if m in sys.modules]
        seen["collector"] = gc.isenabled()

asyncio.run(main())
print(json.dumps(seen))
"""


def test_the_app_starts_without_the_models_and_loads_them_behind_its_first_screen(
    tmp_path: Path,
) -> None:
    """The inbox shows the replica without SQLAlchemy, pydantic and the other screens (~0.3 s
    of a start): its first rows are read on the driver's own connections, as the statements
    read them. Once they are on their way, the warm-up loads the rest and turns the collector,
    which `inboop` starts with off, back on."""
    _, engine = demo_replica(tmp_path)
    try:
        shown = Replica(engine, None, lambda: datetime.now(UTC)).window(DEFAULT_VIEW, 0, 100)
    finally:
        engine.dispose()
    result = subprocess.run(
        [sys.executable, "-c", START, str(tmp_path), json.dumps(LATER)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["imported"] == []
    assert seen["counted"] == []
    assert seen["rows"] == [row.id for row in shown] and len(shown) > 1
    assert set(seen["warmed"]) >= set(LATER) - {"httpx", "PIL"}  # those load when first used
    assert seen["collector"] is True


def test_the_wire_format_loads_its_models_on_first_use() -> None:
    code = (
        "import json, sys, relay.protocol as p; before = 'pydantic' in sys.modules;"
        " missing = [n for n in p.__all__ if not hasattr(p, n)];"
        " print(json.dumps([before, missing, 'pydantic' in sys.modules]))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    before, missing, after = json.loads(found)
    assert before is False  # the plain parts alone: names, the time format, ids
    assert missing == []  # every name the package exports is there, models included
    assert after is True


# What only some commands use: the wire format's models (a change, a sync), the actions, the
# sync. (Typer itself loads pydantic to run a command.)
COMMAND_LATER = (
    "relay.protocol.api",
    "relay.protocol.events",
    "relay.protocol.entries",
    "inboop_tui.store.actions",
    "inboop_tui.sync.engine",
)

COMMAND = """
import atexit, json, sys
later = json.loads(sys.argv[1])
atexit.register(lambda: print(json.dumps([m for m in later if m in sys.modules])))
sys.argv = ["inboop", *sys.argv[2:]]
from inboop_tui.cli import main
main()
"""


def test_a_command_loads_what_it_uses(tmp_path: Path) -> None:
    """`inboop --help` and reading the replica leave the models, the actions and the sync
    unloaded (~0.15 s of every command, and scripts run many); a sync loads them."""

    def loaded(*args: str, ok: bool = True) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", COMMAND, json.dumps(COMMAND_LATER), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "INBOOP_HOME": str(tmp_path)},
            timeout=120,
        )
        assert "Traceback" not in result.stderr, result.stderr[-2000:]
        assert (result.returncode == 0) == ok, result.stderr[-2000:]
        found: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
        return found

    assert loaded("--help") == []
    assert loaded("conversations", "--json") == []
    assert "inboop_tui.sync.engine" in loaded("sync", "--json", ok=False)  # no relay: it says so


QUIT_AT_ONCE = """
import asyncio, gc, json, sys, threading
from pathlib import Path
from inboop_tui.app import create_app
from inboop_tui.store.db import open_replica
from inboop_tui.store.paths import Paths

async def main():
    root = Path(sys.argv[1])
    app = create_app(Paths(root, root), open_replica(root / "replica.db"), live=False)
    async with app.run_test():
        while not any(w.group == "warm-up" for w in app.workers):
            await asyncio.sleep(0.0005)

asyncio.run(main())
for thread in threading.enumerate():  # a warm-up still loading when the app went
    if thread is not threading.main_thread():
        thread.join(30)
print(json.dumps(gc.get_freeze_count()))
"""


def test_an_app_that_quits_during_its_warm_up_leaves_nothing_frozen(tmp_path: Path) -> None:
    """Tests run many apps in one process: what the warm-up loads after the app has gone is
    not frozen out of the collector for the rest of the process. The app quits as its warm-up
    starts; whether the warm-up then runs, and ends before or after the app, varies from run
    to run, and nothing may stay frozen in any of them."""
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-c", QUIT_AT_ONCE, str(tmp_path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout.strip().splitlines()[-1]) == 0  # objects frozen

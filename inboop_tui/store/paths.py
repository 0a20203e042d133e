"""Where the replica keeps its files: ``INBOOP_HOME``, or the per-user config and data dirs.

They hold customer data and a token, so they are the owner's alone: folders inboop creates are
0700, and its files (the replica and its WAL, the log, the config, exports) 0600.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_config_dir, user_data_dir


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def database(self) -> Path:
        return self.data_dir / "replica.db"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "inboop.log"


def resolve_paths(env: Mapping[str, str] = os.environ) -> Paths:
    home = env.get("INBOOP_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root, root)
    return Paths(
        Path(user_config_dir("inboop", appauthor=False)),
        Path(user_data_dir("inboop", appauthor=False)),
    )


def private_folder(path: Path) -> None:
    """Make ``path`` (and missing parents) if it is not there; what inboop creates is 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def private_file(path: Path) -> None:
    """Create ``path`` empty and owner-only if it is missing; an existing one (made by an older
    inboop) loses the group's and others' access."""
    private_folder(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        tighten(path)


def tighten(path: Path) -> None:
    """Take the group's and others' access off an existing file of ours."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)
    except OSError:
        pass  # missing, or not ours to change: opening it reports what matters

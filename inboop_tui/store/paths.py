"""Where the replica keeps its files: ``INBOOP_HOME``, or the per-user config and data dirs."""

from __future__ import annotations

import os
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

"""A module loaded when it is first used, not when the module naming it is."""

from __future__ import annotations

import importlib
from typing import Any


class Later:
    """Stands for the module ``name``: the first attribute read imports it (Python's import
    lock makes that safe from any thread), and every read after is a dictionary lookup.

    A module that names one under ``if TYPE_CHECKING`` imports the real module there, so that
    its uses are type-checked as if it were imported."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<{self._name}, loaded when first used>"

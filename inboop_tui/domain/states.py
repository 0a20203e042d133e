"""What every state record shares: a cheap copy with some fields changed.

The reducers copy a state for each change they make (~2 per event), so on a first sync of 1M
events ``dataclasses.replace`` alone cost ~10 % of the apply: it runs ``__init__`` with every
field again. The states are frozen dataclasses with no ``__post_init__`` and no fields outside
``__init__``, so a copy of their ``__dict__`` is the same record, at a sixth of the cost.
Type checkers see ``dataclasses.replace`` and check the changes against each state's fields.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

T = TypeVar("T")

_FIELDS: dict[type, frozenset[str]] = {}


def _replace(state: T, /, **changes: Any) -> T:
    """``state`` with ``changes``, like ``dataclasses.replace``, for the domain's frozen states."""
    kind = type(state)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = _copyable(kind)
    if not names.issuperset(changes):
        unknown = ", ".join(sorted(set(changes) - names))
        raise TypeError(f"{kind.__name__} has no field {unknown}")
    copy = object.__new__(kind)
    fields = copy.__dict__
    fields.update(state.__dict__)
    fields.update(changes)
    return copy


if TYPE_CHECKING:  # the type checker knows what dataclasses.replace accepts for each state
    from dataclasses import replace as replace
else:
    replace = _replace


def _copyable(kind: type) -> frozenset[str]:
    fields = dataclasses.fields(kind)
    if hasattr(kind, "__post_init__") or hasattr(kind, "__slots__"):
        raise TypeError(f"{kind.__name__}: replace copies plain frozen dataclasses only")
    if any(not f.init for f in fields):
        raise TypeError(f"{kind.__name__}: every field must be set by __init__ to be copied")
    return frozenset(f.name for f in fields)

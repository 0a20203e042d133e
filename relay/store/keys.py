"""Rows by their keys, in a form both databases answer from the key's index: lists of values
in pieces one ``IN (…)`` takes (the relay's lookups), and keys of several columns as
conditions (``keys_in``: the replica's pending layer). Nothing here but SQLAlchemy's
expressions, so both stores may use it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_

# A condition of ``keys_in`` holds at most this many keys and groups (terms of its OR: SQLite's
# parser nests each, up to a depth of 1,000). It binds the keys' last values and each group's
# leading ones: for a key of n columns, at most 500 + 200 * (n - 1) parameters.
KEYS_PER_CONDITION = 500
GROUPS_PER_CONDITION = 200

T = TypeVar("T")


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """``values`` in pieces of at most ``KEYS_PER_CONDITION``, one ``IN (…)`` list each."""
    for start in range(0, len(values), KEYS_PER_CONDITION):
        yield values[start : start + KEYS_PER_CONDITION]


def keys_in(
    columns: Sequence[ColumnElement[Any]], keys: Iterable[Sequence[Any]]
) -> Iterator[ColumnElement[bool]]:
    """``(columns) IN keys`` as conditions an index on ``columns`` answers, a few hundred keys
    each (one query per condition); none for no keys.

    SQLite answers a row value ``IN`` (``(a, b) IN (VALUES …)``, what ``tuple_(…).in_()``
    compiles to) by reading the whole table or index and testing each row against the list: a
    cost that grows with the table, not with the keys. ``a = ? AND b IN (…)`` for each value of
    the leading columns it answers by looking each key up in the index.
    """
    *leading, last = columns
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for key in keys:
        groups.setdefault(tuple(key[:-1]), []).append(key[-1])
    terms: list[ColumnElement[bool]] = []
    held = 0
    for prefix, values in groups.items():
        for start in range(0, len(values), KEYS_PER_CONDITION):
            chunk = values[start : start + KEYS_PER_CONDITION]
            if terms and (
                held + len(chunk) > KEYS_PER_CONDITION or len(terms) == GROUPS_PER_CONDITION
            ):
                yield or_(*terms)
                terms, held = [], 0
            equal = [column == value for column, value in zip(leading, prefix, strict=True)]
            terms.append(and_(*equal, last.in_(chunk)))
            held += len(chunk)
    if terms:
        yield or_(*terms)

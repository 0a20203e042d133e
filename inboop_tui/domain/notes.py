"""Internal notes and workspace settings: state the team writes, never the customer."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9._@-]{0,127})")


@dataclass(frozen=True)
class NoteState:
    id: str  # the mutation's id
    conversation_id: str
    author: str
    text: str
    mentions: str  # a sorted JSON list of user names
    created_at: str
    seq: int | None = None  # None while the note is only in this replica's outbox


@dataclass(frozen=True)
class WorkspaceState:
    id: int = 1
    sla_minutes: int | None = None  # expected first-response minutes; None: no SLA badge


def mentions_in(text: str, team: Iterable[str]) -> list[str]:
    """The teammates a note mentions with ``@name`` (a trailing full stop or comma is not part
    of the name); names that are not on the team are plain text."""
    known = {name.lower(): name for name in team}
    found: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        word = match.group(1)
        for candidate in (word, word.rstrip(".,;:!?")):
            name = known.get(candidate.lower())
            if name is not None:
                found[name] = None
                break
    return sorted(found)

"""Internal notes, canned replies and workspace settings: state the team writes."""

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
class CannedState:
    """One of the team's canned replies."""

    id: str
    shortcode: str
    title: str
    text: str
    updated_by: str
    updated_at: str


@dataclass(frozen=True)
class WorkspaceState:
    id: int = 1
    sla_minutes: int | None = None  # expected first-response minutes; None: no SLA badge
    payment_config: str | None = None  # domain.selling.PaymentConfig as JSON; None: never set
    orders_created: int = 0  # orders the log accepted: the next is ORD-(1001 + this)


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


_PLACEHOLDER = re.compile(r"\{(name|first_name|agent|channel)\}")


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """A canned reply for one conversation: ``{name}``, ``{first_name}``, ``{agent}`` and
    ``{channel}`` filled in; any other braces are left as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def normalise_shortcode(text: str) -> str | None:
    """``/Thanks`` → ``thanks``; None when it cannot be one (letters, digits, - and _)."""
    code = text.strip().lstrip("/").lower()
    return code if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", code) else None

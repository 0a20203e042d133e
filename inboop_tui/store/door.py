"""What every action shares: who acts, what a refusal says, what a change made locally is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class ActionError(Exception):
    """An action refused before anything was written; the message says why and what to do."""


@dataclass(frozen=True)
class Identity:
    """The signed-in user, as the relay named them at login."""

    name: str
    role: str = "MEMBER"

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


@dataclass(frozen=True)
class Done:
    """A change made locally: queued for the relay and already shown."""

    mutation_id: str
    type: str
    conversation_id: str | None
    summary: str
    entity_id: str | None = None  # the lead or order it made or changed
    warnings: tuple[str, ...] = ()  # what the payment settings changed (never a refusal)


# Pydantic's words for the rules the wire format states, in the words of a person.
_SAID = {
    "string_pattern_mismatch": "is not in the expected form",
    "string_too_long": "is too long",
    "string_too_short": "is empty",
}


def invalid(exc: ValidationError) -> str:
    """A refused payload in words (the rules live in the wire format), naming the field."""
    first = exc.errors(include_url=False)[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    fields = [str(part) for part in first["loc"] if isinstance(part, str) and part != "payload"]
    if not fields:
        return message  # a rule about the whole change says what it is about
    said = _SAID.get(str(first["type"]), message[:1].lower() + message[1:])
    limit = (first.get("ctx") or {}).get("max_length")
    if first["type"] == "string_too_long" and limit:
        said = f"is longer than {limit:,} characters"
    return f"{fields[-1].replace('_', ' ')} {said}"

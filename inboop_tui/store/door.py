"""What every action shares: who acts, what a refusal says, what a change made locally is."""

from __future__ import annotations

from dataclasses import dataclass

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


def invalid(exc: ValidationError) -> str:
    """A refused payload in words (the rules live in the wire format)."""
    first = exc.errors(include_url=False)[0]
    return str(first["msg"]).removeprefix("Value error, ")

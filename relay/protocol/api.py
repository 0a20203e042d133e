"""The API's own shapes: the log as ``GET /v1/events`` serves it, pushes, the team."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
)

from relay.protocol.plain import PROTOCOL_VERSION

MAX_PUSH = 500


class PushRequest(BaseModel):
    """``POST /v1/mutations``: each item is validated on its own, so one bad item fails alone."""

    mutations: Annotated[list[dict[str, Any]], Field(max_length=MAX_PUSH)]


class PushResult(BaseModel):
    id: str | None
    status: Literal["accepted", "rejected"]
    seq: int | None = None  # accepted: the mutation's place in the log
    reason: str | None = None  # rejected: why, for a person


class PushResponse(BaseModel):
    results: list[PushResult]
    head: int


class TeamMember(BaseModel):
    name: str
    role: Literal["ADMIN", "MEMBER"]


class LogEntry(BaseModel):
    """One event of the relay's log as ``GET /v1/events`` returns it."""

    seq: int
    origin: Literal["channel", "mutation", "domain"]
    type: str
    recorded_at: str
    event: dict[str, Any]


class EventsPage(BaseModel):
    events: list[LogEntry]
    next_after: int  # pass as ``after`` to continue
    head: int  # the newest seq in the log when the page was read


class WhoAmI(BaseModel):
    name: str
    role: Literal["ADMIN", "MEMBER"]
    protocol_version: int = PROTOCOL_VERSION

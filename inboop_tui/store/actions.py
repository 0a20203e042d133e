"""The one door for changes: the app, the CLI and the tests change the replica only through here.

Each action checks what it can locally (the conversation exists, the teammate is known, the
user may do it), builds the mutation and, in one transaction, writes it to the outbox and
applies it on top of the projections (``store.pending``): the change shows at once, with or
without a relay, and the next sync pushes it. A refused action raises :class:`ActionError`
with one line that says what to do; nothing is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import DBAPIError

from inboop_tui.domain.conversations import normalise_tag
from inboop_tui.domain.mutations import conversation_of
from inboop_tui.domain.notes import mentions_in
from inboop_tui.store.db import explain, writing
from inboop_tui.store.diagnostics import describe_change
from inboop_tui.store.pending import apply_pending
from inboop_tui.store.queries import (
    STATUSES,
    mark_viewed,
    team_members,
)
from inboop_tui.store.tables import conversations, outbox, team
from relay.protocol import (
    ADMIN_ONLY_MUTATIONS,
    MAX_NOTE_CHARS,
    MAX_SLA_MINUTES,
    AddNote,
    AssignConversation,
    AssignPayload,
    ConversationStatus,
    Mutation,
    NotePayload,
    SetConversationStatus,
    SetSla,
    SlaPayload,
    StatusPayload,
    TagConversation,
    TagsPayload,
    format_time,
)

T = TypeVar("T")


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


class Actions:
    def __init__(
        self,
        engine: Engine,
        identity: Identity | None,
        clock: Callable[[], datetime],
        on_change: Callable[[Done], None] | None = None,
    ) -> None:
        self._engine = engine
        self.identity = identity
        self._clock = clock
        self.on_change = on_change  # the app pushes right away

    # --- conversations ------------------------------------------------------------------

    def assign(self, conversation_id: str, assignee: str | None) -> Done:
        """Assign to a teammate (``None``: back to the shared queue)."""
        me = self._me()
        if assignee is not None:
            assignee = self._teammate(assignee, me)
        payload = AssignPayload(conversation_id=conversation_id, assignee=assignee)
        return self._record(AssignConversation, payload, conversation_id)

    def set_status(self, conversation_id: str, status: str, until: datetime | None = None) -> Done:
        status = status.upper()
        if status not in STATUSES:
            raise ActionError(
                f"{status.lower()!r} is not a status: use open, pending, resolved or snoozed"
            )
        if status == "SNOOZED":
            if until is None:
                raise ActionError("snoozing needs a time to wake up, e.g. --until 2h or tomorrow")
            if until <= self._clock():
                raise ActionError("the snooze time must be in the future")
        elif until is not None:
            raise ActionError("only a snooze takes a time")
        payload = StatusPayload(
            conversation_id=conversation_id,
            status=ConversationStatus(status),
            snoozed_until=until,
        )
        return self._record(SetConversationStatus, payload, conversation_id)

    def tag(
        self, conversation_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> Done:
        adding = _tags(add)
        removing = _tags(remove)
        if not adding and not removing:
            raise ActionError("name at least one tag to add (+tag) or remove (-tag)")
        if set(adding) & set(removing):
            raise ActionError("a tag cannot be added and removed at once")
        payload = TagsPayload(conversation_id=conversation_id, add=adding, remove=removing)
        return self._record(TagConversation, payload, conversation_id)

    def add_note(self, conversation_id: str, text: str) -> Done:
        """An internal note; ``@name`` mentions of teammates notify them."""
        body = text.strip()
        if not body:
            raise ActionError("a note needs some text")
        if len(body) > MAX_NOTE_CHARS:
            raise ActionError(f"a note holds at most {MAX_NOTE_CHARS:,} characters")
        with self._engine.connect() as conn:
            team = [m.name for m in team_members(conn)]
        payload = NotePayload(
            conversation_id=conversation_id, text=body, mentions=tuple(mentions_in(body, team))
        )
        return self._record(AddNote, payload, conversation_id)

    # --- the workspace ------------------------------------------------------------------

    def set_sla(self, minutes: int | None) -> Done:
        """Expected first-response minutes (ADMIN); ``None`` turns the SLA badge off."""
        if minutes is not None and not 1 <= minutes <= MAX_SLA_MINUTES:
            raise ActionError(f"the SLA is between 1 and {MAX_SLA_MINUTES:,} minutes (a week)")
        return self._record(SetSla, SlaPayload(expected_first_response_minutes=minutes), None)

    # --- this user's own marks (local, not mutations) -----------------------------------

    def mark_read(self, conversation_id: str) -> None:
        now = format_time(self._clock())
        self._write(lambda conn: mark_viewed(conn, conversation_id, now))

    def mark_all_read(self, conversation_ids: Sequence[str]) -> int:
        """Mark these conversations read (the caller picks them, with its filter)."""
        now = format_time(self._clock())

        def mark(conn: Connection) -> int:
            for cid in conversation_ids:
                mark_viewed(conn, cid, now)
            return len(conversation_ids)

        return self._write(mark)

    # --- the door -------------------------------------------------------------------------

    def _me(self) -> Identity:
        """The signed-in user, with the role the relay gave them at the last sync (the team
        list), or at login before any sync."""
        if self.identity is None:
            raise ActionError(
                "sign in first so changes carry your name: run `inboop login RELAY_URL --token TOKEN`"
            )
        with self._engine.connect() as conn:
            role = conn.execute(
                select(team.c.role).where(team.c.name == self.identity.name)
            ).scalar()
        return self.identity if role is None else Identity(self.identity.name, str(role))

    def _teammate(self, name: str, me: Identity) -> str:
        with self._engine.connect() as conn:
            team = {m.name.lower(): m.name for m in team_members(conn)}
        wanted = name.strip().lstrip("@")
        if wanted.lower() == me.name.lower():
            return me.name
        found = team.get(wanted.lower())
        if found is None:
            known = ", ".join(sorted(team.values())) or "none yet (run `inboop sync`)"
            raise ActionError(f"no teammate named {wanted!r}; the team: {known}")
        return found

    def _record(self, kind: type[Mutation], payload: object, conversation_id: str | None) -> Done:
        me = self._me()
        mutation_type = kind.model_fields["type"].default
        if mutation_type in ADMIN_ONLY_MUTATIONS and not me.is_admin:
            raise ActionError(f"only an ADMIN may {ADMIN_ONLY_MUTATIONS[mutation_type]}")
        mutation = kind.model_validate(
            {
                "id": str(uuid.uuid4()),
                "author": me.name,
                "client_time": self._clock(),
                "payload": payload,
            }
        )
        target = conversation_of(mutation)

        def write(conn: Connection) -> None:
            if target is not None and not _exists(conn, target):
                raise ActionError(f"no conversation {target} on this replica")
            payload_json = mutation.model_dump_json()
            conn.execute(
                insert(outbox).values(
                    id=mutation.id,
                    type=mutation.type,
                    conversation_id=target,
                    payload=payload_json,
                    created_at=format_time(self._clock()),
                )
            )
            apply_pending(conn, [mutation])

        self._write(write)
        done = Done(
            mutation_id=mutation.id,
            type=mutation.type,
            conversation_id=target,
            summary=describe_change(mutation.type, mutation.model_dump_json()),
        )
        if self.on_change is not None:
            self.on_change(done)
        return done

    def _write(self, work: Callable[[Connection], T]) -> T:
        try:
            with writing(self._engine) as conn:
                return work(conn)
        except DBAPIError as exc:
            raise explain(exc, _path(self._engine)) from exc


def _exists(conn: Connection, conversation_id: str) -> bool:
    found = conn.execute(
        select(conversations.c.id).where(conversations.c.id == conversation_id)
    ).first()
    return found is not None


def _tags(raw: Sequence[str]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for text in raw:
        if not text.strip().lstrip("#").strip():
            continue  # a bare "+" or "#": nothing named
        tag = normalise_tag(text)
        if tag is None:
            raise ActionError(f"{text!r} is not a tag: 1 to 64 characters, no commas")
        found[tag] = None
    return tuple(found)


def _path(engine: Engine) -> Path:
    return Path(engine.url.database or "")

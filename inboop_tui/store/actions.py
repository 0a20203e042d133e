"""The one door for changes: the app, the CLI and the tests change the replica only through here.

Each action checks what it can locally (the conversation exists, the teammate is known, the
user may do it), builds the mutation and, in one transaction, writes it to the outbox and
applies it on top of the projections (``store.pending``): the change shows at once, with or
without a relay, and the next sync pushes it. A refused action raises :class:`ActionError`
with one line that says what to do; nothing is written.
"""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from inboop_tui.domain.conversations import normalise_tag
from inboop_tui.domain.mutations import conversation_of
from inboop_tui.domain.notes import mentions_in, normalise_shortcode
from inboop_tui.domain.timing import reply_window
from inboop_tui.store.db import explain_on, writing
from inboop_tui.store.diagnostics import describe_change
from inboop_tui.store.door import ActionError, Done, Identity, invalid
from inboop_tui.store.pending import apply_pending
from inboop_tui.store.queries import mark_viewed, team_members
from inboop_tui.store.rows import STATUSES
from inboop_tui.store.selling_actions import SellingActions
from inboop_tui.store.tables import (
    canned_replies,
    conversations,
    drafts,
    outbox,
    outbox_files,
    sending_accounts,
    sync_state,
    team,
)
from relay.protocol import (
    MAX_NOTE_CHARS,
    MAX_SLA_MINUTES,
    MAX_UPLOAD_BYTES,
    AddNote,
    AssignConversation,
    AssignPayload,
    CannedPayload,
    CannedRef,
    ConversationStatus,
    DeleteCanned,
    Mutation,
    NotePayload,
    OutgoingAttachment,
    SaveCanned,
    SendReply,
    SetConversationStatus,
    SetSla,
    SlaPayload,
    StatusPayload,
    TagConversation,
    TagsPayload,
    TemplateMessage,
    admin_only,
    format_time,
)

T = TypeVar("T")

__all__ = ["ActionError", "Actions", "Done", "Identity"]


class Actions(SellingActions):
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

    # --- replies ----------------------------------------------------------------------------

    def reply(
        self,
        conversation_id: str,
        text: str | None = None,
        *,
        file: Path | None = None,
        template: TemplateMessage | None = None,
    ) -> list[Done]:
        """Answer the customer. Refused here, with the reason, when the channel would refuse it:
        outside the 24-hour window (WhatsApp: templates only) or from a receive-only account.
        A file and text go as one message where the channel takes captions (WhatsApp), else
        as two (the file first)."""
        body = text.strip() if text is not None else None
        if not body and file is None and template is None:
            raise ActionError("a reply needs some text, a file or a template")
        with self._engine.connect() as conn:
            target = _conversation(conn, conversation_id)
            if target is None:
                raise ActionError(f"no conversation {conversation_id} on this replica")
            can_send = _can_send(conn, target["channel"], target["account_id"])
        channel = target["channel"]
        if can_send is False:
            raise ActionError(
                f"receive only: the relay has no send token for this {CHANNEL_WORDS[channel]} "
                f"(an admin sets {TOKEN_SETTINGS[channel]} on the relay)"
            )
        window = reply_window(target["last_inbound_at"], self._clock())
        if not window.open and template is None:
            if channel == "WHATSAPP":
                raise ActionError(
                    "the 24-hour reply window is closed: WhatsApp takes only an approved template "
                    "now (`inboop templates CONV`, then `inboop reply CONV --template NAME`)"
                )
            raise ActionError("the 24-hour reply window is closed: the customer must write first")
        identity = {
            "conversation_id": conversation_id,
            "channel": channel,
            "account_id": target["account_id"],
            "customer_id": target["customer_id"],
        }
        attachment = _attachment(file) if file is not None else None
        payloads: list[dict[str, object]] = []
        if template is not None:
            payloads.append({**identity, "template": template})
        elif (
            attachment is not None
            and body
            and (channel != "WHATSAPP" or attachment[0].type == "AUDIO")
        ):
            payloads += [{**identity, "attachment": attachment[0]}, {**identity, "text": body}]
        else:
            payloads.append(
                {
                    **identity,
                    "text": body or None,
                    "attachment": attachment[0] if attachment else None,
                }
            )
        return [
            self._record(
                SendReply,
                payload,
                conversation_id,
                file=attachment if payload.get("attachment") else None,
            )
            for payload in payloads
        ]

    def save_draft(self, conversation_id: str, text: str) -> None:
        """What the agent is writing to a customer, kept across conversations and restarts."""
        at = format_time(self._clock())

        def save(conn: Connection) -> None:
            if text.strip():
                statement = sqlite_insert(drafts).values(
                    conversation_id=conversation_id, text=text, updated_at=at
                )
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["conversation_id"], set_={"text": text, "updated_at": at}
                    )
                )
            else:
                conn.execute(delete(drafts).where(drafts.c.conversation_id == conversation_id))

        self._write(save)

    # --- canned replies -----------------------------------------------------------------------

    def save_canned(
        self, shortcode: str, title: str, text: str, canned_id: str | None = None
    ) -> Done:
        """Add a canned reply, or change one (``canned_id``)."""
        code = normalise_shortcode(shortcode)
        if code is None:
            raise ActionError(
                f"{shortcode!r} is not a shortcode: letters, digits, - and _ (up to 32)"
            )
        if not title.strip() or not text.strip():
            raise ActionError("a canned reply needs a title and some text")
        with self._engine.connect() as conn:
            taken = conn.execute(
                select(canned_replies.c.id, canned_replies.c.title).where(
                    canned_replies.c.shortcode == code
                )
            ).first()
            if canned_id is not None:
                exists = conn.execute(
                    select(canned_replies.c.id).where(canned_replies.c.id == canned_id)
                ).first()
                if exists is None:
                    raise ActionError(f"no canned reply {canned_id}")
        if taken is not None and taken.id != canned_id:
            raise ActionError(f"the shortcode /{code} is taken by “{taken.title}”")
        payload = CannedPayload(
            canned_id=canned_id or str(uuid.uuid4()),
            shortcode=code,
            title=title.strip(),
            text=text.strip(),
        )
        return self._record(SaveCanned, payload, None)

    def delete_canned(self, canned_id: str) -> Done:
        with self._engine.connect() as conn:
            exists = conn.execute(
                select(canned_replies.c.id).where(canned_replies.c.id == canned_id)
            ).first()
        if exists is None:
            raise ActionError(f"no canned reply {canned_id}")
        return self._record(DeleteCanned, CannedRef(canned_id=canned_id), None)

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
                "sign in first so changes carry your name: run `inboop login RELAY_URL`"
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

    def _record(
        self,
        kind: type[Mutation],
        payload: object,
        conversation_id: str | None,
        *,
        file: tuple[OutgoingAttachment, bytes] | None = None,
        entity_id: str | None = None,
        warnings: tuple[str, ...] = (),
    ) -> Done:
        me = self._me()
        try:
            mutation = kind.model_validate(
                {
                    "id": str(uuid.uuid4()),
                    "author": me.name,
                    "client_time": self._clock(),
                    "payload": payload,
                }
            )
        except ValidationError as exc:
            raise ActionError(invalid(exc)) from None
        forbidden = admin_only(mutation)
        if forbidden is not None and not me.is_admin:
            raise ActionError(f"only an ADMIN may {forbidden}")
        target = conversation_of(mutation) or conversation_id

        def write(conn: Connection) -> None:
            if target is not None and not _exists(conn, target):
                raise ActionError(f"no conversation {target} on this replica")
            if file is not None:
                _keep_file(conn, *file)
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
            entity_id=entity_id,
            warnings=warnings,
        )
        if self.on_change is not None:
            self.on_change(done)
        return done

    def _write(self, work: Callable[[Connection], T]) -> T:
        try:
            with writing(self._engine) as conn:
                return work(conn)
        except DBAPIError as exc:
            raise explain_on(self._engine, exc) from exc


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


CHANNEL_WORDS = {
    "INSTAGRAM": "Instagram account",
    "MESSENGER": "Page",
    "WHATSAPP": "WhatsApp number",
}
TOKEN_SETTINGS = {
    "INSTAGRAM": "INBOOP_INSTAGRAM_TOKENS",
    "MESSENGER": "INBOOP_PAGE_TOKENS",
    "WHATSAPP": "INBOOP_WHATSAPP_TOKENS",
}
FILE_TYPES = {"image": "IMAGE", "video": "VIDEO", "audio": "AUDIO"}


def _conversation(conn: Connection, conversation_id: str) -> Any:
    return (
        conn.execute(
            select(
                conversations.c.channel,
                conversations.c.account_id,
                conversations.c.customer_id,
                conversations.c.last_inbound_at,
            ).where(conversations.c.id == conversation_id)
        )
        .mappings()
        .first()
    )


def _can_send(conn: Connection, channel: str, account_id: str) -> bool | None:
    """Whether the relay can send from this account; None before the first sync told us."""
    synced = conn.execute(select(sync_state.c.last_ok_at).where(sync_state.c.id == 1)).scalar()
    if synced is None:
        return None
    found = conn.execute(
        select(sending_accounts.c.account_id).where(
            sending_accounts.c.channel == channel, sending_accounts.c.account_id == account_id
        )
    ).first()
    return found is not None


def _attachment(path: Path) -> tuple[OutgoingAttachment, bytes]:
    """A file to send: read now, so it goes even if it moves or changes before the sync."""
    location = path.expanduser()
    try:
        data = location.read_bytes()
    except IsADirectoryError:
        raise ActionError(f"{location} is a folder: name a file") from None
    except FileNotFoundError:
        raise ActionError(f"no file {location}") from None
    except OSError as exc:
        raise ActionError(f"cannot read {location}: {exc.strerror or exc}") from None
    if not data:
        raise ActionError(f"{location} is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ActionError(
            f"{location} is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB, the most a channel takes"
        )
    mime = mimetypes.guess_type(location.name)[0] or "application/octet-stream"
    kind = FILE_TYPES.get(mime.split("/")[0], "FILE")
    attachment = OutgoingAttachment.model_validate(
        {
            "upload_id": hashlib.sha256(data).hexdigest(),
            "type": kind,
            "filename": location.name[:255] or "file",
            "mime_type": mime,
            "size": len(data),
        }
    )
    return attachment, data


def _keep_file(conn: Connection, attachment: OutgoingAttachment, data: bytes) -> None:
    statement = sqlite_insert(outbox_files).values(
        upload_id=attachment.upload_id,
        filename=attachment.filename,
        mime_type=attachment.mime_type,
        size=attachment.size,
        data=data,
    )
    conn.execute(statement.on_conflict_do_nothing())

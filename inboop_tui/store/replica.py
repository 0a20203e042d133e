"""The replica as screens, the CLI and tests see it: reads as plain data, changes through
:class:`~inboop_tui.store.actions.Actions`. Nothing outside ``store`` holds an engine's
connection or runs SQL; each call here opens its own (screens call from thread workers).

The inbox's first screen is read without SQLAlchemy (``first_screen``, on the replica file's
own connections), so this module loads the statements' modules, and SQLAlchemy with them, when
a read first needs them (the app's warm-up loads them behind its first screen).
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from inboop_tui.domain.notes import CannedState, fill_placeholders
from inboop_tui.store import first_screen, search_index
from inboop_tui.store.door import ActionError, Done, Identity
from inboop_tui.store.later import Later
from inboop_tui.store.replica_file import ReplicaFile, explain
from inboop_tui.store.rows import (
    THREAD_LIMIT,
    AttachmentRef,
    Change,
    ConversationRow,
    InboxFilter,
    Member,
    MessageRow,
    NoteRow,
    SyncStatus,
    Viewpoint,
)
from relay.protocol.plain import format_time

if TYPE_CHECKING:
    import sqlalchemy.exc as sa_exc
    from sqlalchemy import Connection, Engine

    from inboop_tui.domain.selling import PaymentConfig
    from inboop_tui.store import db, diagnostics, queries
    from inboop_tui.store import selling_queries as selling
    from inboop_tui.store.actions import Actions
    from inboop_tui.store.diagnostics import ConflictRow, SyncRun, UnreadableRow
    from inboop_tui.store.selling_queries import (
        Cart,
        ContactCard,
        ContactRow,
        LeadFilter,
        LeadRow,
        OrderFilter,
        OrderRow,
        PaymentsReport,
    )
else:
    sa_exc = Later("sqlalchemy.exc")
    db = Later("inboop_tui.store.db")
    diagnostics = Later("inboop_tui.store.diagnostics")
    queries = Later("inboop_tui.store.queries")
    selling = Later("inboop_tui.store.selling_queries")

T = TypeVar("T")
CHANNEL_NAMES = {"INSTAGRAM": "Instagram", "WHATSAPP": "WhatsApp", "MESSENGER": "Messenger"}


@dataclass(frozen=True)
class Thread:
    """An open conversation: its newest messages, its notes over that span, pending changes."""

    conversation: ConversationRow
    messages: list[MessageRow]
    notes: list[NoteRow]
    pending: list[Change] = field(default_factory=list)
    marked_read: bool = False
    draft: str = ""
    can_send: bool | None = None  # None: not known before the first sync


@dataclass(frozen=True)
class Diagnostics:
    status: SyncStatus
    runs: list[SyncRun]
    pending: list[Change]
    rejected: list[Change]
    conflicts: list[ConflictRow]
    unreadable: list[UnreadableRow]


class ListOrder(NamedTuple):
    keys: array[int]
    position: int | None  # of the conversation followed
    complete: bool  # False: the first keys of a longer order


class Replica:
    def __init__(
        self,
        source: ReplicaFile | Engine,
        identity: Identity | None,
        clock: Callable[[], datetime],
        on_change: Callable[[Done], None] | None = None,
    ) -> None:
        """On the replica's file as the app opens it (its engine made when first needed), or
        on an engine (a command's, a test's)."""
        self.file = source if isinstance(source, ReplicaFile) else ReplicaFile.around(source)
        self.identity = identity
        self.clock = clock
        self._on_change = on_change
        self._watcher: sqlite3.Connection | None = None
        self._data_version: int | None = None

    @property
    def engine(self) -> Engine:
        return self.file.engine

    @cached_property
    def actions(self) -> Actions:
        """The one door for changes, made on first use: its module loads the wire format's
        models (pydantic), which showing the replica does not need."""
        from inboop_tui.store.actions import Actions

        return Actions(self.engine, self.identity, self.clock, self._on_change)

    def changed_elsewhere(self) -> bool:
        """Whether another connection (another process, or another part of this one) has
        written to the replica since the last call: the app reloads what it shows then."""
        if self._watcher is None:
            self._watcher = sqlite3.connect(
                f"file:{self.file.path}?mode=ro", uri=True, check_same_thread=False
            )
        version = int(self._watcher.execute("PRAGMA data_version").fetchone()[0])
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        return changed

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    @property
    def me(self) -> str | None:
        return None if self.identity is None else self.identity.name

    def is_admin(self) -> bool:
        """The relay's word at the last sync (the team list), else the role at login."""
        if self.identity is None:
            return False
        for member in self.team():
            if member.name == self.identity.name:
                return member.role == "ADMIN"
        return self.identity.is_admin

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():  # its reads in one snapshot
                yield conn
        except (sa_exc.DBAPIError, sqlite3.Error) as exc:  # the second: reads on the driver
            raise db.explain_on(self.engine, exc) from exc

    @contextmanager
    def _driver_reading(self) -> Iterator[sqlite3.Connection]:
        """The driver's connection for the statements compiled ahead (``first_screen``),
        before the engine is made as after."""
        try:
            with self.file.reading() as conn:
                yield conn
        except (sqlite3.Error, sa_exc.DBAPIError) as exc:  # the second: the engine's connect
            raise explain(exc, self.file.path) from exc

    def _view(self, conn: Connection) -> Viewpoint:
        return queries.viewpoint(conn, self.me, self.clock())

    # --- the inbox list -----------------------------------------------------------------

    def list_order(
        self,
        f: InboxFilter,
        keep: str | None = None,
        following: str | None = None,
        *,
        limit: int | None = None,
    ) -> ListOrder:
        """The filtered list's keys in its order, and where ``following`` sits in them (None:
        the filter leaves it out, or it is beyond the ``limit`` first keys)."""
        with self._reading() as conn:
            keys, complete = queries.conversation_keys(conn, f, self._view(conn), keep, limit)
            pk = queries.conversation_key(conn, following) if following else None
        try:
            position = None if pk is None else keys.index(pk)
        except ValueError:
            position = None
        return ListOrder(keys, position, complete)

    def list_start(
        self, f: InboxFilter, keep: str | None, *, limit: int, rows: int
    ) -> tuple[ListOrder, list[ConversationRow | None]]:
        """A new view's first ``limit`` keys and the rows of the first ``rows`` of them, read
        together: its first screen in one read."""
        if not first_screen.compiled_for(f, keep):
            with self._reading() as conn:
                vp = self._view(conn)
                keys, complete = queries.conversation_keys(conn, f, vp, keep, limit)
                first = queries.conversations_at(conn, keys[:rows], vp)
            return ListOrder(keys, None, complete), first
        with self._driver_reading() as driver:  # the app's first screen: before SQLAlchemy
            vp = first_screen.viewpoint(driver, self.me, self.clock())
            keys, complete = first_screen.first_keys(driver, vp, limit)
            first = first_screen.rows_at(driver, keys[:rows], vp)
        return ListOrder(keys, None, complete), first

    def prepare_search(self, f: InboxFilter, limit: int) -> None:
        """What the first search of the view ``f`` would do before it reads a match, done
        now (the app's warm-up): see :func:`queries.prepare_search`."""
        with self._reading() as conn:
            queries.prepare_search(conn, f, self._view(conn), limit)

    def rows_at(self, keys: Sequence[int]) -> list[ConversationRow | None]:
        """The list's rows for these keys, in their order (None: gone since)."""
        with self._driver_reading() as driver:
            vp = first_screen.viewpoint(driver, self.me, self.clock())
            return first_screen.rows_at(driver, keys, vp)

    def window(
        self, f: InboxFilter, offset: int, limit: int, keep: str | None = None
    ) -> list[ConversationRow]:
        with self._reading() as conn:
            return queries.conversation_window(conn, f, self._view(conn), offset, limit, keep)

    def conversation_ids(self, f: InboxFilter, keep: str | None = None) -> list[str]:
        """Every conversation the filter keeps (and ``keep``), in the list's order (for actions on
        all of them)."""
        with self._reading() as conn:
            return queries.conversation_ids(conn, f, self._view(conn), keep)

    # --- one conversation ---------------------------------------------------------------

    def conversation(self, conversation_id: str) -> ConversationRow | None:
        with self._reading() as conn:
            return queries.conversation(conn, conversation_id, self._view(conn))

    def thread(
        self, conversation_id: str, limit: int = THREAD_LIMIT, *, mark_read: bool = False
    ) -> Thread | None:
        """The conversation's newest ``limit`` messages with the notes of the same span; with
        ``mark_read``, an unread conversation is marked read for this user."""
        with self._reading() as conn:
            row = queries.conversation(conn, conversation_id, self._view(conn))
            if row is None:
                return None
            messages = queries.thread(conn, conversation_id, limit)
            whole = len(messages) >= row.message_count
            since = None if whole or not messages else messages[0].sent_at
            notes = queries.notes_of(conn, conversation_id, since)
            pending = diagnostics.pending_changes(conn, conversation_id)
            draft = queries.draft_of(conn, conversation_id)
        marked = mark_read and row.unread
        if marked:
            seen = max(format_time(self.clock()), row.last_inbound_at or "")
            try:
                with db.writing(self.engine) as conn:
                    queries.mark_viewed(conn, conversation_id, seen)
            except sa_exc.DBAPIError as exc:
                raise db.explain_on(self.engine, exc) from exc
        can_send = self.can_send(row.channel, row.account_id)
        return Thread(row, messages, notes, pending, marked, draft, can_send)

    def find(self, text: str) -> ConversationRow:
        """The one conversation ``text`` names (an id, a customer name, handle or phone)."""
        with self._reading() as conn:
            found = queries.find_conversations(conn, text, self._view(conn))
        if not found:
            raise ActionError(
                f"no conversation matches {text!r}: try its id (`inboop conversations`)"
            )
        if len(found) > 1 and found[0].id != text:
            names = "; ".join(f"{r.display_name} ({r.channel.lower()}, {r.id})" for r in found[:5])
            raise ActionError(f"{text!r} matches more than one conversation: {names}. Use an id.")
        return found[0]

    def exists(self, conversation_id: str) -> bool:
        with self._reading() as conn:
            return queries.conversation_exists(conn, conversation_id)

    # --- replying -----------------------------------------------------------------------------

    def attachments(self, conversation_id: str) -> list[AttachmentRef]:
        with self._reading() as conn:
            return queries.attachments_of(conn, conversation_id)

    def draft(self, conversation_id: str) -> str:
        with self._reading() as conn:
            return queries.draft_of(conn, conversation_id)

    def canned(self) -> list[CannedState]:
        """The team's canned replies, by shortcode."""
        with self._reading() as conn:
            return queries.canned_replies_of(conn)

    def find_canned(self, shortcode: str) -> CannedState:
        code = shortcode.strip().lstrip("/").lower()
        for canned in self.canned():
            if canned.shortcode == code:
                return canned
        raise ActionError(f"no canned reply /{code}: `inboop canned` lists them")

    def fill(self, canned: CannedState, conversation: ConversationRow) -> str:
        """A canned reply's text for this conversation (placeholders filled in)."""
        name = conversation.name or conversation.username or ""
        values = {
            "name": name or "there",
            "first_name": (name.split() or ["there"])[0],
            "agent": self.me or "",
            "channel": CHANNEL_NAMES.get(conversation.channel, conversation.channel),
        }
        return fill_placeholders(canned.text, values)

    def can_send(self, channel: str, account_id: str) -> bool | None:
        """Whether the relay can send from this account (None: not known before a sync)."""
        with self._reading() as conn:
            return queries.can_send(conn, channel, account_id)

    # --- the workspace and the team ---------------------------------------------------------

    def tags(self) -> list[str]:
        with self._reading() as conn:
            return queries.tags_in_use(conn)

    def team(self) -> list[Member]:
        with self._reading() as conn:
            return queries.team_members(conn)

    def sla_minutes(self) -> int | None:
        with self._reading() as conn:
            return queries.sla_minutes(conn)

    # --- selling ------------------------------------------------------------------------------
    # Their module loads when a read first needs it (or in the app's warm-up): making its
    # dataclasses and statements was ~4 ms of every start, and the inbox reads none of them.

    def leads(self, f: LeadFilter, limit: int = 500, offset: int = 0) -> list[LeadRow]:
        with self._reading() as conn:
            return selling.find_leads(conn, f, limit, offset)

    def count_leads(self, f: LeadFilter) -> int:
        with self._reading() as conn:
            return selling.count_leads(conn, f)

    def lead(self, ref: str) -> LeadRow:
        """A lead by id, or by the first characters of its id."""
        found = self.actions.find_lead(ref)
        with self._reading() as conn:
            row = selling.lead(conn, found.id)
        assert row is not None
        return row

    def orders(self, f: OrderFilter, limit: int = 500, offset: int = 0) -> list[OrderRow]:
        with self._reading() as conn:
            return selling.find_orders(conn, f, limit, offset)

    def count_orders(self, f: OrderFilter) -> int:
        with self._reading() as conn:
            return selling.count_orders(conn, f)

    def order(self, ref: str) -> OrderRow:
        """An order by number (ORD-1004 or 1004) or id, with its timeline."""
        found = self.actions.find_order(ref)
        with self._reading() as conn:
            row = selling.order(conn, found.id)
        assert row is not None
        return row

    def payments(self) -> PaymentsReport:
        with self._reading() as conn:
            return selling.payments_report(conn)

    def payment_config(self) -> PaymentConfig | None:
        with self._reading() as conn:
            return selling.payment_config(conn)

    def contact(self, conversation_id: str) -> ContactCard | None:
        with self._reading() as conn:
            return selling.contact_card(conn, conversation_id)

    def contacts(self, search: str = "") -> list[ContactRow]:
        with self._reading() as conn:
            return selling.find_contacts(conn, search)

    def latest_cart(self, conversation_id: str) -> Cart | None:
        with self._reading() as conn:
            return selling.latest_cart(conn, conversation_id)

    def orders_currency(self) -> str | None:
        with self._reading() as conn:
            return selling.recent_currency(conn)

    def conversation_metadata(self, conversation_id: str) -> dict[str, str]:
        with self._reading() as conn:
            return selling.conversation_metadata(conn, conversation_id)

    # --- sync and diagnostics -------------------------------------------------------------

    def status(self) -> SyncStatus:
        """Read on the driver's connection: the status line is part of the first screen."""
        with self._driver_reading() as driver:
            return first_screen.sync_status(driver)

    def integrity_problems(self) -> list[str]:
        with self._reading() as conn:
            return diagnostics.integrity_problems(conn)

    def search_index_damage(self) -> list[str]:
        """What is wrong with the search index (see :func:`search_index.damage`)."""
        with self._reading() as conn:
            return search_index.damage(conn)

    def diagnostics(self) -> Diagnostics:
        with self._reading() as conn:
            return Diagnostics(
                status=diagnostics.sync_status(conn),
                runs=diagnostics.recent_sync_runs(conn, 20),
                pending=diagnostics.pending_changes(conn),
                rejected=diagnostics.rejected_changes(conn),
                conflicts=diagnostics.recent_conflicts(conn),
                unreadable=diagnostics.unreadable(conn),
            )

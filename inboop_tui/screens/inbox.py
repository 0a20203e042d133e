"""The Inbox: conversations newest first on the left, the open thread on the right."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Engine
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from inboop_tui.store.db import writing
from inboop_tui.store.queries import (
    THREAD_LIMIT,
    ConversationRow,
    InboxFilter,
    MessageRow,
    conversation,
    mark_viewed,
    thread,
)
from inboop_tui.widgets.clock import now
from inboop_tui.widgets.conversation_list import ConversationList
from inboop_tui.widgets.status_bar import StatusBar
from inboop_tui.widgets.thread_view import ThreadView
from relay.protocol import format_time

CHANNEL_CYCLE: list[str | None] = [None, "INSTAGRAM", "WHATSAPP", "MESSENGER"]
CHANNEL_LABELS = {
    None: "all channels",
    "INSTAGRAM": "Instagram",
    "WHATSAPP": "WhatsApp",
    "MESSENGER": "Messenger",
}


class InboxScreen(Screen[None]):
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("c", "cycle_channel", "Channel"),
        Binding("u", "toggle_unread", "Unread only"),
        Binding("o", "older_messages", "Older messages", show=False),
        Binding("escape", "clear_search", "Clear", show=False),
        Binding("tab", "focus_next", "Next pane", show=False),
    ]

    @dataclass
    class ThreadLoaded(Message):
        conversation: ConversationRow
        messages: list[MessageRow]
        marked_read: bool
        older: bool = False  # older messages were asked for: show the top of the thread

    def __init__(self, engine: Engine) -> None:
        super().__init__(id="inbox")
        self._engine = engine
        self._open: str | None = None
        self._limit = THREAD_LIMIT

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="panes"):
            with Vertical(id="list-pane"):
                yield Input(placeholder="Search names, handles and messages…", id="search")
                yield Static(id="filter-line")
                yield ConversationList(self._engine, id="conversations")
            yield ThreadView(id="thread")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self._show_filter()
        self.conversations.reload()
        self.conversations.focus()

    @property
    def conversations(self) -> ConversationList:
        return self.query_one(ConversationList)

    # --- filters and search --------------------------------------------------------------

    def _apply(self, f: InboxFilter) -> None:
        self.conversations.set_filter(f)
        self._show_filter()

    def _show_filter(self, count: int | None = None) -> None:
        f = self.conversations.filter
        parts = [CHANNEL_LABELS[f.channel]]
        parts.append("unread only" if f.unread_only else "read and unread")
        if f.search:
            parts.append(f"matching “{f.search}”")
        total = self.conversations.count if count is None else count
        self.query_one("#filter-line", Static).update(
            f"{total:,} conversation{'' if total == 1 else 's'} · " + " · ".join(parts)
        )

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        text = event.value.strip() or None
        if text != self.conversations.filter.search:
            self._apply(replace(self.conversations.filter, search=text))

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.conversations.focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#search", Input)
        if search.value:
            search.value = ""
        search.display = False
        self.conversations.focus()

    def action_cycle_channel(self) -> None:
        current = CHANNEL_CYCLE.index(self.conversations.filter.channel)
        self._apply(
            replace(
                self.conversations.filter, channel=CHANNEL_CYCLE[(current + 1) % len(CHANNEL_CYCLE)]
            )
        )

    def action_toggle_unread(self) -> None:
        self._apply(
            replace(
                self.conversations.filter, unread_only=not self.conversations.filter.unread_only
            )
        )

    def set_channel(self, channel: str | None) -> None:
        self._apply(replace(self.conversations.filter, channel=channel))

    @on(ConversationList.Counted)
    def _counted(self, event: ConversationList.Counted) -> None:
        self._show_filter(event.count)
        if event.count == 0:
            self._open = None
            self.query_one(ThreadView).clear(
                "No conversations yet: run a sync (s)."
                if self.conversations.filter == InboxFilter()
                else "No conversation matches."
            )

    # --- the thread ----------------------------------------------------------------------

    @on(ConversationList.Highlighted)
    def _highlighted(self, event: ConversationList.Highlighted) -> None:
        if event.conversation_id is not None:
            self._limit = THREAD_LIMIT
            self.load_thread(event.conversation_id, mark=event.by_user)

    @on(ConversationList.Opened)
    def _opened(self, event: ConversationList.Opened) -> None:
        if event.conversation_id != self._open:
            self._limit = THREAD_LIMIT
        self.load_thread(event.conversation_id, mark=True)
        self.query_one(ThreadView).focus_thread()

    @work(
        thread=True, exclusive=True, group="thread", description="load thread", exit_on_error=False
    )
    def load_thread(self, conversation_id: str, mark: bool = False, older: bool = False) -> None:
        limit = self._limit
        with self._engine.connect() as conn:
            row = conversation(conn, conversation_id)
            messages = thread(conn, conversation_id, limit) if row is not None else []
        if row is None:
            return
        marked = mark and row.unread
        if marked:
            seen = max(format_time(now(self.app)), row.last_inbound_at or "")
            with writing(self._engine) as conn:
                mark_viewed(conn, conversation_id, seen)
        self.post_message(self.ThreadLoaded(row, messages, marked, older))

    @on(ThreadLoaded)
    def _thread_loaded(self, event: ThreadLoaded) -> None:
        self._open = event.conversation.id
        self.query_one(ThreadView).show(event.conversation, event.messages, at_top=event.older)
        if event.marked_read:
            self.conversations.set_read(event.conversation.id)

    def action_older_messages(self) -> None:
        """Load another page of older messages into the open thread."""
        current = self.query_one(ThreadView).shown
        if self._open is None or current is None or current[1] >= current[0].message_count:
            self.notify("This is the whole conversation.")
            return
        self._limit += THREAD_LIMIT
        self.load_thread(self._open, older=True)

    def refresh_data(self) -> None:
        """New data in the replica (a sync): reload the list and the open thread."""
        self.conversations.reload()
        if self._open is not None:
            self.load_thread(self._open)

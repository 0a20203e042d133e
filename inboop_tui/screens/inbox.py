"""The Inbox: conversations newest first on the left, the open thread on the right.

The screen reads through the replica object and changes things only through its actions (a
thread worker runs each one: it writes the outbox and the projections, never on the UI thread).
Dialogs return choices; this screen turns them into actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from inboop_tui.domain.notes import CannedState
from inboop_tui.domain.timing import local_when
from inboop_tui.screens.acting import ActingScreen
from inboop_tui.screens.dialogs import (
    AssignChoice,
    AssignDialog,
    NoteDialog,
    SlaChoice,
    SlaDialog,
    SnoozeDialog,
    TagChange,
    TagChoice,
    TagDialog,
    TagFilterDialog,
)
from inboop_tui.store.replica import Replica, Thread
from inboop_tui.store.rows import (
    ACTIVE,
    DEFAULT_VIEW,
    PICTURES,
    THREAD_LIMIT,
    AttachmentRef,
    ConversationRow,
    InboxFilter,
)
from inboop_tui.widgets.composer import Composer, ReplyArea
from inboop_tui.widgets.contact_panel import render_contact
from inboop_tui.widgets.conversation_list import HOLD_PAINT_SECONDS, ConversationList
from inboop_tui.widgets.filter_line import FilterLine
from inboop_tui.widgets.key_footer import KeyFooter
from inboop_tui.widgets.search_box import SearchBox
from inboop_tui.widgets.status_bar import StatusBar
from inboop_tui.widgets.thread_view import ThreadView

if TYPE_CHECKING:
    from inboop_tui.screens.replying import ReplyDesk
    from inboop_tui.screens.selling_desk import SellingDesk
    from inboop_tui.screens.selling_dialogs import PickDialog
    from inboop_tui.store.selling_queries import ContactCard

CHANNEL_CYCLE: list[str | None] = [None, "INSTAGRAM", "WHATSAPP", "MESSENGER"]
CHANNEL_LABELS = {
    None: "all channels",
    "INSTAGRAM": "Instagram",
    "WHATSAPP": "WhatsApp",
    "MESSENGER": "Messenger",
}
ASSIGNED_CYCLE: list[str | None] = [None, "me", "unassigned"]
ASSIGNED_LABELS = {None: "everyone's", "me": "mine", "unassigned": "unassigned"}
STATUS_CYCLE: list[str | None] = [ACTIVE, "OPEN", "PENDING", "RESOLVED", "SNOOZED", None]
STATUS_LABELS = {ACTIVE: "open & pending", None: "any status"}


def _next(cycle: list[Any], current: Any) -> Any:
    return cycle[(cycle.index(current) + 1) % len(cycle)]


def describe_filter(f: InboxFilter, total: int, complete: bool = True) -> Text:
    """The filter line: how many (``complete`` false: at least), and what the filter keeps
    beyond everything. Search text is shown as typed."""
    parts = [CHANNEL_LABELS[f.channel]] if f.channel else []
    if f.assigned:
        parts.append(ASSIGNED_LABELS[f.assigned])
    parts.append(STATUS_LABELS.get(f.status) or str(f.status).lower())
    if f.tag:
        parts.append(f"#{f.tag}")
    if f.over_sla:
        parts.append("over SLA")
    if f.unread_only:
        parts.append("unread only")
    many = f"{total:,}{'' if complete else '+'} conversation{'' if total == 1 else 's'}"
    line = Text(" · ".join([many, *parts]))
    if f.search:
        line.append(" · matching “")
        line.append(f.search)
        line.append("”")
    return line


class InboxScreen(ActingScreen):
    AUTO_FOCUS = "#conversations"  # with the screen: its keys are the footer's first ones
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("i", "write", "Reply"),
        Binding("a", "assign", "Assign"),
        Binding("r", "resolve", "Resolve/reopen"),
        Binding("z", "snooze", "Snooze"),
        Binding("t", "tags", "Tags"),
        Binding("n", "note", "Note"),
        Binding("P", "pending", "Pending", show=False),
        Binding("A", "assign_me", "Assign to me", show=False),
        Binding("c", "cycle_channel", "Channel", show=False),
        Binding("m", "cycle_assigned", "Mine/unassigned", show=False),
        Binding("S", "cycle_status", "Status filter", show=False),
        Binding("number_sign", "tag_filter", "Tag filter", show=False),
        Binding("l", "toggle_over_sla", "Over SLA", show=False),
        Binding("u", "toggle_unread", "Unread only", show=False),
        Binding("full_stop", "mark_read", "Mark read", show=False),
        Binding("R", "mark_all_read", "Mark all read", show=False),
        Binding("L", "sla", "Set SLA", show=False),
        Binding("C", "canned", "Canned replies", show=False),
        Binding("T", "template", "WhatsApp template", show=False),
        Binding("o", "older_messages", "Older messages", show=False),
        Binding("dollar_sign", "sell", "Lead/order"),
        Binding("B", "order_from_cart", "Order from cart", show=False),
        Binding("K", "toggle_contact", "Contact", show=False),
        Binding("F", "files", "Files", show=False),
        Binding("v", "view_picture", "View picture", show=False),
        Binding("escape", "clear_search", "Back to the list / clear the search", show=False),
    ]

    @dataclass
    class ThreadLoaded(Message):
        thread: Thread
        older: bool = False  # older messages were asked for: show the top of the thread
        canned: list[CannedState] = field(default_factory=list)

    READ_AFTER_SECONDS = 1.5

    def __init__(self, replica: Replica) -> None:
        super().__init__(replica, id="inbox")
        self._dwell_on: str | None = None  # the conversation the agent moved to
        self._dwell: Timer | None = None
        self._open: str | None = None
        self._limit = THREAD_LIMIT
        self._filter_later: Timer | None = None  # the filter line, if its view is slow to come

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="panes"):
            with Vertical(id="list-pane"):
                yield SearchBox(placeholder="Search names, handles and messages…", id="search")
                yield FilterLine(id="filter-line")
                yield ConversationList(self._replica, DEFAULT_VIEW, id="conversations")
            yield ThreadView(id="thread")
            with VerticalScroll(id="contact-pane"):
                yield Static(id="contact-panel")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one("#contact-pane").display = False
        self._show_filter()
        self.conversations.reload()  # focused already: AUTO_FOCUS

    # Replying and selling load with their first use (or the app's warm-up after the start):
    # they bring the wire format's models, which showing the inbox does not need.
    @cached_property
    def desk(self) -> ReplyDesk:
        from inboop_tui.screens.replying import ReplyDesk

        return ReplyDesk(self, self._replica)

    @cached_property
    def selling(self) -> SellingDesk:
        from inboop_tui.screens.selling_desk import SellingDesk

        return SellingDesk(self, self._replica, "INBOX")

    @property
    def conversations(self) -> ConversationList:
        return self.query_one(ConversationList)

    @property
    def open_conversation(self) -> str | None:
        return self._open

    # --- filters and search --------------------------------------------------------------

    def _apply(self, f: InboxFilter) -> None:
        self.conversations.set_filter(f)
        # The filter line is drawn with the new view's count (``_counted``), in the paint
        # that brings its rows: drawn now, its paint would hold the interpreter the read
        # needs, and the read is what the agent waits for. A slow read shows it after a moment.
        if self._filter_later is not None:
            self._filter_later.stop()
        self._filter_later = self.set_timer(HOLD_PAINT_SECONDS, self._show_filter)

    def _show_filter(self) -> None:
        if self._filter_later is not None:
            self._filter_later.stop()
            self._filter_later = None
        listing = self.conversations
        self.query_one(FilterLine).show(
            describe_filter(listing.filter, listing.count, listing.complete or not listing.counted)
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
        if self.app.screen.query("HelpPanel"):
            self.app.action_hide_help_panel()
            return
        search = self.query_one("#search", Input)
        if self.focused not in (self.conversations, search):
            # One step back, as from a pager to its index: out of the thread (or the contact
            # panel) to the list, with the search and the conversation on screen kept.
            self.conversations.focus()
            return
        if search.value:
            search.value = ""
        search.display = False
        self.conversations.focus()

    def _refilter(self, **changes: Any) -> None:
        self._apply(replace(self.conversations.filter, **changes))

    def action_cycle_channel(self) -> None:
        self._refilter(channel=_next(CHANNEL_CYCLE, self.conversations.filter.channel))

    def action_cycle_assigned(self) -> None:
        self._refilter(assigned=_next(ASSIGNED_CYCLE, self.conversations.filter.assigned))

    def action_cycle_status(self) -> None:
        self._refilter(status=_next(STATUS_CYCLE, self.conversations.filter.status))

    def action_toggle_unread(self) -> None:
        self._refilter(unread_only=not self.conversations.filter.unread_only)

    def action_toggle_over_sla(self) -> None:
        self._refilter(over_sla=not self.conversations.filter.over_sla)

    def set_channel(self, channel: str | None) -> None:
        self._refilter(channel=channel)

    def set_assigned(self, assigned: str | None) -> None:
        self._refilter(assigned=assigned)

    def set_status_filter(self, status: str | None) -> None:
        self._refilter(status=status)

    def action_tag_filter(self) -> None:
        current = self.conversations.filter.tag
        self._dialog(
            lambda: TagFilterDialog(self._replica.tags(), current), self._tag_filter_chosen
        )

    def _tag_filter_chosen(self, choice: TagChoice | None) -> None:
        if choice is not None:
            self._refilter(tag=choice.tag)

    def clear_filters(self) -> None:
        self._apply(DEFAULT_VIEW)

    @on(ConversationList.Counted)
    def _counted(self, event: ConversationList.Counted) -> None:
        self._show_filter()
        if event.count == 0:
            self._open = None
            self.query_one(ThreadView).clear(
                "No conversations yet: run a sync (s)."
                if self.conversations.filter == DEFAULT_VIEW
                else "No conversation matches."
            )

    # --- the thread ----------------------------------------------------------------------

    @on(ConversationList.Highlighted)
    def _highlighted(self, event: ConversationList.Highlighted) -> None:
        if event.conversation_id is not None:
            self._limit = THREAD_LIMIT
            self.conversations.keep = event.conversation_id
            self._dwell_on = event.conversation_id if event.by_user else None
            self.load_thread(event.conversation_id)

    @on(ConversationList.Opened)
    def _opened(self, event: ConversationList.Opened) -> None:
        if event.conversation_id != self._open:
            self._limit = THREAD_LIMIT
        self.conversations.keep = event.conversation_id
        self.load_thread(event.conversation_id, mark=True)
        self.query_one(ThreadView).focus_thread()

    @work(
        thread=True, exclusive=True, group="thread", description="load thread", exit_on_error=False
    )
    def load_thread(self, conversation_id: str, mark: bool = False, older: bool = False) -> None:
        loaded = self._replica.thread(conversation_id, self._limit, mark_read=mark)
        if loaded is not None:
            self.post_message(self.ThreadLoaded(loaded, older, self._replica.canned()))

    @on(ThreadLoaded)
    def _thread_loaded(self, event: ThreadLoaded) -> None:
        loaded = event.thread
        self._open = loaded.conversation.id
        self.query_one(ThreadView).show(
            loaded.conversation,
            loaded.messages,
            notes=loaded.notes,
            pending=loaded.pending,
            older=event.older,
        )
        if not event.older:
            self.desk.prepare(loaded, event.canned)
            if self.query_one("#contact-pane").display:
                self.load_contact(loaded.conversation.id)
        if loaded.marked_read:
            self.conversations.set_read(loaded.conversation.id)
        elif loaded.conversation.unread and self._dwell_on == loaded.conversation.id:
            # Read once the agent has stayed on it a moment: skimming the list marks nothing.
            if self._dwell is not None:
                self._dwell.stop()
            self._dwell = self.set_timer(
                self.READ_AFTER_SECONDS, partial(self._dwelled, loaded.conversation.id)
            )

    def _dwelled(self, conversation_id: str) -> None:
        if self._open == conversation_id and self._dwell_on == conversation_id:
            self._mark_seen(conversation_id)

    @work(thread=True, group="mark-read", description="mark read", exit_on_error=False)
    def _mark_seen(self, conversation_id: str) -> None:
        self._replica.actions.mark_read(conversation_id)
        self.app.call_from_thread(self.conversations.set_read, conversation_id)

    def action_older_messages(self) -> None:
        """Load another page of older messages into the open thread."""
        current = self.query_one(ThreadView).shown
        if self._open is None or current is None or current[1] >= current[0].message_count:
            self.notify("This is the whole conversation.")
            return
        self._limit += THREAD_LIMIT
        self.load_thread(self._open, older=True)

    def refresh_data(self) -> None:
        """New data in the replica (a sync, a change): reload the list and the open thread,
        keeping the selection on the same conversation."""
        self.conversations.reload()
        if self._open is not None:
            self.load_thread(self._open)
            if self.query_one("#contact-pane").display:
                self.load_contact(self._open)

    # --- actions on the open conversation --------------------------------------------------

    def target(self) -> ConversationRow | None:
        return self._target()

    # --- selling -------------------------------------------------------------------------

    def action_sell(self) -> None:
        """The next step: a lead when the conversation has no NEW one, else an order for it."""
        row = self._target()
        if row is not None:
            self.selling.next_step(row)

    def action_order_from_cart(self) -> None:
        row = self._target()
        if row is not None:
            self.selling.order_from_cart(row)

    def new_lead(self) -> None:
        row = self._target()
        if row is not None:
            self.selling.new_lead(row)

    def new_order(self) -> None:
        row = self._target()
        if row is not None:
            self.selling.new_order(row.id, row.display_name, lead_id=row.lead_id)

    def edit_contact(self) -> None:
        row = self._target()
        if row is not None:
            self.selling.edit_contact(row)

    def merge_contact(self) -> None:
        row = self._target()
        if row is not None:
            self.selling.merge_contact(row)

    def edit_contact_metadata(self) -> None:
        row = self._target()
        if row is not None:
            self.selling.contact_metadata(row)

    def edit_metadata(self) -> None:
        row = self._target()
        if row is not None:
            self.selling.conversation_metadata(row)

    # --- files --------------------------------------------------------------------------

    def action_files(self, open_it: bool = False) -> None:
        """The conversation's files, newest first; the one chosen is saved (and opened)."""
        from inboop_tui.sync.media import downloads_folder

        verb = "Open" if open_it else "Save"
        self._pick_file(
            lambda name: f"{verb} a file from {name} (to {downloads_folder()})",
            "No files in this conversation.",
            lambda ref: True,
            lambda ref: self.save_file(ref, open_it),
        )

    def action_view_picture(self) -> None:
        """The conversation's pictures, newest first; the one chosen is shown."""
        self._pick_file(
            lambda name: f"Look at a picture from {name}",
            "No pictures in this conversation.",
            lambda ref: ref.type in PICTURES,
            self.view_picture,
        )

    def view_picture(self, ref: AttachmentRef) -> None:
        from inboop_tui.screens.picture_preview import PicturePreview

        row = self._target()
        self.app.push_screen(
            PicturePreview(
                ref,
                row.display_name if row is not None else "the customer",
                self.app.config,  # type: ignore[attr-defined]
                self.app.graphics,  # type: ignore[attr-defined]
            )
        )

    def _pick_file(
        self,
        title: Callable[[str], str],
        empty: str,
        wanted: Callable[[AttachmentRef], bool],
        then: Callable[[AttachmentRef], object],
    ) -> None:
        row = self._target()
        if row is None:
            return
        refs: list[AttachmentRef] = []

        def build() -> PickDialog:
            from inboop_tui.screens.selling_dialogs import PickDialog

            refs.extend(ref for ref in self._replica.attachments(row.id) if wanted(ref))
            choices = [
                (
                    str(n),
                    f"{local_when(ref.sent_at, self._replica.clock())}  "
                    f"{'←' if ref.direction == 'INBOUND' else '→'} {ref.type.lower()}  "
                    f"{ref.filename or ref.caption or ''}".rstrip(),
                )
                for n, ref in enumerate(refs)
            ]
            return PickDialog(title(row.display_name), choices, empty)

        def chosen(key: str | None) -> None:
            if key is not None:
                then(refs[int(key)])

        self.prepare_dialog(build, chosen)

    @work(thread=True, group="media", description="save a file", exit_on_error=False)
    def save_file(self, ref: AttachmentRef, open_it: bool) -> None:
        from inboop_tui.sync.media import MediaError, keep_file

        try:
            said = keep_file(self.app.config, ref, open_it=open_it)  # type: ignore[attr-defined]
        except MediaError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, said, markup=False)

    def action_toggle_contact(self) -> None:
        pane = self.query_one("#contact-pane")
        pane.display = not pane.display
        if pane.display and self._open is not None:
            self.load_contact(self._open)

    def go_to(self, conversation_id: str) -> None:
        """Show one conversation (from a lead or an order), whatever the filter."""
        self._open = conversation_id  # a refresh meanwhile reloads this one, not the one before
        self.conversations.go_to(conversation_id)
        self.load_thread(conversation_id, mark=True)

    @work(
        thread=True,
        exclusive=True,
        group="contact",
        description="load contact",
        exit_on_error=False,
    )
    def load_contact(self, conversation_id: str) -> None:
        card = self._replica.contact(conversation_id)
        self.app.call_from_thread(self._show_contact, card)

    def _show_contact(self, card: ContactCard | None) -> None:
        self.query_one("#contact-panel", Static).update(render_contact(card))

    # --- replying ------------------------------------------------------------------------

    def action_write(self) -> None:
        """Move into the reply box."""
        if self._target() is not None:
            self.desk.focus()

    def action_canned(self) -> None:
        self.desk.manage_canned()

    def action_template(self) -> None:
        row = self._target()
        if row is not None:
            self.desk.template(row)

    def on_composer_send(self, event: Composer.Send) -> None:
        row = self._target()
        if row is not None:
            self.desk.send_text(row, event.text)

    def on_composer_edited(self, event: Composer.Edited) -> None:
        self.desk.edited(event.text)

    def on_reply_area_left(self, _event: ReplyArea.Left) -> None:
        self.conversations.focus()

    def on_reply_area_asked(self, event: ReplyArea.Asked) -> None:
        row = self._target()
        if row is not None:
            self.desk.asked(row, event.what)

    def _target(self) -> ConversationRow | None:
        shown = self.query_one(ThreadView).shown
        if shown is None:
            self.notify("Select a conversation first.", severity="warning")
            return None
        return shown[0]

    def action_assign(self) -> None:
        row = self._target()
        me = self._replica.me
        if row is None:
            return
        if me is None:
            self.notify(
                "Sign in first so changes carry your name: run `inboop login`.", severity="warning"
            )
            return
        self._dialog(
            lambda: AssignDialog(
                me, [m.name for m in self._replica.team()], row.assignee, row.display_name
            ),
            lambda choice: self._assign_chosen(row, choice),
        )

    def _assign_chosen(self, row: ConversationRow, choice: AssignChoice | None) -> None:
        if choice is not None:
            self.act(lambda a: a.assign(row.id, choice.assignee))

    def action_assign_me(self) -> None:
        row = self._target()
        if row is None:
            return
        me = self._replica.me
        if me is None:
            self.notify(
                "Sign in first so changes carry your name: run `inboop login`.", severity="warning"
            )
            return
        mine = row.assignee == me
        self.act(lambda a: a.assign(row.id, None if mine else me))

    def action_resolve(self) -> None:
        row = self._target()
        if row is not None:
            status = "OPEN" if row.status == "RESOLVED" else "RESOLVED"
            self.act(lambda a: a.set_status(row.id, status))

    def action_pending(self) -> None:
        row = self._target()
        if row is not None:
            status = "OPEN" if row.status == "PENDING" else "PENDING"
            self.act(lambda a: a.set_status(row.id, status))

    def action_reopen(self) -> None:
        row = self._target()
        if row is not None:
            self.act(lambda a: a.set_status(row.id, "OPEN"))

    def action_snooze(self) -> None:
        row = self._target()
        if row is None:
            return
        clock = self._replica.clock
        self.app.push_screen(
            SnoozeDialog(row.display_name, clock), lambda until: self._snooze_chosen(row, until)
        )

    def _snooze_chosen(self, row: ConversationRow, until: datetime | None) -> None:
        if until is not None:
            self.act(lambda a: a.set_status(row.id, "SNOOZED", until))

    def action_tags(self) -> None:
        row = self._target()
        if row is None:
            return
        self._dialog(
            lambda: TagDialog(row.display_name, row.tags, self._replica.tags()),
            lambda change: self._tags_chosen(row, change),
        )

    def _tags_chosen(self, row: ConversationRow, change: TagChange | None) -> None:
        if change is not None:
            self.act(lambda a: a.tag(row.id, change.add, change.remove))

    def action_note(self) -> None:
        row = self._target()
        if row is None:
            return
        self._dialog(
            lambda: NoteDialog(row.display_name, [m.name for m in self._replica.team()]),
            lambda text: self._note_written(row, text),
        )

    def _note_written(self, row: ConversationRow, text: str | None) -> None:
        if text is not None:
            self.act(lambda a: a.add_note(row.id, text))

    def action_sla(self) -> None:
        self._dialog(lambda: SlaDialog(self._replica.sla_minutes()), self._sla_chosen)

    def _sla_chosen(self, choice: SlaChoice | None) -> None:
        if choice is not None:
            self.act(lambda a: a.set_sla(choice.minutes))

    def action_mark_read(self) -> None:
        row = self._target()
        if row is not None:
            self.act(lambda a: a.mark_read(row.id), note=f"Marked {row.display_name} read.")

    def action_mark_all_read(self) -> None:
        f = replace(self.conversations.filter, unread_only=True)

        keep = self.conversations.keep

        def mark_all(actions: Any) -> str:
            count = actions.mark_all_read(self._replica.conversation_ids(f, keep))
            return f"Marked {count:,} conversation{'' if count == 1 else 's'} read."

        self.act(mark_all)

"""One conversation's thread: messages in provider order with everything the log knows of them,
the team's internal notes between them (never sent), and what is pending on this machine.

Everything here comes from customers, teammates or the relay, so it is drawn as ``Text``,
never parsed as markup."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, overload

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from inboop_tui.domain.messages import file_size
from inboop_tui.domain.money import MoneyError, format_money, parse_amount
from inboop_tui.domain.timing import local_clock, local_day, local_when, relative, reply_window
from inboop_tui.store.rows import Change, ConversationRow, MessageRow, NoteRow
from inboop_tui.widgets.clock import now
from inboop_tui.widgets.composer import Composer
from inboop_tui.widgets.thread_body import ThreadBody

TICKS = {
    "QUEUED": ("…", "dim"),
    "SENT": ("✓", "dim"),
    "DELIVERED": ("✓✓", "dim"),
    "READ": ("✓✓", "bold bright_cyan"),
    "FAILED": ("✗", "bold red"),
}
CHANNEL_NAMES = {"INSTAGRAM": "Instagram", "WHATSAPP": "WhatsApp", "MESSENGER": "Messenger"}


STATUS_STYLES = {
    "OPEN": "bold",
    "PENDING": "bold yellow",
    "RESOLVED": "bold green",
    "SNOOZED": "bold blue",
}


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def render_header(
    conversation: ConversationRow, now: datetime, pending: list[Change] | None = None
) -> Text:
    header = Text()
    header.append(conversation.display_name, style="bold")
    if conversation.display_name != conversation.customer_id:
        header.append(f"  {conversation.customer_id}", style="dim")
    header.append(f"  · {CHANNEL_NAMES.get(conversation.channel, conversation.channel)} · ")
    status = conversation.status
    header.append(status.lower(), style=STATUS_STYLES.get(status, ""))
    if status == "SNOOZED" and conversation.snoozed_until:
        header.append(f" until {local_when(conversation.snoozed_until, now)}")
    header.append(" · ")
    if conversation.assignee:
        header.append(f"@{conversation.assignee}", style="magenta")
    else:
        header.append("unassigned", style="dim")
    header.append(f"\n{plural(conversation.message_count, 'message')} · ", style="dim")
    window = reply_window(conversation.last_inbound_at, now)
    header.append(window.describe(conversation.channel), style="green" if window.open else "yellow")
    if conversation.over_sla and conversation.awaiting_since:
        header.append(
            f" · over SLA: waiting {relative(conversation.awaiting_since, now)}",
            style="bold red",
        )
    if conversation.tags:
        header.append("  " + " ".join(f"#{t}" for t in conversation.tags), style="cyan")
    # Selling: the NEW lead and the orders, and the next step ($ takes it).
    header.append("\n")
    if conversation.lead_id:
        header.append("lead NEW", style="bold green")
    else:
        header.append("no open lead", style="dim")
    if conversation.order_count:
        header.append(f" · {plural(conversation.order_count, 'order')}", style="cyan")
    step = "create an order" if conversation.lead_id else "create a lead"
    header.append(f" · $ {step}", style="dim")
    if pending:
        header.append(
            f"\n↑ {plural(len(pending), 'change')} not synced yet: "
            + ", ".join(change.summary for change in pending[:3])
            + ("…" if len(pending) > 3 else ""),
            style="yellow",
        )
    return header


def render_cart(items: Sequence[dict[str, Any]]) -> Text:
    """A WhatsApp catalog cart: its lines and total; B makes an order from it."""
    text = Text()
    text.append("[cart] ", style="bold cyan")
    totals: dict[str, str] = {}
    for item in items:
        text.append(f"\n  {item['quantity']} x ", style="cyan")
        text.append(str(item["retailer_id"]))
        text.append(f"  @ {item['currency']} {item['item_price']}", style="dim")
        try:
            line = parse_amount(str(item["item_price"]), item["currency"]) * int(item["quantity"])
            currency = str(item["currency"])
            totals[currency] = str(int(totals.get(currency, "0")) + line)
        except (MoneyError, KeyError, ValueError):
            continue
    total = ", ".join(format_money(int(amount), cur) for cur, amount in totals.items())
    text.append(f"\n  total {total}" if total else "", style="cyan")
    text.append("\n  B: create an order from this cart\n", style="dim")
    return text


def render_message(message: MessageRow, customer: str) -> RenderableType:
    outbound = message.direction == "OUTBOUND"
    if outbound:
        who = message.sent_by or "You"
    else:
        who = "System" if message.sender_type == "SYSTEM" else customer
    head = Text()
    head.append(f"{local_clock(message.sent_at)} ", style="dim")
    head.append(("→ " if outbound else "← ") + who, style="bold green" if outbound else "bold")
    if outbound and message.delivery_status:
        mark, style = TICKS.get(message.delivery_status, ("", ""))
        head.append(f" {mark} {message.delivery_status.lower()}", style=style)
    if message.pending:
        head.append(" · not synced yet", style="italic yellow")
    if message.edited and not message.is_deleted:
        head.append(" (edited)", style="dim italic")
    body = Text()
    if message.is_deleted:
        body.append("message deleted by the sender\n", style="dim italic")
    else:
        if message.text:
            body.append(message.text + "\n")
        for attachment in message.attachments:
            if attachment.type == "CART":
                body.append_text(render_cart(attachment.items or ()))
                continue
            label = attachment.type.lower().replace("_", " ")
            where = attachment.url or (
                f"media {attachment.media_id}"
                if attachment.media_id and not message.reply_id
                else ""
            )
            extra = (
                attachment.caption
                if attachment.caption and attachment.caption != message.text
                else attachment.title or attachment.filename
            )
            if attachment.latitude is not None and attachment.longitude is not None:
                where = f"{attachment.latitude:.5f}, {attachment.longitude:.5f} {where}".strip()
            shown = " ".join(part for part in (extra, where) if part)
            if attachment.size is not None:  # the relay keeps it: no link that expires
                shown = " · ".join(part for part in (file_size(attachment.size), extra) if part)
            body.append(f"[{label}] ", style="cyan")
            body.append(shown, style="cyan")
            if attachment.unavailable:
                body.append(f" (not kept by the relay: {attachment.unavailable})", style="dim")
            body.append("\n")
        if not message.text and not message.attachments:
            body.append(
                f"({(message.provider_type or message.content_type).lower()} message not shown)\n",
                style="dim italic",
            )
    if message.delivery_status == "FAILED" and message.delivery_error:
        error = json.loads(message.delivery_error)
        detail = error.get("title") or error.get("message") or "failed"
        body.append(f"not delivered: {detail} ({error.get('code', '?')})\n", style="red")
    for side, emoji in sorted(message.reactions.items()):
        body.append(f"{emoji} from {'you' if side == 'USER' else customer}\n", style="magenta")
    return Group(head, Padding(body, (0, 0, 0, 4)))


def render_note(note: NoteRow) -> RenderableType:
    head = Text()
    head.append(f"{local_clock(note.created_at)} ", style="dim")
    head.append(f"✎ note by {note.author}", style="bold yellow")
    head.append(" (internal, never sent)", style="dim yellow")
    if note.pending:
        head.append(" · not synced yet", style="italic yellow")
    body = Text(note.text + "\n", style="yellow")
    return Group(head, Padding(body, (0, 0, 0, 4)))


class ThreadParts(Sequence[RenderableType]):
    """What the thread shows, oldest first: messages and notes under their days' headings.

    A message or a note is made into its renderable when it is first asked for. The body
    renders only the parts near the reader (a long conversation opens on its last screenfuls),
    and making all of them (up to 500) cost ~10 ms before the first frame."""

    def __init__(self, parts: list[RenderableType | MessageRow | NoteRow], customer: str) -> None:
        self._parts = parts
        self._customer = customer

    def __len__(self) -> int:
        return len(self._parts)

    @overload
    def __getitem__(self, index: int) -> RenderableType: ...
    @overload
    def __getitem__(self, index: slice) -> list[RenderableType]: ...
    def __getitem__(self, index: int | slice) -> RenderableType | list[RenderableType]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        part = self._parts[index]
        if isinstance(part, MessageRow):
            part = self._parts[index] = render_message(part, self._customer)
        elif isinstance(part, NoteRow):
            part = self._parts[index] = render_note(part)
        return part


def thread_parts(
    conversation: ConversationRow, messages: list[MessageRow], notes: list[NoteRow] | None = None
) -> ThreadParts:
    """What the thread shows, oldest first: messages and notes under their days' headings."""
    parts: list[RenderableType | MessageRow | NoteRow] = []
    if len(messages) < conversation.message_count:
        parts.append(
            Text(
                f"showing the newest {len(messages):,} of {conversation.message_count:,} messages: press o for older ones",
                style="dim italic",
                justify="center",
            )
        )
    items: list[tuple[str, int, MessageRow | NoteRow]] = [(m.sent_at, 0, m) for m in messages]
    items += [(n.created_at, 1, n) for n in notes or []]
    items.sort(key=lambda item: (item[0], item[1]))
    day = None
    for at, _, item in items:
        this_day = local_day(at)
        if this_day != day:
            day = this_day
            parts.append(Text(f"── {day} ──", style="dim", justify="center"))
        parts.append(item)
    if not items:
        parts.append(Text("No messages.", style="dim"))
    return ThreadParts(parts, conversation.display_name)


class ThreadView(Vertical):
    """A fixed header (who, channel, reply window) over the scrolling thread."""

    DEFAULT_CSS = """
    ThreadView { height: 1fr; }
    ThreadView > #thread-header { height: auto; padding: 0 1; border-bottom: solid $primary-background; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="thread-header")
        yield ThreadBody([Text("Select a conversation.")], id="thread-scroll")
        yield Composer(id="composer")

    def show(
        self,
        conversation: ConversationRow,
        messages: list[MessageRow],
        *,
        notes: list[NoteRow] | None = None,
        pending: list[Change] | None = None,
        older: bool = False,
    ) -> None:
        """Show a thread, scrolled to its newest message; after loading ``older`` messages,
        where the reader was (the older ones are above). The same thread shown again (a sync,
        a change) keeps where the reader was, unless they were at the newest message: then
        they follow it."""
        same = self.shown is not None and self.shown[0].id == conversation.id
        self.shown = (conversation, len(messages))
        self.query_one("#thread-header", Static).update(
            render_header(conversation, now(self.app), pending)
        )
        body = self.query_one(ThreadBody)
        if not same:
            body.clear()  # another conversation opens at its newest message
        body.show(thread_parts(conversation, messages, notes), older=older)

    shown: tuple[ConversationRow, int] | None = None  # the conversation and how many messages

    def clear(self, note: str = "Select a conversation.") -> None:
        self.shown = None
        self.query_one("#thread-header", Static).update("")
        body = self.query_one(ThreadBody)
        body.clear()
        body.show([Text(note, style="dim")])

    def focus_thread(self) -> None:
        self.query_one(ThreadBody).focus()

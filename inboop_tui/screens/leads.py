"""Leads: every buying opportunity, newest first, with its customer, value and orders.

The list on the left (filters: status, assignee, created range, has orders; search: customer
and notes), the selected lead on the right with its conversation's last words and its orders.
Enter goes to the conversation; o converts the lead to an order; x marks it lost, X closes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from inboop_tui.domain.money import format_money
from inboop_tui.domain.timing import relative
from inboop_tui.screens.listing import FilteredScreen, next_in
from inboop_tui.screens.selling_desk import SellingDesk
from inboop_tui.store.replica import Replica
from inboop_tui.store.rows import ConversationRow
from inboop_tui.store.selling_queries import LeadFilter, LeadRow, OrderFilter, OrderRow
from inboop_tui.widgets.clock import now
from inboop_tui.widgets.filter_line import FilterLine
from inboop_tui.widgets.key_footer import KeyFooter
from inboop_tui.widgets.search_box import SearchBox
from inboop_tui.widgets.status_bar import StatusBar

LIMIT = 500
STATUS_CYCLE: list[str | None] = ["NEW", "CONVERTED", "LOST", "CLOSED", None]
ORDERS_CYCLE: list[bool | None] = [None, True, False]
CHANNEL_NAMES = {"INSTAGRAM": "Instagram", "WHATSAPP": "WhatsApp", "MESSENGER": "Messenger"}
STATUS_STYLES = {"NEW": "bold green", "CONVERTED": "cyan", "LOST": "red", "CLOSED": "dim"}


def describe_leads_filter(f: LeadFilter, shown: int, total: int) -> Text:
    parts = [f"{total:,} lead{'' if total == 1 else 's'}"]
    if shown < total:
        parts[0] += f" (newest {shown:,} shown)"
    parts.append(f.status.lower() if f.status else "any status")
    if f.assignee:
        parts.append("unassigned" if f.assignee == "unassigned" else f"@{f.assignee}")
    if f.has_orders is not None:
        parts.append("with orders" if f.has_orders else "without orders")
    if f.created_from or f.created_to:
        parts.append(f"created {f.created_from or '…'} to {f.created_to or '…'}")
    line = Text(" · ".join(parts))
    if f.search:
        line.append(" · matching “")
        line.append(f.search)
        line.append("”")
    return line


def render_lead(
    lead: LeadRow, conversation: ConversationRow | None, orders: list[OrderRow], at: Any
) -> Text:
    text = Text()
    text.append(lead.customer, style="bold")
    text.append(f"  · {CHANNEL_NAMES.get(lead.channel, lead.channel)} · ")
    text.append(lead.status, style=STATUS_STYLES.get(lead.status, ""))
    if lead.pending:
        text.append(" · not synced yet", style="yellow")
    text.append(
        f"\nlead {lead.short} · created {relative(lead.created_at, at)} by {lead.created_by}"
    )
    text.append("\nvalue: ", style="dim")
    text.append(format_money(lead.value_amount, lead.value_currency) or "no estimate")
    text.append("  assignee: ", style="dim")
    text.append(f"@{lead.assignee}" if lead.assignee else "unassigned")
    if lead.notes:
        text.append("\n\n")
        text.append(lead.notes)
    if lead.close_reason:
        text.append(f"\n\n{lead.status.lower()}: ", style="bold")
        text.append(lead.close_reason)
    for key, value in sorted(lead.metadata.items()):
        text.append(f"\n{key}: ", style="dim")
        text.append(value)
    if conversation is not None:
        text.append("\n\nconversation", style="bold")
        text.append(
            f"\n{conversation.message_count:,} messages · last {relative(conversation.last_message_at, at)}",
            style="dim",
        )
        if conversation.preview:
            arrow = "→ " if conversation.preview_direction == "OUTBOUND" else ""
            text.append("\n" + arrow)
            text.append(" ".join(conversation.preview.split())[:200])
    text.append(f"\n\norders  {len(orders)}", style="bold")
    for order in orders:
        text.append(f"\n  {order.label}  ", style="cyan")
        text.append(f"{order.status.lower()} · {order.payment_status.lower()}  ", style="dim")
        text.append(format_money(order.total, order.currency))
    return text


class LeadsScreen(FilteredScreen):
    RANGE_TITLE = "Leads created…"

    BINDINGS = [
        Binding("g", "edge(0)", "First", show=False),
        Binding("G", "edge(1)", "Last", show=False),
        Binding("escape", "back", "Inbox"),
        Binding("enter", "open_conversation", "Conversation"),
        Binding("o", "convert", "Convert to order"),
        Binding("x", "lost", "Lost"),
        Binding("X", "close_lead", "Close"),
        Binding("E", "edit", "Edit", show=False),
        Binding("M", "metadata", "Metadata", show=False),
        Binding("slash", "search", "Search"),
        Binding("S", "cycle_status", "Status filter", show=False),
        Binding("m", "cycle_assignee", "Mine/unassigned", show=False),
        Binding("O", "cycle_orders", "Has orders", show=False),
        Binding("r", "range", "Created range", show=False),
    ]

    @dataclass
    class Loaded(Message):
        rows: list[LeadRow]
        total: int

    @dataclass
    class DetailLoaded(Message):
        lead: LeadRow
        conversation: ConversationRow | None
        orders: list[OrderRow]

    def __init__(self, replica: Replica) -> None:
        super().__init__(replica, id="leads")
        self.filter = LeadFilter(status="NEW")
        self.rows: list[LeadRow] = []
        self.selling = SellingDesk(self, replica, "LEADS")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="panes"):
            with Vertical(id="list-pane"):
                yield SearchBox(placeholder="Search customers and notes…", id="search")
                yield FilterLine(id="filter-line")
                yield DataTable(id="leads-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail-pane"):
                yield Static(Text("Select a lead.", style="dim"), id="lead-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        table = self.query_one(DataTable)
        table.add_columns("Status", "Customer", "Channel", "Value", "Assignee", "Age", "Orders")
        self.refresh_data()
        table.focus()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    # --- data ----------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self.load(self.filter)

    @work(thread=True, exclusive=True, group="leads", description="load leads", exit_on_error=False)
    def load(self, f: LeadFilter) -> None:
        self.post_message(self.Loaded(self._replica.leads(f, LIMIT), self._replica.count_leads(f)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        table = self.query_one(DataTable)
        selected = self.selected()
        self.rows = event.rows
        table.clear()
        at = now(self.app)
        for lead in event.rows:
            table.add_row(
                Text(lead.status, style=STATUS_STYLES.get(lead.status, "")),
                Text(lead.customer[:28]),
                CHANNEL_NAMES.get(lead.channel, lead.channel),
                Text(format_money(lead.value_amount, lead.value_currency) or "-", justify="right"),
                Text(f"@{lead.assignee}" if lead.assignee else "-"),
                relative(lead.created_at, at),
                str(lead.order_count) + (" ↑" if lead.pending else ""),
                key=lead.id,
            )
        if selected is not None:
            for index, lead in enumerate(event.rows):
                if lead.id == selected.id:
                    table.move_cursor(row=index)
        self.query_one(FilterLine).show(
            describe_leads_filter(self.filter, len(event.rows), event.total)
        )
        if not event.rows:
            self.query_one("#lead-detail", Static).update(
                Text(
                    "No lead matches. Leads are made from a conversation ($ in the inbox).",
                    style="dim",
                )
            )
        else:
            self._show_selected()

    def selected(self) -> LeadRow | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        lead = self.selected()
        if lead is not None:
            self.load_detail(lead)

    @work(
        thread=True,
        exclusive=True,
        group="lead-detail",
        description="load lead",
        exit_on_error=False,
    )
    def load_detail(self, lead: LeadRow) -> None:
        conversation = self._replica.conversation(lead.conversation_id)
        orders = self._replica.orders(OrderFilter(lead_id=lead.id))
        self.post_message(self.DetailLoaded(lead, conversation, orders))

    @on(DetailLoaded)
    def _detail(self, event: DetailLoaded) -> None:
        self.query_one("#lead-detail", Static).update(
            render_lead(event.lead, event.conversation, event.orders, now(self.app))
        )

    # --- filters -------------------------------------------------------------------------

    def action_cycle_status(self) -> None:
        self.set_filter(replace(self.filter, status=next_in(STATUS_CYCLE, self.filter.status)))

    def action_cycle_orders(self) -> None:
        self.set_filter(
            replace(self.filter, has_orders=next_in(ORDERS_CYCLE, self.filter.has_orders))
        )

    # --- actions -------------------------------------------------------------------------

    def action_open_conversation(self) -> None:
        lead = self.selected()
        if lead is not None:
            self.app.show_conversation(lead.conversation_id)  # type: ignore[attr-defined]

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_open_conversation()

    def action_convert(self) -> None:
        lead = self.selected()
        if lead is None:
            return
        if lead.status != "NEW":
            self.notify(
                f"This lead is {lead.status}: only a NEW lead converts.", severity="warning"
            )
            return
        self.selling.new_order(
            lead.conversation_id,
            lead.customer,
            lead_id=lead.id,
            currency=lead.value_currency or "",
        )

    def action_lost(self) -> None:
        lead = self.selected()
        if lead is not None:
            self.selling.close_lead(lead, "LOST")

    def action_close_lead(self) -> None:
        lead = self.selected()
        if lead is not None:
            self.selling.close_lead(lead, "CLOSED")

    def action_edit(self) -> None:
        lead = self.selected()
        if lead is not None:
            self.selling.edit_lead(lead)

    def action_metadata(self) -> None:
        lead = self.selected()
        if lead is not None:
            self.selling.lead_metadata(lead)

    def action_edge(self, last: int) -> None:
        """g: the newest; G: the oldest (as in less and vim)."""
        table = self.query_one("#leads-table", DataTable)
        if table.row_count:
            table.move_cursor(row=table.row_count - 1 if last else 0)

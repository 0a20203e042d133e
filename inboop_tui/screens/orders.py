"""Orders: a table, or a board with a column per fulfilment status, and each order's detail.

Filters: status, payment status, method, channel, assignee, created range; search: number,
customer, item names, tracking. On the board ``>`` moves the selected order one step along
(the only moves offered are the allowed ones) and ``x`` cancels it while it may be. Enter opens
the order: items, totals, shipping, payment and its append-only timeline.
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
from textual.widgets import ContentSwitcher, DataTable, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from inboop_tui.domain.money import format_money
from inboop_tui.domain.timing import local_stamp, relative
from inboop_tui.screens.acting import ActingScreen
from inboop_tui.screens.listing import FilteredScreen, next_in
from inboop_tui.screens.selling_desk import SellingDesk
from inboop_tui.store.replica import Replica
from inboop_tui.store.selling_queries import OrderFilter, OrderRow
from inboop_tui.widgets.clock import now
from inboop_tui.widgets.filter_line import FilterLine
from inboop_tui.widgets.key_footer import KeyFooter
from inboop_tui.widgets.search_box import SearchBox
from inboop_tui.widgets.status_bar import StatusBar

LIMIT = 500
BOARD = ("NEW", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED")
STATUS_CYCLE: list[str | None] = [None, *BOARD]
PAYMENT_CYCLE: list[str | None] = [None, "UNPAID", "PAID", "REFUNDED"]
METHOD_CYCLE: list[str | None] = [None, "ONLINE", "COD"]
CHANNEL_CYCLE: list[str | None] = [None, "INSTAGRAM", "WHATSAPP", "MESSENGER"]
CHANNEL_NAMES = {"INSTAGRAM": "Instagram", "WHATSAPP": "WhatsApp", "MESSENGER": "Messenger"}
STATUS_STYLES = {
    "NEW": "bold",
    "CONFIRMED": "cyan",
    "SHIPPED": "blue",
    "DELIVERED": "green",
    "CANCELLED": "dim",
}
PAYMENT_STYLES = {"UNPAID": "yellow", "PAID": "green", "REFUNDED": "magenta"}


def describe_orders_filter(f: OrderFilter, shown: int, total: int) -> Text:
    parts = [f"{total:,} order{'' if total == 1 else 's'}"]
    if shown < total:
        parts[0] += f" (newest {shown:,} shown)"
    for value in (f.status, f.payment, f.method):
        if value:
            parts.append(value.lower())
    if f.channel:
        parts.append(CHANNEL_NAMES[f.channel])
    if f.assignee:
        parts.append("unassigned" if f.assignee == "unassigned" else f"@{f.assignee}")
    if f.created_from or f.created_to:
        parts.append(f"created {f.created_from or '…'} to {f.created_to or '…'}")
    line = Text(" · ".join(parts))
    if f.search:
        line.append(" · matching “")
        line.append(f.search)
        line.append("”")
    return line


def _method(order: OrderRow) -> str:
    return order.payment_method + (f" · {order.payment_provider}" if order.payment_provider else "")


def render_order(order: OrderRow, at: Any) -> Text:
    text = Text()
    text.append(order.label, style="bold")
    text.append(f"  {order.customer}")
    text.append(f"  · {CHANNEL_NAMES.get(order.channel, order.channel)}")
    if order.pending:
        text.append("  · not synced yet: its number comes with the sync", style="yellow")
    text.append("\n")
    text.append(order.status, style=STATUS_STYLES.get(order.status, ""))
    text.append(" · ")
    text.append(order.payment_status, style=PAYMENT_STYLES.get(order.payment_status, ""))
    text.append(f" · {_method(order)}")
    if order.flagged:
        text.append("  delivered but unpaid!", style="bold red")
    text.append(f"\ncreated {local_stamp(order.created_at, at)} by {order.created_by}", style="dim")
    if order.assignee:
        text.append(f" · @{order.assignee}", style="magenta")
    text.append("\n\nitems", style="bold")
    for item in order.items:
        line = item["quantity"] * item["unit_price"]
        text.append(f"\n  {item['quantity']} x ")
        text.append(item["name"])
        text.append(f"  @ {format_money(item['unit_price'], order.currency)}", style="dim")
        text.append(f"  = {format_money(line, order.currency)}")
    text.append(f"\n  total {format_money(order.total, order.currency)}", style="bold")
    if order.shipping_address:
        text.append("\n\nship to\n", style="bold")
        text.append(order.shipping_address)
        if order.region:
            text.append(f" ({order.region})")
    if order.tracking_number:
        text.append("\ntracking: ", style="dim")
        text.append(order.tracking_number)
    if order.notes:
        text.append("\n\nnotes\n", style="bold")
        text.append(order.notes)
    if order.metadata:
        text.append("\n\nmetadata", style="bold")
    for key, value in sorted(order.metadata.items()):
        text.append(f"\n{key}: ", style="dim")
        text.append(value)
    if order.warnings:
        text.append("\n")
    for warning in order.warnings:
        text.append("\n⚠ ", style="yellow")
        text.append(warning, style="yellow")
    text.append("\n\ntimeline", style="bold")
    for entry in order.timeline:
        text.append(f"\n{local_stamp(entry['at'], at)}  ", style="dim")
        text.append(f"{entry['actor']}", style="magenta" if entry["actor"] != "SYSTEM" else "dim")
        text.append(f" · {entry['source'].lower()}  ", style="dim")
        text.append(entry["description"])
        if entry.get("pending"):
            text.append("  (not synced)", style="yellow")
    return text


class OrdersScreen(FilteredScreen):
    RANGE_TITLE = "Orders created…"

    BINDINGS = [
        Binding("g", "edge(0)", "First", show=False),
        Binding("G", "edge(1)", "Last", show=False),
        Binding("escape", "back", "Inbox"),
        Binding("enter", "open_order", "Open"),
        Binding("b", "toggle_board", "Table/board"),
        Binding("greater_than_sign", "advance", "Next status"),
        Binding("x", "cancel_order", "Cancel order", show=False),
        Binding("n", "new_order", "New order"),
        Binding("p", "paid", "Paid", show=False),
        Binding("slash", "search", "Search"),
        Binding("S", "cycle_status", "Status", show=False),
        Binding("P", "cycle_payment", "Payment", show=False),
        Binding("M", "cycle_method", "Method", show=False),
        Binding("c", "cycle_channel", "Channel", show=False),
        Binding("m", "cycle_assignee", "Mine/unassigned", show=False),
        Binding("r", "range", "Created range", show=False),
        Binding("left", "column(-1)", "Column left", show=False),
        Binding("right", "column(1)", "Column right", show=False),
    ]

    @dataclass
    class Loaded(Message):
        rows: list[OrderRow]
        total: int

    def __init__(self, replica: Replica) -> None:
        super().__init__(replica, id="orders")
        self.filter = OrderFilter()
        self.rows: list[OrderRow] = []
        self.board = False
        self.selling = SellingDesk(self, replica, "ORDERS")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield SearchBox(placeholder="Search numbers, customers, items, tracking…", id="search")
        yield FilterLine(id="filter-line")
        with ContentSwitcher(initial="orders-table", id="orders-views"):
            yield DataTable(id="orders-table", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="orders-board"):
                for status in BOARD:
                    with Vertical(classes="board-column"):
                        yield Label(status.title(), id=f"title-{status}", classes="board-title")
                        yield OptionList(id=f"column-{status}")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        table = self.query_one("#orders-table", DataTable)
        table.add_columns(
            "Number", "Customer", "Channel", "Status", "Payment", "Method", "Total", "Created"
        )
        self.refresh_data()
        table.focus()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    # --- data ----------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self.load(self.filter)

    @work(
        thread=True, exclusive=True, group="orders", description="load orders", exit_on_error=False
    )
    def load(self, f: OrderFilter) -> None:
        self.post_message(
            self.Loaded(self._replica.orders(f, LIMIT), self._replica.count_orders(f))
        )

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        selected = self.selected()
        self.rows = event.rows
        self._fill_table(selected)
        self._fill_board(selected)
        self.query_one(FilterLine).show(
            describe_orders_filter(self.filter, len(event.rows), event.total)
        )

    def _fill_table(self, selected: OrderRow | None) -> None:
        table = self.query_one("#orders-table", DataTable)
        table.clear()
        at = now(self.app)
        for order in self.rows:
            table.add_row(
                Text(order.label, style="yellow" if order.pending else ""),
                Text(order.customer[:26]),
                CHANNEL_NAMES.get(order.channel, order.channel),
                Text(order.status, style=STATUS_STYLES.get(order.status, "")),
                Text(
                    order.payment_status + (" !" if order.flagged else ""),
                    style="bold red"
                    if order.flagged
                    else PAYMENT_STYLES.get(order.payment_status, ""),
                ),
                Text(_method(order)),
                Text(format_money(order.total, order.currency), justify="right"),
                relative(order.created_at, at),
                key=order.id,
            )
        if selected is not None:
            for index, order in enumerate(self.rows):
                if order.id == selected.id:
                    table.move_cursor(row=index)

    def _fill_board(self, selected: OrderRow | None) -> None:
        for status in BOARD:
            column = self.query_one(f"#column-{status}", OptionList)
            column.clear_options()
            orders = [o for o in self.rows if o.status == status]
            self.query_one(f"#title-{status}", Label).update(f"{status.title()}  {len(orders)}")
            for order in orders:
                card = Text(order.label, style="bold")
                card.append(f"\n{order.customer[:22]}")
                card.append(f"\n{format_money(order.total, order.currency)} · ")
                card.append(
                    order.payment_status.lower(),
                    style="bold red"
                    if order.flagged
                    else PAYMENT_STYLES.get(order.payment_status, ""),
                )
                column.add_option(Option(card, id=order.id))
            if selected is not None:
                for index, order in enumerate(orders):
                    if order.id == selected.id:
                        # The card moved along: the selection goes with it.
                        column.highlighted = index
                        if self.board:
                            column.focus()

    def selected(self) -> OrderRow | None:
        if self.board:
            focused = self.focused
            if isinstance(focused, OptionList) and focused.highlighted is not None:
                option = focused.get_option_at_index(focused.highlighted)
                return next((o for o in self.rows if o.id == option.id), None)
            return None
        table = self.query_one("#orders-table", DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _chosen(self) -> OrderRow | None:
        order = self.selected()
        if order is None:
            self.notify("Select an order first.", severity="warning")
        return order

    # --- views and filters ---------------------------------------------------------------

    def action_toggle_board(self) -> None:
        self.board = not self.board
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "orders-board" if self.board else "orders-table"
        if self.board:
            first = next(
                (s for s in BOARD if self.query_one(f"#column-{s}", OptionList).option_count),
                BOARD[0],
            )
            self.query_one(f"#column-{first}", OptionList).focus()
        else:
            self.query_one("#orders-table", DataTable).focus()

    def action_column(self, step: int) -> None:
        if not self.board:
            return
        focused = self.focused
        current = BOARD.index(focused.id.removeprefix("column-")) if focused and focused.id else 0
        target = self.query_one(f"#column-{BOARD[(current + step) % len(BOARD)]}", OptionList)
        target.focus()
        if target.highlighted is None and target.option_count:
            target.highlighted = 0

    def action_cycle_status(self) -> None:
        self.set_filter(replace(self.filter, status=next_in(STATUS_CYCLE, self.filter.status)))

    def action_cycle_payment(self) -> None:
        self.set_filter(replace(self.filter, payment=next_in(PAYMENT_CYCLE, self.filter.payment)))

    def action_cycle_method(self) -> None:
        self.set_filter(replace(self.filter, method=next_in(METHOD_CYCLE, self.filter.method)))

    def action_cycle_channel(self) -> None:
        self.set_filter(replace(self.filter, channel=next_in(CHANNEL_CYCLE, self.filter.channel)))

    def focus_list(self) -> None:
        if self.board:
            self.action_column(0)
        else:
            self.query_one("#orders-table", DataTable).focus()

    # --- actions -------------------------------------------------------------------------

    def action_open_order(self) -> None:
        order = self._chosen()
        if order is not None:
            self.app.push_screen(OrderDetailScreen(self._replica, order.id))

    @on(DataTable.RowSelected, "#orders-table")
    @on(OptionList.OptionSelected)
    def _row_selected(self) -> None:
        self.action_open_order()

    def action_advance(self) -> None:
        order = self._chosen()
        if order is not None:
            self.selling.advance(order)

    def action_cancel_order(self) -> None:
        order = self._chosen()
        if order is not None:
            self.selling.cancel(order)

    def action_paid(self) -> None:
        order = self._chosen()
        if order is not None:
            self.selling.pay(order)

    def action_new_order(self) -> None:
        self.selling.new_order(None)

    def action_edge(self, last: int) -> None:
        """g: the newest; G: the oldest (in the table, as in less and vim)."""
        table = self.query_one("#orders-table", DataTable)
        if not self.board and table.row_count:
            table.move_cursor(row=table.row_count - 1 if last else 0)


class OrderDetailScreen(ActingScreen):
    """One order, with the allowed next steps as keys."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("t", "move", "Status…"),
        Binding("greater_than_sign", "advance", "Next status"),
        Binding("x", "cancel_order", "Cancel order"),
        Binding("p", "paid", "Paid"),
        Binding("R", "refund", "Refund (ADMIN)"),
        Binding("E", "edit", "Edit"),
        Binding("M", "metadata", "Metadata", show=False),
        Binding("g", "conversation", "Conversation"),
    ]

    @dataclass
    class Loaded(Message):
        order: OrderRow

    def __init__(self, replica: Replica, order_id: str) -> None:
        super().__init__(replica, id="order-detail")
        self.order_id = order_id
        self.order: OrderRow | None = None
        self.selling = SellingDesk(self, replica, "ORDERS")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with VerticalScroll(id="order-scroll"):
            yield Static(Text("Reading…", style="dim"), id="order-body")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="order", description="load order", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Loaded(self._replica.order(self.order_id)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.order = event.order
        self.query_one("#order-body", Static).update(render_order(event.order, now(self.app)))

    def _run(self, step: Any) -> None:
        if self.order is not None:
            step(self.order)

    def action_move(self) -> None:
        self._run(self.selling.move_order)

    def action_advance(self) -> None:
        self._run(self.selling.advance)

    def action_cancel_order(self) -> None:
        self._run(self.selling.cancel)

    def action_paid(self) -> None:
        self._run(self.selling.pay)

    def action_refund(self) -> None:
        self._run(lambda order: self.selling.pay(order, "REFUNDED"))

    def action_edit(self) -> None:
        self._run(self.selling.edit_order)

    def action_metadata(self) -> None:
        self._run(self.selling.order_metadata)

    def action_conversation(self) -> None:
        if self.order is not None:
            conversation = self.order.conversation_id
            self.app.pop_screen()
            self.app.show_conversation(conversation)  # type: ignore[attr-defined]

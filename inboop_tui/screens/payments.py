"""Payments (tracking only): totals by status, method and provider per currency; cash on
delivery still to collect; delivered orders that are not paid (flagged); and every unpaid order
in a list where ``p`` marks the selected one paid. ``P`` opens the payment settings (ADMIN)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from inboop_tui.domain.money import format_money
from inboop_tui.domain.selling import PaymentConfig
from inboop_tui.domain.timing import relative
from inboop_tui.screens.acting import ActingScreen
from inboop_tui.screens.orders import CHANNEL_NAMES, OrderDetailScreen
from inboop_tui.screens.selling_desk import SellingDesk
from inboop_tui.store.replica import Replica
from inboop_tui.store.selling_queries import OrderRow, PaymentsReport, Total
from inboop_tui.widgets.clock import now
from inboop_tui.widgets.key_footer import KeyFooter


def _totals(title: str, totals: list[Total]) -> Table:
    """One small table; the amount carries its currency, so currencies never mix."""
    table = Table(title=title, title_justify="left", expand=False, box=None, padding=(0, 1, 0, 0))
    table.add_column(title.split()[-1].title(), no_wrap=True)
    table.add_column("Orders", justify="right", no_wrap=True)
    table.add_column("Amount", justify="right", no_wrap=True)
    for t in totals:
        table.add_row(t.key.lower(), f"{t.count:,}", format_money(t.amount, t.currency))
    return table


def render_payments(report: PaymentsReport, config: PaymentConfig | None) -> RenderableType:
    if config is None:
        settings = Text("Payment settings: not set up yet (P, ADMIN)", style="yellow")
    else:
        cod = "off"
        if config.allow_cod:
            cod = "in " + ", ".join(config.cod_regions) if config.cod_regions else "everywhere"
        settings = Text(
            f"Providers: {', '.join(config.enabled_providers) or 'none'} · default "
            f"{config.default_provider or 'none'} · cash on delivery {cod}",
            style="dim",
        )
    if not report.by_status:
        return Group(settings, Text("\nNo orders yet.", style="dim"))
    tables = Table.grid(padding=(0, 4))
    tables.add_row(
        _totals("by payment status", report.by_status),
        _totals("by method", report.by_method),
        _totals("by provider", report.by_provider),
    )
    summary = Text()
    summary.append(
        f"\ncash on delivery to collect (shipped, unpaid): {len(report.outstanding_cod)}"
    )
    cod_due: dict[str, int] = {}
    for order in report.outstanding_cod:
        cod_due[order.currency] = cod_due.get(order.currency, 0) + order.total
    if cod_due:
        summary.append("  " + ", ".join(format_money(a, c) for c, a in sorted(cod_due.items())))
    flagged = len(report.delivered_unpaid)
    summary.append(f"\ndelivered but unpaid: {flagged}", style="bold red" if flagged else "green")
    return Group(settings, Text(""), tables, summary)


class PaymentsScreen(ActingScreen):
    BINDINGS = [
        Binding("g", "edge(0)", "First", show=False),
        Binding("G", "edge(1)", "Last", show=False),
        Binding("escape", "app.switch_mode('inbox')", "Inbox"),
        Binding("p", "paid", "Mark paid"),
        Binding("enter", "open_order", "Open"),
        Binding("P", "settings", "Payment settings"),
    ]

    @dataclass
    class Loaded(Message):
        report: PaymentsReport
        config: PaymentConfig | None

    def __init__(self, replica: Replica) -> None:
        super().__init__(replica, id="payments")
        self.rows: list[OrderRow] = []
        self.selling = SellingDesk(self, replica, "PAYMENTS")

    def compose(self) -> ComposeResult:
        from inboop_tui.widgets.status_bar import StatusBar

        yield StatusBar(id="status")
        yield Static(Text("Reading…", style="dim"), id="payments-summary")
        yield Static(Text("Unpaid orders", style="bold"), id="unpaid-title")
        yield DataTable(id="unpaid", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(
            "Number", "Customer", "Channel", "Status", "Method", "Total", "Created", ""
        )
        self.refresh_data()
        table.focus()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        self.load()

    @work(
        thread=True,
        exclusive=True,
        group="payments",
        description="load payments",
        exit_on_error=False,
    )
    def load(self) -> None:
        self.post_message(self.Loaded(self._replica.payments(), self._replica.payment_config()))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        report = event.report
        self.query_one("#payments-summary", Static).update(render_payments(report, event.config))
        flagged = {o.id for o in report.delivered_unpaid}
        collect = {o.id for o in report.outstanding_cod}
        # What needs doing first: delivered unpaid, then cash to collect, then the rest.
        rows = sorted(report.unpaid, key=lambda o: (o.id not in flagged, o.id not in collect))
        table = self.query_one(DataTable)
        table.clear()
        at = now(self.app)
        for order in rows:
            why = (
                Text("delivered, unpaid!", style="bold red")
                if order.id in flagged
                else Text("COD to collect", style="yellow")
                if order.id in collect
                else Text("")
            )
            table.add_row(
                order.label,
                Text(order.customer[:26]),
                CHANNEL_NAMES.get(order.channel, order.channel),
                order.status,
                order.payment_method
                + (f" · {order.payment_provider}" if order.payment_provider else ""),
                Text(format_money(order.total, order.currency), justify="right"),
                relative(order.created_at, at),
                why,
                key=order.id,
            )
        self.rows = rows
        self.query_one("#unpaid-title", Static).update(
            Text(f"Unpaid orders  {len(rows)}", style="bold")
        )

    def selected(self) -> OrderRow | None:
        table = self.query_one(DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            self.notify("No unpaid order selected.", severity="warning")
            return None
        return self.rows[table.cursor_row]

    def action_paid(self) -> None:
        order = self.selected()
        if order is not None:
            self.selling.pay(order)

    def action_open_order(self) -> None:
        order = self.selected()
        if order is not None:
            self.app.push_screen(OrderDetailScreen(self._replica, order.id))

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open_order()

    def action_settings(self) -> None:
        self.selling.payment_settings()

    def action_edge(self, last: int) -> None:
        """g: the newest; G: the oldest (as in less and vim)."""
        table = self.query_one("#unpaid", DataTable)
        if table.row_count:
            table.move_cursor(row=table.row_count - 1 if last else 0)

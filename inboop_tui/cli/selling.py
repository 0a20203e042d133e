"""Selling from the shell: leads, orders, payment status, payment settings and contacts.

Offline like every action: the change is made locally at once and sent when the relay is
reachable. Amounts are typed as people write them (``1499``, ``1499.50``, ``0.250`` for KWD).
``ORDER`` is an order number (``ORD-1004`` or ``1004``) or the first characters of its id;
``LEAD`` the first characters of a lead's id (``inboop leads`` shows them).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inboop_tui.cli.common import JsonOption, app, emit, fail, replica
from inboop_tui.cli.inbox import CHANNEL_NAMES, ConvArgument, _cell, report
from inboop_tui.domain.money import format_money
from inboop_tui.store.selling_queries import (
    ContactCard,
    LeadFilter,
    LeadRow,
    OrderFilter,
    OrderRow,
    PaymentsReport,
)
from relay.protocol import Channel

if TYPE_CHECKING:
    from inboop_tui.store.selling_actions import ItemInput

lead_app = typer.Typer(help="Create, edit and close leads.", no_args_is_help=True)
order_app = typer.Typer(help="Create orders and move them along.", no_args_is_help=True)
contact_app = typer.Typer(help="The person behind a conversation.", no_args_is_help=True)
app.add_typer(lead_app, name="lead")
app.add_typer(order_app, name="order")
app.add_typer(contact_app, name="contact")

LeadArgument = Annotated[str, typer.Argument(metavar="LEAD", help="The lead's id (or its start).")]
OrderArgument = Annotated[
    str, typer.Argument(metavar="ORDER", help="ORD-1004, 1004, or the order's id (or its start).")
]
Assignee = Annotated[str | None, typer.Option(help="A teammate (or me).")]
Notes = Annotated[str | None, typer.Option(help="Notes.")]
Meta = Annotated[
    list[str] | None, typer.Option("--meta", help="KEY=VALUE metadata (KEY= removes it).")
]


def _metadata(pairs: list[str] | None, *, removals: bool) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"{pair!r} is not KEY=VALUE", 2)
        if not value and not removals:
            raise fail(f"{pair!r}: a new record's metadata needs a value", 2)
        found[key.strip()] = value if value else None
    return found


def _values(pairs: list[str] | None) -> dict[str, str]:
    return {k: v for k, v in _metadata(pairs, removals=False).items() if v is not None}


# --- leads -----------------------------------------------------------------------------------


def lead_json(row: LeadRow) -> dict[str, Any]:
    data = asdict(row)
    data["value"] = (
        None
        if row.value_amount is None
        else {"amount": row.value_amount, "currency": row.value_currency}
    )
    for key in ("value_amount", "value_currency"):
        data.pop(key)
    return data


LEAD_HEADER = (
    f"{'LEAD':<8}  {'STATUS':<9}  {'CUSTOMER':<22}  {'CHANNEL':<9}  {'VALUE':>16}  "
    f"{'ASSIGNEE':<14}  CREATED     ORDERS"
)


def describe_lead(row: LeadRow) -> str:
    value = format_money(row.value_amount, row.value_currency) or "-"
    columns = [
        row.short,
        f"{row.status:<9}",
        _cell(row.customer, 22),
        f"{CHANNEL_NAMES.get(row.channel, row.channel):<9}",
        f"{value:>16}",
        _cell(f"@{row.assignee}" if row.assignee else "unassigned", 14),
        row.created_at[:10],
        f"{row.order_count} order{'s' if row.order_count != 1 else ''}",
    ]
    if row.pending:
        columns.append("pending")
    return "  ".join(columns).rstrip()


@lead_app.command("create")
def lead_create(
    conv: ConvArgument,
    value: Annotated[str | None, typer.Option(help="Estimated value, e.g. 1499.50.")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO-4217 code, e.g. INR.")] = None,
    notes: Notes = None,
    assignee: Assignee = None,
    meta: Meta = None,
    as_json: JsonOption = False,
) -> None:
    """A new lead in a conversation (a NEW one it had is closed as superseded)."""
    with replica() as r:
        row = r.find(conv)
        done = r.actions.create_lead(
            row.id,
            value=value,
            currency=currency,
            notes=notes or "",
            assignee=assignee,
            metadata=_values(meta),
        )
    lead_id = str(done.entity_id)
    report(as_json, done, row, what=f"lead {lead_id[:8]} created", extra={"lead_id": lead_id})


@lead_app.command("edit")
def lead_edit(
    lead: LeadArgument,
    value: Annotated[str | None, typer.Option(help="Estimated value.")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO-4217 code.")] = None,
    notes: Notes = None,
    assignee: Assignee = None,
    unassign: Annotated[bool, typer.Option("--unassign")] = False,
    meta: Meta = None,
    as_json: JsonOption = False,
) -> None:
    """Change a NEW lead (closed leads are read-only)."""
    with replica() as r:
        done = r.actions.update_lead(
            lead,
            value=value,
            currency=currency,
            notes=notes,
            assignee=assignee,
            unassign=unassign,
            metadata=_metadata(meta, removals=True),
        )
    report(as_json, done, None, extra={"lead_id": done.entity_id})


def _close(lead: str, status: str, reason: str, as_json: bool) -> None:
    with replica() as r:
        done = r.actions.close_lead(lead, status, reason)
    report(as_json, done, None, extra={"lead_id": done.entity_id})


@lead_app.command("lost")
def lead_lost(
    lead: LeadArgument,
    reason: Annotated[str, typer.Option(help="Why it was lost.")],
    as_json: JsonOption = False,
) -> None:
    """Mark a NEW lead LOST."""
    _close(lead, "LOST", reason, as_json)


@lead_app.command("close")
def lead_close(
    lead: LeadArgument,
    reason: Annotated[str, typer.Option(help="Why it is closed.")],
    as_json: JsonOption = False,
) -> None:
    """Close a NEW lead (CLOSED: no sale, nothing lost either)."""
    _close(lead, "CLOSED", reason, as_json)


@lead_app.command("show")
def lead_show(lead: LeadArgument, as_json: JsonOption = False) -> None:
    """A lead with its orders."""
    with replica() as r:
        row = r.lead(lead)
        found = r.orders(OrderFilter(lead_id=row.id))
    if as_json:
        emit(True, {**lead_json(row), "orders": [order_json(o) for o in found]}, "")
        return
    typer.echo(describe_lead(row))
    if row.notes:
        typer.echo(f"notes: {row.notes}")
    if row.close_reason:
        typer.echo(f"{row.status.lower()}: {row.close_reason}")
    for o in found:
        typer.echo("  " + describe_order(o))


@app.command()
def leads(
    status: Annotated[str | None, typer.Option(help="new, converted, lost or closed.")] = None,
    assignee: Annotated[str | None, typer.Option(help="A teammate, me, or unassigned.")] = None,
    since: Annotated[str | None, typer.Option(help="Created on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Created on or before (YYYY-MM-DD).")] = None,
    has_orders: Annotated[
        bool | None, typer.Option("--has-orders/--no-orders", help="With or without orders.")
    ] = None,
    search: Annotated[str, typer.Option(help="Customer or notes.")] = "",
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Leads, newest first."""
    with replica() as r:
        f = LeadFilter(
            status=_choice(status, ("NEW", "CONVERTED", "LOST", "CLOSED"), "status"),
            assignee=r.me if assignee == "me" else assignee,
            created_from=since,
            created_to=until,
            has_orders=has_orders,
            search=search,
        )
        rows = r.leads(f, limit)
    if as_json:
        emit(True, [lead_json(row) for row in rows], "")
        return
    if not rows:
        typer.echo("no leads match")
        return
    typer.echo(LEAD_HEADER)
    for row in rows:
        typer.echo(describe_lead(row))


# --- orders ----------------------------------------------------------------------------------


def order_json(row: OrderRow) -> dict[str, Any]:
    data = asdict(row)
    data["total_text"] = format_money(row.total, row.currency)
    data["flagged"] = row.flagged
    return data


ORDER_HEADER = (
    f"{'ORDER':<16}  {'CUSTOMER':<22}  {'CHANNEL':<9}  {'STATUS':<9}  {'PAYMENT':<8}  "
    f"{'METHOD':<16}  {'TOTAL':>16}  CREATED"
)


def describe_order(row: OrderRow) -> str:
    method = row.payment_method + (f"·{row.payment_provider}" if row.payment_provider else "")
    columns = [
        f"{row.label:<16}",
        _cell(row.customer, 22),
        f"{CHANNEL_NAMES.get(row.channel, row.channel):<9}",
        f"{row.status:<9}",
        f"{row.payment_status:<8}",
        _cell(method, 16),
        f"{format_money(row.total, row.currency):>16}",
        row.created_at[:10],
    ]
    if row.flagged:
        columns.append("delivered unpaid!")
    return "  ".join(columns).rstrip()


def _order_lines(texts: list[str]) -> list[ItemInput]:
    """Order lines as typed (``NAME:QTY:UNIT_PRICE``)."""
    # It loads the wire format's models: only the commands that make orders need it.
    from inboop_tui.store.selling_actions import ItemInput

    return [ItemInput.parse(text) for text in texts]


@order_app.command("create")
def order_create(
    conv: ConvArgument,
    item: Annotated[
        list[str], typer.Option("--item", help="NAME:QUANTITY:UNIT_PRICE (repeat for each).")
    ],
    currency: Annotated[str, typer.Option(help="ISO-4217 code, e.g. INR.")],
    lead: Annotated[str | None, typer.Option(help="The lead it converts.")] = None,
    address: Annotated[str, typer.Option(help="Shipping address.")] = "",
    region: Annotated[str | None, typer.Option(help="Country code it ships to, e.g. IN.")] = None,
    cod: Annotated[bool, typer.Option("--cod", help="Cash on delivery.")] = False,
    provider: Annotated[str | None, typer.Option(help="STRIPE, RAZORPAY, MANUAL …")] = None,
    notes: Notes = None,
    assignee: Assignee = None,
    meta: Meta = None,
    as_json: JsonOption = False,
) -> None:
    """An order from a conversation. Payment settings never refuse it: they warn."""
    if cod and provider:
        raise fail("--cod and --provider exclude each other", 2)
    with replica() as r:
        row = r.find(conv)
        items = _order_lines(item)
        done = r.actions.create_order(
            row.id,
            items,
            currency,
            lead=lead,
            address=address,
            region=region,
            notes=notes or "",
            cod=cod,
            provider=provider,
            assignee=assignee,
            source="CLI",
            metadata=_values(meta),
        )
    order_id = str(done.entity_id)

    def said() -> str:
        with replica() as r:
            number = r.order(order_id).number
        return f"order {number} created" if number else f"order {order_id[:8]} created"

    report(as_json, done, row, what=said, extra={"order_id": order_id})


@order_app.command("status")
def order_status(
    order: OrderArgument,
    status: Annotated[str, typer.Argument(help="confirmed, shipped, delivered or cancelled.")],
    tracking: Annotated[str | None, typer.Option(help="Tracking number (with shipped).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move an order along: NEW → CONFIRMED → SHIPPED → DELIVERED, or CANCELLED before it ships."""
    with replica() as r:
        done = r.actions.set_order_status(order, status, tracking=tracking, source="CLI")
        label = r.order(str(done.entity_id)).label
    report(
        as_json, done, None, what=f"{label} {status.lower()}", extra={"order_id": done.entity_id}
    )


@order_app.command("pay")
def order_pay(
    order: OrderArgument,
    status: Annotated[str, typer.Argument(help="paid, or refunded (ADMIN).")],
    as_json: JsonOption = False,
) -> None:
    """Record the payment status (tracking only: nothing is charged)."""
    with replica() as r:
        done = r.actions.set_order_payment(order, status, source="CLI")
        label = r.order(str(done.entity_id)).label
    report(
        as_json, done, None, what=f"{label} {status.lower()}", extra={"order_id": done.entity_id}
    )


@order_app.command("edit")
def order_edit(
    order: OrderArgument,
    item: Annotated[
        list[str] | None, typer.Option("--item", help="Replace the items (before shipping).")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Shipping address (before shipping).")] = None,
    region: Annotated[str | None, typer.Option(help="Country code it ships to.")] = None,
    notes: Notes = None,
    cod: Annotated[bool | None, typer.Option("--cod/--online", help="Payment method.")] = None,
    provider: Annotated[str | None, typer.Option(help="Payment provider.")] = None,
    assignee: Assignee = None,
    unassign: Annotated[bool, typer.Option("--unassign")] = False,
    meta: Meta = None,
    as_json: JsonOption = False,
) -> None:
    """Change an order: items and address until it ships, payment and notes any time."""
    with replica() as r:
        done = r.actions.update_order(
            order,
            items=None if item is None else _order_lines(item),
            address=address,
            region=region,
            notes=notes,
            cod=cod,
            provider=provider,
            assignee=assignee,
            unassign=unassign,
            metadata=_metadata(meta, removals=True),
            source="CLI",
        )
    report(as_json, done, None, extra={"order_id": done.entity_id})


@order_app.command("show")
def order_show(order: OrderArgument, as_json: JsonOption = False) -> None:
    """An order: items, totals, shipping, payment and its timeline."""
    with replica() as r:
        row = r.order(order)
    if as_json:
        emit(True, order_json(row), "")
        return
    typer.echo(describe_order(row))
    for i in row.items:
        line = format_money(i["quantity"] * i["unit_price"], row.currency)
        typer.echo(
            f"  {i['quantity']} x {i['name']} @ {format_money(i['unit_price'], row.currency)} = {line}"
        )
    typer.echo(f"  total {format_money(row.total, row.currency)}")
    if row.shipping_address:
        typer.echo(f"ship to: {' '.join(row.shipping_address.split())}")
    if row.tracking_number:
        typer.echo(f"tracking: {row.tracking_number}")
    for warning in row.warnings:
        typer.echo(f"warning: {warning}")
    for entry in row.timeline:
        pending = " (pending)" if entry["pending"] else ""
        typer.echo(
            f"{entry['at'][:16].replace('T', ' ')}  {entry['actor']:<10} {entry['source']:<8} "
            f"{entry['description']}{pending}"
        )


@app.command()
def orders(
    status: Annotated[
        str | None, typer.Option(help="new, confirmed, shipped, delivered, cancelled.")
    ] = None,
    payment: Annotated[str | None, typer.Option(help="unpaid, paid or refunded.")] = None,
    method: Annotated[str | None, typer.Option(help="online or cod.")] = None,
    channel: Annotated[
        Channel | None, typer.Option(help="Only this channel.", case_sensitive=False)
    ] = None,
    assignee: Annotated[str | None, typer.Option(help="A teammate, me, or unassigned.")] = None,
    since: Annotated[str | None, typer.Option(help="Created on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Created on or before (YYYY-MM-DD).")] = None,
    search: Annotated[str, typer.Option(help="Number, customer, item names, tracking.")] = "",
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Orders, newest first."""
    with replica() as r:
        f = OrderFilter(
            status=_choice(
                status, ("NEW", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"), "status"
            ),
            payment=_choice(payment, ("UNPAID", "PAID", "REFUNDED"), "payment status"),
            method=_choice(method, ("ONLINE", "COD"), "method"),
            channel=channel.value if channel else None,
            assignee=r.me if assignee == "me" else assignee,
            created_from=since,
            created_to=until,
            search=search,
        )
        rows = r.orders(f, limit)
    if as_json:
        emit(True, [order_json(row) for row in rows], "")
        return
    if not rows:
        typer.echo("no orders match")
        return
    typer.echo(ORDER_HEADER)
    for row in rows:
        typer.echo(describe_order(row))


# --- payments --------------------------------------------------------------------------------


def payments_json(report_: PaymentsReport) -> dict[str, Any]:
    return {
        "by_status": [asdict(t) for t in report_.by_status],
        "by_method": [asdict(t) for t in report_.by_method],
        "by_provider": [asdict(t) for t in report_.by_provider],
        "outstanding_cod": [order_json(o) for o in report_.outstanding_cod],
        "delivered_unpaid": [order_json(o) for o in report_.delivered_unpaid],
    }


@app.command()
def payments(as_json: JsonOption = False) -> None:
    """Payment totals by status, method and provider per currency, and what is outstanding."""
    with replica() as r:
        found = r.payments()
    if as_json:
        emit(True, payments_json(found), "")
        return
    if not found.by_status:
        typer.echo("no orders yet")
        return
    for title, totals in (
        ("by payment status", found.by_status),
        ("by method", found.by_method),
        ("by provider", found.by_provider),
    ):
        typer.echo(title)
        for t in totals:
            typer.echo(f"  {t.key:<10} {t.count:>5}  {format_money(t.amount, t.currency):>18}")
    typer.echo(f"outstanding cash on delivery (shipped, unpaid): {len(found.outstanding_cod)}")
    for o in found.outstanding_cod:
        typer.echo("  " + describe_order(o))
    typer.echo(f"delivered but unpaid (flagged): {len(found.delivered_unpaid)}")
    for o in found.delivered_unpaid:
        typer.echo("  " + describe_order(o))


@app.command("payment-settings")
def payment_settings(
    provider: Annotated[
        list[str] | None, typer.Option("--provider", help="An enabled provider (repeat).")
    ] = None,
    default: Annotated[str | None, typer.Option(help="The default provider.")] = None,
    cod: Annotated[bool, typer.Option("--cod/--no-cod", help="Offer cash on delivery.")] = False,
    cod_region: Annotated[
        list[str] | None, typer.Option("--cod-region", help="A country code where COD is offered.")
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Only show the settings.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The workspace's payment settings (ADMIN to change; tracking only)."""
    with replica() as r:
        if show:
            config = r.payment_config()
            data = None if config is None else asdict(config)
            line = "payments are not set up yet" if config is None else _describe_config(data)
            emit(as_json, data, line)
            return
        done = r.actions.set_payment_config(
            provider or [], default=default, allow_cod=cod, cod_regions=cod_region or []
        )
    report(as_json, done, None)


def _describe_config(data: dict[str, Any] | None) -> str:
    assert data is not None
    providers = ", ".join(data["enabled_providers"]) or "none"
    cod = "off"
    if data["allow_cod"]:
        cod = "in " + ", ".join(data["cod_regions"]) if data["cod_regions"] else "everywhere"
    return f"providers: {providers}; default: {data['default_provider'] or 'none'}; COD: {cod}"


# --- contacts ----------------------------------------------------------------------------------


def contact_json(card: ContactCard) -> dict[str, Any]:
    data = asdict(card)
    data["orders"] = [order_json(o) for o in card.orders]
    return data


@contact_app.command("show")
def contact_show(conv: ConvArgument, as_json: JsonOption = False) -> None:
    """Name, handles per channel, phone, email, notes, orders and lifetime value."""
    with replica() as r:
        row = r.find(conv)
        card = r.contact(row.id)
    if card is None:
        raise fail(f"no contact for {conv}")
    if as_json:
        emit(True, contact_json(card), "")
        return
    typer.echo(f"{card.name}  ({card.id})")
    for h in card.handles:
        typer.echo(f"  {CHANNEL_NAMES.get(h.channel, h.channel):<9} {h.username or h.customer_id}")
    for label, value in (("phone", card.phone), ("email", card.email), ("notes", card.notes)):
        if value:
            typer.echo(f"{label}: {value}")
    for key, value in card.metadata.items():
        typer.echo(f"{key}: {value}")
    value = (
        ", ".join(format_money(a, c) for c, a in card.lifetime_value.items()) or "nothing paid yet"
    )
    typer.echo(f"lifetime value: {value}; {len(card.orders)} order(s)")


@contact_app.command("edit")
def contact_edit(
    conv: ConvArgument,
    name: Annotated[str | None, typer.Option(help="The name the team uses.")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    notes: Notes = None,
    meta: Meta = None,
    as_json: JsonOption = False,
) -> None:
    """Edit the contact behind a conversation (ADMIN)."""
    with replica() as r:
        row = r.find(conv)
        card = r.contact(row.id)
        if card is None:
            raise fail(f"no contact for {conv}")
        done = r.actions.update_contact(
            card.id,
            name=name,
            phone=phone,
            email=email,
            notes=notes,
            metadata=_metadata(meta, removals=True),
        )
    report(as_json, done, row)


@contact_app.command("merge")
def contact_merge(
    conv: ConvArgument,
    other: Annotated[str, typer.Argument(metavar="OTHER", help="Another conversation of theirs.")],
    as_json: JsonOption = False,
) -> None:
    """The person in OTHER is the person in CONV (say, on Instagram and WhatsApp) (ADMIN)."""
    with replica() as r:
        row, second = r.find(conv), r.find(other)
        keep, merged = r.contact(row.id), r.contact(second.id)
        if keep is None or merged is None:
            raise fail("both conversations need a contact")
        if keep.id == merged.id:
            raise fail("they are the same contact already")
        done = r.actions.merge_contacts(keep.id, merged.id)
    report(as_json, done, row)


@app.command()
def contacts(
    search: Annotated[str, typer.Option(help="Name, handle, phone, email or notes.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Contacts, by name."""
    with replica() as r:
        rows = r.contacts(search)
    if as_json:
        emit(True, [asdict(row) for row in rows], "")
        return
    if not rows:
        typer.echo("no contacts match")
    for row in rows:
        merged = f"  merged into {row.merged_into}" if row.merged_into else ""
        typer.echo(
            f"{row.id}  {_cell(row.name, 24)}  {CHANNEL_NAMES.get(row.channel, row.channel):<9}  "
            f"{_cell(row.handle, 20)}  {row.phone or ''}{merged}".rstrip()
        )


@app.command()
def meta(
    conv: ConvArgument,
    pairs: Annotated[list[str], typer.Argument(metavar="KEY=VALUE", help="KEY= removes a key.")],
    as_json: JsonOption = False,
) -> None:
    """Set metadata on a conversation (free keys and values)."""
    with replica() as r:
        row = r.find(conv)
        done = r.actions.set_conversation_metadata(row.id, _metadata(pairs, removals=True))
    report(as_json, done, row)


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if value is None:
        return None
    wanted = value.strip().upper()
    if wanted not in allowed:
        raise fail(f"{value!r} is not a {what}: use {', '.join(a.lower() for a in allowed)}", 2)
    return wanted

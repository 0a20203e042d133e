"""The contact panel beside the thread: who the customer is across channels, what the team
keeps about them, their orders and what they have paid (per currency)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from inboop_tui.domain.money import format_money

if TYPE_CHECKING:
    from inboop_tui.store.selling_queries import ContactCard

CHANNEL_NAMES = {"INSTAGRAM": "Instagram", "WHATSAPP": "WhatsApp", "MESSENGER": "Messenger"}


def render_contact(card: ContactCard | None) -> Text:
    if card is None:
        return Text("No contact yet.", style="dim")
    text = Text()
    text.append(card.name, style="bold")
    for handle in card.handles:
        text.append(f"\n{CHANNEL_NAMES.get(handle.channel, handle.channel)}: ", style="dim")
        text.append(handle.username or handle.customer_id)
    for label, value in (("phone", card.phone), ("email", card.email)):
        if value:
            text.append(f"\n{label}: ", style="dim")
            text.append(value)
    if card.notes:
        text.append("\n\n")
        text.append(card.notes)
    for key, value in sorted(card.metadata.items()):
        text.append(f"\n{key}: ", style="dim")
        text.append(value)
    if card.conversation_metadata:
        text.append("\n\nthis conversation", style="bold")
        for key, value in sorted(card.conversation_metadata.items()):
            text.append(f"\n{key}: ", style="dim")
            text.append(value)
    text.append("\n\nlifetime value", style="bold")
    if card.lifetime_value:
        for currency, amount in card.lifetime_value.items():
            text.append(f"\n  {format_money(amount, currency)}", style="green")
    else:
        text.append("\n  nothing paid yet", style="dim")
    text.append(f"\n\norders  {len(card.orders)}", style="bold")
    for order in card.orders[:12]:
        text.append(f"\n  {order.label}  ", style="cyan")
        text.append(f"{order.status.lower()} · {order.payment_status.lower()}  ", style="dim")
        text.append(format_money(order.total, order.currency))
    text.append("\n\nK hides · ADMINs edit and merge from the palette", style="dim")
    return text

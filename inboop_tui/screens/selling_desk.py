"""The selling actions as the screens offer them: the dialog to fill, then the action.

Shared by the Inbox, Leads, Orders and Payments screens so a key does the same thing wherever
it is pressed. Every dialog is built from replica data in a worker (``prepare_dialog``) and
every change runs through ``act`` (a worker, one transaction); nothing here touches SQL.
"""

from __future__ import annotations

from typing import Any

from inboop_tui.domain.money import format_amount
from inboop_tui.domain.selling import FULFILMENT_NEXT, PAYMENT_NEXT
from inboop_tui.screens.acting import ActingScreen
from inboop_tui.screens.selling_dialogs import (
    ContactDialog,
    ContactForm,
    LeadDialog,
    LeadForm,
    MetadataDialog,
    OrderDialog,
    OrderForm,
    OrderStatusDialog,
    PaymentSettings,
    PaymentSettingsDialog,
    PickDialog,
    Reason,
    ReasonDialog,
    StatusChoice,
)
from inboop_tui.store.door import ActionError
from inboop_tui.store.replica import Replica
from inboop_tui.store.rows import ConversationRow
from inboop_tui.store.selling_actions import ItemInput
from inboop_tui.store.selling_queries import LeadRow, OrderRow
from relay.protocol import DEFAULT_PROVIDERS


class SellingDesk:
    def __init__(self, screen: ActingScreen, replica: Replica, source: str) -> None:
        self.screen = screen
        self.replica = replica
        self.source = source  # INBOX | LEADS | ORDERS | PAYMENTS: the order timeline says

    def _team(self) -> list[str]:
        return [m.name for m in self.replica.team()]

    def _currency(self) -> str:
        """The currency of the newest order, as a default for the next one."""
        found = self.replica.orders_currency()
        return found or ""

    # --- leads ---------------------------------------------------------------------------

    def next_step(self, row: ConversationRow) -> None:
        """The inbox's ``$``: a lead when the conversation has none NEW, else an order for it."""
        if row.lead_id:
            self.new_order(row.id, row.display_name, lead_id=row.lead_id)
        else:
            self.new_lead(row)

    def new_lead(self, row: ConversationRow) -> None:
        self.screen.prepare_dialog(
            lambda: LeadDialog(
                row.display_name,
                self._team(),
                currency=self._currency(),
                superseding=row.lead_id is not None,
            ),
            lambda form: self._lead_made(row, form),
        )

    def _lead_made(self, row: ConversationRow, form: LeadForm | None) -> None:
        if form is None:
            return
        self.screen.act(
            lambda a: a.create_lead(
                row.id,
                value=form.value,
                currency=form.currency,
                notes=form.notes,
                assignee=form.assignee,
            ),
            note=f"Lead created for {row.display_name}.",
        )

    def edit_lead(self, lead: LeadRow) -> None:
        if lead.status != "NEW":
            self.screen.notify(f"This lead is {lead.status}: closed leads are read-only.")
            return
        value = (
            format_amount(lead.value_amount, lead.value_currency).replace(",", "")
            if lead.value_amount is not None and lead.value_currency
            else None
        )
        current = LeadForm(value, lead.value_currency, lead.notes, lead.assignee)
        self.screen.prepare_dialog(
            lambda: LeadDialog(lead.customer, self._team(), existing=current),
            lambda form: self._lead_edited(lead, form),
        )

    def _lead_edited(self, lead: LeadRow, form: LeadForm | None) -> None:
        if form is None:
            return
        self.screen.act(
            lambda a: a.update_lead(
                lead.id,
                value=form.value,
                currency=form.currency,
                clear_value=form.value is None and lead.value_amount is not None,
                notes=form.notes,
                assignee=form.assignee,
                unassign=form.assignee is None and lead.assignee is not None,
            ),
            note="Lead saved.",
        )

    def lead_metadata(self, lead: LeadRow) -> None:
        if lead.status != "NEW":
            self.screen.notify(f"This lead is {lead.status}: closed leads are read-only.")
            return

        def chosen(changes: Any) -> None:
            if changes:
                self.screen.act(
                    lambda a: a.update_lead(lead.id, metadata=changes), note="Metadata saved."
                )

        self.screen.app.push_screen(
            MetadataDialog(f"the lead of {lead.customer}", lead.metadata), chosen
        )

    def close_lead(self, lead: LeadRow, status: str) -> None:
        if lead.status != "NEW":
            self.screen.notify(f"This lead is {lead.status} already.")
            return
        self.screen.app.push_screen(
            ReasonDialog(f"the lead of {lead.customer}", status),
            lambda reason: self._lead_closed(lead, reason),
        )

    def _lead_closed(self, lead: LeadRow, reason: Reason | None) -> None:
        if reason is not None:
            self.screen.act(
                lambda a: a.close_lead(lead.id, reason.status, reason.text),
                note=f"Lead marked {reason.status.lower()}.",
            )

    # --- orders --------------------------------------------------------------------------

    def new_order(
        self,
        conversation_id: str | None,
        customer: str = "",
        *,
        lead_id: str | None = None,
        currency: str = "",
        items: tuple[ItemInput, ...] = (),
        cart_message_id: str | None = None,
    ) -> None:
        """The order form; without a conversation (the Orders screen) it asks for the customer."""
        title = f"New order for {customer}" if conversation_id else "New order"

        def build() -> OrderDialog:
            config = self.replica.payment_config()
            lead_currency = self.replica.lead(lead_id).value_currency if lead_id else None
            return OrderDialog(
                title,
                ask_conversation=conversation_id is None,
                find_customer=self._customer_problem,
                currency=currency or lead_currency or self._currency(),
                items=items,
                providers=config.enabled_providers if config else (),
                provider=(config.default_provider or "") if config else "",
            )

        self.screen.prepare_dialog(
            build, lambda form: self._order_made(conversation_id, lead_id, form, cart_message_id)
        )

    def _customer_problem(self, text: str) -> str | None:
        """What is wrong with a customer typed in the order form (None: exactly one matches)."""
        try:
            self.replica.find(text)
        except ActionError as exc:
            return (
                str(exc)
                .replace(" (`inboop conversations`)", "")
                .replace("try its id", "type a name, handle or phone from the inbox")
            )
        return None

    def order_from_cart(self, row: ConversationRow) -> None:
        """The customer's newest WhatsApp cart, as a pre-filled order form (the agent decides:
        a channel never makes an order by itself)."""

        def build() -> OrderDialog:
            cart = self.replica.latest_cart(row.id)
            if cart is None:
                raise ActionError(
                    "this conversation has no cart: customers send one from the catalog"
                )
            items = tuple(
                ItemInput(
                    str(i["retailer_id"]),
                    int(i["quantity"]),
                    str(i["item_price"]),
                    str(i["retailer_id"]),
                )
                for i in cart.items
            )
            currencies = {str(i.get("currency") or "") for i in cart.items}
            currency = currencies.pop() if len(currencies) == 1 else ""
            config = self.replica.payment_config()
            found.append(cart.message_id)
            return OrderDialog(
                f"Order from {row.display_name}'s cart",
                currency=currency,
                items=items,
                providers=config.enabled_providers if config else (),
                provider=(config.default_provider or "") if config else "",
                warnings=["Name the items as you like: the catalog ids stay with them."],
            )

        found: list[str] = []
        self.screen.prepare_dialog(
            build,
            lambda form: self._order_made(row.id, row.lead_id, form, found[0] if found else None),
        )

    def _order_made(
        self,
        conversation_id: str | None,
        lead_id: str | None,
        form: OrderForm | None,
        cart_message_id: str | None = None,
    ) -> None:
        if form is None:
            return

        def create(actions: Any) -> Any:
            target = conversation_id or self.replica.find(form.conversation or "").id
            return actions.create_order(
                target,
                form.items,
                form.currency,
                lead=lead_id,
                address=form.address,
                region=form.region,
                notes=form.notes,
                cod=form.cod,
                provider=None if form.cod else form.provider,
                source=self.source,
                cart_message_id=cart_message_id,
            )

        self.screen.act(create, note="Order created.")

    def edit_order(self, order: OrderRow) -> None:
        editable = order.status in ("NEW", "CONFIRMED")
        items = tuple(
            ItemInput(
                i["name"],
                i["quantity"],
                format_amount(i["unit_price"], order.currency).replace(",", ""),
                i.get("retailer_id"),
            )
            for i in order.items
        )
        warnings = [] if editable else [f"{order.label} has shipped: its items and address stay."]

        def build() -> OrderDialog:
            config = self.replica.payment_config()
            return OrderDialog(
                f"Edit {order.label}",
                currency=order.currency,
                items=items,
                address=order.shipping_address,
                region=order.region or "",
                notes=order.notes,
                cod=order.payment_method == "COD",
                provider=order.payment_provider or "",
                providers=config.enabled_providers if config else (),
                warnings=warnings,
                locked=not editable,
            )

        self.screen.prepare_dialog(build, lambda form: self._order_edited(order, form, editable))

    def _order_edited(self, order: OrderRow, form: OrderForm | None, editable: bool) -> None:
        if form is None:
            return
        old_cod = order.payment_method == "COD"
        self.screen.act(
            lambda a: a.update_order(
                order.id,
                items=form.items if editable else None,
                address=form.address
                if editable and form.address != order.shipping_address
                else None,
                region=form.region if editable and form.region != order.region else None,
                notes=form.notes if form.notes != order.notes else None,
                cod=form.cod if form.cod != old_cod else None,
                provider=form.provider if form.provider != order.payment_provider else None,
                source=self.source,
            ),
            note=f"{order.label} saved.",
        )

    def move_order(self, order: OrderRow) -> None:
        """Offer only the transitions the order allows."""
        allowed = FULFILMENT_NEXT.get(order.status, ())
        if not allowed:
            self.screen.notify(f"{order.label} is {order.status}: nothing follows.")
            return
        self.screen.app.push_screen(
            OrderStatusDialog(order.label, order.status, allowed),
            lambda choice: self._moved(order, choice),
        )

    def advance(self, order: OrderRow) -> None:
        """One step along (the board's ``>``); shipping asks for the tracking number."""
        forward = [s for s in FULFILMENT_NEXT.get(order.status, ()) if s != "CANCELLED"]
        if not forward:
            self.screen.notify(f"{order.label} is {order.status}: nothing follows.")
        elif forward[0] == "SHIPPED":
            self.screen.app.push_screen(
                OrderStatusDialog(order.label, order.status, ("SHIPPED",)),
                lambda choice: self._moved(order, choice),
            )
        else:
            self._moved(order, StatusChoice(forward[0]))

    def cancel(self, order: OrderRow) -> None:
        if "CANCELLED" not in FULFILMENT_NEXT.get(order.status, ()):
            self.screen.notify(f"{order.label} is {order.status}: it can no longer be cancelled.")
            return
        self._moved(order, StatusChoice("CANCELLED"))

    def _moved(self, order: OrderRow, choice: StatusChoice | None) -> None:
        if choice is not None:
            self.screen.act(
                lambda a: a.set_order_status(
                    order.id, choice.status, tracking=choice.tracking, source=self.source
                ),
                note=f"{order.label}: {choice.status.lower()}.",
            )

    def pay(self, order: OrderRow, status: str = "PAID") -> None:
        if order.payment_status == status:
            self.screen.notify(f"{order.label} is {status.lower()} already.")
            return
        if status not in PAYMENT_NEXT.get(order.payment_status, ()):
            self.screen.notify(
                f"{order.label} is {order.payment_status}: it cannot become {status}.",
                severity="warning",
            )
            return
        self.screen.act(
            lambda a: a.set_order_payment(order.id, status, source=self.source),
            note=f"{order.label}: {status.lower()}.",
        )

    def order_metadata(self, order: OrderRow) -> None:
        def chosen(changes: Any) -> None:
            if changes:
                self.screen.act(
                    lambda a: a.update_order(order.id, metadata=changes, source=self.source),
                    note="Metadata saved.",
                )

        self.screen.app.push_screen(MetadataDialog(order.label, order.metadata), chosen)

    def payment_settings(self) -> None:
        def build() -> PaymentSettingsDialog:
            if not self.replica.is_admin():
                raise ActionError("only an ADMIN may change the payment settings")
            config = self.replica.payment_config()
            current = (
                None
                if config is None
                else PaymentSettings(
                    config.enabled_providers,
                    config.default_provider,
                    config.allow_cod,
                    config.cod_regions,
                )
            )
            return PaymentSettingsDialog(current, DEFAULT_PROVIDERS)

        self.screen.prepare_dialog(build, self._settings_chosen)

    def _settings_chosen(self, chosen: PaymentSettings | None) -> None:
        if chosen is not None:
            self.screen.act(
                lambda a: a.set_payment_config(
                    chosen.providers,
                    default=chosen.default,
                    allow_cod=chosen.allow_cod,
                    cod_regions=chosen.cod_regions,
                ),
                note="Payment settings saved.",
            )

    def edit_contact(self, row: ConversationRow) -> None:
        card_id: list[str] = []  # read with the dialog's data, used when it closes

        def build() -> ContactDialog:
            if not self.replica.is_admin():
                raise ActionError("only an ADMIN may edit a contact")
            card = self.replica.contact(row.id)
            if card is None:
                raise ActionError("this conversation has no contact yet")
            card_id.append(card.id)
            return ContactDialog(
                ContactForm(card.name, card.phone or "", card.email or "", card.notes)
            )

        self.screen.prepare_dialog(build, lambda form: self._contact_saved(row, card_id[0], form))

    def _contact_saved(
        self, row: ConversationRow, contact_id: str, form: ContactForm | None
    ) -> None:
        if form is None:
            return
        self.screen.act(
            lambda a: a.update_contact(
                contact_id, name=form.name, phone=form.phone, email=form.email, notes=form.notes
            ),
            note=f"Contact {form.name or row.display_name} saved.",
        )

    def merge_contact(self, row: ConversationRow) -> None:
        """The same person elsewhere (Instagram and WhatsApp, say): pick their other contact."""
        card_id: list[str] = []

        def build() -> PickDialog:
            if not self.replica.is_admin():
                raise ActionError("only an ADMIN may merge contacts")
            card = self.replica.contact(row.id)
            if card is None:
                raise ActionError("this conversation has no contact yet")
            card_id.append(card.id)
            mine = {h.contact_id for h in card.handles}
            choices = [
                (c.id, f"{c.name}  ·  {c.channel.title()} {c.handle}")
                for c in self.replica.contacts()
                if c.id not in mine and c.merged_into is None
            ]
            return PickDialog(
                f"Who else is {card.name}?", choices, "There is no other contact to merge."
            )

        self.screen.prepare_dialog(build, lambda other: self._merge_chosen(card_id[0], other))

    def _merge_chosen(self, keep: str, other: str | None) -> None:
        if other is not None:
            self.screen.act(lambda a: a.merge_contacts(keep, other), note="Contacts merged.")

    def contact_metadata(self, row: ConversationRow) -> None:
        card_id: list[str] = []

        def build() -> MetadataDialog:
            if not self.replica.is_admin():
                raise ActionError("only an ADMIN may edit a contact")
            card = self.replica.contact(row.id)
            if card is None:
                raise ActionError("this conversation has no contact yet")
            card_id.append(card.id)
            return MetadataDialog(card.name, card.metadata)

        def chosen(changes: Any) -> None:
            if changes:
                contact_id = card_id[0]
                self.screen.act(
                    lambda a: a.update_contact(contact_id, metadata=changes), note="Metadata saved."
                )

        self.screen.prepare_dialog(build, chosen)

    def conversation_metadata(self, row: ConversationRow) -> None:
        def build() -> MetadataDialog:
            return MetadataDialog(row.display_name, self.replica.conversation_metadata(row.id))

        def chosen(changes: dict[str, str | None] | None) -> None:
            if changes:
                self.screen.act(
                    lambda a: a.set_conversation_metadata(row.id, changes), note="Metadata saved."
                )

        self.screen.prepare_dialog(build, chosen)

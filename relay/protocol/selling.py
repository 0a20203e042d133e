"""Selling: leads, orders, payment status and contacts, as mutations in the log.

Money is an integer amount in the currency's minor unit (paise, cents, fils) with its ISO-4217
code; never a float. The rules every replica applies (``inboop_tui.domain.selling``) and the
relay's named entries (``OrderCreated`` …) share the transition tables here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from relay.protocol.events import _Model
from relay.protocol.mutations import CONVERSATION_ID, MUTATION_ID, USER_NAME, _Mutation
from relay.protocol.plain import CURRENCY_DIGITS, MAX_AMOUNT

MAX_ITEMS = 200
MAX_TEXT = 4000
PROVIDER = r"^[A-Z][A-Z0-9_]{1,31}$"
COUNTRY = r"^[A-Z]{2}$"
META_KEY = r"^[A-Za-z0-9_.-]{1,64}$"
DEFAULT_PROVIDERS = ("STRIPE", "RAZORPAY", "MANUAL")


class LeadStatus(StrEnum):
    NEW = "NEW"
    CONVERTED = "CONVERTED"
    LOST = "LOST"
    CLOSED = "CLOSED"


class Fulfilment(StrEnum):
    NEW = "NEW"
    CONFIRMED = "CONFIRMED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


class PaymentStatus(StrEnum):
    UNPAID = "UNPAID"
    PAID = "PAID"
    REFUNDED = "REFUNDED"


class PaymentMethod(StrEnum):
    ONLINE = "ONLINE"
    COD = "COD"


class Source(StrEnum):
    """Where in the app a change was made (the order timeline shows it)."""

    INBOX = "INBOX"
    LEADS = "LEADS"
    ORDERS = "ORDERS"
    PAYMENTS = "PAYMENTS"
    CLI = "CLI"


# Fulfilment moves along these, and nowhere else; DELIVERED and CANCELLED are terminal.
FULFILMENT_NEXT: dict[str, tuple[str, ...]] = {
    "NEW": ("CONFIRMED", "CANCELLED"),
    "CONFIRMED": ("SHIPPED", "CANCELLED"),
    "SHIPPED": ("DELIVERED",),
    "DELIVERED": (),
    "CANCELLED": (),
}
PAYMENT_NEXT: dict[str, tuple[str, ...]] = {
    "UNPAID": ("PAID",),
    "PAID": ("REFUNDED",),
    "REFUNDED": (),
}
# Items and the shipping address change only before the order ships.
EDITABLE_ITEMS = frozenset({"NEW", "CONFIRMED"})


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
Metadata = dict[Annotated[str, Field(pattern=META_KEY)], Annotated[str, Field(max_length=1000)]]
# A metadata change: a key set to a value, or to None to remove it.
MetadataChange = dict[
    Annotated[str, Field(pattern=META_KEY)], Annotated[str, Field(max_length=1000)] | None
]


def _known_currency(value: str) -> str:
    if value not in CURRENCY_DIGITS:
        raise ValueError(f"{value} is not an ISO-4217 currency")
    return value


class Money(_Model):
    amount: Amount  # minor units
    currency: Currency

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return _known_currency(value)


class OrderItem(_Model):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Annotated[int, Field(ge=1, le=100_000)]
    unit_price: Amount  # minor units of the order's currency
    retailer_id: Annotated[str, Field(max_length=100)] | None = None  # a catalog product


class LeadCreatePayload(_Model):
    lead_id: Annotated[str, Field(pattern=MUTATION_ID)]
    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID)]
    value: Money | None = None
    notes: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    assignee: Annotated[str, Field(pattern=USER_NAME)] | None = None
    metadata: Metadata = {}


class LeadUpdatePayload(_Model):
    """Fields of a NEW lead; those left out (or None) stay as they are."""

    lead_id: Annotated[str, Field(pattern=MUTATION_ID)]
    value: Money | None = None
    clear_value: bool = False
    notes: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    assignee: Annotated[str, Field(pattern=USER_NAME)] | None = None
    unassign: bool = False
    metadata: MetadataChange = {}


class LeadClosePayload(_Model):
    lead_id: Annotated[str, Field(pattern=MUTATION_ID)]
    status: Literal["LOST", "CLOSED"]
    reason: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class OrderCreatePayload(_Model):
    order_id: Annotated[str, Field(pattern=MUTATION_ID)]
    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID)]
    lead_id: Annotated[str, Field(pattern=MUTATION_ID)] | None = None
    items: Annotated[tuple[OrderItem, ...], Field(min_length=1, max_length=MAX_ITEMS)]
    currency: Currency
    shipping_address: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    region: Annotated[str, Field(pattern=COUNTRY)] | None = None  # where it ships (COD rules)
    notes: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    payment_method: PaymentMethod = PaymentMethod.ONLINE
    payment_provider: Annotated[str, Field(pattern=PROVIDER)] | None = None
    assignee: Annotated[str, Field(pattern=USER_NAME)] | None = None
    source: Source = Source.INBOX
    cart_message_id: Annotated[str, Field(max_length=256)] | None = None
    metadata: Metadata = {}

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return _known_currency(value)

    @model_validator(mode="after")
    def _total_fits(self) -> OrderCreatePayload:
        if order_total(self.items) > MAX_AMOUNT:
            raise ValueError("the order's total is too large")
        return self


class OrderUpdatePayload(_Model):
    """An edit; fields left out (None) stay. Items and address only before SHIPPED."""

    order_id: Annotated[str, Field(pattern=MUTATION_ID)]
    items: Annotated[tuple[OrderItem, ...], Field(min_length=1, max_length=MAX_ITEMS)] | None = None
    shipping_address: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    region: Annotated[str, Field(pattern=COUNTRY)] | None = None
    notes: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    payment_method: PaymentMethod | None = None
    payment_provider: Annotated[str, Field(pattern=PROVIDER)] | None = None
    assignee: Annotated[str, Field(pattern=USER_NAME)] | None = None
    unassign: bool = False
    metadata: MetadataChange = {}
    source: Source = Source.ORDERS

    @model_validator(mode="after")
    def _total_fits(self) -> OrderUpdatePayload:
        if self.items is not None and order_total(self.items) > MAX_AMOUNT:
            raise ValueError("the order's total is too large")
        return self


class OrderStatusPayload(_Model):
    order_id: Annotated[str, Field(pattern=MUTATION_ID)]
    status: Literal["CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"]
    tracking_number: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    source: Source = Source.ORDERS

    @model_validator(mode="after")
    def _tracking_when_shipped(self) -> OrderStatusPayload:
        if self.tracking_number is not None and self.status != "SHIPPED":
            raise ValueError("a tracking number goes with SHIPPED")
        return self


class OrderPaymentPayload(_Model):
    order_id: Annotated[str, Field(pattern=MUTATION_ID)]
    status: Literal["PAID", "REFUNDED"]
    source: Source = Source.ORDERS


class PaymentConfigPayload(_Model):
    """The workspace's payment settings (tracking only: nothing is charged)."""

    enabled_providers: tuple[Annotated[str, Field(pattern=PROVIDER)], ...] = ()
    default_provider: Annotated[str, Field(pattern=PROVIDER)] | None = None
    allow_cod: bool = False
    cod_regions: tuple[Annotated[str, Field(pattern=COUNTRY)], ...] = ()  # empty: everywhere

    @model_validator(mode="after")
    def _default_enabled(self) -> PaymentConfigPayload:
        if len(set(self.enabled_providers)) != len(self.enabled_providers):
            raise ValueError("a provider is listed twice")
        if (
            self.default_provider is not None
            and self.default_provider not in self.enabled_providers
        ):
            raise ValueError("the default provider must be one of the enabled providers")
        return self


class ContactUpdatePayload(_Model):
    """A contact's details as the team keeps them; fields left out (None) stay."""

    contact_id: Annotated[str, Field(pattern=r"^ct_[0-9a-f]{24}$")]
    name: Annotated[str, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=50)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    notes: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    metadata: MetadataChange = {}


class ContactMergePayload(_Model):
    """``merged_id`` is the same person as ``contact_id``: its conversations join that contact."""

    contact_id: Annotated[str, Field(pattern=r"^ct_[0-9a-f]{24}$")]
    merged_id: Annotated[str, Field(pattern=r"^ct_[0-9a-f]{24}$")]

    @model_validator(mode="after")
    def _two(self) -> ContactMergePayload:
        if self.contact_id == self.merged_id:
            raise ValueError("a contact cannot be merged into itself")
        return self


class ConversationMetadataPayload(_Model):
    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID)]
    metadata: MetadataChange


class CreateLead(_Mutation):
    type: Literal["lead.create"] = "lead.create"
    payload: LeadCreatePayload


class UpdateLead(_Mutation):
    type: Literal["lead.update"] = "lead.update"
    payload: LeadUpdatePayload


class CloseLead(_Mutation):
    type: Literal["lead.close"] = "lead.close"
    payload: LeadClosePayload


class CreateOrder(_Mutation):
    type: Literal["order.create"] = "order.create"
    payload: OrderCreatePayload


class UpdateOrder(_Mutation):
    type: Literal["order.update"] = "order.update"
    payload: OrderUpdatePayload


class SetOrderStatus(_Mutation):
    type: Literal["order.status"] = "order.status"
    payload: OrderStatusPayload


class SetOrderPayment(_Mutation):
    type: Literal["order.payment"] = "order.payment"
    payload: OrderPaymentPayload


class SetPaymentConfig(_Mutation):
    type: Literal["workspace.payments"] = "workspace.payments"
    payload: PaymentConfigPayload


class UpdateContact(_Mutation):
    type: Literal["contact.update"] = "contact.update"
    payload: ContactUpdatePayload


class MergeContacts(_Mutation):
    type: Literal["contact.merge"] = "contact.merge"
    payload: ContactMergePayload


class SetConversationMetadata(_Mutation):
    type: Literal["conversation.metadata"] = "conversation.metadata"
    payload: ConversationMetadataPayload


SELLING_MUTATIONS = (
    CreateLead,
    UpdateLead,
    CloseLead,
    CreateOrder,
    UpdateOrder,
    SetOrderStatus,
    SetOrderPayment,
    SetPaymentConfig,
    UpdateContact,
    MergeContacts,
    SetConversationMetadata,
)


def order_total(items: tuple[OrderItem, ...] | list[OrderItem]) -> int:
    return sum(item.quantity * item.unit_price for item in items)


# Entries the relay appends after the mutation that caused them, for outbound webhooks later.
class OrderCreated(_Model):
    type: Literal["OrderCreated"] = "OrderCreated"
    order_id: str
    number: str
    conversation_id: str
    lead_id: str | None = None
    mutation_id: str


class LeadConverted(_Model):
    type: Literal["LeadConverted"] = "LeadConverted"
    lead_id: str
    order_id: str
    conversation_id: str
    mutation_id: str


class OrderDelivered(_Model):
    type: Literal["OrderDelivered"] = "OrderDelivered"
    order_id: str
    number: str
    conversation_id: str
    mutation_id: str


DomainEvent = OrderCreated | LeadConverted | OrderDelivered
DOMAIN_EVENT_TYPES: frozenset[str] = frozenset({"OrderCreated", "LeadConverted", "OrderDelivered"})
FIRST_ORDER_NUMBER = 1001


def order_number(position: int) -> str:
    """The Nth order the log accepted (1-based) is ORD-(1000+N)."""
    return f"ORD-{FIRST_ORDER_NUMBER - 1 + position}"

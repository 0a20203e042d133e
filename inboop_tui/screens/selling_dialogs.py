"""Dialogs for selling: a lead, an order, a reason, shipping, payment settings, a contact.

Like the inbox's dialogs they return the person's choice (or ``None``) and never touch the
replica. Forms check what they can as people type (an amount, a currency, an item line) with
the same rules the actions use, so a mistake is shown in the form, not after it closes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, OptionList, Static, Switch, TextArea
from textual.widgets.option_list import Option

from inboop_tui.domain.money import MoneyError, currency_of, format_money, parse_amount
from inboop_tui.screens.dialogs import _css, plain
from inboop_tui.store.door import ActionError
from inboop_tui.store.selling_actions import ItemInput

T = TypeVar("T")

FORM_CSS = """
{name} > Vertical {{ width: 76; }}
{name} Input {{ margin-bottom: 0; }}
{name} TextArea {{ height: 6; }}
{name} .row {{ height: auto; }}
{name} .row > Label {{ width: 16; padding: 1 1 0 0; }}
{name} .row > Input {{ width: 1fr; }}
{name} VerticalScroll {{ height: auto; max-height: 30; }}
"""


def _form_css(name: str) -> str:
    return _css(name) + FORM_CSS.format(name=name)


class _Form(ModalScreen[T | None]):
    """Ctrl+S saves (Enter in a one-line field too); Esc cancels; errors show in the form."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def error(self, text: str) -> None:
        self.query_one("#error", Static).update(plain(text))

    def value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)


def _field(label: str, name: str, value: str = "", placeholder: str = "") -> Horizontal:
    return Horizontal(
        Label(label), Input(value=value, placeholder=placeholder, id=name), classes="row"
    )


# --- leads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadForm:
    value: str | None
    currency: str | None
    notes: str
    assignee: str | None


class LeadDialog(_Form[LeadForm]):
    """Create a lead (or edit a NEW one): value estimate, notes, assignee."""

    DEFAULT_CSS = _form_css("LeadDialog")

    def __init__(
        self,
        customer: str,
        team: Sequence[str],
        *,
        currency: str = "",
        existing: LeadForm | None = None,
        superseding: bool = False,
    ) -> None:
        super().__init__()
        self._customer = customer
        self._team = list(team)
        self._currency = currency
        self._existing = existing
        self._superseding = superseding

    def compose(self) -> ComposeResult:
        e = self._existing
        title = "Edit the lead of" if e else "New lead for"
        with Vertical():
            yield Label(plain(f"{title} {self._customer}", "bold"), classes="title")
            yield _field("Value", "value", (e.value or "") if e else "", "estimate, e.g. 2998.50")
            yield _field(
                "Currency", "currency", (e.currency if e else None) or self._currency, "INR, USD…"
            )
            yield _field("Assignee", "assignee", (e.assignee or "") if e else "", "a teammate")
            yield Label("Notes")
            yield TextArea(e.notes if e else "", id="notes", soft_wrap=True)
            yield Static("", classes="error", id="error")
            hint = "Ctrl+S saves · Esc cancels"
            if self._superseding:
                hint = "The conversation's NEW lead will be closed as superseded. " + hint
            team = ", ".join(self._team) or "none known yet"
            yield Label(plain(f"{hint}\nteam: {team}"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    def action_save(self) -> None:
        value, currency = self.value("value") or None, self.value("currency") or None
        if value is not None:
            try:
                parse_amount(value, currency_of(currency or ""))
            except MoneyError as exc:
                self.error(str(exc))
                return
        assignee = self.value("assignee").lstrip("@") or None
        if assignee is not None and self._team and assignee not in self._team:
            self.error(f"no teammate named {assignee!r}")
            return
        notes = self.query_one("#notes", TextArea).text.strip()
        self.dismiss(LeadForm(value, currency, notes, assignee))


@dataclass(frozen=True)
class Reason:
    status: str  # LOST | CLOSED
    text: str


class ReasonDialog(_Form[Reason]):
    """Why a lead is lost or closed."""

    DEFAULT_CSS = _form_css("ReasonDialog")

    def __init__(self, what: str, status: str) -> None:
        super().__init__()
        self._what = what
        self._status = status

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(f"Mark {self._what} {self._status.lower()}", "bold"), classes="title")
            yield Input(placeholder="why (bought elsewhere, no reply, duplicate…)", id="reason")
            yield Static("", classes="error", id="error")
            yield Label("Closed leads are read-only. Enter saves · Esc cancels", classes="hint")

    def action_save(self) -> None:
        text = self.value("reason")
        if not text:
            self.error("Say why.")
            return
        self.dismiss(Reason(self._status, text))


# --- orders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderForm:
    conversation: str | None  # typed on the Orders screen; None when the order has one
    items: tuple[ItemInput, ...]
    currency: str
    address: str
    region: str | None
    notes: str
    cod: bool
    provider: str | None


def parse_items(text: str, currency: str) -> tuple[ItemInput, ...]:
    """One item per line, ``NAME:QTY:UNIT_PRICE`` (as on the command line)."""
    items = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            item = ItemInput.parse(line)
        except ActionError as exc:
            raise MoneyError(str(exc)) from None
        try:
            parse_amount(item.unit_price, currency)
        except MoneyError as exc:
            raise MoneyError(f"{item.name}: {exc}") from None
        items.append(item)
    if not items:
        raise MoneyError("add at least one item: NAME:QTY:UNIT_PRICE, one per line")
    return tuple(items)


class OrderDialog(_Form[OrderForm]):
    """A new order (or the items, address and payment of one not shipped yet)."""

    DEFAULT_CSS = _form_css("OrderDialog") + "OrderDialog #items { height: 5; }"

    def __init__(
        self,
        title: str,
        *,
        ask_conversation: bool = False,
        currency: str = "",
        items: Sequence[ItemInput] = (),
        address: str = "",
        region: str = "",
        notes: str = "",
        cod: bool = False,
        provider: str = "",
        providers: Sequence[str] = (),
        warnings: Sequence[str] = (),
        locked: bool = False,
        find_customer: Callable[[str], str | None] | None = None,
    ) -> None:
        """``locked``: the order has shipped, its items and address stay as they are.
        ``find_customer`` says what is wrong with a customer typed on the Orders screen."""
        super().__init__()
        self._title = title
        self._locked = locked
        self._find_customer = find_customer
        self._ask_conversation = ask_conversation
        self._currency = currency
        self._items = "\n".join(f"{i.name}:{i.quantity}:{i.unit_price}" for i in items)
        self._retailer_ids = [i.retailer_id for i in items]  # a cart's catalog ids, line by line
        self._address = address
        self._region = region
        self._notes = notes
        self._cod = cod
        self._provider = provider
        self._providers = list(providers)
        self._warnings = list(warnings)

    def compose(self) -> ComposeResult:
        with Vertical(), VerticalScroll():
            yield Label(plain(self._title, "bold"), classes="title")
            if self._ask_conversation:
                yield _field("Customer", "conversation", "", "name, handle, phone or id")
            yield Label("Items: NAME:QTY:UNIT_PRICE, one per line")
            yield TextArea(self._items, id="items", read_only=self._locked)
            yield _field("Currency", "currency", self._currency, "INR, USD, JPY…")
            yield Static("", id="total")
            yield Label("Shipping address")
            yield TextArea(self._address, id="address", soft_wrap=True, read_only=self._locked)
            yield _field("Region", "region", self._region, "country code, e.g. IN")
            with Horizontal(classes="row"):
                yield Label("Cash on delivery")
                yield Switch(value=self._cod, id="cod")
            providers = ", ".join(self._providers) or "none enabled"
            yield _field("Provider", "provider", self._provider, providers)
            yield _field("Notes", "notes", self._notes, "")
            yield Static("", classes="error", id="error")
            for warning in self._warnings:
                yield Static(plain(warning, "yellow"))
            yield Label(
                "Payment settings never block an order: what does not fit is recorded with a "
                "warning.\nCtrl+S saves · Esc cancels",
                classes="hint",
            )

    def on_mount(self) -> None:
        first = "#conversation" if self._ask_conversation else "#items"
        self.query_one(first).focus()
        self.query_one("#region", Input).disabled = self._locked
        self._show_total()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        """A long form: Enter moves on (Ctrl+S saves), so it is never sent half-filled."""
        self.focus_next()

    def error(self, text: str) -> None:
        super().error(text)
        self.query_one("#error").scroll_visible()

    @on(TextArea.Changed, "#items")
    @on(Input.Changed, "#currency")
    def _show_total(self) -> None:
        total = self.query_one("#total", Static)
        try:
            currency = currency_of(self.value("currency"))
            items = parse_items(self.query_one("#items", TextArea).text, currency)
        except MoneyError:
            total.update("")
            return
        amount = sum(i.quantity * parse_amount(i.unit_price, currency) for i in items)
        total.update(plain(f"total {format_money(amount, currency)}", "bold"))

    def action_save(self) -> None:
        conversation = self.value("conversation") if self._ask_conversation else None
        if self._ask_conversation and not conversation:
            self.error("Name the customer (or the conversation's id).")
            return
        if conversation and self._find_customer is not None:
            problem = self._find_customer(conversation)
            if problem is not None:
                self.error(problem)
                return
        try:
            currency = currency_of(self.value("currency"))
            items = parse_items(self.query_one("#items", TextArea).text, currency)
        except MoneyError as exc:
            self.error(str(exc))
            return
        if any(self._retailer_ids) and len(items) == len(self._retailer_ids):
            # The lines of a cart keep their catalog ids, whatever the agent calls them.
            items = tuple(
                replace(item, retailer_id=rid)
                for item, rid in zip(items, self._retailer_ids, strict=True)
            )
        self.dismiss(
            OrderForm(
                conversation=conversation,
                items=items,
                currency=currency,
                address=self.query_one("#address", TextArea).text.strip(),
                region=self.value("region").upper() or None,
                notes=self.value("notes"),
                cod=self.query_one("#cod", Switch).value,
                provider=self.value("provider").upper() or None,
            )
        )


@dataclass(frozen=True)
class StatusChoice:
    status: str
    tracking: str | None = None


class OrderStatusDialog(ModalScreen[StatusChoice | None]):
    """Only the transitions the order allows. When shipping is one of them, the tracking number
    comes first: Enter there ships the order; the list below offers the other moves."""

    DEFAULT_CSS = _css("OrderStatusDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, label: str, current: str, allowed: Sequence[str]) -> None:
        super().__init__()
        self._label = label
        self._current = current
        self._allowed = list(allowed)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(f"{self._label} is {self._current}: move it to…", "bold"))
            if "SHIPPED" in self._allowed:
                yield Input(placeholder="tracking number (optional), Enter ships it", id="tracking")
            yield OptionList(*[Option(s.title(), id=s) for s in self._allowed], id="statuses")
            if not self._allowed:
                yield Static("It is final: nothing follows.", classes="hint")
            else:
                yield Static("Enter chooses · Tab moves · Esc cancels", classes="hint")

    def on_mount(self) -> None:
        first = "#tracking" if "SHIPPED" in self._allowed else "#statuses"
        self.query_one(first).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id or "")

    @on(Input.Submitted, "#tracking")
    def _typed(self) -> None:
        self._choose("SHIPPED")

    def _choose(self, status: str) -> None:
        tracking = None
        if status == "SHIPPED":
            tracking = self.query_one("#tracking", Input).value.strip() or None
        self.dismiss(StatusChoice(status, tracking))

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- payment settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentSettings:
    providers: tuple[str, ...]
    default: str | None
    allow_cod: bool
    cod_regions: tuple[str, ...]


class PaymentSettingsDialog(_Form[PaymentSettings]):
    """The workspace's payment settings (ADMIN): tracking only, nothing is charged."""

    DEFAULT_CSS = _form_css("PaymentSettingsDialog")

    def __init__(self, current: PaymentSettings | None, known: Sequence[str]) -> None:
        super().__init__()
        self._current = current
        enabled = list(current.providers) if current else []
        self._known = list(dict.fromkeys([*known, *enabled]))

    def compose(self) -> ComposeResult:
        c = self._current
        with Vertical():
            yield Label("Payment settings", classes="title")
            if c is None:
                yield Static("Not set up yet: orders record what agents choose, with a warning.")
            yield Label("Enabled providers")
            for name in self._known:
                enabled = c is None or name in c.providers  # a first setup offers them all
                yield Checkbox(name, value=enabled, id=f"p-{name}")
            yield _field("Other", "other", "", "more providers, comma-separated (e.g. PAYPAL)")
            yield _field("Default", "default", (c.default or "") if c else "", "one of those")
            with Horizontal(classes="row"):
                yield Label("Cash on delivery")
                yield Switch(value=bool(c and c.allow_cod), id="cod")
            regions = ", ".join(c.cod_regions) if c else ""
            yield _field("COD regions", "regions", regions, "country codes; empty: everywhere")
            yield Static("", classes="error", id="error")
            yield Label("Ctrl+S saves · Esc cancels", classes="hint")

    def action_save(self) -> None:
        enabled = [n for n in self._known if self.query_one(f"#p-{n}", Checkbox).value]
        enabled += [p.strip().upper() for p in self.value("other").split(",") if p.strip()]
        default = self.value("default").upper() or None
        if default is not None and default not in enabled:
            self.error(f"The default provider {default} must be enabled.")
            return
        regions = tuple(r.strip().upper() for r in self.value("regions").split(",") if r.strip())
        bad = [r for r in regions if len(r) != 2 or not r.isalpha()]
        if bad:
            self.error(f"{', '.join(bad)}: regions are two-letter country codes.")
            return
        self.dismiss(
            PaymentSettings(
                tuple(dict.fromkeys(enabled)),
                default,
                self.query_one("#cod", Switch).value,
                regions,
            )
        )


# --- contacts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactForm:
    name: str
    phone: str
    email: str
    notes: str


class ContactDialog(_Form[ContactForm]):
    """What the team keeps about a person (ADMIN)."""

    DEFAULT_CSS = _form_css("ContactDialog")

    def __init__(self, current: ContactForm) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        c = self._current
        with Vertical():
            yield Label(plain(f"Contact: {c.name}", "bold"), classes="title")
            yield _field("Name", "name", c.name)
            yield _field("Phone", "phone", c.phone)
            yield _field("Email", "email", c.email)
            yield Label("Notes")
            yield TextArea(c.notes, id="notes", soft_wrap=True)
            yield Static("", classes="error", id="error")
            yield Label("Ctrl+S saves · Esc cancels", classes="hint")

    def action_save(self) -> None:
        notes = self.query_one("#notes", TextArea).text.strip()
        self.dismiss(
            ContactForm(self.value("name"), self.value("phone"), self.value("email"), notes)
        )


class PickDialog(ModalScreen[str | None]):
    """Pick one of a few (a conversation to merge with, say); returns its id."""

    DEFAULT_CSS = _css("PickDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: Sequence[tuple[str, str]], empty: str) -> None:
        super().__init__()
        self._title = title
        self._choices = list(choices)
        self._empty = empty

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(self._title, "bold"), classes="title")
            yield OptionList(*[Option(plain(label), id=key) for key, label in self._choices])
            if not self._choices:
                yield Static(self._empty, classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if self._choices:
            options.highlighted = 0

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class MetadataDialog(_Form[dict[str, str | None]]):
    """Free key/value metadata: ``key=value`` per line; a key left out is removed."""

    DEFAULT_CSS = _form_css("MetadataDialog")

    def __init__(self, what: str, current: dict[str, str]) -> None:
        super().__init__()
        self._what = what
        self._current = dict(current)

    def compose(self) -> ComposeResult:
        text = "\n".join(f"{k}={v}" for k, v in sorted(self._current.items()))
        with Vertical():
            yield Label(plain(f"Metadata of {self._what}", "bold"), classes="title")
            yield TextArea(text, id="pairs")
            yield Static("", classes="error", id="error")
            yield Label("key=value, one per line · Ctrl+S saves · Esc cancels", classes="hint")

    def action_save(self) -> None:
        wanted: dict[str, str] = {}
        for line in self.query_one("#pairs", TextArea).text.splitlines():
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                self.error(f"{line!r} is not key=value")
                return
            wanted[key.strip()] = value.strip()
        changes: dict[str, str | None] = {k: None for k in self._current if k not in wanted}
        changes.update({k: v for k, v in wanted.items() if self._current.get(k) != v})
        self.dismiss(changes)


@dataclass(frozen=True)
class RangeChoice:
    start: str | None  # YYYY-MM-DD, inclusive
    end: str | None  # YYYY-MM-DD, inclusive


def _date(text: str) -> str | None:
    from datetime import date

    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise MoneyError(f"{text!r} is not a date: write it YYYY-MM-DD") from None


class RangeDialog(_Form[RangeChoice]):
    """A created-date range (either end may stay open)."""

    DEFAULT_CSS = _form_css("RangeDialog")

    def __init__(self, title: str, start: str | None, end: str | None) -> None:
        super().__init__()
        self._title = title
        self._start = start or ""
        self._end = end or ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(self._title, "bold"), classes="title")
            yield _field("From", "from", self._start, "YYYY-MM-DD (empty: any)")
            yield _field("To", "to", self._end, "YYYY-MM-DD, inclusive (empty: any)")
            yield Static("", classes="error", id="error")
            yield Label("Enter applies · Esc cancels · both empty: any time", classes="hint")

    def action_save(self) -> None:
        try:
            start, end = _date(self.value("from")), _date(self.value("to"))
        except MoneyError as exc:
            self.error(str(exc))
            return
        if start and end and start > end:
            self.error("The range ends before it starts.")
            return
        self.dismiss(RangeChoice(start, end))

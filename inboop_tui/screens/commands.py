"""The command palette's entries for the working screens: every key has one here too."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from textual.app import SystemCommand
from textual.screen import Screen

from inboop_tui.screens.inbox import (
    ASSIGNED_LABELS,
    CHANNEL_CYCLE,
    CHANNEL_LABELS,
    STATUS_CYCLE,
    STATUS_LABELS,
    InboxScreen,
)
from inboop_tui.screens.leads import LeadsScreen
from inboop_tui.screens.orders import OrderDetailScreen, OrdersScreen
from inboop_tui.screens.payments import PaymentsScreen
from inboop_tui.store.selling_queries import LeadFilter, OrderFilter


def inbox_commands(screen: InboxScreen) -> Iterable[SystemCommand]:
    yield SystemCommand("Reply", "Write to the customer in the reply box (i)", screen.action_write)
    yield SystemCommand(
        "Send a file…",
        "An image, a video, a PDF… to the customer (Ctrl+F in the reply box)",
        partial(_ask, screen, "file"),
    )
    yield SystemCommand(
        "WhatsApp template…",
        "Outside the 24-hour window: an approved template (T)",
        screen.action_template,
    )
    yield SystemCommand(
        "Edit the reply in $EDITOR",
        "Long replies in your editor (Ctrl+O in the reply box)",
        partial(_ask, screen, "editor"),
    )
    yield SystemCommand(
        "Canned replies…", "Use, add, edit or delete the team's answers (C)", screen.action_canned
    )
    yield SystemCommand(
        "Assign…", "Assign the conversation to a teammate or to nobody (a)", screen.action_assign
    )
    yield SystemCommand(
        "Assign to me / unassign me",
        "Take the conversation, or give it back (A)",
        screen.action_assign_me,
    )
    yield SystemCommand(
        "Resolve / reopen",
        "Mark the conversation resolved, or open again (r)",
        screen.action_resolve,
    )
    yield SystemCommand(
        "Mark pending / open", "Waiting on something: pending (P)", screen.action_pending
    )
    yield SystemCommand("Reopen", "Set the conversation open", screen.action_reopen)
    yield SystemCommand("Snooze…", "Hide the conversation until a time (z)", screen.action_snooze)
    yield SystemCommand("Tags…", "Add or remove tags (t)", screen.action_tags)
    yield SystemCommand(
        "Add a note…", "An internal note; @name notifies a teammate (n)", screen.action_note
    )
    yield SystemCommand("Mark read", "Mark the conversation read (.)", screen.action_mark_read)
    yield SystemCommand(
        "Mark all read", "Every conversation in this view (R)", screen.action_mark_all_read
    )
    yield SystemCommand(
        "Set the workspace SLA… (ADMIN)", "Expected first-response minutes (L)", screen.action_sla
    )
    yield SystemCommand(
        "Search conversations", "Names, handles and message text (/)", screen.action_search
    )
    yield SystemCommand(
        "Load older messages",
        "Another page of the open thread's history (o)",
        screen.action_older_messages,
    )
    yield SystemCommand(
        "Filter: unread only (toggle)",
        "Only conversations with unread messages (u)",
        screen.action_toggle_unread,
    )
    yield SystemCommand(
        "Filter: over SLA (toggle)",
        "Only conversations waiting longer than the SLA (l)",
        screen.action_toggle_over_sla,
    )
    yield SystemCommand(
        "Filter: one tag…", "Only conversations with one tag (#)", screen.action_tag_filter
    )
    yield SystemCommand(
        "Filter: clear", "Back to open & pending conversations, every channel", screen.clear_filters
    )
    for channel in CHANNEL_CYCLE:
        label = CHANNEL_LABELS[channel]
        yield SystemCommand(
            f"Filter: {label}", f"Show {label} (c)", partial(screen.set_channel, channel)
        )
    names = {
        None: "everyone's conversations",
        "me": "my conversations",
        "unassigned": "unassigned conversations",
    }
    for assigned in ASSIGNED_LABELS:
        yield SystemCommand(
            f"Filter: {names[assigned]}",
            "Filter by assignee (m)",
            partial(screen.set_assigned, assigned),
        )
    for status in STATUS_CYCLE:
        name = STATUS_LABELS.get(status) or str(status).lower()
        yield SystemCommand(
            f"Filter: {name}", "Filter by status (S)", partial(screen.set_status_filter, status)
        )


def _ask(screen: InboxScreen, what: str) -> None:
    row = screen.target()
    if row is not None:
        screen.desk.asked(row, what)


def selling_commands(screen: Screen[Any]) -> Iterable[SystemCommand]:
    if isinstance(screen, InboxScreen):
        yield SystemCommand(
            "Next selling step",
            "A lead when there is none NEW, else an order for it ($)",
            screen.action_sell,
        )
        yield SystemCommand(
            "Save a file…", "A file the customer sent, from the relay (F)", screen.action_files
        )
        yield SystemCommand(
            "Open a file…",
            "Save it and open it with the system's viewer",
            partial(screen.action_files, True),
        )
        yield SystemCommand(
            "View a picture…",
            "A picture the customer sent, drawn here where the terminal can (v)",
            screen.action_view_picture,
        )
        yield SystemCommand("Create lead…", "A new buying opportunity", screen.new_lead)
        yield SystemCommand("Create order…", "An order from this conversation", screen.new_order)
        yield SystemCommand(
            "Create order from the cart…",
            "The customer's newest WhatsApp catalog cart, pre-filled (B)",
            screen.action_order_from_cart,
        )
        yield SystemCommand(
            "Contact panel",
            "Who the customer is, their orders, lifetime value (K)",
            screen.action_toggle_contact,
        )
        yield SystemCommand(
            "Edit contact… (ADMIN)", "Name, phone, email, notes", screen.edit_contact
        )
        yield SystemCommand(
            "Merge contact… (ADMIN)",
            "The same person on another channel",
            screen.merge_contact,
        )
        yield SystemCommand("Conversation metadata…", "Free keys and values", screen.edit_metadata)
        yield SystemCommand(
            "Contact metadata… (ADMIN)", "Free keys and values", screen.edit_contact_metadata
        )
    elif isinstance(screen, LeadsScreen):
        yield SystemCommand("Convert to order…", "An order for the lead (o)", screen.action_convert)
        yield SystemCommand("Mark lost…", "With the reason (x)", screen.action_lost)
        yield SystemCommand("Close lead…", "With the reason (X)", screen.action_close_lead)
        yield SystemCommand("Edit lead…", "Value, notes, assignee (E)", screen.action_edit)
        yield SystemCommand("Lead metadata…", "Free keys and values (M)", screen.action_metadata)
        yield SystemCommand(
            "Go to conversation", "The lead's conversation (Enter)", screen.action_open_conversation
        )
        yield SystemCommand("Search leads", "Customers and notes (/)", screen.action_search)
        yield SystemCommand("Filter: lead status", "Cycle (S)", screen.action_cycle_status)
        yield SystemCommand(
            "Filter: assignee", "Anyone, mine, unassigned (m)", screen.action_cycle_assignee
        )
        yield SystemCommand(
            "Filter: has orders", "Any, with, without (O)", screen.action_cycle_orders
        )
        yield SystemCommand("Filter: created range…", "From and to dates (r)", screen.action_range)
    elif isinstance(screen, OrdersScreen):
        yield SystemCommand("New order…", "For a customer you name (n)", screen.action_new_order)
        yield SystemCommand(
            "Open order", "Items, totals, timeline (Enter)", screen.action_open_order
        )
        yield SystemCommand("Table / board", "Switch the view (b)", screen.action_toggle_board)
        yield SystemCommand("Next status", "Move the order along (>)", screen.action_advance)
        yield SystemCommand("Cancel order", "Before it ships (x)", screen.action_cancel_order)
        yield SystemCommand("Mark paid", "Payment received (p)", screen.action_paid)
        yield SystemCommand(
            "Search orders", "Numbers, customers, items, tracking (/)", screen.action_search
        )
        yield SystemCommand("Filter: status", "Cycle (S)", screen.action_cycle_status)
        yield SystemCommand("Filter: payment status", "Cycle (P)", screen.action_cycle_payment)
        yield SystemCommand("Filter: method", "Online or COD (M)", screen.action_cycle_method)
        yield SystemCommand("Filter: channel", "Cycle (c)", screen.action_cycle_channel)
        yield SystemCommand(
            "Filter: assignee", "Anyone, mine, unassigned (m)", screen.action_cycle_assignee
        )
        yield SystemCommand("Filter: created range…", "From and to dates (r)", screen.action_range)
    elif isinstance(screen, OrderDetailScreen):
        yield SystemCommand("Change status…", "Only the allowed moves (t)", screen.action_move)
        yield SystemCommand("Next status", "One step along (>)", screen.action_advance)
        yield SystemCommand("Cancel order", "Before it ships (x)", screen.action_cancel_order)
        yield SystemCommand("Mark paid", "Payment received (p)", screen.action_paid)
        yield SystemCommand(
            "Refund (ADMIN)", "Mark a paid order refunded (R)", screen.action_refund
        )
        yield SystemCommand(
            "Edit order…",
            "Items and address before shipping; payment, notes (E)",
            screen.action_edit,
        )
        yield SystemCommand("Order metadata…", "Free keys and values (M)", screen.action_metadata)
        yield SystemCommand(
            "Go to conversation", "The order's conversation (g)", screen.action_conversation
        )
    elif isinstance(screen, PaymentsScreen):
        yield SystemCommand("Mark paid", "The selected unpaid order (p)", screen.action_paid)
        yield SystemCommand(
            "Payment settings… (ADMIN)",
            "Providers, default, cash on delivery (P)",
            screen.action_settings,
        )


def describe_export_filter(f: LeadFilter | OrderFilter) -> str:
    """The screen's filters in a few words (the export keeps them)."""
    parts = [
        f"{name} {value}".strip()
        for name, value in sorted(vars(f).items())
        if value not in (None, "", False) and name != "search"
    ]
    if f.search:
        parts.append(f"matching {f.search!r}")
    return ", ".join(parts) or "none"

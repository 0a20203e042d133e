"""The pending layer: this replica's unsynced mutations, shown on top of ``reduce(log)``.

A local change writes its mutation to the outbox and applies it to the projections in one
transaction. Before a pending mutation first changes a row, the row is copied to ``shadows`` as
the log alone had it (or noted as absent). So the layer can always be lifted off exactly:

- :func:`lift_pending` puts every shadowed row back: the projections are ``reduce(log)`` again;
- new log entries are reduced onto that (``store.apply``), and mutations whose own entries came
  back leave the outbox;
- :func:`put_pending_back` re-applies what is still in the outbox, in the order it was made,
  taking fresh shadows.

A rejected mutation leaves the outbox the same way, so its effect disappears with the lift and
is simply not put back. With an empty outbox there are no shadows and the replica is exactly
``reduce(log)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from inboop_tui.domain.mutations import apply_mutation
from inboop_tui.domain.reducer import Needs, needs
from inboop_tui.store.projections import (
    index_conversations,
    index_messages,
    load_slice,
    unindex_messages,
    write_slice,
)
from inboop_tui.store.tables import (
    canned_replies,
    contacts,
    conversations,
    leads,
    messages,
    notes,
    orders,
    outbox,
    shadows,
    workspace,
)
from relay.protocol import DeleteCanned, Mutation, SaveCanned, parse_mutation
from relay.store.keys import chunks, keys_in

# The rows pending mutations may change, by table, with their natural keys.
SHADOWED: dict[str, tuple[Table, tuple[str, ...]]] = {
    "conversations": (conversations, ("id",)),
    "messages": (messages, ("channel", "channel_message_id")),
    "notes": (notes, ("id",)),
    "canned_replies": (canned_replies, ("id",)),
    "workspace": (workspace, ("id",)),
    "leads": (leads, ("id",)),
    "orders": (orders, ("id",)),
    "contacts": (contacts, ("id",)),
}


def pending_mutations(conn: Connection) -> list[Mutation]:
    """The outbox, oldest first, as mutations."""
    rows = conn.execute(select(outbox.c.payload).order_by(outbox.c.position)).scalars()
    return [parse_mutation(payload) for payload in rows]


def apply_pending(conn: Connection, mutations: Sequence[Mutation]) -> None:
    """Apply pending mutations on top of what the projections show now, shadowing first."""
    if not mutations:
        return
    wanted = needs([], mutations)
    canned_ids = {
        m.payload.canned_id for m in mutations if isinstance(m, SaveCanned | DeleteCanned)
    }
    _shadow(conn, wanted, canned_ids)
    piece = load_slice(conn, wanted)
    for mutation in mutations:
        # A pending mutation that cannot apply (its conversation is gone) shows nothing; the
        # relay's log decides, and every replica records the conflict when it comes back.
        apply_mutation(piece, mutation, None)
    write_slice(conn, piece)


def lift_pending(conn: Connection) -> None:
    """Put every shadowed row back as the log alone had it, and forget the shadows."""
    found = conn.execute(select(shadows.c.table_name, shadows.c.key, shadows.c.row)).all()
    if not found:
        return
    restored_messages: list[tuple[str, str]] = []
    restored_contacts: list[str] = []
    for name, key, row in found:
        table, keys = SHADOWED[name]
        key_values = json.loads(key)
        condition = [table.c[k] == v for k, v in zip(keys, key_values, strict=True)]
        if name == "messages":
            unindex_messages(conn, [(key_values[0], key_values[1])])
            restored_messages.append((key_values[0], key_values[1]))
        elif name == "contacts":
            restored_contacts.extend(key_values)
        if row is None:
            conn.execute(delete(table).where(*condition))
            continue
        values: dict[str, Any] = json.loads(row)
        statement = sqlite_insert(table).values(**values)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=list(keys),
                set_={c: statement.excluded[c] for c in values if c not in keys},
            )
        )
    conn.execute(delete(shadows))
    index_messages(conn, restored_messages)
    if restored_contacts:  # a name the relay turned down leaves the search index with them
        found_ids = select(conversations.c.id).where(
            conversations.c.contact_id.in_(restored_contacts)
        )
        index_conversations(conn, conn.execute(found_ids).scalars().all())


def put_pending_back(conn: Connection) -> None:
    apply_pending(conn, pending_mutations(conn))


def relayer(conn: Connection) -> None:
    """Lift the pending layer and put the outbox back on (after a mutation left it)."""
    lift_pending(conn)
    put_pending_back(conn)


def _shadow(conn: Connection, wanted: Needs, canned_ids: set[str]) -> None:
    """Copy the rows about to change, unless a shadow of them exists already."""
    conversation_ids = set(wanted.conversations)
    for chunk in chunks(sorted(wanted.leads)):
        conversation_ids.update(
            conn.execute(select(leads.c.conversation_id).where(leads.c.id.in_(chunk))).scalars()
        )
    targets: list[tuple[str, list[tuple[Any, ...]]]] = [
        ("conversations", [(c,) for c in sorted(conversation_ids)]),
        ("messages", sorted(wanted.messages)),
        ("notes", [(n,) for n in sorted(wanted.notes)]),
        ("workspace", [(1,)] if wanted.workspace else []),
    ]
    # Leads: those named, and the conversations' NEW leads (a new lead or an order closes them).
    lead_ids = set(wanted.leads)
    for chunk in chunks(sorted(conversation_ids)):
        lead_ids.update(
            conn.execute(
                select(conversations.c.lead_id).where(
                    conversations.c.id.in_(chunk), conversations.c.lead_id.is_not(None)
                )
            ).scalars()
        )
    targets.append(("leads", [(i,) for i in sorted(lead_ids)]))
    targets.append(("orders", [(i,) for i in sorted(wanted.orders)]))
    contact_ids = set(wanted.contacts)
    if wanted.merged_contacts:
        for chunk in chunks(sorted(wanted.contacts)):
            contact_ids.update(
                conn.execute(
                    select(contacts.c.id).where(contacts.c.merged_into.in_(chunk))
                ).scalars()
            )
    targets.append(("contacts", [(i,) for i in sorted(contact_ids)]))
    if wanted.canned:
        # Every canned reply a pending change could touch, those it creates included (their
        # shadow says "absent", so lifting the layer takes them away again).
        ids = set(conn.execute(select(canned_replies.c.id)).scalars()) | canned_ids
        targets.append(("canned_replies", [(i,) for i in sorted(ids)]))
    for name, keys in targets:
        if keys:
            _shadow_rows(conn, name, keys)


def _shadow_rows(conn: Connection, name: str, keys: Iterable[tuple[Any, ...]]) -> None:
    table, key_columns = SHADOWED[name]
    wanted = list(keys)
    columns = [c for c in table.columns if c.name != "pk"]
    current: dict[tuple[Any, ...], str] = {}
    for condition in keys_in([table.c[k] for k in key_columns], wanted):
        for row in conn.execute(select(*columns).where(condition)).mappings():
            current[tuple(row[k] for k in key_columns)] = json.dumps(dict(row), default=str)
    rows = [
        {"table_name": name, "key": json.dumps(list(key)), "row": current.get(key)}
        for key in wanted
    ]
    conn.execute(sqlite_insert(shadows).on_conflict_do_nothing(), rows)

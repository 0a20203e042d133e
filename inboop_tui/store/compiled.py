"""The statements the inbox's first screen reads, compiled for SQLite's driver ahead
of time (see ``first_screen``). Written by ``make compiled-sql`` from the statements in
``queries`` (``compile_ahead``); a test fails when they no longer agree. Not edited by
hand."""

from typing import Any

STATEMENTS: dict[str, tuple[Any, ...]] = {
    "sla_minutes": (
        "SELECT workspace.sla_minutes \nFROM workspace \nWHERE workspace.id = ?",
        (1,),
        (),
        None,
    ),
    "first_keys": (
        "SELECT conversations.pk \nFROM conversations \nWHERE conversations.last_message_key IS NOT NULL AND CASE WHEN (conversations.status IN (?, ?) AND conversations.last_inbound_at IS NOT NULL AND (conversations.status_at IS NULL OR conversations.last_inbound_at > conversations.status_at)) THEN ? WHEN (conversations.status = ? AND (conversations.snoozed_until IS NULL OR conversations.snoozed_until <= ?)) THEN ? ELSE conversations.status END IN (?, ?) ORDER BY conversations.last_message_key DESC\n LIMIT ? OFFSET ?",
        ("RESOLVED", "SNOOZED", "OPEN", "SNOOZED", None, "OPEN", "OPEN", "PENDING", None, 0),
        ((4, "now"), (8, "limit")),
        None,
    ),
    "rows_by_key": (
        'SELECT conversations.id, conversations.channel, conversations.customer_id, coalesce(contacts.agent_name, contacts.name) AS name, contacts.username, contacts.phone, conversations.preview, conversations.preview_direction, conversations.last_message_at, conversations.last_inbound_at, conversations.last_inbound_at IS NOT NULL AND (conversation_views.last_viewed_at IS NULL OR conversations.last_inbound_at > conversation_views.last_viewed_at) AS unread, CASE WHEN (conversations.status IN (?, ?) AND conversations.last_inbound_at IS NOT NULL AND (conversations.status_at IS NULL OR conversations.last_inbound_at > conversations.status_at)) THEN ? WHEN (conversations.status = ? AND (conversations.snoozed_until IS NULL OR conversations.snoozed_until <= ?)) THEN ? ELSE conversations.status END AS status, conversations.assignee, conversations.message_count, conversations.snoozed_until, conversations.tags, 0 AS over_sla, conversations.awaiting_since, (SELECT count(*) AS count_1 \nFROM outbox \nWHERE outbox.conversation_id = conversations.id) AS pending, conversations.account_id, conversations.lead_id, conversations.order_count, conversations.contact_id, keys.pk AS "key" \nFROM (SELECT conversations.pk AS pk \nFROM conversations \nWHERE conversations.pk IN (__[POSTCOMPILE_keys])) AS keys JOIN conversations ON conversations.pk = keys.pk LEFT OUTER JOIN contacts ON contacts.id = conversations.contact_id LEFT OUTER JOIN conversation_views ON conversation_views.conversation_id = conversations.id',
        ("RESOLVED", "SNOOZED", "OPEN", "SNOOZED", None, "OPEN", None),
        ((4, "now"), (6, "keys")),
        "keys",
    ),
    "rows_by_key_sla": (
        'SELECT conversations.id, conversations.channel, conversations.customer_id, coalesce(contacts.agent_name, contacts.name) AS name, contacts.username, contacts.phone, conversations.preview, conversations.preview_direction, conversations.last_message_at, conversations.last_inbound_at, conversations.last_inbound_at IS NOT NULL AND (conversation_views.last_viewed_at IS NULL OR conversations.last_inbound_at > conversation_views.last_viewed_at) AS unread, CASE WHEN (conversations.status IN (?, ?) AND conversations.last_inbound_at IS NOT NULL AND (conversations.status_at IS NULL OR conversations.last_inbound_at > conversations.status_at)) THEN ? WHEN (conversations.status = ? AND (conversations.snoozed_until IS NULL OR conversations.snoozed_until <= ?)) THEN ? ELSE conversations.status END AS status, conversations.assignee, conversations.message_count, conversations.snoozed_until, conversations.tags, conversations.awaiting_since IS NOT NULL AND conversations.awaiting_since <= ? AND CASE WHEN (conversations.status IN (?, ?) AND conversations.last_inbound_at IS NOT NULL AND (conversations.status_at IS NULL OR conversations.last_inbound_at > conversations.status_at)) THEN ? WHEN (conversations.status = ? AND (conversations.snoozed_until IS NULL OR conversations.snoozed_until <= ?)) THEN ? ELSE conversations.status END IN (?, ?) AS over_sla, conversations.awaiting_since, (SELECT count(*) AS count_1 \nFROM outbox \nWHERE outbox.conversation_id = conversations.id) AS pending, conversations.account_id, conversations.lead_id, conversations.order_count, conversations.contact_id, keys.pk AS "key" \nFROM (SELECT conversations.pk AS pk \nFROM conversations \nWHERE conversations.pk IN (__[POSTCOMPILE_keys])) AS keys JOIN conversations ON conversations.pk = keys.pk LEFT OUTER JOIN contacts ON contacts.id = conversations.contact_id LEFT OUTER JOIN conversation_views ON conversation_views.conversation_id = conversations.id',
        (
            "RESOLVED",
            "SNOOZED",
            "OPEN",
            "SNOOZED",
            None,
            "OPEN",
            None,
            "RESOLVED",
            "SNOOZED",
            "OPEN",
            "SNOOZED",
            None,
            "OPEN",
            "OPEN",
            "PENDING",
            None,
        ),
        ((4, "now"), (6, "deadline"), (11, "now"), (15, "keys")),
        "keys",
    ),
    "sync_status": (
        "SELECT sync_state.cursor, sync_state.relay_head, sync_state.last_ok_at, sync_state.last_attempt_at, sync_state.last_error, sync_state.last_error_kind, (SELECT count(*) AS count_1 \nFROM outbox) AS anon_1 \nFROM sync_state \nWHERE sync_state.id = ?",
        (1,),
        (),
        None,
    ),
}

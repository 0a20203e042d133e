"""Search and windows of the replica's queries, on a real replica file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from inboop_tui.store import queries
from inboop_tui.store.queries import ConversationRow, InboxFilter, fts_query
from inboop_tui.store.replica import Replica
from inboop_tui.store.rows import ROW_COLUMNS
from inboop_tui.store.selling_queries import LeadFilter, OrderFilter
from tests.app_support import FIXED_NOW, demo_replica


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    _, engine = demo_replica(tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def replica(engine: Engine) -> Replica:
    return Replica(engine, None, lambda: FIXED_NOW)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        # Twelve customers share eight scripts: the first four scripts run twice.
        ("ORD-1002", 2),  # an order number inside a message
        ("ord-10", 2),  # as a prefix
        ("kurta", 2),
        ("Rahul", 1),  # a customer name
        ("rahul mehta", 1),
        ("919", 4),  # WhatsApp numbers are handles
        ("Dubai", 2),
        ("nothing-like-this", 0),
    ],
)
def test_search_finds_names_handles_text_and_order_numbers(
    replica: Replica, search: str, expected: int
) -> None:
    keys = replica.list_order(InboxFilter(search=search)).keys
    assert len(keys) == expected
    assert len(replica.window(InboxFilter(search=search), 0, 50)) == expected
    assert [r.id for r in replica.rows_at(keys) if r] == [
        r.id for r in replica.window(InboxFilter(search=search), 0, 50)
    ]


@pytest.mark.parametrize(
    "search", ['"', "*", "NEAR(a b)", "a OR b AND", "(", "-", "^x", "''", "@@@"]
)
def test_search_syntax_never_reaches_fts(replica: Replica, search: str) -> None:
    query = fts_query(search)
    assert query is None or all(
        term.startswith('"') and term.endswith('"*') for term in query.split(" ")
    )
    replica.list_order(InboxFilter(search=search))  # no FTS syntax error


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=30)  # surrogates too
SYNTAX = st.lists(
    st.sampled_from(
        [
            '"',
            "*",
            "(",
            ")",
            "NEAR",
            "AND",
            "OR",
            "NOT",
            "^",
            "-",
            ":",
            "ORD-1002",
            "kurta",
            "\x00",
            "[red]",
            "\\",
            "'",
            "%",
            "_",
            "\ud800",
        ]
    ),
    max_size=8,
).map(" ".join)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(search=ANY_TEXT | SYNTAX)
def test_any_search_text_lists_without_an_error(replica: Replica, search: str) -> None:
    keys = replica.list_order(InboxFilter(search=search)).keys
    assert len(replica.rows_at(keys)) == len(keys) <= 12
    assert len(replica.window(InboxFilter(search=search), 0, 50)) == len(keys)
    replica.leads(LeadFilter(search=search))  # the selling screens' searches too
    replica.orders(OrderFilter(search=search))
    replica.contacts(search)


def test_windows_cover_the_list_without_overlap(replica: Replica) -> None:
    whole = [row.id for row in replica.window(InboxFilter(), 0, 100)]
    pieces = [
        row.id for start in range(0, 12, 5) for row in replica.window(InboxFilter(), start, 5)
    ]
    assert pieces == whole and len(whole) == 12


def test_the_list_order_is_the_windows_order_and_finds_a_conversation(replica: Replica) -> None:
    everything = InboxFilter()
    keys = replica.list_order(everything).keys
    ids = [row.id for row in replica.rows_at(keys) if row is not None]
    assert ids == [row.id for row in replica.window(everything, 0, 100)]
    assert ids == replica.conversation_ids(everything)
    assert len(ids) == 12 and len(set(keys)) == 12

    assert replica.list_order(everything, following=ids[7]) == (keys, 7, True)
    assert replica.list_order(everything, following="cv_nowhere") == (keys, None, True)
    one = InboxFilter(search="Rahul")
    (only,), _, _ = replica.list_order(one)
    (rahul,) = replica.rows_at([only])
    assert rahul is not None
    left_out = next(i for i in ids if i != rahul.id)
    assert replica.list_order(one, following=left_out).position is None
    assert replica.list_order(one, keep=left_out, following=left_out).position is not None
    assert replica.rows_at([only, 10**9])[1] is None  # a key no longer there

    # The rows by key are the window's rows, field for field, with the SLA clock on and off.
    assert replica.rows_at(keys) == replica.window(everything, 0, 100)
    from inboop_tui.store.actions import Identity

    Replica(replica.engine, Identity("ana", "ADMIN"), replica.clock).actions.set_sla(60)
    keys = replica.list_order(everything).keys
    by_key = replica.rows_at(keys)
    assert by_key == replica.window(everything, 0, 100)
    assert any(row.over_sla for row in by_key if row) and not all(
        row.over_sla for row in by_key if row
    )


def test_a_listed_conversation_reads_every_column_into_its_own_field(
    engine: Engine, replica: Replica
) -> None:
    # A list row is read by position: here every column holds a value no other does, so two
    # read into each other's fields would show, by each of the three reads that make rows.
    with engine.begin() as conn:
        pk, cid, contact, channel = conn.exec_driver_sql(
            "SELECT pk, id, contact_id, channel FROM conversations ORDER BY pk LIMIT 1"
        ).one()
        conn.exec_driver_sql(
            "UPDATE conversations SET account_id = 'acct-1', customer_id = 'cust-1', "
            "status = 'SNOOZED', status_at = '2026-11-20T02:00:00.000Z', "
            "snoozed_until = '2999-01-01T00:00:00.000Z', assignee = 'asha', tags = '[\"vip\"]', "
            "last_message_at = '2026-11-20T03:00:00.000Z', "
            "last_inbound_at = '2026-11-20T01:00:00.000Z', preview = 'the preview', "
            "preview_direction = 'INBOUND', message_count = 7, "
            "awaiting_since = '2026-11-20T00:30:00.000Z', lead_id = 'lead-1', order_count = 3 "
            "WHERE pk = ?",
            (pk,),
        )
        conn.exec_driver_sql(
            "UPDATE contacts SET name = 'Name One', agent_name = NULL, username = 'user-1', "
            "phone = '+100' WHERE id = ?",
            (contact,),
        )
        for n in range(2):
            conn.exec_driver_sql(
                "INSERT INTO outbox (id, type, conversation_id, payload, created_at) "
                "VALUES (?, 'conversation.tag', ?, '{}', '2026-11-20T04:00:00.000Z')",
                (f"m-{n}", cid),
            )
    expected = ConversationRow(
        id=cid,
        channel=channel,
        customer_id="cust-1",
        name="Name One",
        username="user-1",
        preview="the preview",
        preview_direction="INBOUND",
        last_message_at="2026-11-20T03:00:00.000Z",
        last_inbound_at="2026-11-20T01:00:00.000Z",
        unread=True,
        status="SNOOZED",
        assignee="asha",
        message_count=7,
        snoozed_until="2999-01-01T00:00:00.000Z",
        tags=("vip",),
        over_sla=False,
        awaiting_since="2026-11-20T00:30:00.000Z",
        phone="+100",
        pending=2,
        account_id="acct-1",
        lead_id="lead-1",
        order_count=3,
        contact_id=contact,
    )
    assert replica.rows_at([pk]) == [expected]
    assert replica.conversation(cid) == expected
    assert expected in replica.window(InboxFilter(), 0, 50)
    # A column added to the reads but not to the row (or the other way) would leave a field
    # at its default: the reads select one column per field.
    viewpoint = queries.Viewpoint(me=None, now=FIXED_NOW.isoformat())
    assert len(queries._row_columns(viewpoint)) == ROW_COLUMNS


def test_a_search_lists_people_first_then_by_newest_match_and_its_first_keys_begin_it(
    tmp_path: Path,
) -> None:
    from inboop_tui.store.actions import Identity
    from inboop_tui.store.db import open_replica
    from tests.harness import fill_replica, many_messages

    # 600 messages over 150 customers (P000..P149), one second apart. Every seventh asks a
    # price; message i == 3 (mod 150) names customer P077.
    def says(i: int) -> str:
        return " ".join(
            ["price?" if i % 7 == 0 else "hello", "ask P077" if i % 150 == 3 else ""]
        ).strip()

    engine = open_replica(tmp_path / "replica.db")
    try:
        fill_replica(engine, many_messages(600, customer=lambda i: f"P{i % 150:03d}", text=says))
        replica = Replica(engine, Identity("ana", "ADMIN"), lambda: FIXED_NOW)
        by_key = {}
        for key in replica.list_order(InboxFilter()).keys:
            (row,) = replica.rows_at([key])
            assert row is not None
            by_key[key] = row.customer_id

        price = InboxFilter(search="pric")
        whole = replica.list_order(price)
        # Newest match first: message i belongs to P(i % 150), so the newest matches are the
        # multiples of 7 counted down from 599.
        newest_first = list(
            dict.fromkeys(f"P{i % 150:03d}" for i in range(599, -1, -1) if i % 7 == 0)
        )
        assert [by_key[k] for k in whole.keys] == newest_first and whole.complete
        for limit in (1, 20, 85, len(newest_first), 500):
            first = replica.list_order(price, limit=limit)
            assert first.keys == whole.keys[:limit]
            assert first.complete == (limit >= len(newest_first))
            # A new view's first screen: the same keys, with the rows of the first of them.
            start, rows = replica.list_start(price, None, limit=limit, rows=10)
            assert start == first
            assert [r.customer_id for r in rows if r] == [by_key[k] for k in first.keys[:10]]
        ids = replica.conversation_ids(price)
        assert [r.id for r in replica.window(price, 10, 5)] == ids[10:15]

        # P077 by its handle first; then the conversations whose messages name it, newest first.
        named = replica.list_order(InboxFilter(search="p077")).keys
        assert [by_key[k] for k in named] == ["P077", "P003"]
        # The other filters still apply, to both parts.
        assert not replica.list_order(InboxFilter(search="p077", channel="WHATSAPP")).keys
        ids = {
            key: cid for key, cid in zip(whole.keys, replica.conversation_ids(price), strict=True)
        }
        third = ids[whole.keys[2]]
        replica.actions.mark_read(third)
        unread = InboxFilter(search="pric", unread_only=True)
        assert third not in replica.conversation_ids(unread)
        # The conversation open on screen keeps its place while the filter would drop it, and
        # stays listed (last) when no word matches it.
        assert replica.conversation_ids(unread, keep=third)[2] == third
        assert replica.list_order(unread, keep=third, limit=5).keys == whole.keys[:5]
        other = replica.conversation_ids(InboxFilter(search="hello"))[0]
        assert other not in ids.values()
        assert replica.conversation_ids(price, keep=other)[-1] == other
    finally:
        engine.dispose()


def test_the_name_index_follows_contacts_and_new_messages_like_a_rebuild(tmp_path: Path) -> None:
    """New messages leave a conversation's name and handles in the index as they were (only a
    new conversation or a changed contact is indexed again); what it holds equals a rebuild."""
    from sqlalchemy import text

    from inboop_tui.store.actions import Identity
    from inboop_tui.store.db import writing
    from inboop_tui.store.rebuild import replay
    from relay import simulator as mp
    from tests.harness import fill_replica, many_messages

    _, engine = demo_replica(tmp_path)
    try:
        replica = Replica(engine, Identity("ana", "ADMIN"), lambda: FIXED_NOW)
        (rahul,) = replica.rows_at(replica.list_order(InboxFilter(search="Rahul")).keys)
        assert rahul is not None
        replica.actions.update_contact(rahul.contact_id, name="Rahul Kapoor")
        # More messages from a known customer and from a new one.
        (customer,) = [r for r in replica.window(InboxFilter(), 0, 1)]
        fill_replica(
            engine,
            many_messages(4, customer=lambda i: customer.customer_id if i % 2 else "PSIDNEW"),
        )
        assert replica.list_order(InboxFilter(search="kapoor")).keys
        assert replica.list_order(InboxFilter(search="psidnew")).keys
        assert replica.list_order(InboxFilter(search=customer.customer_id)).keys
        # WhatsApp sends the customer's profile with every message: the same name again (a
        # later profile), then a new one, each in its own batch.
        for second, name in ((1, "Zoya Quill"), (2, "Zoya Quill"), (3, "Zoya Marsh")):
            value = mp.wa_value(
                messages=[mp.wa_text("9177", f"wamid.M{second}", 1_780_000_000 + second, "hi")],
                contacts=[mp.wa_contact("9177", name)],
            )
            fill_replica(engine, [mp.body(mp.whatsapp(value))])
        assert replica.list_order(InboxFilter(search="zoya marsh")).keys
        assert not replica.list_order(InboxFilter(search="quill")).keys
        # An older profile arriving late changes nothing.
        late = mp.wa_value(
            messages=[mp.wa_text("9177", "wamid.M0", 1_780_000_000, "hi")],
            contacts=[mp.wa_contact("9177", "Zoya Older")],
        )
        fill_replica(engine, [mp.body(mp.whatsapp(late))])
        assert replica.list_order(InboxFilter(search="zoya marsh")).keys
        assert not replica.list_order(InboxFilter(search="older")).keys

        def index() -> list[tuple[str, str, str]]:
            with engine.connect() as conn:
                return [
                    tuple(row)
                    for row in conn.execute(
                        text(
                            "SELECT c.id, f.name, f.handle FROM conversations_fts f "
                            "JOIN conversations c ON c.pk = f.rowid ORDER BY c.id"
                        )
                    )
                ]

        before = index()
        with writing(engine) as conn:
            replay(conn)
        assert index() == before and len(before) == 15
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "view",
    [
        InboxFilter(status="ACTIVE"),
        InboxFilter(status="ACTIVE", channel="WHATSAPP"),
        InboxFilter(tag="vip", unread_only=True),
        InboxFilter(assigned="me", over_sla=True, status=None),
    ],
    ids=["open", "channel", "tag-unread", "mine-sla"],
)
def test_a_searchs_first_screen_walks_the_index_without_sorting(
    engine: Engine, view: InboxFilter
) -> None:
    """The first screen of a search costs a screen only while SQLite walks the search index
    newest first and stops: a plan that sorts would read every match first."""
    from datetime import datetime

    from inboop_tui.store import search_index
    from inboop_tui.store.queries import _message_hits, _people, viewpoint

    with engine.connect() as conn:
        vp = viewpoint(conn, "ana", datetime(2026, 11, 25, 12, tzinfo=UTC))
        parts = search_index.parts(conn)
        assert parts
        walk = _plan(conn, _message_hits(view, vp, '"price"*', None, False, parts[:1]))
        assert walk[0].startswith(f"SCAN {search_index.part_table(parts[0])} VIRTUAL TABLE")
        assert not any("TEMP B-TREE" in step for step in walk), walk
        people = _plan(conn, _people(view, vp, '"price"*', None))
        assert people[0].startswith("SCAN conversations_fts VIRTUAL TABLE"), people


def _plan(conn: Any, query: Any) -> list[str]:
    """SQLite's plan for a query, step by step."""
    driver = conn.connection.driver_connection
    state = query.compile(dialect=conn.dialect).construct_expanded_state()
    steps = driver.execute("EXPLAIN QUERY PLAN " + state.statement, state.positional_parameters)
    return [step[3] for step in steps]


@pytest.mark.parametrize(
    "view",
    [
        InboxFilter(status="ACTIVE"),
        InboxFilter(),
        InboxFilter(channel="WHATSAPP"),
        InboxFilter(status="ACTIVE", assigned="me"),
        InboxFilter(status="SNOOZED", assigned="unassigned", channel="MESSENGER"),
        InboxFilter(status="ACTIVE", channel="INSTAGRAM", unread_only=True),
    ],
    ids=["open", "all", "channel", "mine", "snoozed", "channel-unread"],
)
def test_the_inbox_order_comes_off_its_one_index_for_any_channel(
    engine: Engine, view: InboxFilter
) -> None:
    """Every new message moves its conversation in the inbox's order, so the order has one
    index (a second, by channel, was ~20 % of a conversation's upsert): a list of one channel
    walks it too, newest first, without sorting. The index holds what the views filter on, so
    a whole list is read without the conversations' rows (unread needs the views' table)."""
    from datetime import datetime

    from inboop_tui.store.db import writing
    from inboop_tui.store.queries import _newest_first, conversation_keys, viewpoint
    from inboop_tui.store.tables import conversations

    with writing(engine) as conn:  # some for "mine", some snoozed until after the view's time
        conn.exec_driver_sql("UPDATE conversations SET assignee = 'ana' WHERE pk % 3 = 0")
        conn.exec_driver_sql(
            "UPDATE conversations SET status = 'SNOOZED', status_at = '2026-11-25T11:00:00.000Z',"
            " snoozed_until = '2026-11-26T09:00:00.000Z' WHERE pk % 3 = 1"
        )
    with engine.connect() as conn:
        vp = viewpoint(conn, "ana", datetime(2026, 11, 25, 12, tzinfo=UTC))
        steps = _plan(conn, _newest_first(conversations.c.pk, view, vp, None))
        shown = list(conversation_keys(conn, view, vp)[0])
        ordered = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT pk FROM conversations WHERE last_message_key IS NOT NULL"
                " ORDER BY last_message_key DESC"
            )
        ]
    assert steps[0].startswith("SEARCH conversations USING"), steps
    assert "INDEX ix_conversations_recent (last_message_key>?)" in steps[0], steps
    assert ("COVERING INDEX" in steps[0]) is not view.unread_only, steps
    assert not any("TEMP B-TREE" in step for step in steps), steps
    kept = set(shown)
    assert shown and [pk for pk in ordered if pk in kept] == shown  # newest first


def test_the_migrations_of_the_inbox_order_index_go_both_ways(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    from inboop_tui.store.db import writing
    from inboop_tui.store.replica_file import MIGRATIONS
    from inboop_tui.store.tables import conversations

    def migrate(step: str, revision: str) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with writing(engine) as conn:
            config.attributes["connection"] = conn
            getattr(command, step)(config, revision)

    def indexes() -> dict[str, list[str]]:
        with engine.connect() as conn:
            names = [
                row[1]
                for row in conn.exec_driver_sql("PRAGMA index_list(conversations)")
                if row[1].startswith("ix_")
            ]
            return {
                name: [row[2] for row in conn.exec_driver_sql(f"PRAGMA index_info({name})")]
                for name in names
            }

    declared = {index.name: [c.name for c in index.columns] for index in conversations.indexes}
    assert indexes() == declared
    assert declared["ix_conversations_recent"][:2] == ["last_message_key", "channel"]
    assert "status" in declared["ix_conversations_recent"]
    migrate("downgrade", "0008")
    assert indexes() == {
        "ix_conversations_recent": ["last_message_key", "channel"],
        "ix_conversations_contact": ["contact_id"],
    }
    migrate("downgrade", "0007")
    assert indexes() == {
        "ix_conversations_recent": ["last_message_key"],
        "ix_conversations_channel_list": ["channel", "last_message_key"],
        "ix_conversations_contact": ["contact_id"],
    }
    migrate("upgrade", "head")
    assert indexes() == declared

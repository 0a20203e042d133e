"""Rows found by a key of several columns are looked up through the key's index, on the relay's
ingest path and in the replica's pending layer.

SQLite answers a row value ``IN`` (``(a, b) IN (VALUES …)``) by reading the whole table: each
batch of deliveries read every WhatsApp identity and every profile lookup the relay had stored,
and while two replies waited to be sent, each synced batch read every message on the replica.
The plans of the statements these paths really run are checked, on real database files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, event, select

from inboop_tui.store.actions import Identity
from inboop_tui.store.db import writing
from inboop_tui.store.pending import relayer
from inboop_tui.store.queries import InboxFilter
from inboop_tui.store.replica import Replica
from inboop_tui.store.tables import team
from relay import simulator as mp
from relay.channels import normalise_delivery
from relay.log import Delivery, append_deliveries, new_delivery_id, now_text
from relay.store.dialect import Engines, create_engines
from relay.store.keys import GROUPS_PER_CONDITION, KEYS_PER_CONDITION, keys_in
from relay.store.migrate import upgrade_to_head
from tests.app_support import FIXED_NOW, demo_replica


def scans(
    engine: Engine, run: Callable[[], Any], tables: set[str]
) -> tuple[list[str], Counter[str], Counter[str]]:
    """The plan steps that read one of ``tables`` whole, in the SELECTs ``run`` makes; the
    SELECTs that look rows of each table up by a list of keys (``IN``), so that a path that
    stops making them shows; and every SELECT that reads each table."""
    selects: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT") and not many:
            selects.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    found: list[str] = []
    looked: Counter[str] = Counter()
    reads: Counter[str] = Counter()
    with engine.connect() as conn:
        for statement, parameters in selects:
            read = [table for table in tables if f"FROM {table}" in statement]
            if not read:
                continue
            reads.update(read)
            looked.update(table for table in read if " IN (" in statement)
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            found += [
                f"{step[3]}: {' '.join(statement.split())[:120]}"
                for step in plan
                if any(step[3].startswith(f"SCAN {table}") for table in tables)
            ]
    return found, looked, reads


@pytest.fixture
def relay_engines(tmp_path: Path) -> Iterator[Engines]:
    engines = create_engines(f"sqlite:///{tmp_path / 'relay.db'}")
    upgrade_to_head(engines.writer)
    yield engines
    engines.dispose()


def deliveries(start: int, count: int) -> list[Delivery]:
    """WhatsApp, Instagram and Messenger customers, each writing once, every third with a
    picture (media to fetch)."""
    found = []
    for n in range(start, start + count):
        ts = 1_764_000_000 + n
        if n % 3 == 0:
            value = mp.wa_value(
                messages=[
                    mp.wa_message(f"9190{n:08d}", f"wamid.{n}", ts, "image", {"id": f"m{n}"})
                ],
                contacts=[mp.wa_contact(f"9190{n:08d}", f"Person {n}")],
            )
            payload = mp.whatsapp(value)
        else:
            make = mp.instagram if n % 3 == 1 else mp.messenger
            account = mp.IG_ACCOUNT_ID if n % 3 == 1 else mp.PAGE_ID
            item = mp.attachment_message(
                account, f"c{n}", f"mid.{n}", "image", {"url": f"https://cdn.example/{n}.jpg"}
            )
            payload = make(item)
        body = mp.body(payload)
        found.append(Delivery(new_delivery_id(), now_text(), body, normalise_delivery(body)))
    return found


def test_ingest_reads_identities_by_key_and_notes_profiles_and_media_without_reading(
    relay_engines: Engines,
) -> None:
    writer = relay_engines.writer
    with writer.begin() as conn:  # customers and media the relay has already seen
        append_deliveries(conn, deliveries(0, 600))
        conn.exec_driver_sql("UPDATE profile_lookups SET state = 'DONE' WHERE customer_id = 'c1'")
    item = mp.attachment_message(  # a new message from a customer looked up already
        mp.IG_ACCOUNT_ID, "c1", "mid.again", "image", {"url": "https://cdn.example/again.jpg"}
    )
    body = mp.body(mp.instagram(item))
    again = Delivery(new_delivery_id(), now_text(), body, normalise_delivery(body))

    def batch() -> None:
        with writer.begin() as conn:
            outcomes = append_deliveries(conn, [*deliveries(600, 30), *deliveries(0, 3), again])
        # A WhatsApp message comes with its sender's profile: two events.
        assert [o.appended for o in outcomes] == [
            2 if n % 3 == 0 else 1 for n in range(600, 630)
        ] + [0] * 3 + [1]

    tables = {"whatsapp_identities", "profile_lookups", "media"}
    found, looked, reads = scans(writer, batch, tables)
    assert found == []
    assert set(looked) == {"whatsapp_identities"}
    # Lookups and attachments to fetch are inserted with what is already there left as it is.
    assert set(reads) == {"whatsapp_identities"}
    with writer.connect() as conn:
        counts = [
            conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
            for t in ("whatsapp_identities", "profile_lookups", "media")
        ]
        state = conn.exec_driver_sql(
            "SELECT state FROM profile_lookups WHERE customer_id = 'c1'"
        ).scalar_one()
    assert counts == [210, 420, 631]
    assert state == "DONE"  # noted again by their new message: the row stays as it was


def test_a_batch_finds_every_known_whatsapp_id_past_one_lookup_s_worth(
    relay_engines: Engines,
) -> None:
    """A batch with more WhatsApp ids than one lookup holds finds each known one: a missed id
    would be taken for new, and its second row refused by the key."""
    phones = [f"9190{n:08d}" for n in range(KEYS_PER_CONDITION + 100)]

    def batch(step: int, users: bool) -> list[Delivery]:
        found = []
        for n, phone in enumerate(phones):
            message = mp.wa_message(phone, f"wamid.{step}.{n}", 1_764_000_000 + n, "text")
            message["text"] = {"body": "hi"}
            contact = mp.wa_contact(phone, f"Person {n}", f"IN.{n}" if users else None)
            body = mp.body(mp.whatsapp(mp.wa_value(messages=[message], contacts=[contact])))
            found.append(Delivery(new_delivery_id(), now_text(), body, normalise_delivery(body)))
        return found

    writer = relay_engines.writer
    for step, users in enumerate((False, False, True, True)):  # then each linked to a user_id
        with writer.begin() as conn:
            outcomes = append_deliveries(conn, batch(step, users))
        assert {o.appended for o in outcomes} == {2}
    with writer.connect() as conn:
        aliases = conn.exec_driver_sql(
            "SELECT canonical, count(*) FROM whatsapp_identities GROUP BY canonical"
        ).all()
        customers = conn.exec_driver_sql(
            "SELECT count(DISTINCT json_extract(payload, '$.customer_id')) FROM events"
        ).scalar_one()
    assert sorted(aliases) == sorted((phone, 2) for phone in phones)  # the phone and its user
    assert customers == len(phones)


def test_pending_replies_shadow_their_messages_by_key(tmp_path: Path) -> None:
    _, engine = demo_replica(tmp_path / "replica")
    try:
        with writing(engine) as conn:
            conn.execute(team.insert(), [{"name": "ana", "role": "MEMBER"}])
        replica = Replica(engine, Identity("ana", "MEMBER"), lambda: FIXED_NOW)
        conversation = replica.window(InboxFilter(), 0, 1)[0].id

        replica.actions.reply(conversation, "on its way")
        replica.actions.reply(conversation, "tomorrow by noon")

        def relay_pending() -> None:  # as each synced batch does: both replies shadowed again
            with writing(engine) as conn:
                relayer(conn)

        found, looked, _ = scans(engine, relay_pending, {"messages"})
        assert found == []
        assert looked["messages"] >= 1
        texts = {m.text for m in replica.thread(conversation).messages[-2:]}  # sent at one time
        assert texts == {"on its way", "tomorrow by noon"}
    finally:
        engine.dispose()


def test_keys_in_finds_exactly_the_keys_asked_for(tmp_path: Path) -> None:
    metadata = MetaData()
    pairs = Table(
        "pairs",
        metadata,
        Column("account", String, primary_key=True),
        Column("alias", String, primary_key=True),
        Column("n", Integer, nullable=False),
    )
    engines = create_engines(f"sqlite:///{tmp_path / 'keys.db'}")
    try:
        metadata.create_all(engines.writer)
        stored = [(f"a{a}", f"x{x}") for a in range(300) for x in range(4)]
        stored += [("big", f"y{y}") for y in range(0, 2 * KEYS_PER_CONDITION, 2)]
        with engines.writer.begin() as conn:
            conn.execute(
                pairs.insert(),
                [{"account": a, "alias": x, "n": i} for i, (a, x) in enumerate(stored)],
            )
        # More groups (of one key) than one condition holds, one group over its keys, and keys
        # nobody stored: in a stored group, and in a group of their own.
        wanted = [(f"a{a}", "x1") for a in range(300)]
        wanted += [("big", f"y{y}") for y in range(KEYS_PER_CONDITION + 20)]
        wanted += [("a3", "nobody"), ("nobody", "x1")]
        conditions = list(keys_in((pairs.c.account, pairs.c.alias), wanted))
        sizes = []  # (keys, terms of the OR, bound parameters) of each condition
        for condition in conditions:
            compiled = condition.compile(
                dialect=engines.writer.dialect, compile_kwargs={"render_postcompile": True}
            )
            terms = str(compiled).count(" OR ") + 1
            sizes.append((len(compiled.positiontup or []) - terms, terms))
        assert all(keys <= KEYS_PER_CONDITION for keys, _ in sizes), sizes
        assert all(terms <= GROUPS_PER_CONDITION for _, terms in sizes), sizes
        assert (KEYS_PER_CONDITION, 1) in sizes  # a group alone over the keys' limit is split
        assert any(terms == GROUPS_PER_CONDITION for _, terms in sizes)
        with engines.writer.connect() as conn:
            found = [
                tuple(row)
                for condition in conditions
                for row in conn.execute(select(pairs.c.account, pairs.c.alias).where(condition))
            ]
        assert sorted(found) == sorted(key for key in wanted if key in set(stored))
        assert len(found) == 300 + (KEYS_PER_CONDITION + 20 + 1) // 2
        assert list(keys_in((pairs.c.account, pairs.c.alias), [])) == []
    finally:
        engines.dispose()

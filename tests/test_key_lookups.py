"""Rows found by a key of several columns are looked up through the key's index, on the relay's
ingest path and in the replica's pending layer.

SQLite answers a row value ``IN`` (``(a, b) IN (VALUES …)``) by reading the whole table: each
batch of deliveries read every WhatsApp identity and every profile lookup the relay had stored,
and while two replies waited to be sent, each synced batch read every message on the replica.
The plans of the statements these paths really run are checked, on real database files.
"""

from __future__ import annotations

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
from relay.store.dialect import KEYS_PER_CONDITION, Engines, create_engines, keys_in
from relay.store.migrate import upgrade_to_head
from tests.app_support import FIXED_NOW, demo_replica


def scans(engine: Engine, run: Callable[[], Any], tables: set[str]) -> tuple[list[str], int]:
    """The plan steps that read one of ``tables`` whole, in the SELECTs ``run`` makes; and how
    many SELECTs on those tables it made (so that a path that stops reading them shows)."""
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
    found, looked = [], 0
    with engine.connect() as conn:
        for statement, parameters in selects:
            if not any(f" {table}" in statement for table in tables):
                continue
            looked += 1
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            found += [
                f"{step[3]}: {' '.join(statement.split())[:120]}"
                for step in plan
                if any(step[3].startswith(f"SCAN {table}") for table in tables)
            ]
    return found, looked


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


def test_ingest_looks_identities_profiles_and_media_up_by_key(relay_engines: Engines) -> None:
    writer = relay_engines.writer
    with writer.begin() as conn:  # customers and media the relay has already seen
        append_deliveries(conn, deliveries(0, 600))

    def batch() -> None:
        with writer.begin() as conn:
            outcomes = append_deliveries(conn, deliveries(600, 30) + deliveries(0, 3))
        # A WhatsApp message comes with its sender's profile: two events.
        assert [o.appended for o in outcomes] == [
            2 if n % 3 == 0 else 1 for n in range(600, 630)
        ] + [0] * 3

    found, looked = scans(writer, batch, {"whatsapp_identities", "profile_lookups", "media"})
    assert found == []
    assert looked >= 3
    with writer.connect() as conn:
        counts = [
            conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
            for t in ("whatsapp_identities", "profile_lookups", "media")
        ]
    assert counts == [210, 420, 630]


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

        found, looked = scans(engine, relay_pending, {"messages"})
        assert found == []
        assert looked >= 1
        texts = [m.text for m in replica.thread(conversation).messages[-2:]]
        assert texts == ["on its way", "tomorrow by noon"]
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
        with engines.writer.begin() as conn:
            conn.execute(
                pairs.insert(),
                [{"account": a, "alias": x, "n": i} for i, (a, x) in enumerate(stored)],
            )
        # More groups than one condition holds, one group over its keys, some keys unknown.
        wanted = stored[::2] + [(f"a{a}", f"nobody{a}") for a in range(250)]
        wanted += [("a7", f"y{y}") for y in range(KEYS_PER_CONDITION + 20)]
        conditions = list(keys_in((pairs.c.account, pairs.c.alias), wanted))
        assert len(conditions) >= 3
        with engines.writer.connect() as conn:
            found = [
                tuple(row)
                for condition in conditions
                for row in conn.execute(select(pairs.c.account, pairs.c.alias).where(condition))
            ]
        assert sorted(found) == sorted(stored[::2])
        assert len(found) == len(set(found))
        assert list(keys_in((pairs.c.account, pairs.c.alias), [])) == []
    finally:
        engines.dispose()

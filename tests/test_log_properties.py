"""Any permutation of deliveries, with repeats and any grouping into commits, gives the same log.

Runs the real append path (``relay.log.append_deliveries``) on a real SQLite file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from relay import simulator as mp
from relay.channels import normalise_delivery
from relay.log import Delivery, append_deliveries, new_delivery_id, now_text
from relay.store.dialect import create_engines
from relay.store.migrate import upgrade_to_head
from relay.store.tables import events

PAGE, IG, T0 = mp.PAGE_ID, mp.IG_ACCOUNT_ID, mp.T0_MS

DELIVERIES: list[bytes] = [
    mp.body(
        mp.messenger(mp.text_message(PAGE, "P1", "m_1", "hi"), mp.echo(PAGE, "P1", "m_2", "hello"))
    ),
    mp.body(
        mp.messenger(
            mp.delivery_watermark(PAGE, "P1", T0 + 10, ["m_2"]),
            mp.read_watermark(PAGE, "P1", T0 + 20, T0 + 21),
        )
    ),
    mp.body(mp.messenger(mp.edit(PAGE, "P1", "m_1", "hi!", 1, T0 + 30))),
    mp.body(
        mp.instagram(
            mp.text_message(IG, "I1", "ig_1", "price?"), mp.reaction(IG, "I1", "ig_1", T0 + 5)
        )
    ),
    mp.body(
        mp.instagram(
            mp.reaction(IG, "I1", "ig_1", T0 + 6, action="unreact"),
            mp.unsend(IG, "I1", "ig_1", T0 + 7),
        )
    ),
    mp.body(
        mp.instagram(
            mp.text_message(IG, "I1", "ig_1", "price?"), mp.read_by_mid(IG, "I1", "ig_e", T0 + 8)
        )
    ),
    mp.body(
        mp.whatsapp(
            mp.wa_value(
                messages=[
                    mp.wa_text("91", "wamid.1", 1764000000, "a"),
                    mp.wa_text("92", "wamid.2", 1764000001, "b"),
                ],
                contacts=[mp.wa_contact("91", "A"), mp.wa_contact("92", "B")],
            )
        )
    ),
    mp.body(
        mp.whatsapp(
            mp.wa_value(
                statuses=[
                    mp.wa_status("wamid.O", "delivered", 1764000002, "91"),
                    mp.wa_status("wamid.O", "read", 1764000003, "91"),
                ]
            )
        )
    ),
    mp.body(
        mp.whatsapp(
            mp.wa_value(
                messages=[mp.wa_text("92", "wamid.2", 1764000001, "b")],
                contacts=[mp.wa_contact("92", "B")],
            )
        )
    ),
    b"{broken",
]


def _log_of(order: list[int], groups: list[int], db: Path) -> list[tuple[int, str, str]]:
    engines = create_engines(f"sqlite:///{db}")
    try:
        upgrade_to_head(engines.writer)
        batch: list[Delivery] = []
        sizes = iter(groups)
        size = next(sizes, 1)
        for index in order:
            body = DELIVERIES[index]
            batch.append(Delivery(new_delivery_id(), now_text(), body, normalise_delivery(body)))
            if len(batch) >= size:
                with engines.writer.begin() as conn:
                    append_deliveries(conn, batch)
                batch, size = [], next(sizes, 1)
        if batch:
            with engines.writer.begin() as conn:
                append_deliveries(conn, batch)
        with engines.reader.connect() as conn:
            rows = (
                conn.execute(
                    select(events.c.seq, events.c.dedup_key, events.c.payload).order_by(
                        events.c.seq
                    )
                )
            ).all()
        return [tuple(r) for r in rows]
    finally:
        engines.dispose()


def _run(order: list[int], groups: list[int]) -> list[tuple[int, str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        return _log_of(order, groups, Path(tmp) / "relay.db")


IN_ORDER = None


def _baseline() -> list[tuple[int, str, str]]:
    global IN_ORDER
    if IN_ORDER is None:
        IN_ORDER = _run(list(range(len(DELIVERIES))), [1])
    return IN_ORDER


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=st.lists(
        st.integers(0, len(DELIVERIES) - 1), min_size=len(DELIVERIES), max_size=3 * len(DELIVERIES)
    )
    .filter(lambda xs: set(xs) == set(range(len(DELIVERIES))))
    .flatmap(st.permutations),
    groups=st.lists(st.integers(1, 6), max_size=20),
)
def test_any_order_with_repeats_gives_the_same_events(order: list[int], groups: list[int]) -> None:
    baseline = _baseline()
    shuffled = _run(order, groups)
    assert [seq for seq, _, _ in shuffled] == list(range(1, len(shuffled) + 1))  # gap-free
    assert {(key, payload) for _, key, payload in shuffled} == {
        (key, payload) for _, key, payload in baseline
    }
    assert len(shuffled) == len(baseline)  # nothing doubled

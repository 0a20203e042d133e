"""Re-normalise kept deliveries (after an upgrade taught the normalisers something new).

Idempotent: events already in the log are skipped by their dedup keys, so running it twice,
or over deliveries that were fine the first time, appends nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select, tuple_

from relay.channels import normalise_delivery
from relay.log import Delivery, append_deliveries
from relay.store.tables import deliveries

CHUNK = 200


@dataclass
class ReprocessSummary:
    deliveries: int = 0
    appended: int = 0
    still_failing: int = 0


def reprocess(
    engine: Engine, *, since: str | None = None, only_failed: bool = False
) -> ReprocessSummary:
    summary = ReprocessSummary()
    cursor = ("", "")
    while True:
        query = (
            select(deliveries.c.id, deliveries.c.received_at, deliveries.c.body)
            .where(tuple_(deliveries.c.received_at, deliveries.c.id) > tuple_(*cursor))
            .order_by(deliveries.c.received_at, deliveries.c.id)
            .limit(CHUNK)
        )
        if since:
            query = query.where(deliveries.c.received_at >= since)
        if only_failed:
            query = query.where(deliveries.c.status != "NORMALISED")
        with engine.connect() as conn:
            rows = (conn.execute(query)).all()
        if not rows:
            return summary
        batch = [
            Delivery(row.id, row.received_at, row.body, normalise_delivery(row.body))
            for row in rows
        ]
        with engine.begin() as conn:
            outcomes = append_deliveries(conn, batch, reprocess=True)
        summary.deliveries += len(batch)
        summary.appended += sum(o.appended for o in outcomes)
        summary.still_failing += sum(1 for o in outcomes if o.failures)
        cursor = (rows[-1].received_at, rows[-1].id)

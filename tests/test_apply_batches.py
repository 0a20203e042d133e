"""Applying a batch of log entries to a real replica file, as the sync does: what it costs the
process beyond the rows (the cyclic collector)."""

from __future__ import annotations

import contextlib
import gc
import sys
from pathlib import Path
from types import FrameType

from inboop_tui.store.apply import apply_entries, current_cursor
from inboop_tui.store.db import open_replica, writing
from relay.channels import normalise_delivery
from tests.harness import log_entries, scenario


def test_a_batch_applies_without_the_cyclic_collector_and_leaves_it_as_it_was(
    tmp_path: Path,
) -> None:
    """A batch's objects live until it ends and go by reference counting; a collection over
    them is wasted (it was ~18 % of a first sync). With the collector made to run at nearly
    every allocation, none runs inside the batch's work (only at the pause's own edges), and
    the collector is back on (or off) after."""
    engine = open_replica(tmp_path / "replica.db")
    events = [e for body in scenario() for e in normalise_delivery(body).events]
    edges = {contextlib.__file__, apply_entries.__code__.co_filename}
    pause_steps = ("collector_paused", "helper", "__init__", "__enter__", "__exit__")
    inside: list[str] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        frame: FrameType | None = sys._getframe(1)
        path = []
        while frame is not None and frame.f_code is not apply_entries.__code__:
            path.append(frame)
            frame = frame.f_back
        # A collection during apply_entries, other than in the pause's own steps.
        if phase == "start" and frame is not None:
            if any(
                f.f_code.co_filename not in edges or f.f_code.co_name not in pause_steps
                for f in path
            ):
                inside.append(" < ".join(f.f_code.co_name for f in path))

    thresholds = gc.get_threshold()
    was_on = gc.isenabled()
    gc.callbacks.append(watch)
    try:
        for collector_on in (True, False):
            (gc.enable if collector_on else gc.disable)()
            with writing(engine) as conn:
                after = current_cursor(conn)
                entries = log_entries(events, after)
                gc.set_threshold(1, 1, 1)
                applied = apply_entries(conn, entries, cursor=after + len(entries), relay_head=0)
                gc.set_threshold(*thresholds)
            assert applied.applied == len(entries) > 0
            assert inside == []
            assert gc.isenabled() is collector_on
    finally:
        gc.callbacks.remove(watch)
        gc.set_threshold(*thresholds)
        (gc.enable if was_on else gc.disable)()
        engine.dispose()

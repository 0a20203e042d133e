"""What the Leads and Orders screens share: a filter of plain values, a search box, a created
range, the assignee cycle, and Esc that leaves the search before it leaves the screen."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual import on
from textual.widgets import DataTable, Input

from inboop_tui.screens.acting import ActingScreen
from inboop_tui.screens.selling_dialogs import RangeChoice, RangeDialog

ASSIGNEE_CYCLE: list[str | None] = [None, "me", "unassigned"]


def next_in(cycle: list[Any], current: Any) -> Any:
    """The value after ``current`` (the first one when ``current`` is not in the cycle)."""
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else cycle[0]


class FilteredScreen(ActingScreen):
    filter: Any  # a LeadFilter or an OrderFilter: frozen dataclasses of plain values
    RANGE_TITLE = "Created…"

    def set_filter(self, f: Any) -> None:
        self.filter = f
        self.refresh_data()

    def focus_list(self) -> None:
        self.query_one(DataTable).focus()

    def action_cycle_assignee(self) -> None:
        me = self._replica.me
        current = "me" if me is not None and self.filter.assignee == me else self.filter.assignee
        wanted = next_in(ASSIGNEE_CYCLE, current)
        self.set_filter(replace(self.filter, assignee=me if wanted == "me" else wanted))

    def action_range(self) -> None:
        self.app.push_screen(
            RangeDialog(self.RANGE_TITLE, self.filter.created_from, self.filter.created_to),
            self._range_chosen,
        )

    def _range_chosen(self, choice: RangeChoice | None) -> None:
        if choice is not None:
            self.set_filter(replace(self.filter, created_from=choice.start, created_to=choice.end))

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.set_filter(replace(self.filter, search=event.value.strip()))

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.focus_list()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_focus or search.value:
            search.value = ""
            search.display = False
            self.focus_list()
            return
        self.app.switch_mode("inbox")

"""The inbox list: a Line-API scroll view that renders only the rows on screen.

A reload reads the list's order in a worker: the keys of the conversations the filter keeps,
in the list's order (its length is the count, a position is an index). Rows then come out of
SQLite in blocks looked up by key, by thread workers, and are kept in a small cache, so a jump
to the ten-thousandth row costs what the first costs, and a 100k-conversation inbox opens like a
10-row one. A new view (the app's start, a filter, a search) reads its first 100 keys first,
shows them (the count reads "100+"), and reads the whole order once their rows are in: its first
screen costs the same at any size.

The selection follows the conversation, not the row number: a reload (a sync, a change) finds
where the highlighted conversation sits now and moves the cursor there, and the conversation
open on screen (``keep``) stays in the list even when the filter would drop it (read in an
unread-only list, resolved in an open-only list) until the agent moves on.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from inboop_tui.domain.timing import relative
from inboop_tui.store.replica import ListOrder, Replica
from inboop_tui.store.rows import ConversationRow, InboxFilter
from inboop_tui.widgets.clock import now
from inboop_tui.widgets.failures import ReportsFailedWorkers
from inboop_tui.widgets.reading import read_now

ROW_HEIGHT = 2
BLOCK = 50
FIRST = 2 * BLOCK  # keys read before the rest of a long order (whole blocks): over a screen
CACHED_BLOCKS = 80
HOLD_PAINT_SECONDS = 0.1  # a jump to rows not read yet is drawn with placeholders after this

STATUS_MARKS = {
    "PENDING": ("pending", Style(color="yellow")),
    "RESOLVED": ("resolved", Style(color="green")),
    "SNOOZED": ("snoozed", Style(color="blue")),
}
CURSOR_FOCUSED = Style(bgcolor="dark_blue")
CURSOR_BLURRED = Style(bgcolor="grey23")
CHANNEL_MARKS = {
    "INSTAGRAM": ("IG", Style(color="magenta", bold=True)),
    "WHATSAPP": ("WA", Style(color="green", bold=True)),
    "MESSENGER": ("FB", Style(color="blue", bold=True)),
}


def fit(text: str, width: int) -> str:
    """``text`` in exactly ``width`` cells; cut with an ellipsis when it is longer."""
    if width <= 0:
        return ""
    if len(text) > 2 * width:
        # Only its start can show (a character takes at most two cells): measure that, not a
        # whole message (cutting non-ASCII text splits it into graphemes first).
        head = text[: 2 * width]
        if cell_len(head) > width:
            return set_cell_size(head, width - 1) + "…"
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


class ConversationList(ReportsFailedWorkers, ScrollView, can_focus=True):
    DEFAULT_CSS = """
    ConversationList { height: 1fr; overflow-x: hidden; }
    """

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("enter", "open", "Open", show=False),
    ]

    # Painted by watch_cursor, which may hold the paint until the cursor's rows are read.
    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)

    @dataclass
    class Highlighted(Message):
        """The conversation under the cursor changed (None: the list is empty).

        ``by_user`` is false when the list moved by itself (a reload, a new filter).
        """

        conversation_id: str | None
        by_user: bool = False

    @dataclass
    class Opened(Message):
        conversation_id: str

    @dataclass
    class Counted(Message):
        count: int
        complete: bool = True  # False: the first rows of a longer list, the rest on its way

    def __init__(self, replica: Replica, view: InboxFilter, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._painting: _Paint | None = None  # during a paint: what every line of it shares
        self._replica = replica
        self._filter = view
        self.keep: str | None = None  # the conversation open on screen stays listed
        self._keys: Sequence[int] = ()
        self._stale = False  # the keys are another filter's: show nothing until the new ones
        self._complete = True  # False: the keys held are the first of a longer order
        self._wants_last = False  # End was pressed before the whole order was read
        self._blocks: OrderedDict[int, list[ConversationRow | None]] = OrderedDict()
        self._loading: set[int] = set()
        self._failed: set[int] = set()  # blocks whose read failed: asked again after a move
        self._generation = 0  # of reloads: only the newest one's order is taken
        self._held = 0  # the reload whose order is held
        self._reading_rest = 0  # the reload whose whole order is being read
        self._version = 0  # of the order held: only blocks read for it are kept
        self._highlighted: str | None = None
        self._user_moved = False
        self._held_paint: Timer | None = None  # a jump waiting for its rows to be drawn

    # --- data ----------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return 0 if self._stale else len(self._keys)

    @property
    def counted(self) -> bool:
        """The order held is the current filter's (a new filter's comes from a thread)."""
        return not self._stale

    @property
    def complete(self) -> bool:
        """The whole order is held, not only its first screens."""
        return self.counted and self._complete

    @property
    def filter(self) -> InboxFilter:
        return self._filter

    def set_filter(self, f: InboxFilter) -> None:
        """A new view: start at its top (the open conversation is not kept)."""
        self._filter = f
        self.keep = None
        self._highlighted = None
        self._blocks.clear()  # the old view's rows must not be announced under the new one
        self._stale = True
        self._user_moved = False
        self._wants_last = False
        self.set_reactive(ConversationList.cursor, 0)
        self.scroll_to(y=0, animate=False)
        self.reload(follow=False)

    def reload(self, *, follow: bool = True) -> None:
        """Read the order again and reload the visible rows (after a sync, a change, a filter);
        with ``follow``, keep the cursor on the conversation it was on.

        A new view (nothing followed) reads its first screens' keys first, as they come off
        the index (a few ms at any size), and the whole order once their rows are in
        (``_loaded``), so the two do not share the interpreter. A reload under the agent's
        eyes (a sync, a change) reads the whole order at once: the rows stay as they are until
        it is read, so the list never shrinks on the way."""
        self._generation += 1
        following = self._highlighted if follow else None
        self._read(self._generation, following, None if following else FIRST)

    def _rest(self) -> None:
        """Read the whole order the first keys held begin (its first rows are on screen)."""
        generation = self._held
        if self._complete or self._reading_rest == generation or generation != self._generation:
            return
        self._reading_rest = generation
        self._read(generation, self._highlighted, None)

    def _read(self, generation: int, following: str | None, limit: int | None) -> None:
        f, keep, replica = self._filter, self.keep, self._replica
        read: Callable[[], tuple[ListOrder, list[ConversationRow | None] | None]]
        if following is None and limit is not None:  # a new view: its first rows come along
            read = partial(replica.list_start, f, keep, limit=limit, rows=BLOCK)
        else:

            def read() -> tuple[ListOrder, None]:
                return replica.list_order(f, keep, following, limit=limit), None

        read_now(
            self,
            read,
            partial(self._counted, generation),
            group="conversation-order",
            exclusive=True,
            description="read the inbox's order",
        )

    def _counted(
        self, generation: int, found: tuple[ListOrder, list[ConversationRow | None] | None]
    ) -> None:
        if generation != self._generation:
            return
        order, first_rows = found
        keys, position = order.keys, order.position
        held = len(self._keys)
        if generation == self._held and not self._complete and keys[:held] == self._keys:
            # The rest of the order whose first keys are shown (whole blocks): the rows read
            # and the cursor (the agent may have moved it meanwhile) stay.
            position = None
        else:
            self._blocks.clear()
            self._loading.clear()
            self._failed.clear()
            self._version += 1
        self._keys = keys
        if first_rows is not None:
            self._blocks[0] = first_rows  # before the cursor moves below: it would ask for them
        self._held = generation
        self._stale = False
        self._complete = order.complete
        total = len(keys)
        self.virtual_size = Size(self.size.width, total * ROW_HEIGHT)
        if order.complete and self._wants_last:
            position = max(0, total - 1)
            self._wants_last = False
        if position is not None:
            self.set_reactive(ConversationList.cursor, position)
            self.scroll_to_region(
                Region(0, position * ROW_HEIGHT, self.size.width, ROW_HEIGHT), animate=False
            )
        if self.cursor >= total:
            self.cursor = max(0, total - 1)
        self.post_message(self.Counted(total, order.complete))
        self.refresh()
        if not total:
            self._announce(None)
            return
        if first_rows is not None:
            self._loaded(self._version, 0, first_rows)
        self._request(self.cursor // BLOCK)

    def row(self, index: int) -> ConversationRow | None:
        if not 0 <= index < self.count:
            return None
        block, offset = divmod(index, BLOCK)
        rows = self._blocks.get(block)
        if rows is None:
            self._request(block)
            return None
        self._blocks.move_to_end(block)
        return rows[offset]

    def _request(self, block: int) -> None:
        if block in self._loading or block in self._blocks or block in self._failed:
            return
        self._loading.add(block)
        version, keys = self._version, self._keys[block * BLOCK : (block + 1) * BLOCK]
        read_now(
            self,
            partial(self._replica.rows_at, keys),
            partial(self._loaded, version, block),
            group="conversation-rows",
            description="read the inbox's rows",
            failed=partial(self._not_loaded, version, block),
        )

    def _loaded(self, version: int, block: int, rows: list[ConversationRow | None]) -> None:
        if version != self._version:
            return  # read for the order before: _counted forgot it
        self._loading.discard(block)
        self._blocks[block] = rows
        while len(self._blocks) > CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        if self._held_paint is not None and self.cursor // BLOCK == block:
            self._show_cursor()
        self.refresh()
        if self.cursor // BLOCK == block:
            current = self.row(self.cursor)
            self._announce(current.id if current else None, by_user=self._user_moved)
        self._rest()

    def _not_loaded(self, version: int, block: int) -> None:
        """A block's read failed (the app says so): its placeholders are drawn, and it is asked
        for again when the cursor next moves, not by every paint (a database that keeps failing
        would be asked in a loop, and each failure said)."""
        if version != self._version:
            return
        self._loading.discard(block)
        self._failed.add(block)
        if self._held_paint is not None and self.cursor // BLOCK == block:
            self._show_cursor()

    def _announce(self, conversation_id: str | None, *, by_user: bool = False) -> None:
        if conversation_id != self._highlighted:
            self._highlighted = conversation_id
            self.post_message(self.Highlighted(conversation_id, by_user))
        self._user_moved = False

    def go_to(self, conversation_id: str) -> None:
        """Move the cursor to a conversation (kept listed whatever the filter says)."""
        self.keep = conversation_id
        self._highlighted = conversation_id
        self._wants_last = False
        self.reload()

    def set_read(self, conversation_id: str) -> None:
        """Show a conversation as read without reloading: it keeps its place until the next reload."""
        for rows in self._blocks.values():
            for i, row in enumerate(rows):
                if row is not None and row.id == conversation_id and row.unread:
                    rows[i] = replace(row, unread=False)
        self.refresh()

    @property
    def highlighted(self) -> str | None:
        return self._highlighted

    @property
    def current(self) -> ConversationRow | None:
        """The conversation under the cursor, if its row is loaded (else it is asked for)."""
        return self.row(self.cursor) if self.count else None

    # --- cursor --------------------------------------------------------------------------

    def watch_cursor(self, cursor: int) -> None:
        self._failed.clear()
        if not self.count:
            return
        current = self.row(cursor)
        if current is None and cursor // BLOCK in self._loading:
            # A jump to rows being read: drawn once, when they are in. Drawing their
            # placeholders first would hold the interpreter the read needs (a paint of the
            # whole screen takes longer than the read). A slow read shows them after a moment.
            if self._held_paint is None:
                self._held_paint = self.set_timer(HOLD_PAINT_SECONDS, self._show_cursor)
            return
        self._show_cursor()
        if current is not None:
            self._announce(current.id, by_user=self._user_moved)

    def _show_cursor(self) -> None:
        if self._held_paint is not None:
            self._held_paint.stop()
            self._held_paint = None
        self.scroll_to_region(
            Region(0, self.cursor * ROW_HEIGHT, self.size.width, ROW_HEIGHT), animate=False
        )
        self.refresh()

    def action_cursor_up(self) -> None:
        self._user_moved = True
        self._wants_last = False
        if self.cursor > 0:
            self.cursor -= 1

    def action_cursor_down(self) -> None:
        self._user_moved = True
        self._wants_last = False
        if self.cursor < self.count - 1:
            self.cursor += 1

    def action_page_up(self) -> None:
        self._user_moved = True
        self._wants_last = False
        self.cursor = max(0, self.cursor - max(1, self.size.height // ROW_HEIGHT))

    def action_page_down(self) -> None:
        self._user_moved = True
        self._wants_last = False
        self.cursor = min(
            max(0, self.count - 1), self.cursor + max(1, self.size.height // ROW_HEIGHT)
        )

    def action_first(self) -> None:
        self._user_moved = True
        self._wants_last = False
        self.cursor = 0

    def action_last(self) -> None:
        self._user_moved = True
        self._wants_last = not self._complete  # the end moves once the whole order is read
        self.cursor = max(0, self.count - 1)

    def action_open(self) -> None:
        current = self.row(self.cursor)
        if current is not None:
            self.post_message(self.Opened(current.id))

    def on_click(self, event: events.Click) -> None:
        index = (event.y + int(self.scroll_offset.y)) // ROW_HEIGHT
        if 0 <= index < self.count:
            self._user_moved = True
            self._wants_last = False
            self.cursor = index
            self.action_open()

    def on_resize(self, _event: events.Resize) -> None:
        self.virtual_size = Size(self.size.width, self.count * ROW_HEIGHT)

    # --- rendering -----------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's style walks its ancestors' styles (~0.1 ms), its width and scroll
        # position are worked out from its styles too: once per paint, not per line.
        self._painting = self._paint()
        try:
            return super().render_lines(crop)
        finally:
            self._painting = None

    def _paint(self) -> _Paint:
        """What every line of a paint shares, worked out from the widget's styles."""
        plain = self.rich_style
        return _Paint(
            plain,
            plain + (CURSOR_FOCUSED if self.has_focus else CURSOR_BLURRED),
            self.scrollable_content_region.width,
            int(self.scroll_offset.y),
        )

    def render_line(self, y: int) -> Strip:
        plain, under_cursor, width, top = self._painting or self._paint()
        line = top + y
        index, part = divmod(line, ROW_HEIGHT)
        if index >= self.count:
            return Strip.blank(width, plain)
        row = self.row(index)
        base = under_cursor if index == self.cursor else plain
        if row is None:
            return Strip([Segment(set_cell_size("  …" if part == 0 else "", width), base)])
        return Strip(self._row_segments(row, part, width, base))

    def _row_segments(
        self, row: ConversationRow, part: int, width: int, base: Style
    ) -> list[Segment]:
        styles = row_styles(base)
        if part == 0:
            mark, _ = CHANNEL_MARKS.get(row.channel, ("??", None))
            dot = Segment("● " if row.unread else "  ", styles.dot)
            when = relative(row.last_message_at, now(self.app))
            badges = self._badges(row, styles)
            badge_width = sum(cell_len(b.text) for b in badges)
            name_width = max(0, width - 2 - 3 - badge_width - cell_len(when) - 2)
            return [
                dot,
                Segment(mark + " ", styles.marks.get(row.channel, base)),
                Segment(fit(row.display_name, name_width), styles.name[row.unread]),
                *badges,
                Segment(" " + when + " ", styles.when),
            ]
        arrow = "→ " if row.preview_direction == "OUTBOUND" else ""
        preview = (arrow + (row.preview or "")).replace("\n", " ")
        if row.tags:
            tags = " ".join(f"#{t}" for t in row.tags)
            preview_width = max(0, width - 5 - cell_len(tags) - 1)
            return [
                Segment(fit("     " + preview, preview_width + 5), styles.preview[row.unread]),
                Segment(set_cell_size(" " + tags, width - preview_width - 5), styles.tags),
            ]
        return [Segment(fit("     " + preview, width), styles.preview[row.unread])]

    def _badges(self, row: ConversationRow, styles: RowStyles) -> list[Segment]:
        """Short marks before the time: status, SLA, pending changes, assignee."""
        found: list[Segment] = []
        if row.status in STATUS_MARKS:
            found.append(Segment(" " + STATUS_MARKS[row.status][0], styles.status[row.status]))
        if row.over_sla:
            found.append(Segment(" SLA", styles.sla))
        if row.pending:
            found.append(Segment(" ↑", styles.pending))
        if row.lead_id:
            found.append(Segment(" lead", styles.lead))
        if row.order_count:
            found.append(Segment(f" {row.order_count}ord", styles.orders))
        if row.assignee:
            found.append(Segment(" @" + row.assignee[:12], styles.assignee))
        return found


class _Paint(NamedTuple):
    """What every line of one paint shares: the base style of a row and of the row under the
    cursor, the lines' width and the first line shown."""

    plain: Style
    under_cursor: Style
    width: int
    top: int


@dataclass(frozen=True)
class RowStyles:
    """A row's styles over one base style (a row's, or the cursor's): added up once, not per
    segment of every line drawn. ``name`` and ``preview`` are indexed by the row's unread flag."""

    dot: Style
    marks: dict[str, Style]
    name: tuple[Style, Style]
    when: Style
    preview: tuple[Style, Style]
    tags: Style
    status: dict[str, Style]
    sla: Style
    pending: Style
    lead: Style
    orders: Style
    assignee: Style


@lru_cache(maxsize=16)
def row_styles(base: Style) -> RowStyles:
    return RowStyles(
        dot=base + Style(color="bright_cyan", bold=True),
        marks={channel: base + style for channel, (_, style) in CHANNEL_MARKS.items()},
        name=(base + Style(bold=False), base + Style(bold=True)),
        when=base + Style(dim=True),
        preview=(base + Style(dim=True), base + Style(dim=False)),
        tags=base + Style(color="cyan", dim=True),
        status={status: base + style for status, (_, style) in STATUS_MARKS.items()},
        sla=base + Style(color="red", bold=True),
        pending=base + Style(color="yellow"),
        lead=base + Style(color="green"),
        orders=base + Style(color="cyan"),
        assignee=base + Style(color="magenta"),
    )

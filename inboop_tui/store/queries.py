"""What the screens read, as plain data. A list is its order's keys (read whole, or its first
screens) and rows looked up by key, or a window (offset/limit); never whole tables.

What a conversation shows can depend on who looks and when (its status after a snooze ended,
"mine", the SLA clock): queries take a :class:`Viewpoint`.
"""

from __future__ import annotations

import json
import unicodedata
from array import array
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Integer,
    String,
    and_,
    bindparam,
    case,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement, Select

from inboop_tui.domain.messages import NO_ATTACHMENTS, NO_REACTIONS
from inboop_tui.domain.notes import CannedState
from inboop_tui.store import first_screen, search_index
from inboop_tui.store.db import driver_rows
from inboop_tui.store.first_screen import EXPANDED, Prepared
from inboop_tui.store.rows import (
    ACTIVE,
    DEFAULT_VIEW,
    FILES,
    THREAD_LIMIT,
    Attachment,
    AttachmentRef,
    ConversationRow,
    InboxFilter,
    Member,
    MessageRow,
    NoteRow,
    Viewpoint,
    conversation_row,
)
from inboop_tui.store.tables import (
    canned_replies,
    contacts,
    conversation_views,
    conversations,
    drafts,
    messages,
    notes,
    outbox,
    sending_accounts,
    sync_state,
    team,
    workspace,
)
from relay.store.keys import chunks


def _driver(conn: Connection) -> Any:
    """The driver's own connection under ``conn``, for the statements compiled ahead."""
    return conn.connection.driver_connection


def viewpoint(conn: Connection, me: str | None, now: datetime) -> Viewpoint:
    return first_screen.viewpoint(_driver(conn), me, now)


def sla_minutes(conn: Connection) -> int | None:
    return first_screen.sla_minutes(_driver(conn))


# What the search index keeps as parts of words besides letters and digits: emoji and other
# symbols, their modifiers, private-use characters (the replica's tokenizer, migration 0002).
_WORD_CATEGORIES = frozenset({"So", "Mn", "Mc", "Me", "Co", "Sk"})


def _search_words(search: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    for char in search:
        if char.isalnum() or char in "_@.+-" or unicodedata.category(char) in _WORD_CATEGORIES:
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def fts_query(search: str) -> str | None:
    """User text as an FTS5 query: every word must match, as a prefix; no FTS syntax leaks in."""
    words = _search_words(search)
    terms = []
    for word in words:
        cleaned = word.replace('"', "")
        if cleaned.strip(".+-@"):
            terms.append(f'"{cleaned}"*')
    return " ".join(terms) or None


def _unread() -> Any:
    return and_(
        conversations.c.last_inbound_at.is_not(None),
        or_(
            conversation_views.c.last_viewed_at.is_(None),
            conversations.c.last_inbound_at > conversation_views.c.last_viewed_at,
        ),
    )


def shown_status(now: str) -> Any:
    """The status a conversation shows at ``now``: domain.conversations.effective_status in SQL."""
    c = conversations.c
    return case(
        (
            and_(
                c.status.in_(("RESOLVED", "SNOOZED")),
                c.last_inbound_at.is_not(None),
                or_(c.status_at.is_(None), c.last_inbound_at > c.status_at),
            ),
            "OPEN",
        ),
        (
            and_(c.status == "SNOOZED", or_(c.snoozed_until.is_(None), c.snoozed_until <= now)),
            "OPEN",
        ),
        else_=c.status,
    )


def _over_sla(vp: Viewpoint) -> Any:
    if vp.sla_deadline is None:
        return false()
    return and_(
        conversations.c.awaiting_since.is_not(None),
        conversations.c.awaiting_since <= vp.sla_deadline,
        shown_status(vp.now).in_(("OPEN", "PENDING")),
    )


def _filtered(
    columns: list[Any],
    f: InboxFilter,
    vp: Viewpoint,
    keep: str | None = None,
    source: Any = conversations,
) -> Select[Any]:
    """The conversations a filter keeps (and ``keep``, the one open on screen, whatever the
    filter says), its search left aside (:func:`_matching_keys` reads matches in their own
    order); joins only what the filter needs. ``source`` holds ``conversations``."""
    if f.unread_only:
        source = source.outerjoin(
            conversation_views, conversation_views.c.conversation_id == conversations.c.id
        )
    query = select(*columns).select_from(source)
    conditions: list[Any] = []
    if f.channel:
        conditions.append(conversations.c.channel == f.channel)
    if f.unread_only:
        conditions.append(_unread())
    if f.assigned == "me":
        conditions.append(conversations.c.assignee == (vp.me or ""))
    elif f.assigned == "unassigned":
        conditions.append(conversations.c.assignee.is_(None))
    if f.status == ACTIVE:
        conditions.append(shown_status(vp.now).in_(("OPEN", "PENDING")))
    elif f.status:
        conditions.append(shown_status(vp.now) == f.status)
    if f.tag:
        conditions.append(
            text(
                "EXISTS (SELECT 1 FROM json_each(conversations.tags) WHERE value = :tag)"
            ).bindparams(tag=f.tag)
        )
    if f.over_sla:
        conditions.append(_over_sla(vp))
    if f.new_lead:
        conditions.append(conversations.c.lead_id.is_not(None))
    if f.has_orders:
        conditions.append(conversations.c.order_count > 0)
    kept = and_(*conditions) if conditions else true()
    if keep is not None:
        kept = or_(kept, conversations.c.id == keep)
    return query.where(conversations.c.last_message_key.is_not(None), kept)


# A search lists the people whose name or handle matches first (newest conversation first),
# then every other conversation by its newest matching message, newest first. Both orders come
# out of an index as they are read, so the first screen of results costs what the first screen
# costs, however common the words: the search index walks its matches newest first (a
# message's key grows as the replica learns of it), part by part (store.search_index), and
# each is looked up for its conversation until a screen is full. Sorting by each
# conversation's last message instead would need every match read before the first row could
# be shown (~0.4 s at 1M messages).
_PEOPLE = (
    text("SELECT rowid AS person FROM conversations_fts WHERE conversations_fts MATCH :q")
    .columns(column("person", Integer))
    .subquery("people")
)


def _hits(parts: Sequence[int]) -> Any:
    """The matching messages' keys in these parts of the search index (``hit``)."""
    tables = [search_index.part_table(part) for part in parts]
    union = " UNION ALL ".join(
        f"SELECT rowid AS hit FROM {table} WHERE {table} MATCH :q" for table in tables
    )
    return (
        text(union or "SELECT NULL AS hit WHERE 0").columns(column("hit", Integer)).subquery("hits")
    )


# Joined as ``+key``: SQLite may then not probe the index once per conversation by key (a
# plan it picks for a channel filter, which costs a search per conversation): it walks the
# index's matches and looks each up.
_PERSON: ColumnElement[Any] = literal_column("+people.person")
_HIT: ColumnElement[Any] = literal_column("+hits.hit")


def _people(f: InboxFilter, vp: Viewpoint, match: str, keep: str | None) -> Select[Any]:
    source = _PEOPLE.join(conversations, conversations.c.pk == _PERSON)
    return (
        _filtered([conversations.c.pk], f, vp, keep, source=source)
        .order_by(conversations.c.last_message_key.desc(), conversations.c.pk.desc())
        .params(q=match)
    )


_ANY = 1 << 40  # a part of the search index that no message reaches


# What a prepared statement leaves to each read: a search's words, the time it is read at and
# the SLA's deadline then, how many keys, and which (a list).
_PER_READ = ("q", "now", "deadline", "limit", "keys")


def _bound_viewpoint(me: str | None, sla_on: bool) -> Viewpoint:
    """A viewpoint whose time and SLA deadline are parameters (``now``, ``deadline``), for a
    statement built once and read at any time."""
    return Viewpoint(
        me=me,
        now=bindparam("now", type_=String),  # type: ignore[arg-type]
        sla_deadline=bindparam("deadline", type_=String) if sla_on else None,  # type: ignore[arg-type]
    )


def _prepare(dialect: Dialect, query: Select[Any]) -> Prepared:
    """``query`` compiled for the driver, its own values in place (a fixed list spread over its
    parameters), what :data:`_PER_READ` names left to each read."""
    compiled = query.compile(dialect=dialect)
    assert compiled.positional  # SQLite's driver: "?" parameters, in order
    sql = compiled.string
    values: list[Any] = []
    slots: list[tuple[int, str]] = []
    expanding = None
    for name in compiled.positiontup or []:
        marker = EXPANDED.format(name)
        if name in _PER_READ:
            if marker in sql:
                assert expanding is None and sql.count(marker) == 1  # one list, read once
                expanding = name
            slots.append((len(values), name))
            values.append(None)
        elif marker in sql:
            fixed = compiled.params[name]
            assert fixed  # SQLAlchemy writes an empty list otherwise
            sql = sql.replace(marker, ", ".join("?" * len(fixed)), 1)
            values.extend(fixed)
        else:
            values.append(compiled.params[name])
    return Prepared(sql, tuple(values), tuple(slots), expanding)


@lru_cache(maxsize=64)
def _search_statements(
    dialect: Dialect, f: InboxFilter, me: str | None, sla_on: bool, keep: str | None, limit: int
) -> tuple[Prepared, Prepared]:
    """A search's first screens: the people whose names match, and the messages' matches in
    a part of the search index that does not exist (read for each part by its table's name).
    Built and compiled once for a filter (building and compiling them cost ~10 times one
    part's read), with the words, the time and the SLA's deadline bound at each read."""
    vp = _bound_viewpoint(me, sla_on)
    people = _people(f, vp, "", keep).limit(limit + 1)
    hits = _message_hits(f, vp, "", keep, False, [_ANY])
    return _prepare(dialect, people), _prepare(dialect, hits)


def _message_hits(
    f: InboxFilter,
    vp: Viewpoint,
    match: str,
    keep: str | None,
    whole: bool,
    parts: Sequence[int],
) -> Select[Any]:
    """The conversations of the matches the filter keeps in these parts of the search index,
    by their newest match: one row per match as one part's index walks them (read until a
    screen is full), or, ``whole``, one per conversation, grouped inside SQLite before the
    conversations are looked up."""
    hits = _hits(parts)
    if whole:
        newest = (
            select(messages.c.conversation_id, func.max(hits.c.hit).label("newest"))
            .select_from(hits.join(messages, messages.c.pk == _HIT))
            .group_by(messages.c.conversation_id)
            .subquery("newest")
        )
        source = newest.join(conversations, conversations.c.id == newest.c.conversation_id)
        order = newest.c.newest.desc()
    else:
        source = hits.join(messages, messages.c.pk == _HIT).join(
            conversations, conversations.c.id == messages.c.conversation_id
        )
        order = hits.c.hit.desc()
    return (
        _filtered([conversations.c.pk], f, vp, keep, source=source).order_by(order).params(q=match)
    )


def _search_keys(
    conn: Connection, f: InboxFilter, vp: Viewpoint, keep: str | None, limit: int | None
) -> tuple[array[int], bool]:
    assert f.search is not None
    return _matching_keys(conn, replace(f, search=None), fts_query(f.search), vp, keep, limit)


# An FTS5 query that matches no message (an empty phrase), read in no time.
_NOTHING = '""'


def prepare_search(conn: Connection, f: InboxFilter, vp: Viewpoint, limit: int) -> None:
    """Do what a first search of the view ``f`` does before it reads a match: build and compile
    its statements, and open each part of the search index on ``conn``. Run while the app
    warms up, the agent's first search does not wait for it (~2-4 ms at 100k messages)."""
    _matching_keys(conn, replace(f, search=None), _NOTHING, vp, None, limit)


def _matching_keys(
    conn: Connection,
    rest: InboxFilter,
    match: str | None,
    vp: Viewpoint,
    keep: str | None,
    limit: int | None,
) -> tuple[array[int], bool]:
    """The conversations ``match`` (an FTS5 query) finds that the rest of the filter keeps:
    the people whose names match, then the messages' matches by their newest; with ``limit``,
    the first screens only, part by part of the index until they are full."""
    keys: array[int] = array("q")
    first: tuple[Prepared, Prepared] | None = None
    named = {"q": match, "now": vp.now, "deadline": vp.sla_deadline}
    if match is not None:
        if limit is None:
            people = driver_rows(conn, _people(rest, vp, match, keep))
        else:
            first = _search_statements(conn.dialect, rest, vp.me, vp.sla_on, keep, limit)
            people = driver_rows(conn, *first[0].bound(named))
        keys.extend(pk for (pk,) in people)
    if limit is not None and len(keys) > limit:
        return keys[:limit], False
    seen = set(keys)
    if match is not None:
        every = search_index.parts(conn)
        reads: list[tuple[Any, Any]]
        if first is None:  # the whole order in one read
            reads = [(_message_hits(rest, vp, match, keep, True, every), {})]
        else:  # the first screens part by part, newest first, until they are full
            sql, params = first[1].bound(named)
            table = search_index.part_table(_ANY)
            reads = [(sql.replace(table, search_index.part_table(part)), params) for part in every]
        for query, params in reads:
            hits = driver_rows(conn, query, params)
            try:
                while batch := hits.fetchmany(256):
                    for (pk,) in batch:
                        if pk not in seen:
                            seen.add(pk)
                            keys.append(pk)
                    if limit is not None and len(keys) > limit:
                        return keys[:limit], False
            finally:
                hits.close()
    if keep is not None:  # the conversation open on screen, even when no word matches it
        pk = conversation_key(conn, keep)
        if pk is not None and pk not in seen:
            keys.append(pk)
    return keys, True


def _with_details(keys: Any, vp: Viewpoint) -> Select[Any]:
    """Row columns for the conversations in ``keys`` (a subquery with ``pk``)."""
    return select(*_row_columns(vp)).select_from(
        keys.join(conversations, conversations.c.pk == keys.c.pk)
        .outerjoin(contacts, contacts.c.id == conversations.c.contact_id)
        .outerjoin(conversation_views, conversation_views.c.conversation_id == conversations.c.id)
    )


def _row_columns(vp: Viewpoint) -> list[Any]:
    pending = (
        select(func.count())
        .select_from(outbox)
        .where(outbox.c.conversation_id == conversations.c.id)
        .scalar_subquery()
    )
    return [
        conversations.c.id,
        conversations.c.channel,
        conversations.c.customer_id,
        func.coalesce(contacts.c.agent_name, contacts.c.name).label("name"),
        contacts.c.username,
        contacts.c.phone,
        conversations.c.preview,
        conversations.c.preview_direction,
        conversations.c.last_message_at,
        conversations.c.last_inbound_at,
        _unread().label("unread"),
        shown_status(vp.now).label("status"),
        conversations.c.assignee,
        conversations.c.message_count,
        conversations.c.snoozed_until,
        conversations.c.tags,
        _over_sla(vp).label("over_sla"),
        conversations.c.awaiting_since,
        pending.label("pending"),
        conversations.c.account_id,
        conversations.c.lead_id,
        conversations.c.order_count,
        conversations.c.contact_id,
    ]


def _rows(conn: Connection, query: Select[Any]) -> list[ConversationRow]:
    return [conversation_row(row) for row in conn.execute(query)]


def conversation_window(
    conn: Connection,
    f: InboxFilter,
    vp: Viewpoint,
    offset: int,
    limit: int,
    keep: str | None = None,
) -> list[ConversationRow]:
    if f.search is not None:
        keys, _ = conversation_keys(conn, f, vp, keep, limit=offset + limit)
        window = keys[offset : offset + limit]
        return [row for row in conversations_at(conn, window, vp) if row is not None]
    # Page over the bare index first, then join details for just the rows of the page.
    page = (
        _filtered([conversations.c.pk, conversations.c.last_message_key.label("key")], f, vp, keep)
        .order_by(conversations.c.last_message_key.desc())
        .offset(offset)
        .limit(limit)
        .subquery("page")
    )
    return _rows(conn, _with_details(page, vp).order_by(page.c.key.desc()))


def _newest_first(column: Any, f: InboxFilter, vp: Viewpoint, keep: str | None) -> Select[Any]:
    return _filtered([column], f, vp, keep).order_by(conversations.c.last_message_key.desc())


def conversation_keys(
    conn: Connection,
    f: InboxFilter,
    vp: Viewpoint,
    keep: str | None = None,
    limit: int | None = None,
) -> tuple[array[int], bool]:
    """The filtered list's order: every kept conversation's key (``pk``), newest first (a
    search has its own order: :func:`_search_keys`). The inbox holds it, so its length is the
    count, a position is an index, and any block of rows is a lookup by key, as fast at the
    ten-thousandth row as at the first.

    With ``limit``, only the first ``limit`` keys, read as they come off the index, so a first
    screen costs the same at any size; the flag says whether they are the whole order."""
    if f.search is not None:
        return _search_keys(conn, f, vp, keep, limit)
    if limit is not None and first_screen.compiled_for(f, keep):
        return first_screen.first_keys(_driver(conn), vp, limit)
    query = _newest_first(conversations.c.pk, f, vp, keep)
    if limit is not None:
        query = query.limit(limit + 1)
    keys = array("q", (pk for (pk,) in driver_rows(conn, query)))
    if limit is not None and len(keys) > limit:
        return keys[:limit], False
    return keys, True


def conversation_ids(
    conn: Connection, f: InboxFilter, vp: Viewpoint, keep: str | None = None
) -> list[str]:
    """The ids of every conversation the filter keeps, in the list's order."""
    if f.search is None:
        return [cid for (cid,) in driver_rows(conn, _newest_first(conversations.c.id, f, vp, keep))]
    keys, _ = conversation_keys(conn, f, vp, keep)
    ids: dict[int, str] = {}
    for chunk in chunks(keys):
        named = select(conversations.c.pk, conversations.c.id).where(
            conversations.c.pk.in_(list(chunk))
        )
        ids.update((pk, cid) for pk, cid in conn.execute(named))
    return [ids[pk] for pk in keys if pk in ids]


def _rows_by_key(sla_on: bool) -> Select[Any]:
    """The list's rows for the keys bound as ``keys``, seen at ``now`` (and with the SLA's
    ``deadline``): compiled ahead (:func:`compile_ahead`), for the list's block reads."""
    keys = (
        select(conversations.c.pk)
        .where(conversations.c.pk.in_(bindparam("keys", expanding=True)))
        .subquery("keys")
    )
    return _with_details(keys, _bound_viewpoint(None, sla_on)).add_columns(keys.c.pk.label("key"))


def conversations_at(
    conn: Connection, pks: Sequence[int], vp: Viewpoint
) -> list[ConversationRow | None]:
    """The rows of these conversations, in the order given (None: no longer there)."""
    return first_screen.rows_at(_driver(conn), pks, vp)


def _first_keys(me: str | None, sla_on: bool) -> Select[Any]:
    vp = _bound_viewpoint(me, sla_on)
    first = _newest_first(conversations.c.pk, DEFAULT_VIEW, vp, None)
    return first.limit(bindparam("limit", type_=Integer))


def compile_ahead() -> dict[str, tuple[Any, ...]]:
    """The statements :mod:`first_screen` runs, compiled for SQLite's driver, as
    :mod:`compiled` holds them."""
    from inboop_tui.store.diagnostics import status_query

    dialect = sqlite.dialect()
    firsts = {
        _prepare(dialect, _first_keys(me, sla_on))
        for me in (None, "me")
        for sla_on in (False, True)
    }
    # Compiled once for every agent and SLA setting: the default view must not depend on them.
    assert len(firsts) == 1, "DEFAULT_VIEW reads who is looking or the SLA: compile it per read"
    statements = {
        "sla_minutes": select(workspace.c.sla_minutes).where(workspace.c.id == 1),
        "first_keys": _first_keys(None, False),
        "rows_by_key": _rows_by_key(False),
        "rows_by_key_sla": _rows_by_key(True),
        "sync_status": status_query(),
    }
    found = {}
    for name, statement in statements.items():
        p = _prepare(dialect, statement)
        found[name] = (p.sql, p.values, p.slots, p.expanding)
    return found


COMPILED = Path(__file__).with_name("compiled.py")


def write_compiled(path: Path = COMPILED) -> None:
    """Write :mod:`compiled` again from the statements here (``make compiled-sql``)."""
    lines = [
        '"""The statements the inbox\'s first screen reads, compiled for SQLite\'s driver ahead',
        "of time (see ``first_screen``). Written by ``make compiled-sql`` from the statements in",
        "``queries`` (``compile_ahead``); a test fails when they no longer agree. Not edited by",
        'hand."""',
        "",
        "from typing import Any",
        "",
        f"STATEMENTS: dict[str, tuple[Any, ...]] = {compile_ahead()!r}",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def conversation_key(conn: Connection, conversation_id: str) -> int | None:
    return conn.execute(
        select(conversations.c.pk).where(conversations.c.id == conversation_id)
    ).scalar()


def conversation(conn: Connection, conversation_id: str, vp: Viewpoint) -> ConversationRow | None:
    keys = select(conversations.c.pk).where(conversations.c.id == conversation_id).subquery("one")
    rows = _rows(conn, _with_details(keys, vp))
    return rows[0] if rows else None


def notes_of(conn: Connection, conversation_id: str, since: str | None = None) -> list[NoteRow]:
    """A conversation's internal notes, oldest first (from ``since`` on, when given)."""
    query = select(notes).where(notes.c.conversation_id == conversation_id)
    if since is not None:
        query = query.where(notes.c.created_at >= since)
    found = []
    for row in conn.execute(query.order_by(notes.c.created_at, notes.c.id)).mappings():
        found.append(
            NoteRow(
                id=row["id"],
                conversation_id=row["conversation_id"],
                author=row["author"],
                text=row["text"],
                mentions=tuple(json.loads(row["mentions"])),
                created_at=row["created_at"],
                pending=row["seq"] is None,
            )
        )
    return found


def conversation_exists(conn: Connection, conversation_id: str) -> bool:
    query = select(conversations.c.id).where(conversations.c.id == conversation_id)
    return conn.execute(query).first() is not None


def draft_of(conn: Connection, conversation_id: str) -> str:
    """The unsent reply kept for a conversation ("": none)."""
    query = select(drafts.c.text).where(drafts.c.conversation_id == conversation_id)
    return conn.execute(query).scalar() or ""


def canned_replies_of(conn: Connection) -> list[CannedState]:
    """The team's canned replies, by shortcode."""
    rows = conn.execute(select(canned_replies).order_by(canned_replies.c.shortcode)).mappings()
    return [CannedState(**row) for row in rows]


def can_send(conn: Connection, channel: str, account_id: str) -> bool | None:
    """Whether the relay can send from this account (None: not known before a sync)."""
    if conn.execute(select(sync_state.c.last_ok_at)).scalar() is None:
        return None
    query = select(sending_accounts.c.account_id).where(
        sending_accounts.c.channel == channel, sending_accounts.c.account_id == account_id
    )
    return conn.execute(query).first() is not None


def tags_in_use(conn: Connection) -> list[str]:
    """Every tag on some conversation, for completion."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT j.value FROM conversations c, json_each(c.tags) j "
            "WHERE c.tags != '[]' ORDER BY j.value"
        )
    ).scalars()
    return [str(tag) for tag in rows]


def team_members(conn: Connection) -> list[Member]:
    return [
        Member(*row) for row in conn.execute(select(team.c.name, team.c.role).order_by(team.c.name))
    ]


def find_conversations(
    conn: Connection, text_: str, vp: Viewpoint, limit: int = 6
) -> list[ConversationRow]:
    """Conversations a person might mean by an id, a customer name, handle or phone: exact
    matches (any case) first; failing those, names and handles that start with the text."""
    wanted = text_.strip()
    if not wanted:
        return []
    lowered = wanted.lower()
    c, t = conversations.c, contacts.c
    exact = or_(
        c.id == wanted,
        c.customer_id == wanted,
        func.lower(t.name) == lowered,
        func.lower(t.username) == lowered,
        func.lower(t.username) == lowered.removeprefix("@"),
        t.phone == wanted,
        func.replace(t.phone, "+", "") == wanted.lstrip("+"),
    )
    prefix = lowered.replace("\\", "").replace("%", "").replace("_", "")
    starts = or_(
        func.lower(t.name).like(prefix + "%"),
        func.lower(t.name).like("% " + prefix + "%"),  # a surname
        func.lower(t.username).like(prefix.removeprefix("@") + "%"),
        func.lower(c.customer_id).like(prefix + "%"),
    )
    for condition in (exact, starts):
        keys = (
            select(c.pk, c.last_message_key.label("key"))
            .select_from(conversations.outerjoin(contacts, t.id == c.contact_id))
            .where(condition, c.last_message_key.is_not(None))
            .order_by(c.last_message_key.desc())
            .limit(limit)
            .subquery("found")
        )
        rows = _rows(conn, _with_details(keys, vp).order_by(keys.c.key.desc()))
        if rows:
            return rows
    return []


def thread(conn: Connection, conversation_id: str, limit: int = THREAD_LIMIT) -> list[MessageRow]:
    """The newest ``limit`` messages of a conversation, oldest first (provider order)."""
    waiting = (
        select(outbox.c.id)
        .where(outbox.c.id == messages.c.reply_id, outbox.c.pushed_seq.is_(None))
        .exists()
        .label("pending")
    )
    query = (
        select(messages, waiting)
        .where(messages.c.conversation_id == conversation_id, messages.c.has_body.is_(True))
        .order_by(messages.c.sent_at.desc(), messages.c.channel_message_id.desc())
        .limit(limit)
    )
    rows = list(conn.execute(query).mappings())
    rows.reverse()
    return [_message_row(row) for row in rows]


def _message_row(row: Any) -> MessageRow:
    # Most messages have no reactions and no attachments: no JSON to decode (a long thread
    # is hundreds of rows, read each time it is opened).
    raw = row["reactions"]
    reactions = (
        {}
        if raw == NO_REACTIONS
        else {side: value[1] for side, value in json.loads(raw).items() if value[1]}
    )
    return MessageRow(
        channel_message_id=row["channel_message_id"],
        direction=row["direction"],
        sender_type=row["sender_type"],
        content_type=row["content_type"],
        text=row["edit_text"] if row["edit_text"] is not None else row["original_text"],
        original_text=row["original_text"],
        edited=row["edit_key"] is not None,
        is_deleted=bool(row["is_deleted"]),
        sent_at=row["sent_at"],
        delivery_status=row["delivery_status"],
        delivery_error=row["delivery_error"],
        reactions=reactions,
        attachments=_attachments(row["attachments"], row["media"]),
        reply_to=row["reply_to"],
        provider_type=row["provider_type"],
        reply_id=row["reply_id"],
        sent_by=row["sent_by"],
        pending=bool(row.get("pending")),
    )


def mark_viewed(conn: Connection, conversation_id: str, at: str) -> None:
    statement = sqlite_insert(conversation_views).values(
        conversation_id=conversation_id, last_viewed_at=at
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["conversation_id"],
            set_={
                "last_viewed_at": func.max(
                    conversation_views.c.last_viewed_at, statement.excluded.last_viewed_at
                )
            },
        )
    )


def _attachments(raw: str, media: str) -> tuple[Attachment, ...]:
    if raw == NO_ATTACHMENTS:
        return ()
    fetched: dict[str, dict[str, Any]] = json.loads(media)
    found = []
    for index, data in enumerate(json.loads(raw)):
        items = data.pop("items", None)
        outcome = fetched.get(str(index), {})
        found.append(
            Attachment(
                **data,
                items=None if items is None else tuple(items),
                size=outcome.get("size"),
                unavailable=outcome.get("error"),
            )
        )
    return tuple(found)


def attachments_of(conn: Connection, conversation_id: str, limit: int = 50) -> list[AttachmentRef]:
    """Files sent in a conversation, newest first."""
    rows = conn.execute(
        select(
            messages.c.channel,
            messages.c.channel_message_id,
            messages.c.sent_at,
            messages.c.direction,
            messages.c.attachments,
            messages.c.media,
        )
        .where(
            messages.c.conversation_id == conversation_id,
            messages.c.has_body.is_(True),
            messages.c.attachments != "[]",
        )
        .order_by(messages.c.sent_at.desc())
        .limit(limit)
    ).all()
    found = []
    for row in rows:
        for index, a in enumerate(_attachments(row.attachments, row.media)):
            if a.type in FILES:
                found.append(
                    AttachmentRef(
                        row.channel,
                        row.channel_message_id,
                        index,
                        a.type,
                        row.sent_at,
                        row.direction,
                        a.filename,
                        a.mime_type,
                        a.caption,
                        a.size,
                        a.unavailable,
                    )
                )
    return found

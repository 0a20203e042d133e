"""Working the inbox from the shell: list and show conversations, assign, set status, tag,
note, mark read, and the workspace SLA. Each change is queued offline like the app's.

``CONV`` is a conversation id, or a customer name, handle or phone that names one conversation.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inboop_tui.cli.common import JsonOption, app, emit, fail, replica
from inboop_tui.domain.timing import TimeError, parse_until
from inboop_tui.store.door import Done
from inboop_tui.store.rows import ConversationRow, InboxFilter, MessageRow, NoteRow
from relay.protocol import Channel

if TYPE_CHECKING:  # it loads the wire format's models: the commands that sync import it
    from inboop_tui.sync.engine import SyncOutcome

ConvArgument = Annotated[
    str,
    typer.Argument(metavar="CONV", help="A conversation id, or a customer name, handle or phone."),
]
CHANNEL_NAMES = {"INSTAGRAM": "Instagram", "WHATSAPP": "WhatsApp", "MESSENGER": "Messenger"}
SEND_SECONDS = 3.0  # an action tries this long to reach the relay before it stays queued


def conversation_json(row: ConversationRow, pending: list[Any] | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "customer": {
            "id": row.customer_id,
            "name": row.name,
            "handle": row.username,
            "phone": row.phone,
            "display_name": row.display_name,
        },
        "status": row.status,
        "snoozed_until": row.snoozed_until,
        "assignee": row.assignee,
        "tags": list(row.tags),
        "unread": row.unread,
        "over_sla": row.over_sla,
        "awaiting_since": row.awaiting_since,
        "last_message_at": row.last_message_at,
        "last_inbound_at": row.last_inbound_at,
        "message_count": row.message_count,
        "preview": row.preview,
        "pending_changes": row.pending if pending is None else pending,
    }


def describe_row(row: ConversationRow) -> str:
    """One line per conversation, in columns: id, channel, customer, status, assignee, flags."""
    status = row.status.lower()
    if row.status == "SNOOZED" and row.snoozed_until:
        status += " until " + row.snoozed_until[:16].replace("T", " ")
    flags = [" ".join(f"#{t}" for t in row.tags)] if row.tags else []
    if row.unread:
        flags.append("unread")
    if row.over_sla:
        flags.append("over SLA")
    if row.pending:
        flags.append(f"{row.pending} pending")
    columns = [
        row.id,
        f"{CHANNEL_NAMES.get(row.channel, row.channel):<9}",
        _cell(row.display_name, 24),
        f"{status:<9}",
        _cell(f"@{row.assignee}" if row.assignee else "unassigned", 14),
        "  ".join(flags),
    ]
    return "  ".join(columns).rstrip()


def _cell(text: str, width: int) -> str:
    from rich.cells import cell_len, set_cell_size

    one_line = " ".join(text.split())
    if cell_len(one_line) > width:
        return set_cell_size(one_line, width - 1) + "…"
    return set_cell_size(one_line, width)


@app.command()
def conversations(
    mine: Annotated[bool, typer.Option("--mine", help="Only those assigned to you.")] = False,
    unassigned: Annotated[bool, typer.Option("--unassigned", help="Only unassigned ones.")] = False,
    status: Annotated[
        str | None, typer.Option(help="open, pending, resolved or snoozed (as shown now).")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only those with this tag.")] = None,
    channel: Annotated[
        Channel | None, typer.Option(help="Only this channel.", case_sensitive=False)
    ] = None,
    search: Annotated[str | None, typer.Option(help="Names, handles and message text.")] = None,
    unread: Annotated[bool, typer.Option("--unread", help="Only unread ones.")] = False,
    over_sla: Annotated[bool, typer.Option("--over-sla", help="Only those over the SLA.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, in the list's order.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List conversations with the inbox's filters: newest first; a search lists the people
    whose name or handle matches, then conversations by their newest matching message."""
    if mine and unassigned:
        raise fail("--mine and --unassigned exclude each other", 2)
    wanted_status = _status(status) if status else None
    f = InboxFilter(
        channel=channel.value if channel else None,
        unread_only=unread,
        search=search or None,
        assigned="me" if mine else "unassigned" if unassigned else None,
        status=wanted_status,
        tag=tag.lstrip("#").lower() if tag else None,
        over_sla=over_sla,
    )
    with replica() as r:
        if mine and r.me is None:
            raise fail("--mine needs to know who you are: run `inboop login` first")
        rows = r.window(f, 0, limit)
    if as_json:
        emit(True, [conversation_json(row) for row in rows], "")
        return
    if not rows:
        typer.echo("no conversations match")
    for row in rows:
        typer.echo(describe_row(row))


@app.command()
def show(
    conv: ConvArgument,
    messages: Annotated[int, typer.Option(min=0, help="How many of the last messages.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """A conversation: its state, its notes and its last messages."""
    with replica() as r:
        row = r.find(conv)
        thread = r.thread(row.id, max(1, messages))
    if thread is None:
        raise fail(f"conversation {row.id} is gone")
    shown = thread.messages[-messages:] if messages else []
    if as_json:
        emit(
            True,
            {
                **conversation_json(thread.conversation, [asdict(c) for c in thread.pending]),
                "notes": [asdict(n) for n in thread.notes],
                "messages": [_message_json(m) for m in shown],
            },
            "",
        )
        return
    typer.echo(describe_row(thread.conversation))
    for change in thread.pending:
        typer.echo(f"  pending: {change.summary}")
    for line in _timeline(shown, thread.notes, thread.conversation.display_name):
        typer.echo(line)


def _message_json(m: MessageRow) -> dict[str, Any]:
    data = asdict(m)
    if m.is_deleted:
        data["text"] = data["original_text"] = None
    return data


def _timeline(messages: list[MessageRow], notes: list[NoteRow], customer: str) -> list[str]:
    items: list[tuple[str, str]] = []
    for m in messages:
        who = "you" if m.direction == "OUTBOUND" else customer
        text = "(deleted)" if m.is_deleted else (m.text or f"[{m.content_type.lower()}]")
        items.append((m.sent_at, f"  {m.sent_at}  {who}: {_indented(text)}"))
    for n in notes:
        mark = " (pending)" if n.pending else ""
        items.append(
            (n.created_at, f"  {n.created_at}  note by {n.author}{mark}: {_indented(n.text)}")
        )
    return [line for _, line in sorted(items, key=lambda item: item[0])]


def _indented(text: str) -> str:
    """Text as written, its later lines indented under the first."""
    return text.strip().replace("\n", "\n" + " " * 6)


@app.command()
def assign(
    conv: ConvArgument,
    user: Annotated[str | None, typer.Argument(help="A teammate's name.")] = None,
    me: Annotated[bool, typer.Option("--me", help="Assign to yourself.")] = False,
    none: Annotated[
        bool, typer.Option("--none", help="Unassign: back to the shared queue.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Assign a conversation to a teammate, to yourself, or to nobody."""
    if sum((user is not None, me, none)) != 1:
        raise fail("name one of: a USER, --me or --none", 2)
    with replica() as r:
        row = r.find(conv)
        assignee = None if none else (r.me if me else user)
        if me and assignee is None:
            raise fail("--me needs to know who you are: run `inboop login` first")
        done = r.actions.assign(row.id, assignee)
    report(as_json, done, row)


@app.command()
def status(
    conv: ConvArgument,
    new_status: Annotated[
        str, typer.Argument(metavar="STATUS", help="open, pending, resolved or snoozed")
    ],
    until: Annotated[
        str | None,
        typer.Option(help="With snoozed: when it wakes (30m, 2h, 3d, tomorrow, 17:30, ISO time)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Set a conversation's status; a snoozed one wakes by itself at its time."""
    wanted = _status(new_status)
    with replica() as r:
        wake = None
        if until is not None:
            try:
                wake = parse_until(until, r.clock())
            except TimeError as exc:
                raise fail(str(exc), 2) from None
        row = r.find(conv)
        done = r.actions.set_status(row.id, wanted, wake)
    report(as_json, done, row)


@app.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
def tag(
    conv: ConvArgument,
    changes: Annotated[
        list[str],
        typer.Argument(metavar="+TAG|-TAG...", help="Tags to add (+tag) or remove (-tag)."),
    ],
    as_json: JsonOption = False,
) -> None:
    """Add and remove tags: `inboop tag CONV +vip -waiting`."""
    add, remove = [], []
    for change in changes:
        if change.startswith("-"):
            remove.append(change[1:])
        else:
            add.append(change.removeprefix("+"))
    with replica() as r:
        row = r.find(conv)
        done = r.actions.tag(row.id, add, remove)
    report(as_json, done, row)


@app.command()
def note(
    conv: ConvArgument,
    text: Annotated[str, typer.Argument(help="The note; - reads it from standard input.")],
    as_json: JsonOption = False,
) -> None:
    """Add an internal note (never sent to the customer); @name mentions notify a teammate."""
    body = sys.stdin.read() if text == "-" else text
    with replica() as r:
        row = r.find(conv)
        done = r.actions.add_note(row.id, body)
    report(as_json, done, row)


@app.command()
def read(
    conv: Annotated[
        str | None, typer.Argument(metavar="[CONV]", help="The conversation to mark read.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Mark every conversation read.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Mark a conversation (or all of them) read for you."""
    if (conv is None) == (not all_):
        raise fail("name a CONV, or use --all", 2)
    with replica() as r:
        if all_:
            ids = r.conversation_ids(InboxFilter(unread_only=True))
            count = r.actions.mark_all_read(ids)
            emit(
                as_json,
                {"marked_read": count},
                f"marked {count:,} conversation{'' if count == 1 else 's'} read",
            )
            return
        assert conv is not None
        row = r.find(conv)
        r.actions.mark_read(row.id)
    emit(as_json, {"marked_read": 1, "id": row.id}, f"marked {row.display_name} read")


@app.command()
def sla(
    minutes: Annotated[
        str, typer.Argument(metavar="MINUTES|off", help="Expected first-response minutes, or off.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Set the workspace's first-response SLA (ADMIN): conversations over it get a badge."""
    if minutes.lower() == "off":
        value = None
    elif minutes.isdigit():
        value = int(minutes)
    else:
        raise fail(f"{minutes!r} is not a number of minutes or off", 2)
    with replica() as r:
        done = r.actions.set_sla(value)
    report(as_json, done, None)


@app.command()
def team(as_json: JsonOption = False) -> None:
    """Your teammates, as the relay listed them at the last sync."""
    with replica() as r:
        members = r.team()
    if as_json:
        emit(True, [asdict(m) for m in members], "")
        return
    if not members:
        typer.echo("no team yet: run `inboop sync`")
    for member in members:
        typer.echo(f"{member.name}\t{member.role}")


def _status(text: str) -> str:
    value = text.strip().upper()
    if value not in ("OPEN", "PENDING", "RESOLVED", "SNOOZED"):
        raise fail(f"{text!r} is not a status: use open, pending, resolved or snoozed", 2)
    return value


def report(
    as_json: bool,
    done: Done,
    row: ConversationRow | None,
    *,
    send: bool = True,
    what: str | Callable[[], str] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Say what was done, after trying to send it at once (it stays queued when offline).
    ``what`` says it in words instead of the change's summary (a callable is asked after the
    send, when the relay's answer may have changed it); warnings go to stderr."""
    outcome = _send_now() if send else None
    if callable(what):
        what = what()
    rejected = (
        next((r for r in outcome.rejected if r.id == done.mutation_id), None) if outcome else None
    )
    where = f"{row.display_name} ({CHANNEL_NAMES.get(row.channel, row.channel)}): " if row else ""
    if rejected is not None:
        if as_json:
            emit(True, {"ok": False, "mutation_id": done.mutation_id, "error": rejected.reason}, "")
        raise fail(f"the relay rejected it ({done.summary}): {rejected.reason}")
    sent = outcome is not None and outcome.ok
    if sent:
        state = "sent"
    elif outcome is None:
        state = "queued" if not send else "queued; no relay configured"
    else:
        state = f"queued; the next sync sends it ({outcome.error})"
    if not as_json:
        for warning in done.warnings:
            typer.echo(f"inboop: warning: {warning}", err=True)
    emit(
        as_json,
        {
            "ok": True,
            "mutation_id": done.mutation_id,
            "type": done.type,
            "conversation_id": done.conversation_id,
            "summary": done.summary,
            "sent": sent,
            "warnings": list(done.warnings),
            **(extra or {}),
        },
        f"{where}{what or done.summary} ({state})",
    )


def _send_now() -> SyncOutcome | None:
    """Push the change and pull a little, so it is confirmed at once when the relay is up."""
    from inboop_tui.cli.common import load, open_engine
    from inboop_tui.store.paths import resolve_paths
    from inboop_tui.sync.engine import sync

    paths = resolve_paths()
    config = load(paths)
    if not config.is_configured:
        return None
    engine = open_engine(paths)
    try:
        return sync(engine, config, timeout=SEND_SECONDS, record=False, max_pages=4)
    finally:
        engine.dispose()

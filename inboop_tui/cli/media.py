"""Files customers sent: list a conversation's, and save one from the relay (which fetched it
before the channel's link expired).

``inboop media list CONV`` numbers them newest first; ``inboop media save CONV [N]`` writes the
Nth (default: the newest) to ``--out`` (a file or a folder; default: the current folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inboop_tui.cli.common import JsonOption, app, emit, fail, load, replica
from inboop_tui.cli.inbox import ConvArgument
from inboop_tui.store.paths import resolve_paths
from inboop_tui.sync.media import MediaError, save_attachment

media_app = typer.Typer(help="Files customers sent: list and save them.", no_args_is_help=True)
app.add_typer(media_app, name="media")


@media_app.command("list")
def media_list(conv: ConvArgument, as_json: JsonOption = False) -> None:
    """The conversation's files, newest first, numbered for `inboop media save`."""
    with replica() as r:
        row = r.find(conv)
        found = r.attachments(row.id)
    if as_json:
        emit(True, [{"number": n, **vars(a)} for n, a in enumerate(found, start=1)], "")
        return
    if not found:
        typer.echo("no files in this conversation")
    for number, ref in enumerate(found, start=1):
        who = "←" if ref.direction == "INBOUND" else "→"
        what = ref.filename or ref.caption or ""
        typer.echo(
            f"{number:>3}  {ref.sent_at[:16].replace('T', ' ')}  {who} {ref.type.lower():<7} {what}".rstrip()
        )


@media_app.command("save")
def media_save(
    conv: ConvArgument,
    number: Annotated[int, typer.Argument(min=1, help="Its number in `inboop media list`.")] = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="A file or a folder.")] = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Save one of the conversation's files from the relay."""
    with replica() as r:
        row = r.find(conv)
        found = r.attachments(row.id)
    if not found:
        raise fail("no files in this conversation")
    if number > len(found):
        raise fail(f"there are {len(found)} file(s): `inboop media list {conv}` numbers them")
    ref = found[number - 1]
    try:
        target, size, content_type = save_attachment(load(resolve_paths()), ref, out)
    except MediaError as exc:
        raise fail(str(exc)) from None
    emit(
        as_json,
        {"path": str(target), "size": size, "content_type": content_type},
        f"saved {target} ({size:,} bytes, {content_type})",
    )

"""Files customers sent: list a conversation's, and save one from the relay (which fetched it
before the channel's link expired).

``inboop media list CONV`` numbers them newest first; ``inboop media save CONV [N]`` writes the
Nth (default: the newest) to ``--out`` (a file or a folder; default: the current folder);
``inboop media show CONV [N]`` draws a picture in the terminal (or describes it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from inboop_tui.cli.common import JsonOption, app, emit, fail, load, replica
from inboop_tui.cli.inbox import ConvArgument
from inboop_tui.domain.messages import file_size
from inboop_tui.store.paths import resolve_paths
from inboop_tui.store.rows import PICTURES, AttachmentRef
from inboop_tui.sync.media import MediaError, fetch_attachment, read_picture, save_attachment
from inboop_tui.widgets.picture import describe, detect_graphics, picture_renderable

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
        kept = file_size(ref.size) if ref.size is not None else "—"
        line = f"{number:>3}  {ref.sent_at[:16].replace('T', ' ')}  {who} {ref.type.lower():<7} {kept:>7}"
        if what:
            line += f"  {what}"
        if ref.unavailable:
            line += f"  (not kept by the relay: {ref.unavailable})"
        typer.echo(line.rstrip())


@media_app.command("save")
def media_save(
    conv: ConvArgument,
    number: Annotated[int, typer.Argument(min=1, help="Its number in `inboop media list`.")] = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="A file or a folder.")] = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Save one of the conversation's files from the relay."""
    ref = _numbered(conv, number)
    try:
        target, size, content_type = save_attachment(load(resolve_paths()), ref, out)
    except MediaError as exc:
        raise fail(str(exc)) from None
    emit(
        as_json,
        {"path": str(target), "size": size, "content_type": content_type},
        f"saved {target} ({size:,} bytes, {content_type})",
    )


@media_app.command("show")
def media_show(
    conv: ConvArgument,
    number: Annotated[int, typer.Argument(min=1, help="Its number in `inboop media list`.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Look at a picture: drawn in the terminal where it can (Kitty graphics or Sixel),
    described in words elsewhere."""
    ref = _numbered(conv, number)
    if ref.type not in PICTURES:
        raise fail(
            f"file {number} is a {ref.type.lower()}, not a picture: "
            f"`inboop media save {conv} {number}` saves it"
        )
    try:
        data, content_type = fetch_attachment(load(resolve_paths()), ref)
        picture = read_picture(data)
    except MediaError as exc:
        raise fail(str(exc)) from None
    if as_json:
        facts = {"width": picture.width, "height": picture.height, "format": picture.format}
        emit(True, {**vars(ref), "size": len(data), "content_type": content_type, **facts}, "")
        return
    graphics = detect_graphics() if sys.stdout.isatty() else None
    console = Console(highlight=False)
    console.print(describe(ref, picture, len(data)))
    if graphics is None:
        if ref.caption:
            console.print(Text(f"“{ref.caption}”", style="italic"))
        console.print(
            f"This terminal does not draw pictures: `inboop media save {conv} {number}` saves it.",
            style="dim",
            markup=False,
        )
        return
    console.print(picture_renderable(graphics, picture.image))


def _numbered(conv: str, number: int) -> AttachmentRef:
    """The conversation's file with that number in `inboop media list`."""
    with replica() as r:
        row = r.find(conv)
        found = r.attachments(row.id)
    if not found:
        raise fail("no files in this conversation")
    if number > len(found):
        raise fail(f"there are {len(found)} file(s): `inboop media list {conv}` numbers them")
    return found[number - 1]

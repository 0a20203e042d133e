"""Files customers sent: list a conversation's, and save one from the relay (which fetched it
before the channel's link expired).

``inboop media list CONV`` numbers them newest first; ``inboop media save CONV [N]`` writes the
Nth (default: the newest) to ``--out`` (a file or a folder; default: the current folder).
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Annotated

import typer

from inboop_tui.cli.common import JsonOption, app, emit, fail, load, replica
from inboop_tui.cli.inbox import ConvArgument
from inboop_tui.store.paths import resolve_paths
from inboop_tui.store.queries import AttachmentRef

media_app = typer.Typer(help="Files customers sent: list and save them.", no_args_is_help=True)
app.add_typer(media_app, name="media")


def _name(ref: AttachmentRef, content_type: str | None = None) -> str:
    if ref.filename:
        return Path(ref.filename).name
    kind = (content_type or ref.mime_type or "").split(";")[0]
    suffix = mimetypes.guess_extension(kind) or ""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in ref.message_id)[-40:]
    return f"{ref.type.lower()}-{stem}-{ref.index}{suffix}"


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
    from inboop_tui.sync.client import RelayClient, SyncError

    with replica() as r:
        row = r.find(conv)
        found = r.attachments(row.id)
    if not found:
        raise fail("no files in this conversation")
    if number > len(found):
        raise fail(f"there are {len(found)} file(s): `inboop media list {conv}` numbers them")
    ref = found[number - 1]
    config = load(resolve_paths())
    if not config.is_configured:
        raise fail("files come from the relay: run `inboop login RELAY_URL --token TOKEN` first")
    assert config.relay_url is not None and config.token is not None
    try:
        with RelayClient(config.relay_url, config.token) as client:
            data, content_type = client.media(ref.channel, ref.message_id, ref.index)
    except SyncError as exc:
        raise fail(str(exc)) from None
    target = out.expanduser() / _name(ref, content_type) if out.expanduser().is_dir() else out
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, target)
    except OSError as exc:
        raise fail(f"cannot write {target}: {exc.strerror or exc}") from None
    emit(
        as_json,
        {"path": str(target), "size": len(data), "content_type": content_type},
        f"saved {target} ({len(data):,} bytes, {content_type})",
    )

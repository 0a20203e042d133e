"""Answering customers from the shell: ``reply``, ``canned`` and ``templates``.

A reply is queued like every change (offline too) and sent at once when the relay is up; the
24-hour window and receive-only accounts are refused here, with the reason.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from inboop_tui.cli.common import JsonOption, app, emit, fail, load, replica
from inboop_tui.cli.inbox import ConvArgument, report
from inboop_tui.store.paths import resolve_paths

if TYPE_CHECKING:  # a model: loaded by the one command that sends a template
    from relay.protocol import TemplateMessage

canned_app = typer.Typer(
    help="The team's canned replies (use one with `inboop reply CONV --canned CODE`)."
)
app.add_typer(canned_app, name="canned")


@app.command()
def reply(
    conv: ConvArgument,
    text: Annotated[
        str | None, typer.Argument(help="The message; - reads it from standard input.")
    ] = None,
    canned: Annotated[
        str | None, typer.Option("--canned", help="Send this canned reply (its shortcode).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Send this file (an image, a PDF, …).")
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="WhatsApp outside the window: this template.")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="A template parameter ({{1}}, {{2}}, … in order)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a customer on their channel. Offline, the reply waits and goes at the next sync."""
    body = sys.stdin.read() if text == "-" else text
    if template is not None and (body or canned or file):
        raise fail("a template is sent alone: no text, --canned or --file with it", 2)
    with replica() as r:
        row = r.find(conv)
        if canned is not None:
            if body:
                raise fail("give the text or --canned, not both", 2)
            body = r.fill(r.find_canned(canned), row)
        chosen = _template(row.account_id, template, param or []) if template else None
        done = r.actions.reply(row.id, body, file=file, template=chosen)
    for one in done[:-1]:
        report(False, one, row, send=False)
    report(as_json, done[-1], row)


def _template(account_id: str, name: str, values: list[str]) -> TemplateMessage:
    from inboop_tui.sync.client import SyncError
    from inboop_tui.sync.templates import fetch_templates
    from relay.protocol import TemplateMessage

    config = load(resolve_paths())
    try:
        found = {t.name: t for t in fetch_templates(config, account_id)}
    except SyncError as exc:
        raise fail(f"cannot list the templates (a template needs the relay): {exc}") from None
    chosen = found.get(name)
    if chosen is None:
        names = ", ".join(sorted(found)) or "none"
        raise fail(f"no approved template {name!r}; this number has: {names}")
    if len(values) != chosen.parameters:
        raise fail(f"{name} takes {chosen.parameters} --param value(s), not {len(values)}", 2)
    return TemplateMessage(
        name=chosen.name,
        language=chosen.language,
        parameters=tuple(values),
        text=chosen.filled(values),
    )


@app.command()
def templates(conv: ConvArgument, as_json: JsonOption = False) -> None:
    """The approved WhatsApp templates of a conversation's number (asks the relay)."""
    from inboop_tui.sync.client import SyncError
    from inboop_tui.sync.templates import fetch_templates

    with replica() as r:
        row = r.find(conv)
    if row.channel != "WHATSAPP":
        raise fail("templates are a WhatsApp thing: Instagram and Messenger wait for the customer")
    try:
        found = fetch_templates(load(resolve_paths()), row.account_id)
    except SyncError as exc:
        raise fail(f"cannot list the templates: {exc}") from None
    if as_json:
        emit(True, [asdict(t) for t in found], "")
        return
    if not found:
        typer.echo("no approved templates for this number")
    for t in found:
        typer.echo(f"{t.name}\t{t.language}\t{t.parameters} param(s)\t{' '.join(t.body.split())}")


@canned_app.command("list")
def canned_list(as_json: JsonOption = False) -> None:
    """Every canned reply: /shortcode, title and text."""
    with replica() as r:
        found = r.canned()
    if as_json:
        emit(True, [asdict(c) for c in found], "")
        return
    if not found:
        typer.echo("no canned replies yet: `inboop canned add CODE TITLE TEXT`")
    for c in found:
        typer.echo(f"/{c.shortcode}\t{c.title}\t{' '.join(c.text.split())}")


@canned_app.command("add")
def canned_add(
    shortcode: str,
    title: str,
    text: Annotated[
        str, typer.Argument(help="The text; {name}, {first_name}, {agent} are filled in.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Add a canned reply for the whole team."""
    with replica() as r:
        done = r.actions.save_canned(shortcode, title, sys.stdin.read() if text == "-" else text)
    report(as_json, done, None)


@canned_app.command("edit")
def canned_edit(
    shortcode: str,
    title: Annotated[str | None, typer.Option(help="A new title.")] = None,
    text: Annotated[str | None, typer.Option(help="A new text.")] = None,
    new_shortcode: Annotated[
        str | None, typer.Option("--shortcode", help="A new shortcode.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a canned reply."""
    with replica() as r:
        current = r.find_canned(shortcode)
        done = r.actions.save_canned(
            new_shortcode or current.shortcode,
            title or current.title,
            text or current.text,
            current.id,
        )
    report(as_json, done, None)


@canned_app.command("delete")
def canned_delete(shortcode: str, as_json: JsonOption = False) -> None:
    """Delete a canned reply for the whole team."""
    with replica() as r:
        done = r.actions.delete_canned(r.find_canned(shortcode).id)
    report(as_json, done, None)


@canned_app.callback(invoke_without_command=True)
def canned_default(ctx: typer.Context) -> None:
    """With no command: the list."""
    if ctx.invoked_subcommand is None:
        canned_list()

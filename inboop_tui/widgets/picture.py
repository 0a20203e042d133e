"""A picture a customer sent, drawn in the terminal where the terminal can draw one.

Terminals that speak the Kitty graphics protocol or Sixel show the picture itself (through
textual-image); everywhere else the app shows what it is in words (its kind, size and
dimensions, the caption, and the keys that save or open it). Which protocol a terminal speaks
is asked once, before Textual takes the terminal over (the answer arrives on stdin);
``INBOOP_IMAGES`` overrides the answer: ``kitty``, ``sixel``, or ``off`` for words only.
"""

from __future__ import annotations

import os
import re
import select
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rich.console import RenderableType
from rich.text import Text

from inboop_tui.domain.messages import file_size

if TYPE_CHECKING:  # `inboop` asks the terminal before the app: without Pillow or the store
    from PIL import Image as PILImage
    from textual.widget import Widget

    from inboop_tui.store.rows import AttachmentRef
    from inboop_tui.sync.media import Picture

Graphics = Literal["kitty", "sixel"]
ENVIRONMENT = "INBOOP_IMAGES"
# Kitty's graphics query, then the primary device attributes request (DA1), which every
# terminal answers: a graphics answer before the attributes means kitty's protocol, attribute 4
# means Sixel. One round trip, as kitty's documentation asks for it.
_KITTY_QUERY = b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
_ATTRIBUTES_QUERY = b"\x1b[c"
_ATTRIBUTES = re.compile(rb"\x1b\[\?([0-9;]*)c")
_KITTY_OK = b"\x1b_Gi=31;OK"
ASK_SECONDS = 0.3  # a terminal that answers nothing (rare) gets words after this


def detect_graphics() -> Graphics | None:
    """The graphics protocol this terminal speaks, or None. Call it before the app starts."""
    chosen = os.environ.get(ENVIRONMENT, "auto").strip().lower()
    if chosen in ("kitty", "sixel"):
        return "kitty" if chosen == "kitty" else "sixel"
    if chosen != "auto":
        return None
    if os.name != "posix":
        return _ask_through_textual_image()
    spoken = _ask_terminal()
    if spoken is not None:
        # It asks the terminal again as it loads (answered at once by such a terminal), and
        # must load before Textual reads the terminal. A terminal without graphics never
        # loads it: its own questions waited ~0.2 s there, on every start.
        import textual_image.widget  # noqa: F401
    return spoken


def _ask_terminal() -> Graphics | None:
    """Ask the terminal on stdin/stdout which graphics protocol it speaks. Sixel is preferred
    where both are (as textual-image does: Konsole and WezTerm answer kitty's query but draw
    its pictures only as Sixel)."""
    import termios
    import tty

    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    if not (os.isatty(stdin) and os.isatty(stdout)):
        return None
    saved = termios.tcgetattr(stdin)
    answer = b""
    try:
        tty.setcbreak(stdin, termios.TCSANOW)
        os.write(stdout, _KITTY_QUERY + _ATTRIBUTES_QUERY)
        deadline = time.monotonic() + ASK_SECONDS
        while (attributes := _ATTRIBUTES.search(answer)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stdin], [], [], left)[0]:
                return None
            answer += os.read(stdin, 1024)
    finally:
        termios.tcsetattr(stdin, termios.TCSANOW, saved)
    if b"4" in attributes.group(1).split(b";"):
        return "sixel"
    return "kitty" if _KITTY_OK in answer[: attributes.start()] else None


def _ask_through_textual_image() -> Graphics | None:
    # Importing textual-image asks the terminal (when there is one) what it can draw.
    import textual_image.widget  # noqa: F401
    from textual_image.renderable import Image, SixelImage, TGPImage

    if Image is TGPImage:
        return "kitty"
    if Image is SixelImage:
        return "sixel"
    return None


def picture_widget(graphics: Graphics, image: PILImage.Image) -> Widget:
    """The picture itself, drawn with the terminal's protocol."""
    from textual_image.widget import SixelImage, TGPImage

    if graphics == "kitty":
        return TGPImage(image)
    return SixelImage(image)


def picture_renderable(graphics: Graphics, image: PILImage.Image) -> RenderableType:
    """The picture for a rich console (the CLI), drawn with the terminal's protocol."""
    from textual_image.renderable import SixelImage, TGPImage

    if graphics == "kitty":
        return TGPImage(image)
    return SixelImage(image)


def describe(ref: AttachmentRef, picture: Picture | None, size: int | None) -> Text:
    """One line of what the file is: kind, size, dimensions and format."""
    parts = [ref.type.lower()]
    if size is not None:
        parts.append(file_size(size))
    if picture is not None:
        parts.append(f"{picture.width}x{picture.height} {picture.format}")
    return Text(" · ".join(parts), style="bold")


def words_instead(ref: AttachmentRef, where: Path) -> Text:
    """The text fallback: the caption, and how to look at the picture elsewhere."""
    text = Text()
    if ref.caption:
        text.append("“")
        text.append(ref.caption, style="italic")
        text.append("”\n\n")
    text.append(
        "This terminal does not draw pictures: it speaks neither the Kitty graphics protocol "
        f"nor Sixel (if it does, set {ENVIRONMENT}=kitty or {ENVIRONMENT}=sixel).\n",
        style="dim",
    )
    text.append(f"s saves it to {home_relative(where)} · o opens it with the system's viewer")
    return text


def home_relative(path: Path) -> str:
    """A path as people write it: ``~/Downloads/inboop`` rather than the full home folder."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)

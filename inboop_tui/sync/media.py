"""Saving a file a customer sent: from the relay (which fetched it before the channel's link
expired) to a local file. The CLI and the app share it."""

from __future__ import annotations

import io
import mimetypes
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from inboop_tui.store.config import ClientConfig
from inboop_tui.store.paths import private_folder
from inboop_tui.store.rows import AttachmentRef
from inboop_tui.sync.client import RelayClient, SyncError

if TYPE_CHECKING:
    from PIL import Image as PILImage


class MediaError(Exception):
    """The file could not be saved; the message says why in one line."""


def file_name(ref: AttachmentRef, content_type: str | None = None) -> str:
    if ref.filename:
        return Path(ref.filename).name
    kind = (content_type or ref.mime_type or "").split(";")[0]
    suffix = mimetypes.guess_extension(kind) or ""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in ref.message_id)[-40:]
    return f"{ref.type.lower()}-{stem}-{ref.index}{suffix}"


def fetch_attachment(config: ClientConfig, ref: AttachmentRef) -> tuple[bytes, str]:
    """The file and its content type, from the relay's store."""
    if not config.is_configured:
        raise MediaError("files come from the relay: run `inboop login RELAY_URL` first")
    assert config.relay_url is not None and config.token is not None
    try:
        with RelayClient(config.relay_url, config.token) as client:
            return client.media(ref.channel, ref.message_id, ref.index)
    except SyncError as exc:
        raise MediaError(str(exc)) from None


PICTURE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")


@dataclass(frozen=True)
class Picture:
    """What Pillow reads of an image: enough to describe it, and the image to draw."""

    width: int
    height: int
    format: str  # JPEG, PNG, WEBP, GIF …
    image: PILImage.Image


def read_picture(data: bytes) -> Picture:
    """The image in ``data``; MediaError when it is not one Pillow can read. Pillow is
    imported here, when a picture is shown, not with the app (~15 ms)."""
    from PIL import Image as PILImage

    try:
        # Only the formats channels send: Pillow's others (EPS runs Ghostscript) never see
        # a customer's bytes.
        image = PILImage.open(io.BytesIO(data), formats=PICTURE_FORMATS)
        image.load()
    except (OSError, ValueError, PILImage.DecompressionBombError) as exc:
        raise MediaError(f"not an image this app can show: {exc}") from None
    return Picture(image.width, image.height, image.format or "image", image)


def save_attachment(
    config: ClientConfig,
    ref: AttachmentRef,
    out: Path,
    *,
    folder: bool = False,
    fetched: tuple[bytes, str] | None = None,
) -> tuple[Path, int, str]:
    """Write the file to ``out``: into it when it is a folder (``folder``: made if missing),
    else as that file (``fetched``: the bytes, when already at hand). The path, its size and
    its content type."""
    data, content_type = fetched or fetch_attachment(config, ref)
    place = out.expanduser()
    into = folder or place.is_dir() or str(out).endswith(os.sep)
    target = place / file_name(ref, content_type) if into else place
    try:
        private_folder(target.parent)
        partial = target.with_name(target.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a customer's file
        with open(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, target)
    except OSError as exc:
        raise MediaError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target, len(data), content_type


def downloads_folder() -> Path:
    """Where the app saves files: ``$INBOOP_DOWNLOADS``, else ``~/Downloads/inboop``."""
    chosen = os.environ.get("INBOOP_DOWNLOADS")
    return Path(chosen).expanduser() if chosen else Path.home() / "Downloads" / "inboop"


def open_with_system(path: Path) -> str | None:
    """Open a saved file with the system's opener; None if it was started, else why not."""
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    if shutil.which(opener) is None:
        return f"no {opener} on this machine: the file is at {path}"
    subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return None


def keep_file(
    config: ClientConfig,
    ref: AttachmentRef,
    *,
    open_it: bool,
    fetched: tuple[bytes, str] | None = None,
) -> str:
    """Save a file into the downloads folder (and open it): what to tell the person. The app's
    Files and picture screens share it; MediaError says why it could not be done."""
    path, size, _ = save_attachment(config, ref, downloads_folder(), folder=True, fetched=fetched)
    if open_it:
        return open_with_system(path) or f"Opened {path}."
    return f"Saved {path} ({size:,} bytes)."

"""Which graphics protocol the terminal speaks, asked as the app asks it: a real child process
on a pseudo-terminal, and this test playing the terminal on the other side."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASK = "from inboop_tui.widgets.picture import detect_graphics; print('GRAPHICS', detect_graphics())"
KITTY_QUERY = re.compile(rb"\x1b_Gi=(\d+),[^;]*;AAAA\x1b\\")
ATTRIBUTES_QUERY = b"\x1b[c"


def converse(
    attributes: bytes | None, kitty: bool, environment: str | None = None
) -> tuple[str, list[bytes]]:
    """Run the detection on a pseudo-terminal that answers the primary attributes query with
    ``attributes`` (None: never answers) and kitty's graphics query when ``kitty``. Returns
    what the child printed and every query it sent, in order."""
    main, child_end = pty.openpty()
    # 40 rows of 120 cells, 10 by 20 pixels each: a terminal's size, as the picture library reads it
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 1200, 800))
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("INBOOP_IMAGES", None)
    if environment is not None:
        env["INBOOP_IMAGES"] = environment
    proc = subprocess.Popen(
        [sys.executable, "-c", ASK],
        stdin=child_end,
        stdout=child_end,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    os.close(child_end)
    seen = b""
    queries: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([main], [], [], 0.05)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed its end
                break
            seen += chunk
            for match in KITTY_QUERY.finditer(chunk):
                queries.append(b"kitty")
                if kitty:
                    os.write(main, b"\x1b_Gi=" + match.group(1) + b";OK\x1b\\")
            for _ in range(chunk.count(ATTRIBUTES_QUERY)):
                queries.append(b"attributes")
                if attributes is not None:
                    os.write(main, b"\x1b[?" + attributes + b"c")
    finally:
        os.close(main)
        proc.wait(timeout=60)
    printed = re.search(rb"GRAPHICS (\w+)", seen)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert printed is not None, seen
    return printed.group(1).decode(), queries


def test_a_sixel_terminal_is_found_by_its_attributes() -> None:
    found, queries = converse(b"62;4;22", kitty=False)
    assert found == "sixel"
    assert queries[:2] == [b"kitty", b"attributes"]  # one round trip decides


def test_a_kitty_terminal_answers_the_graphics_query_before_its_attributes() -> None:
    found, queries = converse(b"62;22", kitty=True)
    assert found == "kitty"
    assert queries[:2] == [b"kitty", b"attributes"]


def test_a_terminal_without_graphics_is_asked_once() -> None:
    """Most terminals (and tmux): the answer to the attributes query, and no picture library
    loaded to ask again (it waited for the graphics query's timeout, ~0.2 s of every start)."""
    found, queries = converse(b"1;2", kitty=False)
    assert found == "None"
    assert queries == [b"kitty", b"attributes"]


def test_a_terminal_that_never_answers_gives_words_after_a_moment() -> None:
    found, queries = converse(None, kitty=False)
    assert found == "None"
    assert queries == [b"kitty", b"attributes"]


@pytest.mark.parametrize(("setting", "expected"), [("off", "None"), ("kitty", "kitty")])
def test_the_setting_overrides_without_asking(setting: str, expected: str) -> None:
    found, queries = converse(b"62;4;22", kitty=True, environment=setting)
    assert found == expected
    assert queries == []

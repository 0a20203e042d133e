"""Inboop TUI: the agent's terminal workspace on a local SQLite replica of the relay's log."""

__version__ = "0.1.0"

"""Inboop relay: receives the channels' webhooks into one ordered event log and serves it."""

__version__ = "0.1.0"

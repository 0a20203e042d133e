"""The result of normalising one webhook delivery."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from relay.protocol import ChannelEvent


class ItemError(Exception):
    """One item of a delivery cannot be normalised; the rest of the delivery still is."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class ItemFailure:
    kind: str  # malformed_json | unknown_object | unknown_item | malformed_item | provider_error
    detail: str
    path: str = ""

    def describe(self) -> str:
        return f"{self.path}: {self.detail}" if self.path else self.detail


@dataclass
class Normalised:
    object: str | None = None
    events: list[ChannelEvent] = field(default_factory=list)
    failures: list[ItemFailure] = field(default_factory=list)


def from_millis(value: object) -> datetime:
    """Meta messaging timestamps: integer milliseconds since the epoch."""
    return _epoch(value, 1000)


def from_seconds(value: object) -> datetime:
    """WhatsApp timestamps: seconds since the epoch, as a string."""
    return _epoch(value, 1)


def _epoch(value: object, per_second: int) -> datetime:
    """A timestamp a datetime can hold; anything else (``"abc"``, 1e30, NaN, 2^63) fails the
    one item it is in."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ItemError("malformed_item", f"timestamp {value!r} is not a number")
    try:
        number = int(float(value)) if isinstance(value, str) and "." in value else int(value)
        return datetime.fromtimestamp(number / per_second, UTC)
    except (ValueError, OverflowError, OSError) as exc:
        shown = repr(value)[:40]
        raise ItemError("malformed_item", f"timestamp {shown} is not a time") from exc


def unexpected(exc: Exception, path: str) -> ItemFailure:
    """A normaliser error on one item (a bug, or a shape nobody foresaw): that item fails alone."""
    return ItemFailure("normaliser_error", f"{type(exc).__name__}: {str(exc)[:200]}", path)


def require_str(mapping: object, key: str, where: str) -> str:
    if not isinstance(mapping, dict):
        raise ItemError("malformed_item", f"{where} is not an object")
    value = mapping.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ItemError("malformed_item", f"{where}.{key} is missing")
    return value


def optional_dict(mapping: dict, key: str) -> dict:
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def optional_str(mapping: dict, key: str) -> str | None:
    value = mapping.get(key)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def as_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

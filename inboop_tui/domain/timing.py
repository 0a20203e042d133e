"""Times as people read them, and the channels' reply window. Pure: ``now`` is always passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

REPLY_WINDOW = timedelta(hours=24)


def parse_time(value: str) -> datetime:
    """An ISO-8601 time; one without a zone is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def relative(value: str | None, now: datetime) -> str:
    """Compact age for lists: ``now``, ``5m``, ``3h``, ``2d``, then a date."""
    if not value:
        return ""
    delta = now - parse_time(value)
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 7 * 86400:
        return f"{seconds // 86400}d"
    then = parse_time(value)
    return then.strftime("%d %b") if then.year == now.year else then.strftime("%b %Y")


def local_clock(value: str, zone: tzinfo | None = None) -> str:
    """``HH:MM`` in the user's zone (the machine's zone unless one is given)."""
    return parse_time(value).astimezone(zone).strftime("%H:%M")


def local_day(value: str, zone: tzinfo | None = None) -> str:
    return parse_time(value).astimezone(zone).strftime("%a %d %b %Y")


def local_when(value: str, now: datetime, zone: tzinfo | None = None) -> str:
    """A time soon, as people say it: ``18:00`` today, else ``Thu 26 Nov 09:00``."""
    then = parse_time(value).astimezone(zone)
    today = now.astimezone(zone)
    if then.date() == today.date():
        return then.strftime("%H:%M")
    if then.year == today.year:
        return then.strftime("%a %d %b %H:%M")
    return then.strftime("%a %d %b %Y %H:%M")


def local_stamp(value: str | None, now: datetime, zone: tzinfo | None = None) -> str:
    """A past moment for lists of events: ``14:03:12`` today, else ``26 Nov 14:03``."""
    if not value:
        return "-"
    then = parse_time(value).astimezone(zone)
    if then.date() == now.astimezone(zone).date():
        return then.strftime("%H:%M:%S")
    if then.year == now.astimezone(zone).year:
        return then.strftime("%d %b %H:%M")
    return then.strftime("%d %b %Y %H:%M")


@dataclass(frozen=True)
class ReplyWindow:
    open: bool
    remaining: timedelta

    def describe(self, channel: str) -> str:
        if self.open:
            hours, rest = divmod(int(self.remaining.total_seconds()), 3600)
            return f"reply window open: {hours}h {rest // 60:02d}m left"
        if channel == "WHATSAPP":
            return "reply window closed: WhatsApp allows only templates now"
        return "reply window closed: the customer must write first"


def reply_window(last_inbound_at: str | None, now: datetime) -> ReplyWindow:
    """Meta channels take free-form replies within 24 h of the customer's last message."""
    if not last_inbound_at:
        return ReplyWindow(False, timedelta(0))
    remaining = parse_time(last_inbound_at) + REPLY_WINDOW - now
    return ReplyWindow(remaining > timedelta(0), max(remaining, timedelta(0)))


_SPAN = re.compile(r"^(\d{1,4})\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
MORNING = time(9, 0)


class TimeError(ValueError):
    """A time a person typed that cannot be read; the message shows what works."""


def parse_until(text: str, now: datetime, zone: tzinfo | None = None) -> datetime:
    """A future time as people type it: ``30m``, ``2h``, ``3d``, ``1w``, ``tomorrow`` (9:00),
    ``17:30`` (today, or tomorrow once past), or an ISO-8601 date or time. Local times are in
    ``zone`` (the machine's zone unless given). The result is UTC."""
    value = text.strip().lower()
    local_now = now.astimezone(zone)
    span = _SPAN.match(value)
    if span:
        amount, unit = int(span.group(1)), span.group(2)[0]
        step = {
            "m": timedelta(minutes=1),
            "h": timedelta(hours=1),
            "d": timedelta(days=1),
            "w": timedelta(weeks=1),
        }[unit]
        result = now + amount * step
    elif value == "tomorrow":
        day = local_now.date() + timedelta(days=1)
        result = datetime.combine(day, MORNING, local_now.tzinfo)
    elif _CLOCK.match(value):
        hour, minute = (int(p) for p in value.split(":"))
        if hour > 23 or minute > 59:
            raise TimeError(f"{text!r} is not a time of day")
        result = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if result <= local_now:
            result += timedelta(days=1)
    else:
        try:
            parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            raise TimeError(
                f"{text!r} is not a time: try 30m, 2h, 3d, 1w, tomorrow, 17:30 or 2026-12-01T09:00"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=local_now.tzinfo)
        result = parsed
    result = result.astimezone(UTC)
    if result <= now:
        raise TimeError(f"{text!r} is not in the future")
    return result

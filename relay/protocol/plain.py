"""The wire format's plain parts: its names (channels, directions, delivery states…), the time
format, conversation ids, the reply tag and money's limits.

Nothing here needs pydantic, so the app's start reads and shows the replica without loading the
models (``relay.protocol`` loads them on first use); the models use these same definitions.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache

PROTOCOL_VERSION = 1


class Channel(StrEnum):
    INSTAGRAM = "INSTAGRAM"
    WHATSAPP = "WHATSAPP"
    MESSENGER = "MESSENGER"


class Direction(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class SenderType(StrEnum):
    CUSTOMER = "CUSTOMER"
    USER = "USER"
    SYSTEM = "SYSTEM"


class ContentType(StrEnum):
    """What a message mainly is; the first attachment decides when there is no text."""

    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    FILE = "FILE"
    STICKER = "STICKER"
    LOCATION = "LOCATION"
    SHARE = "SHARE"
    STORY_MENTION = "STORY_MENTION"
    REEL = "REEL"
    CONTACTS = "CONTACTS"
    REACTION = "REACTION"
    CART = "CART"
    UNSUPPORTED = "UNSUPPORTED"


class AttachmentType(StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    FILE = "FILE"
    STICKER = "STICKER"
    LOCATION = "LOCATION"
    SHARE = "SHARE"
    STORY_MENTION = "STORY_MENTION"
    REEL = "REEL"
    CONTACTS = "CONTACTS"
    TEMPLATE = "TEMPLATE"
    FALLBACK = "FALLBACK"
    CART = "CART"


class DeliveryState(StrEnum):
    """Delivery state of an outbound message. Only moves forward; FAILED stands apart."""

    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"


def utc(dt: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are taken as UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def format_time(dt: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``: sortable as text, the same on every side."""
    return utc(dt).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Each event asks for it a few times (the rows it needs, then its reducer): a sync's batch of
# thousands of events finds most of them here.
@lru_cache(maxsize=1 << 14)
def conversation_id(channel: str, account_id: str, customer_id: str) -> str:
    """A conversation's id from its identity: the same on every replica and on the relay."""
    digest = hashlib.sha256(f"{channel}\x1f{account_id}\x1f{customer_id}".encode()).hexdigest()
    return f"cv_{digest[:24]}"


# Our replies carry this tag in what Meta hands back (Messenger/Instagram ``metadata``,
# WhatsApp ``biz_opaque_callback_data``), so an echo or a status names the reply it is about.
REPLY_TAG = "inboop:reply:"


def reply_tag(reply_id: str) -> str:
    return REPLY_TAG + reply_id


def reply_id_from_tag(tag: object) -> str | None:
    if isinstance(tag, str) and tag.startswith(REPLY_TAG) and len(tag) <= len(REPLY_TAG) + 64:
        return tag[len(REPLY_TAG) :]
    return None


# ISO 4217: the digits after the decimal point, for every currency that is not 2.
_MINOR_DIGITS = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3,
    "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip
_TWO_DIGITS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP "
    "GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL "
    "MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK "
    "PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB "
    "TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL"
)
CURRENCY_DIGITS: dict[str, int] = {code: 2 for code in _TWO_DIGITS.split()} | _MINOR_DIGITS
MAX_AMOUNT = 10**15  # minor units: far above any order, far below float trouble in exports

"""Channel normalisers: Meta webhook deliveries in, canonical channel events out."""

from __future__ import annotations

import json
import re
from typing import Any

from relay.channels import messaging, whatsapp
from relay.channels.normalised import ItemError, ItemFailure, Normalised, unexpected
from relay.protocol import Channel

_MESSAGING_OBJECTS = {"instagram": Channel.INSTAGRAM, "page": Channel.MESSENGER}
WHATSAPP_OBJECT = "whatsapp_business_account"


def normalise_delivery(body: bytes) -> Normalised:
    """Every entry and every item of one delivery; what cannot be read becomes a failure."""
    try:
        # Strict UTF-8: json.loads(bytes) would let encoded surrogates through, which no
        # column or JSON text can then hold.
        document: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Normalised(failures=[ItemFailure("malformed_json", f"body is not JSON: {exc}")])
    if _ESCAPED_SURROGATE.search(body):
        document = _without_lone_surrogates(document)
    if not isinstance(document, dict):
        return Normalised(failures=[ItemFailure("malformed_json", "body is not a JSON object")])
    obj = document.get("object")
    result = Normalised(object=obj[:64] if isinstance(obj, str) else None)  # a column's width
    if obj not in _MESSAGING_OBJECTS and obj != WHATSAPP_OBJECT:
        result.failures.append(ItemFailure("unknown_object", f"object {obj!r} is not handled"))
        return result
    entries = document.get("entry")
    if not isinstance(entries, list):
        result.failures.append(ItemFailure("malformed_item", "entry is not a list"))
        return result
    for index, entry in enumerate(entries):
        path = f"entry[{index}]"
        try:
            if not isinstance(entry, dict):
                raise ItemError("malformed_item", "entry is not an object")
            if obj == WHATSAPP_OBJECT:
                events, failures = whatsapp.normalise_entry(entry, path)
            else:
                events, failures = messaging.normalise_entry(_MESSAGING_OBJECTS[obj], entry, path)
        except ItemError as exc:
            result.failures.append(ItemFailure(exc.kind, exc.detail, path))
            continue
        except Exception as exc:
            result.failures.append(unexpected(exc, path))
            continue
        result.events.extend(events)
        result.failures.extend(failures)
    return result


# JSON may escape half of a UTF-16 pair on its own ("\ud800"): text no database can store. It
# is looked for in the raw bytes (fast), and only then replaced, with U+FFFD.
_ESCAPED_SURROGATE = re.compile(rb"\\[uU][dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


__all__ = ["ItemFailure", "Normalised", "normalise_delivery"]

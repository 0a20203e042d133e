"""WhatsApp Cloud API deliveries normalised into canonical events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from relay import simulator as mp
from relay.channels import normalise_delivery
from relay.protocol import (
    AttachmentType,
    Channel,
    ContactProfile,
    ContentType,
    DeliveryState,
    Direction,
    MessageDeleted,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
    MessageStatus,
    ReactionRemoved,
    ReactionSet,
    SenderType,
)

PN = mp.PHONE_NUMBER_ID
TS = 1_764_000_000
CUSTOMER = "919876543210"


def events_of(payload: dict) -> list:
    result = normalise_delivery(mp.body(payload))
    assert result.failures == []
    return result.events


def message_of(payload: dict) -> MessageReceived:
    messages = [e for e in events_of(payload) if isinstance(e, MessageReceived)]
    assert len(messages) == 1
    return messages[0]


def test_text_message_with_contact_profile() -> None:
    payload = mp.whatsapp(
        mp.wa_value(
            messages=[mp.wa_text(CUSTOMER, "wamid.T1", TS, "Hi! Price of the kurta?")],
            contacts=[mp.wa_contact(CUSTOMER, "Asha")],
        )
    )
    profile, message = events_of(payload)
    assert isinstance(profile, ContactProfile)
    assert (profile.name, profile.wa_id, profile.customer_id) == ("Asha", CUSTOMER, CUSTOMER)
    assert isinstance(message, MessageReceived)
    assert message.channel is Channel.WHATSAPP
    assert message.conversation_key == ("WHATSAPP", PN, CUSTOMER)
    assert message.occurred_at == datetime.fromtimestamp(TS, UTC)
    assert message.dedup_key == "msg:WHATSAPP:wamid.T1"
    assert message.message.text == "Hi! Price of the kurta?"
    assert message.message.content_type is ContentType.TEXT


@pytest.mark.parametrize(
    ("kind", "content", "attachment_type"),
    [
        (
            "image",
            {"id": "MEDIA1", "mime_type": "image/jpeg", "sha256": "x", "caption": "this one"},
            AttachmentType.IMAGE,
        ),
        ("video", {"id": "MEDIA2", "mime_type": "video/mp4", "sha256": "x"}, AttachmentType.VIDEO),
        (
            "audio",
            {"id": "MEDIA3", "mime_type": "audio/ogg; codecs=opus", "sha256": "x", "voice": True},
            AttachmentType.AUDIO,
        ),
        (
            "document",
            {
                "id": "MEDIA4",
                "mime_type": "application/pdf",
                "sha256": "x",
                "filename": "invoice.pdf",
                "caption": "bill",
            },
            AttachmentType.FILE,
        ),
        (
            "sticker",
            {"id": "MEDIA5", "mime_type": "image/webp", "sha256": "x", "animated": False},
            AttachmentType.STICKER,
        ),
    ],
)
def test_media_messages(kind: str, content: dict, attachment_type: AttachmentType) -> None:
    message = message_of(
        mp.whatsapp(
            mp.wa_value(messages=[mp.wa_message(CUSTOMER, f"wamid.{kind}", TS, kind, content)])
        )
    )
    (attachment,) = message.message.attachments
    assert attachment.type is attachment_type
    assert attachment.media_id == content["id"]
    assert attachment.mime_type == content["mime_type"]
    assert attachment.caption == content.get("caption")
    assert attachment.filename == content.get("filename")
    assert message.message.content_type.value == attachment_type.value


def test_location_contacts_interactive_button_and_system() -> None:
    location = message_of(
        mp.whatsapp(
            mp.wa_value(
                messages=[
                    mp.wa_message(
                        CUSTOMER,
                        "wamid.L",
                        TS,
                        "location",
                        {
                            "latitude": 19.07,
                            "longitude": 72.87,
                            "name": "Shop",
                            "address": "MG Road",
                        },
                    )
                ]
            )
        )
    )
    assert location.message.content_type is ContentType.LOCATION
    assert (location.message.attachments[0].latitude, location.message.attachments[0].title) == (
        19.07,
        "Shop",
    )

    contacts = message_of(
        mp.whatsapp(
            mp.wa_value(
                messages=[
                    mp.wa_message(
                        CUSTOMER,
                        "wamid.C",
                        TS,
                        "contacts",
                        None,
                        contacts=[
                            {"name": {"formatted_name": "Ravi K"}, "phones": [{"phone": "+91 99"}]}
                        ],
                    )
                ]
            )
        )
    )
    assert contacts.message.content_type is ContentType.CONTACTS
    assert contacts.message.attachments[0].title == "Ravi K"

    interactive = message_of(
        mp.whatsapp(
            mp.wa_value(
                messages=[
                    mp.wa_message(
                        CUSTOMER,
                        "wamid.I",
                        TS,
                        "interactive",
                        {
                            "type": "button_reply",
                            "button_reply": {"id": "yes", "title": "Yes, confirm"},
                        },
                    )
                ]
            )
        )
    )
    assert (interactive.message.text, interactive.message.provider_type) == (
        "Yes, confirm",
        "interactive",
    )

    button = message_of(
        mp.whatsapp(
            mp.wa_value(
                messages=[
                    mp.wa_message(
                        CUSTOMER,
                        "wamid.B",
                        TS,
                        "button",
                        {"text": "Track order", "payload": "TRACK"},
                    )
                ]
            )
        )
    )
    assert button.message.text == "Track order"

    system = message_of(
        mp.whatsapp(
            mp.wa_value(
                messages=[
                    mp.wa_message(
                        CUSTOMER,
                        "wamid.S",
                        TS,
                        "system",
                        {"body": "User changed number", "type": "user_changed_number"},
                    )
                ]
            )
        )
    )
    assert system.message.sender_type is SenderType.SYSTEM


def test_unsupported_message_is_kept_typed_unsupported() -> None:
    msg = mp.wa_message(
        CUSTOMER,
        "wamid.U",
        TS,
        "unsupported",
        None,
        errors=[
            {"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}
        ],
    )
    result = normalise_delivery(mp.body(mp.whatsapp(mp.wa_value(messages=[msg]))))
    (message,) = [e for e in result.events if isinstance(e, MessageReceived)]
    assert message.message.content_type is ContentType.UNSUPPORTED
    assert message.message.provider_type == "unsupported"
    assert message.message.text == "Message type unknown"
    (failure,) = result.failures  # and WhatsApp's error is an integration failure, with its code
    assert failure.kind == "provider_error" and '"code":"131051"' in failure.detail
    assert failure.path.endswith("value.messages[0]")


def test_reply_context() -> None:
    msg = mp.wa_text(CUSTOMER, "wamid.R", TS, "this one please")
    msg["context"] = {"from": "15550783881", "id": "wamid.OUT1"}
    assert message_of(mp.whatsapp(mp.wa_value(messages=[msg]))).message.reply_to == "wamid.OUT1"


def test_reaction_set_and_removed_by_empty_emoji() -> None:
    set_, removed = events_of(
        mp.whatsapp(
            mp.wa_value(
                messages=[
                    mp.wa_message(
                        CUSTOMER,
                        "wamid.RX1",
                        TS,
                        "reaction",
                        {"message_id": "wamid.OUT1", "emoji": "\U0001f44d"},
                    ),
                    mp.wa_message(
                        CUSTOMER,
                        "wamid.RX2",
                        TS + 5,
                        "reaction",
                        {"message_id": "wamid.OUT1", "emoji": ""},
                    ),
                ]
            )
        )
    )
    assert isinstance(set_, ReactionSet)
    assert (set_.channel_message_id, set_.emoji) == ("wamid.OUT1", "\U0001f44d")
    assert isinstance(removed, ReactionRemoved)
    assert removed.channel_message_id == "wamid.OUT1"


def test_statuses_including_failed_with_the_provider_error() -> None:
    statuses = [
        mp.wa_status("wamid.OUT1", "sent", TS, CUSTOMER),
        mp.wa_status("wamid.OUT1", "delivered", TS + 1, CUSTOMER),
        mp.wa_status("wamid.OUT1", "read", TS + 2, CUSTOMER),
        mp.wa_status(
            "wamid.OUT2",
            "failed",
            TS + 3,
            CUSTOMER,
            errors=[
                {
                    "code": 131047,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {
                        "details": "Message failed to send because more than 24 hours have passed"
                    },
                }
            ],
        ),
    ]
    events = events_of(mp.whatsapp(mp.wa_value(statuses=statuses)))
    assert all(isinstance(e, MessageStatus) for e in events)
    assert [(e.channel_message_id, e.status) for e in events] == [
        ("wamid.OUT1", DeliveryState.SENT),
        ("wamid.OUT1", DeliveryState.DELIVERED),
        ("wamid.OUT1", DeliveryState.READ),
        ("wamid.OUT2", DeliveryState.FAILED),
    ]
    assert events[3].error is not None
    assert (events[3].error.code, events[3].error.title) == ("131047", "Re-engagement message")
    assert len({e.dedup_key for e in events}) == 4


def test_business_scoped_user_id_is_kept_when_wa_id_is_empty() -> None:
    msg = mp.wa_text("", "wamid.BS", TS, "hello from a username")
    msg["from_user_id"] = "US.13491208655302741918"
    contact = {
        "profile": {"name": "Sam", "username": "@sam"},
        "wa_id": "",
        "user_id": "US.13491208655302741918",
        "parent_user_id": "US.ENT.11815799212886844830",
    }
    profile, message = events_of(mp.whatsapp(mp.wa_value(messages=[msg], contacts=[contact])))
    assert message.customer_id == "US.13491208655302741918"
    assert isinstance(profile, ContactProfile)
    assert (profile.user_id, profile.username, profile.wa_id) == (
        "US.13491208655302741918",
        "@sam",
        None,
    )
    assert profile.parent_user_id == "US.ENT.11815799212886844830"


def test_echoes_from_the_business_app() -> None:
    echo = {
        "from": "15550783881",
        "to": CUSTOMER,
        "id": "wamid.E1",
        "timestamp": str(TS),
        "type": "text",
        "text": {"body": "Sent from the phone"},
    }
    value = mp.wa_value()
    value["message_echoes"] = [echo]
    (event,) = events_of(mp.whatsapp(value, field="smb_message_echoes"))
    assert isinstance(event, MessageEchoed)
    assert event.customer_id == CUSTOMER
    assert event.message.direction is Direction.OUTBOUND


def test_several_messages_values_and_changes_are_all_processed() -> None:
    payload = mp.whatsapp(
        mp.wa_value(
            messages=[
                mp.wa_text(CUSTOMER, "wamid.1", TS, "a"),
                mp.wa_text("447700900000", "wamid.2", TS, "b"),
            ],
            contacts=[mp.wa_contact(CUSTOMER, "A"), mp.wa_contact("447700900000", "B")],
        ),
        mp.wa_value(
            messages=[mp.wa_text(CUSTOMER, "wamid.3", TS + 1, "c")], phone_number_id="OTHER_NUMBER"
        ),
    )
    payload["entry"].append(
        {
            "id": "WABA2",
            "changes": [
                {
                    "field": "messages",
                    "value": mp.wa_value(statuses=[mp.wa_status("wamid.X", "sent", TS, CUSTOMER)]),
                }
            ],
        }
    )
    events = events_of(payload)
    keys = [e.dedup_key for e in events]
    assert (
        "msg:WHATSAPP:wamid.1" in keys
        and "msg:WHATSAPP:wamid.2" in keys
        and "msg:WHATSAPP:wamid.3" in keys
    )
    assert "status:WHATSAPP:wamid.X:SENT" in keys
    assert [e.account_id for e in events if e.dedup_key == "msg:WHATSAPP:wamid.3"] == [
        "OTHER_NUMBER"
    ]
    assert sum(isinstance(e, ContactProfile) for e in events) == 2


def test_unknown_fields_bad_items_and_ignored_fields() -> None:
    payload = mp.whatsapp(
        mp.wa_value(
            messages=[
                mp.wa_text(CUSTOMER, "wamid.ok", TS, "fine"),
                {"from": CUSTOMER, "id": "wamid.bad", "timestamp": "soon", "type": "text"},
            ],
            statuses=[mp.wa_status("wamid.q", "queued_somewhere", TS, CUSTOMER)],
        )
    )
    payload["entry"][0]["changes"] += [
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
        {"field": "calls", "value": {"calls": []}},  # understood: calls are not conversations
        {"field": "some_future_field", "value": {"x": 1}},
    ]
    result = normalise_delivery(mp.body(payload))
    assert [e.dedup_key for e in result.events] == ["msg:WHATSAPP:wamid.ok"]
    assert sorted(f.kind for f in result.failures) == [
        "malformed_item",
        "unknown_item",
        "unknown_item",
    ]
    assert any("some_future_field" in f.detail for f in result.failures)
    assert not any("calls" in f.detail for f in result.failures)
    assert any("queued_somewhere" in f.detail for f in result.failures)


def test_a_catalog_cart_is_a_cart_with_its_lines_and_exact_prices() -> None:
    cart = mp.wa_cart(
        CUSTOMER,
        "wamid.CART",
        TS,
        [("SKU-KURTA-BLUE", 2, 1499.5, "INR"), ("SKU-DUPATTA", "1", 399, "INR")],
        text="these two please",
    )
    message = message_of(mp.whatsapp(mp.wa_value(messages=[cart])))
    assert message.message.content_type is ContentType.CART
    assert message.message.text == "these two please"
    (attachment,) = message.message.attachments
    assert attachment.type is AttachmentType.CART and attachment.catalog_id == "CATALOG_1"
    assert attachment.items is not None
    assert [(i.retailer_id, i.quantity, i.item_price, i.currency) for i in attachment.items] == [
        ("SKU-KURTA-BLUE", 2, "1499.5", "INR"),
        ("SKU-DUPATTA", 1, "399", "INR"),
    ]


# --- Coexistence, Flows, voice notes, calls: written from Meta's documented shapes -----------


def test_coexistence_edits_and_revokes_name_the_original_message() -> None:
    edit = mp.wa_message(
        CUSTOMER,
        "wamid.EDIT1",
        TS + 60,
        "edit",
        {
            "original_message_id": "wamid.ORIG",
            "message": {"type": "text", "text": {"body": "two kurtas, not one"}},
        },
    )
    revoke = mp.wa_message(
        CUSTOMER, "wamid.REV1", TS + 90, "revoke", {"original_message_id": "wamid.ORIG2"}
    )
    events = events_of(mp.whatsapp(mp.wa_value(messages=[edit, revoke])))
    edited = next(e for e in events if isinstance(e, MessageEdited))
    deleted = next(e for e in events if isinstance(e, MessageDeleted))
    assert (edited.channel_message_id, edited.text) == ("wamid.ORIG", "two kurtas, not one")
    assert deleted.channel_message_id == "wamid.ORIG2" and deleted.customer_id == CUSTOMER
    assert not any(isinstance(e, MessageReceived) for e in events)


def test_the_business_apps_echoes_edits_and_deleted_status() -> None:
    echo = {
        "from": "15550783881",
        "to": CUSTOMER,
        "id": "wamid.E2",
        "timestamp": str(TS),
        "type": "edit",
        "edit": {
            "original_message_id": "wamid.SENT_FROM_PHONE",
            "message": {"type": "image", "image": {"caption": "the blue one"}},
        },
    }
    value = mp.wa_value()
    value["message_echoes"] = [echo]
    (edited,) = events_of(mp.whatsapp(value, field="smb_message_echoes"))
    assert isinstance(edited, MessageEdited) and edited.text == "the blue one"
    deleted_status = mp.wa_status("wamid.GONE", "deleted", TS, CUSTOMER)
    (deleted,) = events_of(mp.whatsapp(mp.wa_value(statuses=[deleted_status])))
    assert isinstance(deleted, MessageDeleted) and deleted.channel_message_id == "wamid.GONE"


def test_a_played_voice_note_is_read_and_a_flows_reply_is_readable() -> None:
    played = mp.wa_status("wamid.VOICE", "played", TS, CUSTOMER)
    (status,) = events_of(mp.whatsapp(mp.wa_value(statuses=[played])))
    assert isinstance(status, MessageStatus) and status.status is DeliveryState.READ
    flow = mp.wa_message(
        CUSTOMER,
        "wamid.FLOW",
        TS,
        "interactive",
        {
            "type": "nfm_reply",
            "nfm_reply": {
                "name": "flow",
                "body": "Sent",
                "response_json": json.dumps(
                    {"flow_token": "secret", "size": "M", "delivery_city": "Pune"}
                ),
            },
        },
    )
    message = message_of(mp.whatsapp(mp.wa_value(messages=[flow])))
    assert message.message.text == "Sent\nsize: M\ndelivery city: Pune"
    assert message.message.provider_type == "nfm_reply"


def test_calls_history_and_contact_sync_are_understood_not_failures() -> None:
    for field in ("calls", "history", "smb_app_state_sync"):
        result = normalise_delivery(mp.body(mp.whatsapp(mp.wa_value(), field=field)))
        assert (result.events, result.failures) == ([], []), field

"""Messenger and Instagram deliveries normalised into canonical events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relay import simulator as mp
from relay.channels import normalise_delivery
from relay.protocol import (
    AttachmentType,
    Channel,
    ContentType,
    DeliveryState,
    Direction,
    MessageDeleted,
    MessageEchoed,
    MessageEdited,
    MessageReceived,
    ReactionRemoved,
    ReactionSet,
    SenderType,
    Watermark,
)

PAGE, IG = mp.PAGE_ID, mp.IG_ACCOUNT_ID
T0 = mp.T0_MS


def only(payload: dict) -> object:
    result = normalise_delivery(mp.body(payload))
    assert result.failures == []
    assert len(result.events) == 1
    return result.events[0]


def test_messenger_text_message_keeps_identity_and_provider_time() -> None:
    event = only(mp.messenger(mp.text_message(PAGE, "PSID1", "m_1", "Is the blue dress in stock?")))
    assert isinstance(event, MessageReceived)
    assert event.dedup_key == "msg:MESSENGER:m_1"
    assert event.conversation_key == ("MESSENGER", PAGE, "PSID1")
    assert event.occurred_at == datetime.fromtimestamp(T0 / 1000, UTC)
    assert event.message.direction is Direction.INBOUND
    assert event.message.sender_type is SenderType.CUSTOMER
    assert event.message.content_type is ContentType.TEXT
    assert event.message.text == "Is the blue dress in stock?"


@pytest.mark.parametrize(
    ("kind", "payload", "attachment_type", "content_type"),
    [
        ("image", {"url": "https://cdn.example/i.jpg"}, AttachmentType.IMAGE, ContentType.IMAGE),
        ("video", {"url": "https://cdn.example/v.mp4"}, AttachmentType.VIDEO, ContentType.VIDEO),
        ("audio", {"url": "https://cdn.example/a.mp4"}, AttachmentType.AUDIO, ContentType.AUDIO),
        ("file", {"url": "https://cdn.example/f.pdf"}, AttachmentType.FILE, ContentType.FILE),
        (
            "image",
            {"url": "https://cdn.example/s.png", "sticker_id": 369239263222822},
            AttachmentType.STICKER,
            ContentType.STICKER,
        ),
        (
            "location",
            {"coordinates": {"lat": 12.97, "long": 77.59}},
            AttachmentType.LOCATION,
            ContentType.LOCATION,
        ),
        ("template", {"template_type": "generic"}, AttachmentType.TEMPLATE, ContentType.TEXT),
        (
            "fallback",
            {"url": "https://example.com/post", "title": "A link"},
            AttachmentType.FALLBACK,
            ContentType.SHARE,
        ),
    ],
)
def test_messenger_attachments(
    kind: str, payload: dict, attachment_type: AttachmentType, content_type: ContentType
) -> None:
    event = only(mp.messenger(mp.attachment_message(PAGE, "PSID1", "m_att", kind, payload)))
    assert isinstance(event, MessageReceived)
    (attachment,) = event.message.attachments
    assert attachment.type is attachment_type
    assert event.message.content_type is content_type
    if "url" in payload:
        assert attachment.url == payload["url"]
    if kind == "location":
        assert (attachment.latitude, attachment.longitude) == (12.97, 77.59)
    if "sticker_id" in payload:
        assert attachment.media_id == "369239263222822"


@pytest.mark.parametrize(
    ("kind", "payload", "attachment_type", "content_type"),
    [
        (
            "image",
            {"url": "https://lookaside.example/ig.jpg"},
            AttachmentType.IMAGE,
            ContentType.IMAGE,
        ),
        (
            "share",
            {"url": "https://lookaside.example/share"},
            AttachmentType.SHARE,
            ContentType.SHARE,
        ),
        (
            "story_mention",
            {"url": "https://lookaside.example/story"},
            AttachmentType.STORY_MENTION,
            ContentType.STORY_MENTION,
        ),
        (
            "ig_reel",
            {"url": "https://lookaside.example/reel", "title": "Reel", "reel_video_id": "9911"},
            AttachmentType.REEL,
            ContentType.REEL,
        ),
        (
            "audio",
            {"url": "https://lookaside.example/voice"},
            AttachmentType.AUDIO,
            ContentType.AUDIO,
        ),
    ],
)
def test_instagram_attachments(
    kind: str, payload: dict, attachment_type: AttachmentType, content_type: ContentType
) -> None:
    event = only(mp.instagram(mp.attachment_message(IG, "IGSID1", "ig_att", kind, payload)))
    assert isinstance(event, MessageReceived)
    assert event.channel is Channel.INSTAGRAM
    (attachment,) = event.message.attachments
    assert attachment.type is attachment_type
    assert attachment.url == payload["url"]
    assert event.message.content_type is content_type
    if kind == "ig_reel":
        assert attachment.media_id == "9911"
        assert attachment.title == "Reel"


def test_unknown_attachment_type_is_kept_as_fallback_with_its_name() -> None:
    event = only(
        mp.instagram(
            mp.attachment_message(
                IG, "IGSID1", "ig_new", "hologram", {"url": "https://x.example/h"}
            )
        )
    )
    assert isinstance(event, MessageReceived)
    (attachment,) = event.message.attachments
    assert attachment.type is AttachmentType.FALLBACK
    assert attachment.title == "hologram"


def test_echo_is_outbound_and_belongs_to_the_customer_conversation() -> None:
    event = only(mp.messenger(mp.echo(PAGE, "PSID1", "m_echo", "Yes, size M is available")))
    assert isinstance(event, MessageEchoed)
    assert event.customer_id == "PSID1"
    assert event.message.direction is Direction.OUTBOUND
    assert event.message.sender_type is SenderType.USER


def test_edit_and_unsend() -> None:
    edited = only(
        mp.messenger(mp.edit(PAGE, "PSID1", "m_1", "Is the red dress in stock?", 1, T0 + 5000))
    )
    assert isinstance(edited, MessageEdited)
    assert (edited.channel_message_id, edited.text, edited.edit_count) == (
        "m_1",
        "Is the red dress in stock?",
        1,
    )
    deleted = only(mp.instagram(mp.unsend(IG, "IGSID1", "ig_1", T0 + 6000)))
    assert isinstance(deleted, MessageDeleted)
    assert deleted.channel_message_id == "ig_1"
    assert deleted.dedup_key == "del:INSTAGRAM:ig_1"


def test_reactions_set_unreact_and_missing_emoji() -> None:
    set_ = only(mp.instagram(mp.reaction(IG, "IGSID1", "ig_1", T0 + 1)))
    assert isinstance(set_, ReactionSet)
    assert (set_.channel_message_id, set_.emoji, set_.reaction) == ("ig_1", "\u2764\ufe0f", "love")
    removed = only(mp.instagram(mp.reaction(IG, "IGSID1", "ig_1", T0 + 2, action="unreact")))
    assert isinstance(removed, ReactionRemoved)
    no_emoji = mp.reaction(PAGE, "PSID1", "m_1", T0 + 3)
    no_emoji["reaction"] = {"mid": "m_1", "action": "react"}
    assert isinstance(only(mp.messenger(no_emoji)), ReactionRemoved)
    assert set_.dedup_key != removed.dedup_key


def test_messenger_watermarks_and_instagram_read_by_mid() -> None:
    delivered = only(mp.messenger(mp.delivery_watermark(PAGE, "PSID1", T0 + 10, ["m_echo"])))
    assert isinstance(delivered, Watermark)
    assert delivered.status is DeliveryState.DELIVERED
    assert delivered.watermark == datetime.fromtimestamp((T0 + 10) / 1000, UTC)
    assert delivered.channel_message_ids == ("m_echo",)
    read = only(mp.messenger(mp.read_watermark(PAGE, "PSID1", T0 + 20, T0 + 21)))
    assert isinstance(read, Watermark)
    assert read.status is DeliveryState.READ
    ig_read = only(mp.instagram(mp.read_by_mid(IG, "IGSID1", "ig_echo", T0 + 30)))
    assert isinstance(ig_read, Watermark)
    assert (ig_read.up_to_message_id, ig_read.watermark) == ("ig_echo", None)


def test_instagram_unsupported_and_story_reply() -> None:
    unsupported = only(
        mp.instagram(mp.inbound(IG, "IGSID1", T0, {"mid": "ig_u", "is_unsupported": True}))
    )
    assert isinstance(unsupported, MessageReceived)
    assert unsupported.message.content_type is ContentType.UNSUPPORTED
    story_reply = only(
        mp.instagram(
            mp.inbound(
                IG,
                "IGSID1",
                T0,
                {
                    "mid": "ig_sr",
                    "text": "Love this!",
                    "reply_to": {"story": {"url": "https://x.example/s", "id": "st1"}},
                },
            )
        )
    )
    assert isinstance(story_reply, MessageReceived)
    assert story_reply.message.text == "Love this!"
    assert story_reply.message.content_type is ContentType.TEXT
    assert story_reply.message.provider_type == "story_reply"
    assert story_reply.message.attachments[0].media_id == "st1"


def test_reply_to_and_postback() -> None:
    reply = only(
        mp.messenger(
            mp.inbound(
                PAGE, "PSID1", T0, {"mid": "m_r", "text": "this one", "reply_to": {"mid": "m_0"}}
            )
        )
    )
    assert isinstance(reply, MessageReceived)
    assert reply.message.reply_to == "m_0"
    postback = only(
        mp.messenger(
            {
                "sender": {"id": "PSID1"},
                "recipient": {"id": PAGE},
                "timestamp": T0,
                "postback": {"title": "Get Started", "payload": "START", "mid": "m_pb"},
            }
        )
    )
    assert isinstance(postback, MessageReceived)
    assert (postback.message.text, postback.message.provider_type) == ("Get Started", "postback")


def test_standby_items_are_processed_like_messaging() -> None:
    event = only(mp.messenger(mp.text_message(PAGE, "PSID9", "m_sb", "hello?"), standby=True))
    assert isinstance(event, MessageReceived)
    assert event.customer_id == "PSID9"


def test_every_entry_and_every_item_of_a_batch_is_processed() -> None:
    payload = mp.messenger(
        mp.text_message(PAGE, "PSID1", "m_a", "one"), mp.text_message(PAGE, "PSID2", "m_b", "two")
    )
    payload["entry"].append(
        {
            "id": PAGE,
            "time": T0,
            "messaging": [mp.text_message(PAGE, "PSID3", "m_c", "three")],
            "standby": [mp.text_message(PAGE, "PSID4", "m_d", "four")],
        }
    )
    result = normalise_delivery(mp.body(payload))
    assert result.failures == []
    assert [e.dedup_key for e in result.events] == [
        "msg:MESSENGER:m_a",
        "msg:MESSENGER:m_b",
        "msg:MESSENGER:m_c",
        "msg:MESSENGER:m_d",
    ]


def test_a_bad_item_fails_alone_and_unknown_kinds_are_failures() -> None:
    broken = mp.inbound(PAGE, "PSID1", T0, {"text": "no mid"})
    unknown = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": PAGE},
        "timestamp": T0,
        "teleport": {"to": "moon"},
    }
    ignored = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": PAGE},
        "timestamp": T0,
        "pass_thread_control": {"new_owner_app_id": "1"},
    }
    good = mp.text_message(PAGE, "PSID1", "m_ok", "fine")
    result = normalise_delivery(mp.body(mp.messenger(broken, unknown, ignored, good)))
    assert [e.dedup_key for e in result.events] == ["msg:MESSENGER:m_ok"]
    assert [(f.kind, f.path) for f in result.failures] == [
        ("malformed_item", "entry[0].messaging[0]"),
        ("unknown_item", "entry[0].messaging[1]"),
    ]
    assert "teleport" in result.failures[1].detail


def test_instagram_comment_changes_are_reported_not_dropped() -> None:
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": IG,
                "time": T0,
                "changes": [{"field": "comments", "value": {"id": "c1", "text": "nice"}}],
            }
        ],
    }
    result = normalise_delivery(mp.body(payload))
    assert result.events == []
    assert [f.kind for f in result.failures] == ["unknown_item"]
    assert "comments" in result.failures[0].detail


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (b'{"object": "telegram", "entry": []}', "unknown_object"),
        (b'{"object": "page", "entry": {"id": 1}}', "malformed_item"),
        (b'{"object": "page", "entry": [7]}', "malformed_item"),
    ],
)
def test_undecodable_deliveries_become_failures(raw: bytes, kind: str) -> None:
    result = normalise_delivery(raw)
    assert result.events == []
    assert [f.kind for f in result.failures] == [kind]

"""Seeded, realistic traffic for the benchmarks: Meta's real webhook shapes from the simulator,
the three channels mixed, one message per delivery as Meta sends them, and text lengths drawn
the way chat text runs (mostly a short line, sometimes a paragraph)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from relay import simulator as meta

WORDS = (
    "hi hello price please size colour available delivery cash order ship today tomorrow "
    "thanks ok yes no how much is the this in stock red blue black white small medium large "
    "can you send me photo address payment paid link upi card cod return exchange week "
    "मूल्य कितना है धन्यवाद ஆம் நன்றி 👍 🙏 ❤️ 😊 ¿cuánto cuesta? gracias obrigado merci"
).split()


def chat_text(rng: random.Random) -> str:
    """A chat message's text: three quarters of them a few words, the rest up to a paragraph."""
    words = rng.randint(2, 12) if rng.random() < 0.75 else rng.randint(13, 90)
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


@dataclass(frozen=True)
class Traffic:
    """``messages`` inbound messages over ``conversations`` customers, in time order."""

    messages: int
    conversations: int
    seed: int = 7
    prefix: str = "m"
    hot: int = 0  # this many of the messages go to one long conversation (customer 0)

    def deliveries(self) -> Iterator[bytes]:
        """One webhook body per message, in the shape of its channel."""
        rng = random.Random(self.seed)
        every = self.messages // self.hot if self.hot else 0
        for i in range(self.messages):
            customer = rng.randrange(self.conversations)
            if every and i % every == 0 and i // every < self.hot:
                customer = 0
            ts_ms = meta.T0_MS + i * 1_000
            yield meta.body(self._payload(rng, customer, i, ts_ms))

    def _payload(self, rng: random.Random, customer: int, i: int, ts_ms: int) -> dict:
        text = chat_text(rng)
        mid = f"{self.prefix}_{i}_{rng.getrandbits(64):016x}"
        channel = customer % 10
        if channel < 4:
            return meta.messenger(
                meta.text_message(meta.PAGE_ID, f"PSID{customer}", f"m_{mid}", text, ts=ts_ms)
            )
        if channel < 7:
            return meta.instagram(
                meta.text_message(meta.IG_ACCOUNT_ID, f"IGSID{customer}", f"aWdf{mid}", text, ts_ms)
            )
        wa_id = f"91{9_000_000_000 + customer}"
        return meta.whatsapp(
            meta.wa_value(
                contacts=[meta.wa_contact(wa_id, f"Customer {customer}")],
                messages=[meta.wa_text(wa_id, f"wamid.{mid}", ts_ms // 1000, text)],
            )
        )

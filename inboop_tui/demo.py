"""``inboop demo``: the real thing with zero setup.

A relay on loopback with its own SQLite file in a temporary folder, simulated customers on all
three channels sending signed webhook deliveries, a stand-in for Meta's send API (replies go
out, are echoed, delivered and read), a demo user and a teammate, a login, a sync, and the app.
While the app runs, customers keep writing now and then.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from inboop_tui.local_relay import LocalRelay, LocalRelayError
from inboop_tui.logs import log_to_file
from inboop_tui.store.config import ClientConfig, load_config, save_config
from inboop_tui.store.db import open_replica
from inboop_tui.store.paths import Paths
from inboop_tui.sync.engine import sync
from relay import simulator as meta
from relay.fake_graph import FakeGraph


class DemoError(Exception):
    pass


NAMES = [
    "Asha Verma",
    "Rahul Mehta",
    "Priya Nair",
    "Kabir Singh",
    "Meera Iyer",
    "Arjun Rao",
    "Zoya Khan",
    "Vikram Das",
    "Ananya Gupta",
    "Rohan Shah",
    "Isha Kapoor",
    "Dev Malhotra",
    "Sara Thomas",
    "Nikhil Joshi",
    "Tara Menon",
    "Aditya Kulkarni",
    "Neha Bose",
    "Kunal Sethi",
    "Riya Pillai",
    "Omar Sheikh",
    "Lina Fernandes",
    "Yash Agarwal",
    "Pooja Reddy",
    "Farhan Ali",
]

# ">" marks the business's reply (an echo); "[image]" an image from the customer.
SCRIPTS = [
    [
        "Hi! Is the linen kurta still available in M?",
        ">Hi! Yes, M and L are in stock. It's ₹1,499.",
        "Can you send a photo of the blue one?",
        ">Sure, here it is.",
        "[image]",
        "Love it. Do you deliver to Pune?",
        ">Yes, 2-3 days. Shall I book it?",
        "Yes please 🙏",
    ],
    [
        "Hello, what's the price of the silver jhumkas from your story?",
        ">They're ₹899 a pair.",
        "Any discount for 2 pairs?",
        ">₹1,600 for two!",
        "Deal. COD possible?",
    ],
    [
        "Do you ship to Dubai?",
        ">We do, shipping is ₹950 and takes about a week.",
        "Ok let me think",
    ],
    [
        "My order ORD-1002 hasn't arrived yet",
        ">Sorry about that! It's with the courier, tracking BLR7781234.",
        "Thanks, got it today ❤️",
    ],
    [
        "Is the cotton saree machine washable?",
        ">Hand wash recommended for the first few washes.",
        "ok",
        "What colours do you have?",
        ">Maroon, teal and mustard.",
    ],
    [
        "hii",
        "price of the tote bag?",
        ">₹1,250 — canvas with leather handles.",
        "[image]",
        "is this the same one?",
        ">Yes that's it!",
    ],
    [
        "Can I exchange a size? Ordered L, need M",
        ">Of course. Send it back with the slip and we'll ship M.",
        "Great thank you!",
    ],
    [
        "Do you do custom embroidery on the dupatta?",
        ">Yes! Name or initials, ₹300 extra, 5 days.",
        "Amazing, initials 'AK' please",
    ],
]
TRICKLE = [
    "Hi, is this still available?",
    "What sizes do you have?",
    "Can you share the price list?",
    "Is COD available in Jaipur?",
    "Thank you, received my parcel!",
    "When will the new collection drop?",
    "Do you have this in black?",
    "Order placed ✅",
]


@dataclass
class Customer:
    channel: str
    customer_id: str
    name: str
    script: list[str]


def simulated_customers(count: int, rng: random.Random) -> list[Customer]:
    channels = ["INSTAGRAM", "WHATSAPP", "MESSENGER"]
    found = []
    for i in range(count):
        channel = channels[i % 3]
        name = NAMES[i % len(NAMES)]
        if channel == "WHATSAPP":
            ident = f"9198{rng.randrange(10_000_000, 99_999_999)}"
        elif channel == "INSTAGRAM":
            ident = str(rng.randrange(10**16, 10**17))
        else:
            ident = str(rng.randrange(10**15, 10**16))
        found.append(Customer(channel, ident, name, SCRIPTS[i % len(SCRIPTS)]))
    return found


class Traffic:
    """Deliveries in Meta's wire format for the simulated customers."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.counter = 0

    def _mid(self, channel: str) -> str:
        self.counter += 1
        return (
            f"wamid.DEMO{self.counter:06d}"
            if channel == "WHATSAPP"
            else f"m_DEMO{self.counter:06d}"
        )

    def message(self, c: Customer, text: str, at_ms: int) -> tuple[dict[str, Any], str]:
        mid = self._mid(c.channel)
        outbound = text.startswith(">")
        body = text.lstrip(">")
        if c.channel == "WHATSAPP":
            seconds = at_ms // 1000
            if outbound:
                value = meta.wa_value()
                value["message_echoes"] = [
                    {
                        "from": "15550783881",
                        "to": c.customer_id,
                        "id": mid,
                        "timestamp": str(seconds),
                        "type": "text",
                        "text": {"body": body},
                    }
                ]
                return meta.whatsapp(value, field="smb_message_echoes"), mid
            if body == "[image]":
                msg = meta.wa_message(
                    c.customer_id,
                    mid,
                    seconds,
                    "image",
                    {"id": f"MEDIA{self.counter}", "mime_type": "image/jpeg", "sha256": "demo"},
                )
            else:
                msg = meta.wa_text(c.customer_id, mid, seconds, body)
            return meta.whatsapp(
                meta.wa_value(messages=[msg], contacts=[meta.wa_contact(c.customer_id, c.name)])
            ), mid
        account = meta.IG_ACCOUNT_ID if c.channel == "INSTAGRAM" else meta.PAGE_ID
        wrap = meta.instagram if c.channel == "INSTAGRAM" else meta.messenger
        if outbound:
            return wrap(meta.echo(account, c.customer_id, mid, body, ts=at_ms)), mid
        if body == "[image]":
            return wrap(
                meta.attachment_message(
                    account,
                    c.customer_id,
                    mid,
                    "image",
                    {"url": f"https://cdn.example.com/demo/{mid}.jpg"},
                    ts=at_ms,
                )
            ), mid
        return wrap(meta.text_message(account, c.customer_id, mid, body, ts=at_ms)), mid

    def read_receipt(self, c: Customer, mid: str, at_ms: int) -> dict[str, Any]:
        if c.channel == "WHATSAPP":
            return meta.whatsapp(
                meta.wa_value(statuses=[meta.wa_status(mid, "read", at_ms // 1000, c.customer_id)])
            )
        if c.channel == "INSTAGRAM":
            return meta.instagram(meta.read_by_mid(meta.IG_ACCOUNT_ID, c.customer_id, mid, at_ms))
        return meta.messenger(meta.read_watermark(meta.PAGE_ID, c.customer_id, at_ms, at_ms))

    def history(self, people: list[Customer], now_ms: int) -> Iterator[dict[str, Any]]:
        """Each customer's conversation, spread over the last three days, in time order."""
        timeline: list[tuple[int, int, dict[str, Any]]] = []
        order = 0
        for c in people:
            at = now_ms - self.rng.randrange(10 * 60_000, 72 * 3_600_000)
            last_outbound = None
            for line in c.script:
                at += self.rng.randrange(30_000, 25 * 60_000)
                delivery, mid = self.message(c, line, min(at, now_ms - 60_000))
                timeline.append((at, order, delivery))
                order += 1
                if line.startswith(">"):
                    last_outbound = mid
            if last_outbound and self.rng.random() < 0.6:
                timeline.append(
                    (
                        at + 60_000,
                        order,
                        self.read_receipt(c, last_outbound, min(at + 60_000, now_ms)),
                    )
                )
                order += 1
        for _, _, delivery in sorted(timeline, key=lambda t: (t[0], t[1])):
            yield delivery


def _trickle(
    relay: LocalRelay, traffic: Traffic, people: list[Customer], stop: threading.Event, every: float
) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.wait(every):
            c = traffic.rng.choice(people)
            try:
                relay.deliver(
                    client,
                    traffic.message(c, traffic.rng.choice(TRICKLE), int(time.time() * 1000))[0],
                )
            except (LocalRelayError, httpx.HTTPError):
                return


DEMO_TOKENS = {
    meta.PAGE_ID: "demo-page-token",
    meta.IG_ACCOUNT_ID: "demo-instagram-token",
    meta.PHONE_NUMBER_ID: "demo-whatsapp-token",
}
TEMPLATES = [
    {
        "name": "order_update",
        "language": "en_US",
        "status": "APPROVED",
        "components": [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way."}],
    },
    {
        "name": "back_in_stock",
        "language": "en_US",
        "status": "APPROVED",
        "components": [{"type": "BODY", "text": "Good news {{1}}: it is back in stock!"}],
    },
]


def prepare(root: Path, count: int) -> tuple[LocalRelay, FakeGraph, Paths, Traffic, list[Customer]]:
    """Start Meta's stand-in and the relay, feed it the history, log in and sync."""
    graph = FakeGraph(tokens=dict(DEMO_TOKENS), templates=TEMPLATES, read_after=4.0).start()
    relay = LocalRelay(
        root / "relay",
        INBOOP_GRAPH_API_URL=graph.url,
        INBOOP_PAGE_TOKENS=f"{meta.PAGE_ID}={DEMO_TOKENS[meta.PAGE_ID]}",
        INBOOP_INSTAGRAM_TOKENS=f"{meta.IG_ACCOUNT_ID}={DEMO_TOKENS[meta.IG_ACCOUNT_ID]}",
        INBOOP_WHATSAPP_TOKENS=f"{meta.PHONE_NUMBER_ID}={DEMO_TOKENS[meta.PHONE_NUMBER_ID]}",
    )
    try:
        relay.start()
    except LocalRelayError as exc:
        graph.stop()
        raise DemoError(str(exc)) from None
    graph.relay_url, graph.app_secret = relay.url, relay.secret
    token = relay.add_user("demo", admin=True)
    relay.add_user("maria")  # a teammate to assign to and mention
    traffic = Traffic()
    people = simulated_customers(count, traffic.rng)
    for person in people:  # what Meta's profile lookups answer for them
        first, _, last = person.name.partition(" ")
        if person.channel == "INSTAGRAM":
            handle = person.name.lower().replace(" ", ".")
            graph.profiles[person.customer_id] = {"name": person.name, "username": handle}
        elif person.channel == "MESSENGER":
            graph.profiles[person.customer_id] = {"first_name": first, "last_name": last}
    with httpx.Client(timeout=10) as client:
        for payload in traffic.history(people, int(time.time() * 1000)):
            relay.deliver(client, payload)
    paths = Paths(root / "client", root / "client")
    save_config(
        paths, ClientConfig(relay_url=relay.url, token=token, user_name="demo", role="ADMIN")
    )
    engine = open_replica(paths.database)
    try:
        outcome = sync(engine, load_config(paths))
    finally:
        engine.dispose()
    if not outcome.ok:
        raise DemoError(f"the first sync failed: {outcome.error}")
    return relay, graph, paths, traffic, people


def run_demo(*, customers: int = 24, keep: bool = False, trickle_seconds: float = 15.0) -> None:
    from inboop_tui.app import create_app
    from inboop_tui.widgets.picture import detect_graphics

    root = Path(tempfile.mkdtemp(prefix="inboop-demo-"))
    relay: LocalRelay | None = None
    graph: FakeGraph | None = None
    stop = threading.Event()
    try:
        print(f"starting a local relay and {customers} simulated customers in {root} …", flush=True)
        try:
            relay, graph, paths, traffic, people = prepare(root, customers)
        except LocalRelayError as exc:
            raise DemoError(str(exc)) from None
        feeder = threading.Thread(
            target=_trickle, args=(relay, traffic, people, stop, trickle_seconds), daemon=True
        )
        feeder.start()
        log_to_file(paths)
        engine = open_replica(paths.database)
        try:
            create_app(paths, engine, graphics=detect_graphics()).run()
        finally:
            engine.dispose()
    finally:
        stop.set()
        if relay is not None:
            relay.stop()
        if graph is not None:
            graph.stop()
        if keep:
            print(f"demo files kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

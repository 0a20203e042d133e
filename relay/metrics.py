"""What the relay counts for its operators, served as ``GET /metrics`` (``relay.observe``) in
Prometheus's text format. One registry per relay app (tests run several in one process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

# The API's routes worth telling apart; every other path is "other" (no unbounded labels).
ROUTES = {
    ("GET", "/v1/events"): "pull",
    ("POST", "/v1/mutations"): "push",
    ("POST", "/webhooks/meta"): "webhook",
    ("POST", "/v1/uploads"): "upload",
    ("GET", "/v1/media"): "media",
}


class RelayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter(
            "inboop_deliveries",
            "Webhook deliveries, by Meta's object (page, instagram, whatsapp_business_account) "
            "and what became of them.",
            ["object", "outcome"],
            registry=self.registry,
        )
        self.events = Counter(
            "inboop_events_appended",
            "Entries appended to the log since this relay started (on PostgreSQL: by any relay "
            "sharing the database).",
            registry=self.registry,
        )
        self.head = Gauge(
            "inboop_log_head", "The log's newest sequence number.", registry=self.registry
        )
        self.requests = Histogram(
            "inboop_request_seconds",
            "Requests by route (pull, push, webhook, upload, media, other) and status class.",
            ["route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 60),
        )
        self.sends = Counter(
            "inboop_outbound_sends",
            "Replies the relay tried to send, by channel and outcome.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.failures = Counter(
            "inboop_integration_failures",
            "Integration failures (unreadable items, refused deliveries), by kind.",
            ["kind"],
            registry=self.registry,
        )
        self._known_head: int | None = None
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def log_grew(self, head: int) -> None:
        """After a commit: the new head (the first call, at start, is the baseline)."""
        if self._known_head is not None and head > self._known_head:
            self.events.inc(head - self._known_head)
        self._known_head = max(head, self._known_head or 0)
        self.head.set(self._known_head)

    def request(self, method: str, path: str, status: int, seconds: float) -> None:
        route = ROUTES.get((method, path), "other")
        self._child(self.requests, route, f"{status // 100}xx").observe(seconds)

    def delivered(self, meta_object: str, outcome: str) -> None:
        self._child(self.deliveries, meta_object, outcome).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once per pair (labels() checks its strings
        every call: too slow for every request)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def render(self) -> bytes:
        return generate_latest(self.registry)


def chained(*calls: Callable[[int], None] | None) -> Callable[[int], None]:
    """One after-commit callback that calls each of ``calls`` in turn."""

    def call(head: int) -> None:
        for each in calls:
            if each is not None:
                each(head)

    return call

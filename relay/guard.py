"""What every request passes on its way in and out: rate limits, body-size limits and the
security headers.

- **Rate limits**, per client address and per kind of endpoint (Meta's webhooks, the agents'
  API): a token bucket that lets a burst of five seconds' worth through, then answers 429 with
  ``Retry-After``. Clients on this machine are not limited (the demo, the tests, a reverse proxy
  the relay is not told about): behind a proxy, run with ``--proxy-headers`` so the limits see
  the real addresses.
- **Body sizes**: the webhook and file uploads check their own limits (they read their bodies
  as streams); every other request's body is held to ``INBOOP_RELAY_MAX_API_BODY_BYTES``, by its
  declared length and by what actually arrives.
- **Headers**: nothing the relay answers may be sniffed, framed, cached or sent as a referrer;
  ``Strict-Transport-Security`` when the request came over https.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK = frozenset({"127.0.0.1", "::1"})
BURST_SECONDS = 5.0
SELF_LIMITED = ("/webhooks/meta", "/v1/uploads")  # these read their bodies with their own cap
MAX_TRACKED = 10_000  # client addresses remembered per kind; the idlest are forgotten first

HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
# The API's pages (/docs, when turned on) load their scripts; everything else loads nothing.
LOCKED_DOWN = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
HSTS = (b"strict-transport-security", b"max-age=31536000")
# An answer the relay writes itself, outside the app's routing (a refusal, a delivery's).
PLAIN = [*HEADERS, LOCKED_DOWN, (b"cache-control", b"no-store")]


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets, one per client address: ``rate`` a second, ``rate * BURST_SECONDS`` deep."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # the idlest first

    def wait_for(self, client: str, now: float) -> float:
        """0 when the request may go ahead (and is counted), else seconds until it could."""
        depth = self.rate * BURST_SECONDS
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._buckets.popitem(last=False)
            bucket = self._buckets[client] = _Bucket(depth, now)
        else:
            self._buckets.move_to_end(client)
        bucket.tokens = min(depth, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class GuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._limiters: dict[str, RateLimiter] | None = None

    def _limiter(self, scope: Scope, kind: str) -> RateLimiter | None:
        if self._limiters is None:
            relay = getattr(scope["app"].state, "relay", None)
            if relay is None:
                return None
            settings = relay.settings
            self._limiters = {
                "webhooks": RateLimiter(settings.relay_rate_limit_webhooks),
                "api": RateLimiter(settings.relay_rate_limit_api),
            }
        limiter = self._limiters[kind]
        return limiter if limiter.rate > 0 else None

    async def refused(self, scope: Scope, send: Send) -> bool:
        """Answer 429 if the client is over its rate; True when it was refused."""
        client = scope["client"][0] if scope.get("client") else ""
        if client in LOOPBACK:
            return False
        kind = "webhooks" if scope["path"].startswith("/webhooks/") else "api"
        limiter = self._limiter(scope, kind)
        if limiter is None:
            return False
        wait = limiter.wait_for(client, time.monotonic())
        if wait <= 0:
            return False
        await _refuse(send, 429, "too many requests: slow down", math.ceil(wait))
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if await self.refused(scope, send):
            return
        path: str = scope["path"]
        limit = _body_limit(scope, path)
        if limit is not None:
            declared = header(scope, b"content-length")
            if declared.isdigit() and int(declared) > limit:
                await _refuse(send, 413, f"the body is over {limit:,} bytes")
                return
            receive = _capped(receive, limit)
        secure = scope.get("scheme") == "https"
        pages = path.startswith("/docs")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in HEADERS if h[0] not in names]
                if not pages:
                    headers.append(LOCKED_DOWN)
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if secure:
                    headers.append(HSTS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def plain_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The security headers of an answer built without the app's routing (the webhook)."""
    return [*PLAIN, HSTS] if scope.get("scheme") == "https" else PLAIN


def _body_limit(scope: Scope, path: str) -> int | None:
    if scope["method"] in ("GET", "HEAD", "OPTIONS") or path.startswith(SELF_LIMITED):
        return None
    relay = getattr(scope["app"].state, "relay", None)
    return relay.settings.relay_max_api_body_bytes if relay is not None else None


def _capped(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:  # answered 413 by the app's exception handling
                raise HTTPException(413, f"the body is over {limit:,} bytes")
        return message

    return counted


def header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


async def _refuse(send: Send, status: int, detail: str, retry_after: int | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *PLAIN,
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

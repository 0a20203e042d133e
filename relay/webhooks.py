"""``/webhooks/meta``: the handshake and the deliveries of all three channels.

The POST path is a plain request handler on raw bytes: the signature is computed over the exact
bytes Meta sent, and nothing is validated into models before the delivery is safely stored.
"""

from __future__ import annotations

import hmac
import logging
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from relay.channels import ItemFailure, Normalised, normalise_delivery
from relay.guard import GuardMiddleware, header, plain_headers
from relay.log import Delivery, new_delivery_id, now_text
from relay.logs import access_log
from relay.signing import SIGNATURE_HEADER, signature_matches
from relay.state import RelayState, relay_state
from relay.store.dialect import log_failure

log = logging.getLogger("inboop.relay.webhooks")

# The ``object`` of Meta's deliveries (anything else is counted as "unknown": no free labels).
OBJECTS = frozenset({"page", "instagram", "whatsapp_business_account"})
# Deliveries up to this size are normalised on the event loop (a thread hop costs more than
# the work); bigger ones in a worker thread, so an odd one never holds up the others.
INLINE_BYTES = 16 * 1024


async def verify_subscription(request: Request) -> Response:
    state = relay_state(request)
    params = request.query_params
    token = params.get("hub.verify_token", "")
    if params.get("hub.mode") == "subscribe" and hmac.compare_digest(
        token.encode(), state.verify_token.encode()
    ):
        return PlainTextResponse(params.get("hub.challenge", ""))
    log.warning("webhook verification refused", extra={"fields": {"mode": params.get("hub.mode")}})
    return PlainTextResponse("verification failed", status_code=403)


class WebhookIntake:
    """``POST /webhooks/meta`` as a plain ASGI handler in front of the app's routing and
    middleware: the relay's busiest path pays for the rate limit, the signature, the
    normaliser and the durable append, and nothing else. Every other request goes on to the app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.guard = GuardMiddleware(app)  # its rate limits for deliveries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != "/webhooks/meta"
            or getattr(scope["app"].state, "relay", None) is None
        ):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state: RelayState = scope["app"].state.relay
        status = 429
        if not await self.guard.refused(scope, send):
            status, text = await receive_delivery(state, scope, receive)
            body = text.encode()
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *plain_headers(scope),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        seconds = time.perf_counter() - start
        state.metrics.request("POST", "/webhooks/meta", status, seconds)
        if status != 200:  # stored deliveries are logged by the writer, a line per commit
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "method": "POST",
                        "path": "/webhooks/meta",
                        "status": status,
                        "ms": round(seconds * 1000, 2),
                    }
                },
            )


async def receive_delivery(state: RelayState, scope: Scope, receive: Receive) -> tuple[int, str]:
    """Store one delivery: its status and the text to answer."""
    limit = state.settings.relay_max_body_bytes
    declared = header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        return _too_large(state, limit)
    try:
        body = await _read_limited(receive, limit)
    except _Disconnected:
        return 400, "client disconnected"
    if body is None:
        return _too_large(state, limit)

    signature = header(scope, SIGNATURE_HEADER.lower().encode())
    if not any(signature_matches(secret, body, signature) for secret in state.app_secrets):
        kind = "missing_signature" if not signature else "bad_signature"
        state.writer.count_failure(kind, f"a delivery with a {kind.replace('_', ' ')} was refused")
        state.metrics.delivered("unknown", kind)
        return 401, "signature missing or wrong"

    if len(body) <= INLINE_BYTES:
        normalised = _normalise(body)
    else:  # in a thread: a huge delivery never holds up the event loop (other deliveries)
        normalised = await run_in_threadpool(_normalise, body)
    delivery = Delivery(new_delivery_id(), now_text(), body, normalised)
    meta_object = normalised.object if normalised.object in OBJECTS else "unknown"
    try:
        outcome = await state.writer.submit(delivery)
    except Exception as exc:  # an unavailable database: the writer said why, once per commit
        log_failure(log, exc, "delivery not stored; asking Meta to retry", level=logging.WARNING)
        state.metrics.delivered(meta_object, "not_stored")
        return 503, "could not store the delivery; retry later"
    state.metrics.delivered(meta_object, "stored")
    for failure in normalised.failures:
        state.metrics.failures.labels(failure.kind).inc()
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "delivery stored",
            extra={
                "fields": {
                    "delivery": outcome.delivery_id,
                    "object": normalised.object,
                    "appended": outcome.appended,
                    "duplicates": outcome.duplicates,
                    "failures": outcome.failures,
                }
            },
        )
    return 200, "EVENT_RECEIVED"


def _too_large(state: RelayState, limit: int) -> tuple[int, str]:
    state.writer.count_failure("body_too_large", f"a delivery over {limit} bytes was refused")
    state.metrics.delivered("unknown", "too_large")
    return 413, "body too large"


def _normalise(body: bytes) -> Normalised:
    try:
        return normalise_delivery(body)
    except Exception as exc:  # a normaliser bug must not lose the delivery
        log.exception("normaliser failed")
        return Normalised(
            failures=[ItemFailure("normaliser_error", f"{type(exc).__name__}: {exc}")]
        )


class _Disconnected(Exception):
    """The client went away before sending the whole body."""


async def _read_limited(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when it is over ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)

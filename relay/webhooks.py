"""``/webhooks/meta``: the handshake and the deliveries of all three channels.

The POST path is a plain request handler on raw bytes: the signature is computed over the exact
bytes Meta sent, and nothing is validated into models before the delivery is safely stored.
"""

from __future__ import annotations

import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from relay.channels import ItemFailure, Normalised, normalise_delivery
from relay.log import Delivery, new_delivery_id, now_text
from relay.signing import SIGNATURE_HEADER, signature_matches
from relay.state import relay_state

log = logging.getLogger("inboop.relay.webhooks")

# The ``object`` of Meta's deliveries (anything else is counted as "unknown": no free labels).
OBJECTS = frozenset({"page", "instagram", "whatsapp_business_account"})


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


async def receive_delivery(request: Request) -> Response:
    state = relay_state(request)
    limit = state.settings.relay_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        state.writer.count_failure("body_too_large", f"a delivery over {limit} bytes was refused")
        state.metrics.deliveries.labels("unknown", "too_large").inc()
        return PlainTextResponse("body too large", status_code=413)
    try:
        body = await _read_limited(request, limit)
    except ClientDisconnect:
        return PlainTextResponse("client disconnected", status_code=400)
    if body is None:
        state.writer.count_failure("body_too_large", f"a delivery over {limit} bytes was refused")
        state.metrics.deliveries.labels("unknown", "too_large").inc()
        return PlainTextResponse("body too large", status_code=413)

    header = request.headers.get(SIGNATURE_HEADER)
    if not any(signature_matches(secret, body, header) for secret in state.app_secrets):
        kind = "missing_signature" if not header else "bad_signature"
        state.writer.count_failure(kind, f"a delivery with a {kind.replace('_', ' ')} was refused")
        state.metrics.deliveries.labels("unknown", kind).inc()
        return PlainTextResponse("signature missing or wrong", status_code=401)

    # In a thread: a huge or odd delivery never holds up the event loop (other deliveries).
    normalised = await run_in_threadpool(_normalise, body)
    delivery = Delivery(new_delivery_id(), now_text(), body, normalised)
    meta_object = normalised.object if normalised.object in OBJECTS else "unknown"
    try:
        outcome = await state.writer.submit(delivery)
    except Exception:
        log.exception("delivery not stored; asking Meta to retry")
        state.metrics.deliveries.labels(meta_object, "not_stored").inc()
        return PlainTextResponse("could not store the delivery; retry later", status_code=503)
    state.metrics.deliveries.labels(meta_object, "stored").inc()
    for failure in normalised.failures:
        state.metrics.failures.labels(failure.kind).inc()
    log.info(
        "delivery stored",
        extra={
            "fields": {
                "delivery": outcome.delivery_id,
                "object": delivery.normalised.object,
                "appended": outcome.appended,
                "duplicates": outcome.duplicates,
                "failures": outcome.failures,
            }
        },
    )
    return PlainTextResponse("EVENT_RECEIVED")


def _normalise(body: bytes) -> Normalised:
    try:
        return normalise_delivery(body)
    except Exception as exc:  # a normaliser bug must not lose the delivery
        log.exception("normaliser failed")
        return Normalised(
            failures=[ItemFailure("normaliser_error", f"{type(exc).__name__}: {exc}")]
        )


async def _read_limited(request: Request, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)

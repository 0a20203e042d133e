"""A stand-in for Meta's Graph API on loopback, for the demo and the tests.

It speaks the real wire format of the calls the relay makes: the Messenger/Instagram Send API
(``POST /{id}/messages`` → ``{recipient_id, message_id}``), WhatsApp Cloud API
(``POST /{phone-number-id}/messages`` → ``{messaging_product, contacts, messages: [{id}]}``),
the attachment upload APIs, ``GET /{waba-id}/message_templates``, and Graph's error bodies
(``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``).

Like Meta, after accepting a send it tells the relay by webhook: an echo carrying the reply's
``metadata`` (Messenger, Instagram) or a ``sent`` status with ``biz_opaque_callback_data``
(WhatsApp), signed with the app secret and retried until the relay answers 200. Tests script
what it answers next per account: an error, a timeout, a hang.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx

from relay import simulator as meta
from relay.signing import SIGNATURE_HEADER, sign


def graph_error(
    code: int, message: str, *, subcode: int | None = None, kind: str = "OAuthException"
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


# Real errors, as Meta answers them.
OUTSIDE_WINDOW_MESSENGER = (
    400,
    graph_error(10, "(#10) This message is sent outside of allowed window.", subcode=2018278),
)
OUTSIDE_WINDOW_WHATSAPP = (
    400,
    {
        "error": {
            "message": "(#131047) Re-engagement message",
            "type": "OAuthException",
            "code": 131047,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            },
            "fbtrace_id": "AbCdEfGhIjK",
        }
    },
)
RATE_LIMITED_MESSENGER = (400, graph_error(613, "Calls to this api have exceeded the rate limit."))
RATE_LIMITED_WHATSAPP = (400, graph_error(130429, "(#130429) Rate limit hit"))
PERSON_UNAVAILABLE = (400, graph_error(551, "This person isn't available right now."))
SERVER_ERROR = (
    500,
    graph_error(2, "An unexpected error has occurred. Please retry your request later."),
)
# A WhatsApp business-scoped user id: a country code, a dot, then up to 128 letters and digits
# (a parent id has ``ENT.`` between them).
BSUID = re.compile(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}")
BAD_TOKEN = (401, graph_error(190, "Invalid OAuth access token - Cannot parse access token"))
# A profile Meta will not give: no consent (Instagram), or no such object for this token.
NO_CONSENT = (400, graph_error(230, "User consent is required to access user profile"))
NO_SUCH_PROFILE = (
    400,
    graph_error(
        100,
        "Unsupported get request. Object with ID does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation.",
        subcode=33,
        kind="GraphMethodException",
    ),
)


@dataclass
class Sent:
    account_id: str
    body: dict[str, Any]
    message_id: str
    tag: str | None  # our reply tag, as Meta would hand it back


@dataclass
class FakeGraph:
    """Run with ``start()``; ``url`` is the base to give the relay (``…/v23.0``)."""

    tokens: dict[str, str]  # account id -> the token it must be called with
    relay_url: str | None = None
    app_secret: str | None = None
    waba_id: str = meta.WABA_ID
    templates: list[dict[str, Any]] = field(default_factory=list)
    # Customer id -> profile fields, an error answer (status, body), or a list of those in turn.
    profiles: dict[str, Any] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)  # customer ids asked for, in order
    # WhatsApp media id -> (bytes, content type), and files served at /cdn/NAME (the CDN links
    # Instagram and Messenger send; a name missing there is an expired link).
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    cdn: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    echo_delay: float = 0.05
    read_after: float | None = None  # the customer reads replies this long after they arrive
    sent: list[Sent] = field(default_factory=list)
    uploads: list[tuple[str, str, int]] = field(default_factory=list)  # (account, filename, size)
    _script: dict[str, deque[Any]] = field(default_factory=lambda: defaultdict(deque))
    _server: ThreadingHTTPServer | None = None
    _counter: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v23.0"

    def start(self) -> FakeGraph:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- what tests script ------------------------------------------------------------------

    def answer_next(self, account_id: str, *answers: Any) -> None:
        """The next sends from this account get these answers, in order: ``(status, body)``,
        ``"hang"`` (hold the request until ``release()``), ``"accept-then-hang"`` (take the
        message but hold the answer, and the webhook that tells the relay, until
        ``release()``)."""
        self._script[account_id].extend(answers)

    def scripted(self, account_id: str) -> int:
        """How many answers set by ``answer_next`` are still waiting for a send."""
        return len(self._script[account_id])

    def release(self) -> None:
        self._release.set()

    def sends_tagged(self, tag: str) -> list[Sent]:
        return [s for s in self.sent if s.tag == tag]

    # --- the API ------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = request.path.split("?")[0].strip("/").split("/")
        if method == "GET" and len(parts) == 2 and parts[0] in ("cdn", "media-files"):
            self._file(request, parts[0], parts[1])
            return
        if method == "GET" and len(parts) == 2 and parts[0] == "v23.0":
            if parts[1] in self.media:
                self._media_info(request, parts[1])
            else:
                self._profile(request, parts[1])
            return
        if len(parts) != 3 or parts[0] != "v23.0":
            self._reply(request, 404, graph_error(803, "Unknown path components"))
            return
        _, node, edge = parts
        if method == "GET" and edge == "message_templates":
            self._reply(request, 200, {"data": self.templates, "paging": {"cursors": {}}})
            return
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        expected = self.tokens.get(node)
        if expected is None or token != expected:
            self._reply(request, *BAD_TOKEN)
            return
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        if method == "POST" and edge == "messages":
            self._send(request, node, raw)
        elif method == "POST" and edge in ("message_attachments", "media"):
            self._upload(request, node, edge, raw)
        else:
            self._reply(request, 400, graph_error(100, "Unsupported request"))

    @property
    def base(self) -> str:
        return self.url.removesuffix("/v23.0")

    def cdn_url(self, name: str) -> str:
        return f"{self.base}/cdn/{name}"

    def _media_info(self, request: BaseHTTPRequestHandler, media_id: str) -> None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens.values():
            self._reply(request, *BAD_TOKEN)
            return
        data, content_type = self.media[media_id]
        self._reply(
            request,
            200,
            {
                "url": f"{self.base}/media-files/{media_id}",
                "mime_type": content_type,
                "file_size": len(data),
                "id": media_id,
                "messaging_product": "whatsapp",
            },
        )

    def _file(self, request: BaseHTTPRequestHandler, where: str, name: str) -> None:
        """A CDN link (no token), or a WhatsApp media file (the token it was asked with)."""
        if where == "media-files":
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in self.tokens.values():
                self._reply(request, *BAD_TOKEN)
                return
            found = self.media.get(name)
        else:
            found = self.cdn.get(name)
        if found is None:
            request.send_response(403)
            request.send_header("Content-Type", "text/html")
            request.end_headers()
            request.wfile.write(b"<html>URL signature expired</html>")
            return
        data, content_type = found
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _profile(self, request: BaseHTTPRequestHandler, customer_id: str) -> None:
        """``GET /{PSID or IGSID}?fields=…`` with a Page or Instagram token."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens.values():
            self._reply(request, *BAD_TOKEN)
            return
        with self._lock:
            self.lookups.append(customer_id)
        found = self.profiles.get(customer_id)
        if isinstance(found, list):  # answers in turn; the last one stays
            found = found.pop(0) if len(found) > 1 else found[0]
        if found is None:
            self._reply(request, *NO_SUCH_PROFILE)
        elif isinstance(found, tuple):
            self._reply(request, *found)
        else:
            query = parse_qs(request.path.split("?", 1)[1]) if "?" in request.path else {}
            wanted = (query.get("fields") or [""])[0].split(",")
            answer = {k: v for k, v in found.items() if k in wanted}
            self._reply(request, 200, {**answer, "id": customer_id})

    def _send(self, request: BaseHTTPRequestHandler, account_id: str, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            self._reply(request, 400, graph_error(100, "Invalid JSON"))
            return
        script = self._script[account_id]
        answer = script.popleft() if script else "ok"
        if answer == "hang":
            self._release.wait(60)
            return
        if isinstance(answer, tuple):
            self._reply(request, *answer)
            return
        whatsapp = body.get("messaging_product") == "whatsapp"
        if whatsapp and (problem := _whatsapp_recipient_problem(body)):
            self._reply(request, 400, graph_error(100, problem))
            return
        with self._lock:
            self._counter += 1
            message_id = (
                f"wamid.FAKE{self._counter:06d}" if whatsapp else f"m_FAKE{self._counter:06d}"
            )
        tag = (
            body.get("biz_opaque_callback_data")
            if whatsapp
            else (body.get("message") or {}).get("metadata")
        )
        self.sent.append(Sent(account_id, body, message_id, tag))
        threading.Thread(
            target=self._tell_relay, args=(account_id, body, message_id), daemon=True
        ).start()
        if answer == "accept-then-hang":
            self._release.wait(60)
            return
        if whatsapp:
            self._reply(
                request,
                200,
                {
                    "messaging_product": "whatsapp",
                    "contacts": [
                        {"input": body["to"], "wa_id": body["to"]}
                        if "to" in body
                        else {"input": body["recipient"], "user_id": body["recipient"]}
                    ],
                    "messages": [{"id": message_id}],
                },
            )
        else:
            self._reply(
                request,
                200,
                {"recipient_id": (body.get("recipient") or {}).get("id"), "message_id": message_id},
            )

    def _upload(
        self, request: BaseHTTPRequestHandler, account_id: str, edge: str, raw: bytes
    ) -> None:
        content_type = request.headers.get("Content-Type", "")
        message = BytesParser(policy=default_policy).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        filename, size = "", 0
        for part in message.iter_parts():
            if part.get_filename():
                filename = part.get_filename() or ""
                size = len(part.get_payload(decode=True) or b"")
        if not size:
            self._reply(request, 400, graph_error(100, "(#100) Upload attachment failure."))
            return
        self.uploads.append((account_id, filename, size))
        with self._lock:
            self._counter += 1
            upload_id = f"{self._counter:015d}"
        self._reply(
            request, 200, {"id": upload_id} if edge == "media" else {"attachment_id": upload_id}
        )

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except OSError:
            pass  # the relay gave up on this request

    # --- webhooks back to the relay -------------------------------------------------------------

    def _tell_relay(
        self, account_id: str, body: dict[str, Any], message_id: str, held: bool = False
    ) -> None:
        if self.relay_url is None or self.app_secret is None:
            return
        if held:
            self._release.wait(60)
        time.sleep(self.echo_delay)
        now_ms = int(time.time() * 1000)
        if body.get("messaging_product") == "whatsapp":
            statuses = ["sent", "delivered"] + (["read"] if self.read_after is not None else [])
            for index, state in enumerate(statuses):
                status = meta.wa_status(message_id, state, now_ms // 1000 + index, "")
                if "to" in body:
                    status["recipient_id"] = str(body["to"])
                else:  # someone known by their business-scoped user id only
                    del status["recipient_id"]
                    status["recipient_user_id"] = str(body["recipient"])
                status["biz_opaque_callback_data"] = body.get("biz_opaque_callback_data")
                payload = meta.whatsapp(
                    meta.wa_value(statuses=[status], phone_number_id=account_id)
                )
                if state == "read" and self.read_after:
                    time.sleep(self.read_after)
                self._deliver(payload)
            return
        customer = str((body.get("recipient") or {}).get("id"))
        message = body.get("message") or {}
        item = meta.echo(
            account_id, customer, message_id, str(message.get("text") or ""), ts=now_ms
        )
        if not message.get("text"):
            del item["message"]["text"]
        attachment = message.get("attachment")
        if isinstance(attachment, dict):
            item["message"]["attachments"] = [
                {
                    "type": attachment.get("type"),
                    "payload": {"url": f"https://cdn.example.com/{message_id}"},
                }
            ]
        if message.get("metadata"):
            item["message"]["metadata"] = message["metadata"]
        wrap: Callable[..., dict[str, Any]] = (
            meta.instagram if account_id == meta.IG_ACCOUNT_ID else meta.messenger
        )
        payload = wrap(item)
        payload["entry"][0]["id"] = account_id
        self._deliver(payload)
        if self.read_after is not None:
            time.sleep(self.read_after)
            self._deliver(wrap(meta.read_watermark(account_id, customer, now_ms + 1, now_ms + 1)))

    def _deliver(self, payload: dict[str, Any]) -> None:
        """POST a signed webhook to the relay, retrying until it answers 200 (as Meta does)."""
        assert self.relay_url is not None and self.app_secret is not None
        data = meta.body(payload)
        headers = {
            SIGNATURE_HEADER: sign(self.app_secret, data),
            "Content-Type": "application/json",
        }
        while not self._stopped.is_set():
            try:
                if (
                    httpx.post(
                        f"{self.relay_url}/webhooks/meta", content=data, headers=headers, timeout=5
                    ).status_code
                    == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)


def _whatsapp_recipient_problem(body: dict[str, Any]) -> str | None:
    """Cloud API's check of who a message is for: a phone number in ``to`` or a
    business-scoped user id (``CC.digits-and-letters``) in ``recipient``."""
    to, recipient = body.get("to"), body.get("recipient")
    if to is None and recipient is None:
        return "(#100) The parameter to is required."
    if to is not None and not str(to).lstrip("+").isdigit():
        return "(#100) Invalid parameter: to must be a phone number"
    if recipient is not None and not BSUID.fullmatch(str(recipient)):
        return "(#100) Invalid parameter: recipient must be a business-scoped user id"
    return None

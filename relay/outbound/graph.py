"""Meta's Graph API as the send queue uses it: send a reply, upload its file, list templates.

Requests go to ``{INBOOP_GRAPH_API_URL}/{id}/…`` with the account's token in the
``Authorization`` header (never in a URL, never logged). Every failure becomes a
:class:`GraphError` that says whether trying again can help (5xx, timeouts, rate limits) and
whether the request may have reached Meta anyway (a timeout after sending: ``unknown``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from relay.protocol import Channel, ProviderError, ReplyPayload, reply_tag

# Codes Meta documents as "try again later": throttling and temporary errors.
RATE_LIMITED = {4, 17, 32, 613, 80006, 130429, 131056}
TEMPORARY = {1, 2, 131000, 131016}
ATTACHMENT_TYPES = {"IMAGE": "image", "VIDEO": "video", "AUDIO": "audio", "FILE": "file"}
WHATSAPP_MEDIA = {"IMAGE": "image", "VIDEO": "video", "AUDIO": "audio", "FILE": "document"}
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


class GraphError(Exception):
    def __init__(
        self,
        error: ProviderError,
        *,
        transient: bool,
        unknown: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(error.message or error.title or "the Graph API failed")
        self.error = error
        self.transient = transient
        self.unknown = unknown  # the request may have reached Meta
        self.retry_after = retry_after


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    body: str
    parameters: int  # how many {{n}} the body has


class GraphClient:
    def __init__(self, base_url: str, *, timeout: float = 20.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self._http.aclose()

    async def send(
        self,
        reply_id: str,
        payload: ReplyPayload,
        token: str,
        media_id: str | None = None,
    ) -> str:
        """Send the reply; the channel's message id. ``media_id`` is its uploaded file."""
        if payload.channel is Channel.WHATSAPP:
            body = _whatsapp_body(reply_id, payload, media_id)
            answer = await self._post(f"/{payload.account_id}/messages", token, json=body)
            messages = answer.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[0], dict):
                message_id = messages[0].get("id")
                if isinstance(message_id, str):
                    return message_id
        else:
            body = _messaging_body(reply_id, payload, media_id)
            answer = await self._post(f"/{payload.account_id}/messages", token, json=body)
            message_id = answer.get("message_id")
            if isinstance(message_id, str):
                return message_id
        raise GraphError(
            ProviderError(
                title="unexpected answer", message="the send API answered without a message id"
            ),
            transient=True,
            unknown=True,
        )

    async def upload(
        self, payload: ReplyPayload, token: str, data: bytes, filename: str, mime_type: str
    ) -> str:
        """Upload the reply's file; the id to send it by."""
        attachment = payload.attachment
        assert attachment is not None
        files = {
            "filedata" if payload.channel is not Channel.WHATSAPP else "file": (
                filename,
                data,
                mime_type,
            )
        }
        if payload.channel is Channel.WHATSAPP:
            answer = await self._post(
                f"/{payload.account_id}/media",
                token,
                data={"messaging_product": "whatsapp", "type": mime_type},
                files=files,
            )
            key = "id"
        else:
            message = {
                "attachment": {
                    "type": ATTACHMENT_TYPES[attachment.type],
                    "payload": {"is_reusable": True},
                }
            }
            form = {"message": json.dumps(message)}
            if payload.channel is Channel.INSTAGRAM:
                form["platform"] = "instagram"
            answer = await self._post(
                f"/{payload.account_id}/message_attachments", token, data=form, files=files
            )
            key = "attachment_id"
        uploaded = answer.get(key)
        if not isinstance(uploaded, str):
            raise GraphError(
                ProviderError(
                    title="unexpected answer", message="the upload API answered without an id"
                ),
                transient=True,
            )
        return uploaded

    async def templates(self, business_account_id: str, token: str) -> list[Template]:
        """The approved message templates of a WhatsApp Business Account."""
        found: list[Template] = []
        path: str | None = f"/{business_account_id}/message_templates"
        params: dict[str, Any] | None = {"fields": "name,language,status,components", "limit": 100}
        while path is not None:
            answer = await self._get(path, token, params)
            for item in answer.get("data") or []:
                template = _template(item)
                if template is not None:
                    found.append(template)
            after = ((answer.get("paging") or {}).get("cursors") or {}).get("after")
            next_page = (answer.get("paging") or {}).get("next")
            if next_page and after:
                params = {"fields": "name,language,status,components", "limit": 100, "after": after}
            else:
                path = None
        return found

    async def media_info(self, media_id: str, token: str) -> dict[str, Any]:
        """A WhatsApp media id's short-lived download link (``url``), type and size."""
        return await self._get(f"/{media_id}", token, None)

    async def profile(self, channel: Channel, customer_id: str, token: str) -> dict[str, Any]:
        """A customer's profile: Instagram's ``name``, ``username``, ``profile_pic``; Messenger's
        ``first_name``, ``last_name``, ``profile_pic``."""
        fields = (
            "name,username,profile_pic"
            if channel is Channel.INSTAGRAM
            else "first_name,last_name,profile_pic"
        )
        return await self._get(f"/{customer_id}", token, {"fields": fields})

    async def _post(self, path: str, token: str, **kwargs: Any) -> dict[str, Any]:
        return await self._call("POST", path, token, **kwargs)

    async def _get(self, path: str, token: str, params: dict[str, Any] | None) -> dict[str, Any]:
        return await self._call("GET", path, token, params=params)

    async def _call(self, method: str, path: str, token: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self._http.request(
                method, self.base_url + path, headers=headers, **kwargs
            )
        except httpx.ConnectError as exc:
            raise GraphError(
                ProviderError(
                    title="unreachable", message=f"cannot reach the Graph API: {type(exc).__name__}"
                ),
                transient=True,
            ) from exc
        except httpx.TimeoutException as exc:
            raise GraphError(
                ProviderError(title="timeout", message="the Graph API did not answer in time"),
                transient=True,
                unknown=method == "POST",
            ) from exc
        except httpx.HTTPError as exc:
            raise GraphError(
                ProviderError(
                    title="connection lost",
                    message=f"the connection to the Graph API dropped: {type(exc).__name__}",
                ),
                transient=True,
                unknown=method == "POST",
            ) from exc
        return _answer(response)


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and "error" not in body:
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    subcode = error.get("error_subcode")
    details = (
        (error.get("error_data") or {}).get("details")
        if isinstance(error.get("error_data"), dict)
        else None
    )
    message = str(details or error.get("message") or f"HTTP {response.status_code}")
    provider = ProviderError(
        code=None if code is None else str(code) + (f"/{subcode}" if subcode else ""),
        title=str(
            error.get("error_user_title") or error.get("type") or f"HTTP {response.status_code}"
        ),
        message=message,
    )
    numeric = code if isinstance(code, int) else -1
    transient = (
        response.status_code >= 500
        or response.status_code == 429
        or numeric in RATE_LIMITED | TEMPORARY
    )
    retry_after = response.headers.get("retry-after")
    wait = float(retry_after) if retry_after and retry_after.isdigit() else None
    raise GraphError(provider, transient=transient, retry_after=wait)


def _messaging_body(reply_id: str, payload: ReplyPayload, media_id: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"metadata": reply_tag(reply_id)}
    if payload.attachment is not None:
        message["attachment"] = {
            "type": ATTACHMENT_TYPES[payload.attachment.type],
            "payload": {"attachment_id": media_id},
        }
    else:
        message["text"] = payload.text
    return {
        "recipient": {"id": payload.customer_id},
        "messaging_type": "RESPONSE",
        "message": message,
    }


def whatsapp_recipient(customer_id: str) -> dict[str, str]:
    """Who a WhatsApp message goes to: a phone's wa_id is ``to``; a business-scoped user id
    (``IN.1502576394655843``, for someone known only by a username) is ``recipient``."""
    return {"to": customer_id} if customer_id.isdigit() else {"recipient": customer_id}


def _whatsapp_body(reply_id: str, payload: ReplyPayload, media_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **whatsapp_recipient(payload.customer_id),
        "biz_opaque_callback_data": reply_tag(reply_id),
    }
    if payload.template is not None:
        template = payload.template
        components = []
        if template.parameters:
            components.append(
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": p} for p in template.parameters],
                }
            )
        body["type"] = "template"
        body["template"] = {
            "name": template.name,
            "language": {"code": template.language},
            "components": components,
        }
    elif payload.attachment is not None:
        kind = WHATSAPP_MEDIA[payload.attachment.type]
        media: dict[str, Any] = {"id": media_id}
        if payload.text and kind != "audio":
            media["caption"] = payload.text
        if kind == "document":
            media["filename"] = payload.attachment.filename
        body["type"] = kind
        body[kind] = media
    else:
        body["type"] = "text"
        body["text"] = {"body": payload.text, "preview_url": False}
    return body


def _template(item: Any) -> Template | None:
    if not isinstance(item, dict) or item.get("status") not in (None, "APPROVED"):
        return None
    name, language = item.get("name"), item.get("language")
    if not isinstance(name, str) or not isinstance(language, str):
        return None
    body = ""
    for component in item.get("components") or []:
        if isinstance(component, dict) and component.get("type") == "BODY":
            body = str(component.get("text") or "")
    parameters = len(set(PLACEHOLDER.findall(body)))
    return Template(name=name, language=language, body=body, parameters=parameters)

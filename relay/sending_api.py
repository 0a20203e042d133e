"""The API around sending replies: files to send, which accounts can send, WhatsApp templates.

Tokens stay on the relay: clients learn only whether an account can send.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from relay.api import current_user, v1_router
from relay.log import now_text
from relay.outbound.graph import GraphError
from relay.protocol import Channel
from relay.settings import id_map
from relay.state import RelayState, relay_state
from relay.store.tables import deliveries, uploads
from relay.users import User

router = v1_router()


class UploadAnswer(BaseModel):
    upload_id: str
    size: int


class SendingAccount(BaseModel):
    channel: Channel
    account_id: str
    can_send: bool


class TemplateInfo(BaseModel):
    name: str
    language: str
    body: str
    parameters: int


@router.post(
    "/uploads",
    response_model=UploadAnswer,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the file's bytes, not empty",
            "content": {
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary", "minLength": 1}
                }
            },
        }
    },
)
async def upload_file(
    request: Request,
    user: Annotated[User, Depends(current_user)],
    x_filename: Annotated[str, Header(min_length=1, max_length=255)],
) -> UploadAnswer:
    """A file to send with a reply, as the raw body; its id is its SHA-256 (uploading the same
    file twice stores it once)."""
    state = relay_state(request)
    mime_type = request.headers.get("content-type", "").split(";")[0].strip()[:127]
    if len(mime_type) < 3:
        mime_type = "application/octet-stream"
    limit = state.settings.relay_max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, _too_large(limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, _too_large(limit))
        chunks.append(chunk)
    if size == 0:
        raise HTTPException(422, "the file is empty")
    data = b"".join(chunks)
    digest = hashlib.sha256(data).hexdigest()

    def store(conn: Connection) -> None:
        if conn.execute(select(uploads.c.id).where(uploads.c.id == digest)).first() is not None:
            return
        try:
            with conn.begin_nested():  # another relay instance may store the same file now
                conn.execute(
                    insert(uploads).values(
                        id=digest,
                        filename=x_filename,
                        mime_type=mime_type,
                        size=size,
                        data=data,
                        uploaded_by=user.name,
                        created_at=now_text(),
                    )
                )
        except IntegrityError:
            pass

    await state.writer.submit_task(store)
    return UploadAnswer(upload_id=digest, size=size)


def _too_large(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"this relay takes files of at most {limit / (1024 * 1024):g} MiB"
    return f"this relay takes files of at most {limit:,} bytes"


@router.get("/uploads/{upload_id}", response_model=UploadAnswer)
async def upload_known(
    request: Request, _user: Annotated[User, Depends(current_user)], upload_id: str
) -> UploadAnswer:
    """Whether the relay has a file (a replica pushes a reply's file only when it has not)."""

    def read() -> int | None:
        with relay_state(request).engines.reader.connect() as conn:
            return conn.execute(select(uploads.c.size).where(uploads.c.id == upload_id)).scalar()

    size = await run_in_threadpool(read)
    if size is None:
        raise HTTPException(404, "no such file")
    return UploadAnswer(upload_id=upload_id, size=int(size))


@router.get("/accounts", response_model=list[SendingAccount])
async def sending_accounts(
    request: Request, _user: Annotated[User, Depends(current_user)]
) -> list[SendingAccount]:
    """The accounts the relay can send from (those it has a token for). Any other account is
    receive only."""
    sender = relay_state(request).sender
    return [
        SendingAccount(channel=Channel(channel), account_id=account, can_send=True)
        for channel, accounts in sorted(sender.tokens.items())
        for account in sorted(accounts)
    ]


@router.get("/templates", response_model=list[TemplateInfo])
async def whatsapp_templates(
    request: Request,
    _user: Annotated[User, Depends(current_user)],
    account_id: Annotated[str, Query(min_length=1, max_length=128)],
) -> list[TemplateInfo]:
    """The approved templates of a WhatsApp number's business account, from the Graph API."""
    state = relay_state(request)
    token = state.sender.tokens.get(Channel.WHATSAPP.value, {}).get(account_id)
    if token is None:
        raise HTTPException(404, "the relay has no send token for this WhatsApp number")
    business = await run_in_threadpool(_business_account, state, account_id)
    if business is None:
        raise HTTPException(
            404,
            "the relay does not know this number's WhatsApp Business Account yet: set "
            "INBOOP_WHATSAPP_BUSINESS_ACCOUNTS or wait for its first webhook",
        )
    try:
        found = await state.sender.graph.templates(business, token)
    except GraphError as exc:
        raise HTTPException(502, f"the Graph API: {exc.error.message}") from exc
    return [TemplateInfo(**t.__dict__) for t in found]


def _business_account(state: RelayState, phone_number_id: str) -> str | None:
    """From the setting, else from the newest WhatsApp deliveries (``entry.id`` is the WABA)."""
    configured = id_map(
        state.settings.whatsapp_business_accounts, "INBOOP_WHATSAPP_BUSINESS_ACCOUNTS"
    )
    if phone_number_id in configured:
        return configured[phone_number_id]
    with state.engines.reader.connect() as conn:
        bodies = conn.execute(
            select(deliveries.c.body)
            .where(deliveries.c.object == "whatsapp_business_account")
            .order_by(deliveries.c.received_at.desc())
            .limit(200)
        ).scalars()
        for body in bodies:
            try:
                document = json.loads(body)
            except ValueError:
                continue
            for entry in document.get("entry") or []:
                for change in (entry or {}).get("changes") or []:
                    metadata = ((change or {}).get("value") or {}).get("metadata") or {}
                    if metadata.get("phone_number_id") == phone_number_id and entry.get("id"):
                        return str(entry["id"])
    return None

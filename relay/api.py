"""The versioned API the replicas use: ``/v1``. Every route needs a user's bearer token."""

from __future__ import annotations

import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from relay.log import StoredEvent, head_seq, read_events
from relay.protocol import EventsPage, WhoAmI
from relay.state import RelayState, relay_state
from relay.store.tables import integration_failures
from relay.users import User, user_for_token

router = APIRouter(prefix="/v1")

MAX_LIMIT = 1000
MAX_WAIT_SECONDS = 60.0
# Long-polls also look at the database this often, so events appended by another process
# (``inboop-relay reprocess``, a second relay instance) are seen without a notification.
POLL_SECONDS = 1.0

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def current_user(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> User:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(401, "missing bearer token", headers=_UNAUTHORIZED)
    token = authorization[7:].strip()
    user = await run_in_threadpool(_lookup, relay_state(request), token)
    if user is None:
        raise HTTPException(401, "unknown or revoked token", headers=_UNAUTHORIZED)
    return user


def _lookup(state: RelayState, token: str) -> User | None:
    with state.engines.reader.connect() as conn:
        return user_for_token(conn, token)


def _page(state: RelayState, after: int, limit: int) -> tuple[list[StoredEvent], int]:
    with state.engines.reader.connect() as conn:
        return read_events(conn, after, limit), head_seq(conn)


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise HTTPException(403, "this needs an ADMIN token")
    return user


@router.get("/me", response_model=WhoAmI)
async def who_am_i(user: Annotated[User, Depends(current_user)]) -> WhoAmI:
    return WhoAmI(name=user.name, role="ADMIN" if user.is_admin else "MEMBER")


@router.get("/events", responses={200: {"model": EventsPage}})
async def get_events(
    request: Request,
    _user: Annotated[User, Depends(current_user)],
    after: Annotated[int, Query(ge=0, description="return events with seq greater than this")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 500,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS, description="long-poll seconds")] = 0,
) -> Response:
    state: RelayState = relay_state(request)
    deadline = time.monotonic() + wait
    while True:
        rows, head = await run_in_threadpool(_page, state, after, limit)
        remaining = deadline - time.monotonic()
        if rows or remaining <= 0 or state.notifier.closed or await request.is_disconnected():
            break
        await state.notifier.wait(min(POLL_SECONDS, remaining))
    # The stored payloads are already wire-format JSON: serve them without re-encoding.
    entries = ",".join(
        f'{{"seq":{row.seq},"origin":{json.dumps(row.origin)},"type":{json.dumps(row.type)},'
        f'"recorded_at":{json.dumps(row.recorded_at)},"event":{row.payload}}}'
        for row in rows
    )
    next_after = rows[-1].seq if rows else after
    body = f'{{"events":[{entries}],"next_after":{next_after},"head":{head}}}'
    return Response(body, media_type="application/json")


class IntegrationFailure(BaseModel):
    id: int
    kind: str
    detail: str
    delivery_id: str | None
    first_at: str
    last_at: str
    count: int
    resolved_at: str | None


@router.get("/integration-failures", response_model=list[IntegrationFailure])
async def get_integration_failures(
    request: Request,
    _admin: Annotated[User, Depends(admin_user)],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    include_resolved: bool = False,
) -> list[IntegrationFailure]:
    query = select(integration_failures).order_by(integration_failures.c.id.desc()).limit(limit)
    if not include_resolved:
        query = query.where(integration_failures.c.resolved_at.is_(None))

    def read() -> list[IntegrationFailure]:
        with relay_state(request).engines.reader.connect() as conn:
            return [IntegrationFailure(**row) for row in conn.execute(query).mappings()]

    return await run_in_threadpool(read)

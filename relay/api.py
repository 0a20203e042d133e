"""The versioned API the replicas use: ``/v1``. Every route needs a user's bearer token."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from relay import __version__
from relay.log import StoredEvent, head_seq, read_events
from relay.outbound.queue import counts as outbound_counts
from relay.protocol import (
    MUTATION_TYPES,
    EventsPage,
    Mutation,
    PushRequest,
    PushResponse,
    PushResult,
    SendReply,
    TeamMember,
    WhoAmI,
    admin_only,
    parse_mutation,
)
from relay.state import RelayState, relay_state
from relay.store.dialect import database_unavailable, first_line
from relay.store.tables import deliveries, events, integration_failures
from relay.users import User, list_users, user_for_token

log = logging.getLogger("inboop.relay.api")


class Problem(BaseModel):
    """Every refusal: what is wrong, in words (a validation error lists the fields instead)."""

    detail: str | list[dict[str, Any]]


# The answers every /v1 endpoint may give besides its own, documented so a client (and a fuzzer
# reading the schema) knows them.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (400, "the body could not be read (not JSON, or not the content type it says)"),
        (401, "no bearer token, or one that is not a live user's"),
        (403, "this needs an ADMIN token"),
        (404, "no such thing, or nothing to send it from"),
        (413, "the body is too large"),
        (422, "a parameter or the body does not fit the protocol"),
        (503, "the relay's database is busy or unavailable: try again later"),
    )
}


async def database_unavailable_answer(request: Request, exc: Exception) -> Response:
    """A database that is locked, busy, full or gone is the relay's condition, not a bug: one
    log line and a 503 the client retries, instead of a 500 and a traceback."""
    if not database_unavailable(exc):
        raise exc
    said = first_line(exc)
    log.warning(
        "%s %s refused: the database is unavailable (%s)", request.method, request.url.path, said
    )
    return JSONResponse(
        {"detail": f"the relay's database is unavailable ({said}): try again later"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


class StrictRoute(APIRoute):
    """A query parameter the endpoint does not read is refused (422), not ignored: a typo such
    as ``?aftr=5`` would otherwise read the log from its start."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        known = _query_names(self.dependant)

        async def strict(request: Request) -> Response:
            unknown = sorted(set(request.query_params) - known)
            if unknown:
                return JSONResponse(
                    {"detail": f"unknown query parameter {unknown[0][:64]!r}"}, status_code=422
                )
            return await handle(request)

        return strict


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def v1_router() -> APIRouter:
    """A router for part of the versioned API: strict about parameters, its refusals documented."""
    return APIRouter(prefix="/v1", route_class=StrictRoute, responses=PROBLEMS)


router = v1_router()

MAX_LIMIT = 1000
MAX_SEQ = 2**63 - 1
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
    after: Annotated[
        int, Query(ge=0, le=MAX_SEQ, description="return events with seq greater than this")
    ] = 0,
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


@router.get("/users", response_model=list[TeamMember])
async def get_users(
    request: Request, _user: Annotated[User, Depends(current_user)]
) -> list[TeamMember]:
    """The team: every user with an active token, for assignment and mentions."""

    def read() -> list[TeamMember]:
        with relay_state(request).engines.reader.connect() as conn:
            return [
                TeamMember(name=u.name, role="ADMIN" if u.is_admin else "MEMBER")
                for u in list_users(conn)
                if u.revoked_at is None
            ]

    return await run_in_threadpool(read)


@router.post("/mutations", response_model=PushResponse)
async def push_mutations(
    request: Request, user: Annotated[User, Depends(current_user)], push: PushRequest
) -> PushResponse:
    """Append agents' mutations to the log, each exactly once, and answer for each one."""
    state = relay_state(request)
    team = {u.name for u in await get_users(request, user)}
    results: list[PushResult] = []
    checked: list[tuple[int, Mutation]] = []  # (place in the answer, mutation)
    for raw in push.mutations:
        mutation, reason = _check(raw, user, team, state.sender.can_send)
        if mutation is None:
            results.append(PushResult(id=_raw_id(raw), status="rejected", reason=reason))
        else:
            checked.append((len(results), mutation))
            results.append(PushResult(id=mutation.id, status="accepted"))
    if checked:
        outcomes = await state.writer.submit_mutations([m for _, m in checked])
        if any(isinstance(m, SendReply) for _, m in checked):
            state.sender.poke()
        for (place, mutation), outcome in zip(checked, outcomes, strict=True):
            if outcome.seq is None:
                results[place] = PushResult(
                    id=mutation.id, status="rejected", reason=outcome.reason
                )
            else:
                results[place] = PushResult(id=mutation.id, status="accepted", seq=outcome.seq)
    return PushResponse(results=results, head=state.notifier.head)


def _raw_id(raw: dict[str, Any]) -> str | None:
    value = raw.get("id")
    return value if isinstance(value, str) and _unicode(value) else None


def _unicode(value: Any) -> bool:
    """Whether every text in ``value`` is Unicode that can be stored and sent (JSON lets a
    client write lone surrogates, which UTF-8 cannot hold)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return False
    return True


# Mutations that may name an assignee (a user of this relay).
ASSIGNING = frozenset(
    {"conversation.assign", "lead.create", "lead.update", "order.create", "order.update"}
)


def _check(
    raw: dict[str, Any], user: User, team: set[str], can_send: Callable[[str, str], bool]
) -> tuple[Mutation | None, str | None]:
    """The mutation, or why it is refused, in words a person can act on."""
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in MUTATION_TYPES:
        shown = repr(kind) if len(repr(kind)) <= 60 else repr(kind)[:57] + "..."
        return (
            None,
            f"unknown mutation type {shown}: this relay is older than the app, or the app is broken",
        )
    if not _unicode(raw):
        return None, "the mutation holds text that is not valid Unicode (a lone surrogate)"
    try:
        mutation = parse_mutation(raw)
    except ValidationError as exc:
        return None, describe_invalid(exc)
    if mutation.author != user.name:
        return None, f"the author {mutation.author!r} is not the token's user {user.name!r}"
    forbidden = admin_only(mutation)
    if forbidden is not None and not user.is_admin:
        return None, f"only an ADMIN may {forbidden}"
    if mutation.type in ASSIGNING:
        assignee = getattr(mutation.payload, "assignee", None)
        if assignee is not None and assignee not in team:
            return None, f"there is no active user named {assignee!r}"
    if isinstance(mutation, SendReply):
        reply = mutation.payload
        if not can_send(reply.channel.value, reply.account_id):
            return None, (
                f"receive only: the relay has no send token for this {reply.channel.value.title()} "
                "account"
            )
    return mutation, None


def describe_invalid(exc: ValidationError) -> str:
    """The first problems of a validation error, on one line."""
    parts = []
    for error in exc.errors(include_url=False)[:3]:
        where = ".".join(
            str(p) for p in error["loc"] if not str(p).startswith(("conversation.", "workspace."))
        )
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "not a valid mutation: " + "; ".join(parts)


class Diagnostics(BaseModel):
    version: str
    head: int
    writer_alive: bool
    deliveries: dict[str, int]  # status -> count
    mutations: int
    outbound: dict[str, int]  # replies by send state
    open_integration_failures: int
    recent_integration_failures: list[IntegrationFailure]


@router.get("/diagnostics", response_model=Diagnostics)
async def get_diagnostics(
    request: Request, _admin: Annotated[User, Depends(admin_user)]
) -> Diagnostics:
    """The relay's health for admins: log head, deliveries by status, integration failures."""
    state = relay_state(request)

    def read() -> Diagnostics:
        with state.engines.reader.connect() as conn:
            by_status: dict[str, int] = {
                str(status): int(count)
                for status, count in conn.execute(
                    select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
                )
            }
            mutations = conn.execute(
                select(func.count()).select_from(events).where(events.c.origin == "mutation")
            ).scalar_one()
            open_failures = conn.execute(
                select(func.coalesce(func.sum(integration_failures.c.count), 0)).where(
                    integration_failures.c.resolved_at.is_(None)
                )
            ).scalar_one()
            recent = [
                IntegrationFailure(**row)
                for row in conn.execute(
                    select(integration_failures)
                    .where(integration_failures.c.resolved_at.is_(None))
                    .order_by(integration_failures.c.id.desc())
                    .limit(20)
                ).mappings()
            ]
            return Diagnostics(
                version=__version__,
                head=head_seq(conn),
                writer_alive=state.writer.alive,
                deliveries=by_status,
                mutations=int(mutations),
                outbound=outbound_counts(conn),
                open_integration_failures=int(open_failures),
                recent_integration_failures=recent,
            )

    return await run_in_threadpool(read)

"""How operators and their tools see the relay: ``/healthz`` (alive), ``/readyz`` (able to take
deliveries) and ``/metrics`` (Prometheus's text format).

``/metrics`` is served to ADMIN tokens and to clients on this machine only; behind a reverse
proxy, run the relay with ``--proxy-headers`` so that the proxy's clients are not taken for
local ones (the example proxy configurations also keep ``/metrics`` off the internet).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from relay import __version__
from relay.guard import LOOPBACK
from relay.state import relay_state
from relay.store.migrate import DatabaseTooNew, migration_state
from relay.users import user_for_token

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    """Alive: the process answers and its log writer runs (nothing could be stored without it)."""
    state = relay_state(request)
    if not state.writer.alive:
        return JSONResponse(
            {"status": "writer stopped", "head": state.notifier.head, "version": __version__},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "head": state.notifier.head, "version": __version__})


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Ready: the database answers, its migrations are this version's, the writer runs."""
    state = relay_state(request)

    def database() -> str | None:
        try:
            with state.engines.reader.connect() as conn:
                conn.execute(text("SELECT 1"))
                found = migration_state(conn)
        except DatabaseTooNew:
            return "migrated by a newer relay"
        except DBAPIError as exc:
            return f"unreachable: {type(exc.orig).__name__}"
        return None if found.is_current else f"{found.pending} migration(s) not applied"

    problems = {}
    if (trouble := await run_in_threadpool(database)) is not None:
        problems["database"] = trouble
    if not state.writer.alive:
        problems["writer"] = "stopped"
    if problems:
        return JSONResponse({"status": "not ready", **problems}, status_code=503)
    return JSONResponse({"status": "ready", "head": state.notifier.head, "version": __version__})


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus's text format, for an ADMIN token or a client on this machine."""
    state = relay_state(request)
    client = request.client.host if request.client else ""
    if client not in LOOPBACK:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""

        def admin() -> bool:
            with state.engines.reader.connect() as conn:
                user = user_for_token(conn, token) if token else None
            return user is not None and user.is_admin

        if not await run_in_threadpool(admin):
            raise HTTPException(403, "metrics are for ADMIN tokens and this machine only")
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

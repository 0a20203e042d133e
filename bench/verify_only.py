"""The ingest baseline: a plain Starlette endpoint on the relay's own server stack (the same
uvicorn settings) that verifies the signature, parses the JSON and stores nothing.

    python -m bench.verify_only PORT SECRET
"""

from __future__ import annotations

import json
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from relay.signing import SIGNATURE_HEADER, signature_matches


def create_app(secret: str) -> Starlette:
    async def receive(request: Request) -> Response:
        body = await request.body()
        if not signature_matches(secret, body, request.headers.get(SIGNATURE_HEADER)):
            return PlainTextResponse("signature missing or wrong", status_code=401)
        json.loads(body)
        return PlainTextResponse("EVENT_RECEIVED")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/webhooks/meta", receive, methods=["POST"]),
            Route("/healthz", health),
        ]
    )


def main() -> None:
    import uvicorn

    port, secret = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(
        create_app(secret),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()

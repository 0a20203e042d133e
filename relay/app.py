"""The relay's FastAPI application: one factory for the CLI and the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from relay import __version__
from relay.api import database_unavailable_answer
from relay.api import router as api_router
from relay.guard import GuardMiddleware
from relay.hooks import Hooks, Subscriber
from relay.logs import AccessLogMiddleware
from relay.media import MediaFetcher
from relay.media import router as media_router
from relay.metrics import RelayMetrics, chained
from relay.observe import router as observe_router
from relay.outbound.sender import Sender
from relay.profiles import ProfileFetcher
from relay.sending_api import router as sending_router
from relay.settings import RelaySettings
from relay.state import RelayState
from relay.store.dialect import create_engines, wal_checkpoint
from relay.store.migrate import upgrade_to_head
from relay.webhooks import WebhookIntake, verify_subscription
from relay.writer import LogNotifier, LogWriter


def create_app(settings: RelaySettings, subscribers: Sequence[Subscriber] = ()) -> FastAPI:
    """Build the relay. Raises SettingsError at once when the Meta secrets are missing or a
    token setting is malformed. ``subscribers`` follow the log (``relay.hooks``)."""
    _, verify_token = settings.require_secrets()
    app_secrets = settings.app_secrets()
    settings.check_tokens()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engines = create_engines(
            settings.database_url, busy_seconds=settings.relay_busy_timeout_seconds
        )
        try:
            await run_in_threadpool(upgrade_to_head, engines.writer)
            hooks = Hooks(engines.reader, subscribers)
            hooks.start()
            metrics = RelayMetrics()
            notifier = LogNotifier(chained(hooks.notify, metrics.log_grew))
            writer = LogWriter(
                engines.writer,
                notifier,
                settings.relay_failure_flush_seconds,
                on_failure=lambda kind: metrics.failures.labels(kind).inc(),
                checkpoint=(
                    (lambda: wal_checkpoint(engines.reader))
                    if engines.writer.dialect.name == "sqlite"
                    else None
                ),
            )
            await writer.start()
            sender = Sender(settings, engines.reader, writer, metrics=metrics)
            await sender.start()
            profiles = ProfileFetcher(settings, engines.reader, writer, sender.tokens)
            await profiles.start()
            fetcher = MediaFetcher(settings, engines.reader, writer, sender.tokens)
            await fetcher.start()
            listener = None
            if engines.writer.dialect.name == "postgresql":
                from relay.store.listen import AppendListener

                listener = AppendListener(settings.database_url, notifier.wake)
                await listener.start()
            app.state.relay = RelayState(
                settings, engines, writer, notifier, app_secrets, verify_token, sender, metrics
            )
            try:
                yield
            finally:
                if listener is not None:
                    await listener.stop()
                await fetcher.stop()
                await profiles.stop()
                await sender.stop()
                await writer.stop()
                await run_in_threadpool(hooks.stop)
        finally:
            engines.dispose()

    docs = settings.relay_api_docs
    app = FastAPI(
        title="Inboop relay",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        # The relay counts for itself (relay.metrics); FastAPI's own OpenTelemetry layer would
        # only ask, on every request, whether anyone listens.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_exception_handler(DBAPIError, database_unavailable_answer)
    app.add_middleware(GuardMiddleware)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(WebhookIntake)  # outermost: deliveries skip the rest
    app.add_route("/webhooks/meta", verify_subscription, methods=["GET"], include_in_schema=False)
    app.include_router(observe_router)
    app.include_router(api_router)
    app.include_router(sending_router)
    app.include_router(media_router)
    return app

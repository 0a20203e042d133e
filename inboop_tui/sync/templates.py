"""WhatsApp's approved message templates, asked of the relay (which asks the Graph API)."""

from __future__ import annotations

from dataclasses import dataclass

from inboop_tui.store.config import ClientConfig
from inboop_tui.sync.client import RelayClient, SyncError


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    body: str
    parameters: int

    def filled(self, values: list[str]) -> str:
        """The body as the customer will read it."""
        text = self.body
        for number, value in enumerate(values, start=1):
            text = text.replace("{{" + str(number) + "}}", value)
        return text


def fetch_templates(
    config: ClientConfig, account_id: str, *, timeout: float = 20.0
) -> list[Template]:
    """The approved templates of a WhatsApp number; SyncError when the relay cannot say."""
    if not config.is_configured:
        raise SyncError(
            "no relay configured: run `inboop login RELAY_URL` first",
            transient=False,
            kind="auth",
        )
    assert config.relay_url is not None and config.token is not None
    with RelayClient(config.relay_url, config.token) as client:
        found = client.templates(account_id, timeout=timeout)
    return [
        Template(
            name=str(t.get("name")),
            language=str(t.get("language")),
            body=str(t.get("body") or ""),
            parameters=int(t.get("parameters") or 0),
        )
        for t in found
        if isinstance(t, dict) and t.get("name") and t.get("language")
    ]

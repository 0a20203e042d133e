"""The relay's settings, read once from the environment (and a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class SettingsError(Exception):
    """A setting is missing or wrong; the message says which and what to do."""


def _default_home() -> Path:
    return Path(user_data_dir("inboop-relay", appauthor=False))


class RelaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INBOOP_", env_file=".env", extra="ignore")

    relay_home: Path = Field(default_factory=_default_home)
    relay_database_url: str | None = None
    meta_app_secret: SecretStr | None = None
    meta_verify_token: SecretStr | None = None
    relay_max_body_bytes: int = 4 * MIB
    relay_failure_flush_seconds: float = 5.0
    # How long a write waits for a database lock before the delivery is answered 503.
    relay_busy_timeout_seconds: float = 10.0
    relay_log_level: str = "INFO"
    # The largest body of an agent's API call (pushes of queued changes); files have their own.
    relay_max_api_body_bytes: int = 4 * MIB
    # Requests per second from one client address (a burst of five seconds' worth is let
    # through); 0 turns a limit off. Meta's deliveries come from few addresses in bursts.
    relay_rate_limit_webhooks: float = 200.0
    relay_rate_limit_api: float = 50.0
    # The API's schema at /openapi.json and its pages at /docs: off unless asked for (they tell
    # anyone who can reach the relay what it accepts).
    relay_api_docs: bool = False

    # Sending replies. Tokens are secrets: never synced to clients, never logged.
    graph_api_url: str = "https://graph.facebook.com/v23.0"
    page_tokens: SecretStr | None = None  # PAGE_ID=TOKEN,… (Messenger)
    instagram_tokens: SecretStr | None = None  # IG_ACCOUNT_ID=TOKEN,…
    whatsapp_tokens: SecretStr | None = None  # PHONE_NUMBER_ID=TOKEN,…
    # PHONE_NUMBER_ID=WABA_ID,… for listing templates (else learnt from WhatsApp deliveries).
    whatsapp_business_accounts: str | None = None
    relay_max_upload_bytes: int = 25 * MIB
    # Instagram and Messenger customers' names, looked up in the background (relay.profiles).
    profile_lookups_per_second: float = 5.0
    profile_retry_seconds: float = 30.0  # the first retry of a failed lookup; doubling after
    # Attachments of new messages, fetched into the relay's store (relay.media).
    media_max_bytes: int = 25 * MIB
    media_retention_days: int = 90  # 0 keeps them for ever
    # A send whose outcome is unknown (a timeout, a relay stopped mid-send) waits this long for
    # Meta's echo or status naming the reply before it is tried again.
    outbound_confirm_seconds: float = 60.0
    outbound_max_attempts: int = 10
    outbound_timeout_seconds: float = 20.0

    @property
    def database_url(self) -> str:
        """The database as a URL; a plain path (``/srv/relay.db``) is a SQLite file."""
        if self.relay_database_url:
            return as_database_url(self.relay_database_url)
        return f"sqlite:///{self.relay_home / 'relay.db'}"

    def check_tokens(self) -> None:
        """The token settings are readable (a SettingsError names the one that is not)."""
        token_map(self.page_tokens, "INBOOP_PAGE_TOKENS")
        token_map(self.instagram_tokens, "INBOOP_INSTAGRAM_TOKENS")
        token_map(self.whatsapp_tokens, "INBOOP_WHATSAPP_TOKENS")
        id_map(self.whatsapp_business_accounts, "INBOOP_WHATSAPP_BUSINESS_ACCOUNTS")

    def require_secrets(self) -> tuple[str, str]:
        missing = [
            name
            for name, value in (
                ("INBOOP_META_APP_SECRET", self.meta_app_secret),
                ("INBOOP_META_VERIFY_TOKEN", self.meta_verify_token),
            )
            if value is None or not value.get_secret_value()
        ]
        if missing:
            raise SettingsError(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                "set them in the environment or in a .env file (see docs/self-hosting.md)"
            )
        assert self.meta_app_secret is not None and self.meta_verify_token is not None
        return self.meta_app_secret.get_secret_value(), self.meta_verify_token.get_secret_value()

    def app_secrets(self) -> tuple[str, ...]:
        """Every Meta app whose deliveries this relay takes: ``INBOOP_META_APP_SECRET`` may list
        several, comma-separated (an app with Facebook Login and one with Instagram Login)."""
        secret, _ = self.require_secrets()
        return tuple(part.strip() for part in secret.split(",") if part.strip())


def load_settings(**overrides: object) -> RelaySettings:
    """The settings from the environment and ``.env``; a value of the wrong kind is a
    SettingsError that names the variable."""
    try:
        settings = RelaySettings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "INBOOP_" + "_".join(str(part) for part in error["loc"]).upper()
            problems.append(f"{name}: {error['msg'].lower()}")
        raise SettingsError("; ".join(problems)) from None
    return settings.model_copy(update=overrides) if overrides else settings


def as_database_url(value: str) -> str:
    """A database URL as written, or a plain path turned into a SQLite URL."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def token_map(value: SecretStr | None, name: str) -> dict[str, str]:
    """``ID=TOKEN,ID=TOKEN`` as a dict; a malformed pair is a SettingsError naming the setting
    (never the token)."""
    if value is None:
        return {}
    found: dict[str, str] = {}
    for index, pair in enumerate(p.strip() for p in value.get_secret_value().split(",")):
        if not pair:
            continue
        key, sep, token = pair.partition("=")
        if not sep or not key.strip() or not token.strip():
            raise SettingsError(f"{name}: item {index + 1} is not ID=TOKEN")
        found[key.strip()] = token.strip()
    return found


def id_map(value: str | None, name: str) -> dict[str, str]:
    if not value:
        return {}
    found: dict[str, str] = {}
    for index, pair in enumerate(p.strip() for p in value.split(",")):
        if not pair:
            continue
        key, sep, other = pair.partition("=")
        if not sep or not key.strip() or not other.strip():
            raise SettingsError(f"{name}: item {index + 1} is not ID=ID")
        found[key.strip()] = other.strip()
    return found

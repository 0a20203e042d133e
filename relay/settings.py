"""The relay's settings, read once from the environment (and a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr
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

    @property
    def database_url(self) -> str:
        if self.relay_database_url:
            return self.relay_database_url
        return f"sqlite:///{self.relay_home / 'relay.db'}"

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
